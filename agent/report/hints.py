"""One-line hints for the errors users meet most: what to grant, which credential to check, and how.

Keyed by vendor error code (the `code` of a failed discovery scope, or Cloudflare's envelope codes). A hint is advice,
never a diagnosis: it says which permission or credential the failed call depends on.
"""

from __future__ import annotations

__all__ = ["cloudflare_hint", "scope_hint"]

_AWS_DENIED = (
    "grant ec2:DescribeRegions, ec2:DescribeAddresses and ec2:DescribeNetworkInterfaces to this principal "
    "(organizations: organizations:List* and sts:AssumeRole on the member role)"
)
_AWS_CREDS = "the AWS credentials are invalid or expired: check them with `aws sts get-caller-identity` (same profile)"
_GCP_DENIED = "grant roles/compute.viewer on the project (roles/browser for folders or organizations)"
_GCP_CREDS = "no valid Google credentials: run `gcloud auth application-default login` or set a service account"
_AZURE_DENIED = "assign the Reader role (or Microsoft.Network/publicIPAddresses/read) on the subscription"
_AZURE_CREDS = "the Azure login is missing or expired: run `az login` (or check AZURE_CLIENT_ID / the federated token)"
_OCI_DENIED = (
    "add an IAM policy: allow the group to inspect compartments, read public-ips and read virtual-network-family "
    "in tenancy"
)
_OCI_CREDS = "OCI rejected the key: check user, fingerprint and key_file in ~/.oci/config (`oci iam region list`)"

_SCOPE_HINTS: dict[str, dict[str, str]] = {
    "aws": {
        "AccessDenied": _AWS_DENIED,
        "AccessDeniedException": _AWS_DENIED,
        "UnauthorizedOperation": _AWS_DENIED,
        "AuthFailure": _AWS_CREDS,
        "InvalidClientTokenId": _AWS_CREDS,
        "ExpiredToken": _AWS_CREDS,
        "ExpiredTokenException": _AWS_CREDS,
        "SignatureDoesNotMatch": _AWS_CREDS,
        "UnrecognizedClientException": _AWS_CREDS,
        "OptInRequired": "the account is not subscribed to this region or service; enable it or drop the region",
    },
    "gcp": {
        "403": _GCP_DENIED,
        "PERMISSION_DENIED": _GCP_DENIED,
        "forbidden": _GCP_DENIED,
        "401": _GCP_CREDS,
        "UNAUTHENTICATED": _GCP_CREDS,
        "DefaultCredentialsError": _GCP_CREDS,
        "RefreshError": _GCP_CREDS,
        "authError": _GCP_CREDS,
        "invalid_grant": _GCP_CREDS,
        "accessNotConfigured": "enable the Compute Engine API on the project (or remove the project)",
    },
    "azure": {
        "AuthorizationFailed": _AZURE_DENIED,
        "403": _AZURE_DENIED,
        "InvalidAuthenticationToken": _AZURE_CREDS,
        "ExpiredAuthenticationToken": _AZURE_CREDS,
        "ClientAuthenticationError": _AZURE_CREDS,
        "401": _AZURE_CREDS,
        "SubscriptionNotFound": "the subscription id is wrong or not visible to this login (`az account list`)",
    },
    "ranges": {
        "fetch-failed": "the feed could not be downloaded: "
        "without internet access run `origin-region-agent feeds fetch --dir DIR` elsewhere and set "
        "inventory.ranges.feeds_dir (or mirror_url); or remove `ranges` from the inventory",
        "no-cache": "the feed could not be downloaded and nothing is cached: set inventory.ranges.feeds_dir "
        "(`origin-region-agent feeds fetch --dir DIR`) or mirror_url",
        "stale-cache": "the cached feed is too old and the download failed: refresh feeds_dir "
        "(`origin-region-agent feeds fetch --dir DIR`) or fix the egress to the feed URL",
        "no-file": "feeds_dir lacks this feed's file: ip-ranges.json, cloud.json, public_ip_ranges.json, "
        "ServiceTags_Public.json (.gz accepted); `origin-region-agent feeds fetch --dir DIR` writes them",
        "not-configured": "set azure_service_tags (or feeds_dir, mirror_url, azure_discovery) for the Azure feed",
    },
    "oci": {
        "NotAuthorizedOrNotFound": _OCI_DENIED,
        "NotAuthorized": _OCI_DENIED,
        "404": _OCI_DENIED,
        "NotAuthenticated": _OCI_CREDS,
        "401": _OCI_CREDS,
    },
}


def scope_hint(scope: str, code: str) -> str:
    """The hint for a failed discovery scope (``aws:123456789012/eu-west-1``) and its vendor code, or ""."""
    vendor = scope.split(":", 1)[0]
    hints = _SCOPE_HINTS.get(vendor, {})
    if vendor == "azure" and code.startswith("AADSTS"):  # Entra ID sign-in refusals: a credential problem
        return _AZURE_CREDS
    return hints.get(code) or hints.get(code.split(".")[0], "")


# Which permission group the call behind a request path needs (reference: Cloudflare API token permissions).
_PERMISSION_OF_PATH: tuple[tuple[str, str], ...] = (
    ("/dns_records", "Zone → DNS: Read"),
    ("/load_balancers", "Zone → Load Balancers: Read"),
    ("/load_balancers/pools", "Account → Load Balancing: Monitors and Pools: Read"),
    ("/origin/cloud_regions", "Zone → Zone Settings: Edit (writes) or Read (reads)"),
    ("/cache/origin_cloud_regions", "Zone → Zone Settings: Edit (writes) or Read (reads)"),
    ("/zones", "Zone → Zone: Read"),
)
_CHECK_TOKEN = (
    "check the token with `curl -H 'Authorization: Bearer $CLOUDFLARE_API_TOKEN' "
    "https://api.cloudflare.com/client/v4/user/tokens/verify` and its permissions in the dashboard "
    "(My Profile → API Tokens)"
)


def _permission_for(path: str) -> str:
    for fragment, permission in reversed(_PERMISSION_OF_PATH):  # most specific first
        if fragment in path:
            return permission
    return "Zone → Zone: Read"


def cloudflare_hint(codes: tuple[int, ...] | list[int], status: int | None = None, path: str = "") -> str:
    """The hint for a Cloudflare error: 10000/403 (which permission group the call needs) and 7003 (zone id)."""
    if 7003 in codes:
        return (
            "the zone id is wrong or the token cannot see the zone: compare it with the dashboard's Overview page "
            "(Zone ID), and check the token's Zone Resources include this zone"
        )
    if 10000 in codes or status == 403:
        return f"the token lacks a permission: this call needs {_permission_for(path)}; {_CHECK_TOKEN}"
    if (codes and set(codes) & {6003, 6103, 6111}) or status == 401:
        return f"the credentials were not accepted (malformed, revoked or expired); {_CHECK_TOKEN}"
    return ""
