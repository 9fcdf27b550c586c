"""The least-privilege permissions of each cloud, in one place.

The README's permission table, the SAM template's IAM policy, the Kubernetes/Cloud Run deploy notes and the `init`
starter config are rendered from (or tested equal to) these lists. Each grant names the API operations that need it,
and per-cloud tests record the operations the collectors really perform against the sandbox fakes in a full run and
assert that the grants cover exactly those: a grant nobody calls, or a call nobody granted, fails a test.

Operation names: AWS ``service:Action`` (as signed), Google REST method ids (``compute.addresses.aggregatedList``),
Azure REST operations (``Microsoft.Network/publicIPAddresses/listAll``), OCI API operations (``ListPublicIps``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CLOUDFLARE",
    "CLOUDS",
    "CloudPermissions",
    "Grant",
    "TokenPermission",
    "aws_actions",
    "cloud_comment_line",
    "cloudflare_markdown",
    "init_comment_lines",
    "markdown_table",
]


@dataclass(frozen=True)
class Grant:
    """One permission to grant, the API operations that need it, and when the agent performs them."""

    permission: str
    operations: tuple[str, ...]
    when: str = "always"


@dataclass(frozen=True)
class CloudPermissions:
    cloud: str
    title: str
    grants: tuple[Grant, ...]
    free_operations: tuple[str, ...]
    """Operations the agent performs that need no grant (caller identity, token exchanges)."""
    shortcut: str
    """The built-in role(s) that include every grant, for those who prefer them to a custom role ("" if none)."""
    where: str
    """Where the grants go (which account, project, subscription or policy)."""

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(g.permission for g in self.grants)

    @property
    def operations(self) -> frozenset[str]:
        return frozenset(op for g in self.grants for op in g.operations)


AWS = CloudPermissions(
    cloud="aws",
    title="AWS",
    grants=(
        Grant("ec2:DescribeRegions", ("ec2:DescribeRegions",), "unless `regions` lists every region literally"),
        Grant("ec2:DescribeAddresses", ("ec2:DescribeAddresses",)),
        Grant("ec2:DescribeNetworkInterfaces", ("ec2:DescribeNetworkInterfaces",)),
        Grant("organizations:ListAccounts", ("organizations:ListAccounts",), "with `organization` and no OUs"),
        Grant(
            "organizations:ListAccountsForParent",
            ("organizations:ListAccountsForParent",),
            "with `organization.organizational_units`",
        ),
        Grant(
            "organizations:ListChildren", ("organizations:ListChildren",), "with `organization.organizational_units`"
        ),
        Grant("sts:AssumeRole", ("sts:AssumeRole",), "with `organization` or `accounts`; on the member role only"),
        Grant(
            "config:SelectAggregateResourceConfig",
            ("config:SelectAggregateResourceConfig",),
            "with `mode: config_aggregator`, instead of all the above; on the aggregator",
        ),
        Grant(
            "config:DescribeConfigurationAggregatorSourcesStatus",
            ("config:DescribeConfigurationAggregatorSourcesStatus",),
            "with `mode: config_aggregator`; on the aggregator",
        ),
    ),
    free_operations=("sts:GetCallerIdentity",),  # answers for any valid credential, whatever the policy
    shortcut="",  # no managed policy is narrower than these; `ec2:Describe*` supports no resource-level scoping
    where=(
        "`ec2:*` in every scanned account (the member role); `organizations:*` in the management or a delegated "
        "administrator account; `sts:AssumeRole` on `arn:aws:iam::*:role/<member_role_name>`; `config:*` on the "
        "aggregator, in the account that owns it (the delegated administrator) only"
    ),
)

GCP = CloudPermissions(
    cloud="gcp",
    title="Google Cloud",
    grants=(
        Grant("compute.addresses.list", ("compute.addresses.aggregatedList",)),
        Grant("compute.instances.list", ("compute.instances.aggregatedList",)),
        Grant("compute.forwardingRules.list", ("compute.forwardingRules.aggregatedList",)),
        Grant("compute.globalAddresses.list", ("compute.globalAddresses.list",)),
        Grant("compute.globalForwardingRules.list", ("compute.globalForwardingRules.list",)),
        Grant(
            "resourcemanager.projects.list",
            ("cloudresourcemanager.projects.list",),
            "with `folders` or `organizations`",
        ),
        Grant(
            "resourcemanager.folders.list", ("cloudresourcemanager.folders.list",), "with `folders` or `organizations`"
        ),
        Grant(
            "resourcemanager.projects.get",
            ("cloudresourcemanager.projects.search",),
            "with nothing listed: the search returns the projects the caller can get",
        ),
        Grant(
            "iam.serviceAccounts.getAccessToken",
            ("iamcredentials.serviceAccounts.generateAccessToken",),
            "with `impersonate_service_account`; on that account (roles/iam.serviceAccountTokenCreator)",
        ),
    ),
    free_operations=("oauth2.token",),
    shortcut="`roles/compute.viewer` on each project; `roles/browser` on folders or the organization",
    where="`compute.*` on each scanned project; `resourcemanager.*` on the folders or organization listed",
)

AZURE = CloudPermissions(
    cloud="azure",
    title="Azure",
    grants=(
        Grant(
            "Microsoft.Resources/subscriptions/read",
            ("Microsoft.Resources/subscriptions/list",),
            "unless `subscriptions` are listed",
        ),
        Grant("Microsoft.Network/publicIPAddresses/read", ("Microsoft.Network/publicIPAddresses/listAll",)),
        Grant(
            "Microsoft.ResourceGraph/resources/read",
            ("Microsoft.ResourceGraph/resources",),
            "with `mode: resource_graph`; Reader includes it, Resource Graph needs no role of its own",
        ),
    ),
    free_operations=("aad.token", "aad.openid-configuration", "aad.instance-discovery"),
    shortcut="`Reader`",
    where=(
        "each subscription (or a management group above them); with `mode: resource_graph`, the same once on the "
        "management group"
    ),
)

OCI = CloudPermissions(
    cloud="oci",
    title="OCI",
    grants=(
        Grant("inspect tenancies", ("ListRegionSubscriptions",)),
        Grant("inspect compartments", ("ListCompartments", "ListAvailabilityDomains")),
        Grant("read public-ips", ("ListPublicIps",)),
        Grant("read vcns", ("ListVcns",), "with `ipv6: true`, the default"),
        Grant("read subnets", ("ListSubnets",), "with `ipv6: true`"),
        Grant("read ipv6s", ("ListIpv6s",), "with `ipv6: true`"),
    ),
    free_operations=("metadata", "x509-federation", "resource-principal-token"),
    shortcut="`read virtual-network-family` covers the four `read` grants",
    where="policy statements `Allow <subject> to <grant> in tenancy`",
)

CLOUDS: dict[str, CloudPermissions] = {c.cloud: c for c in (AWS, GCP, AZURE, OCI)}


@dataclass(frozen=True)
class TokenPermission:
    """A Cloudflare API token permission group."""

    group: str
    why: str
    confirmed: bool = True
    when: str = ""
    """The configuration that needs it ("" = always)."""


CLOUDFLARE = (
    TokenPermission("Zone > Zone: Read", "zone names and ids"),
    TokenPermission("Zone > DNS: Read", "the proxied A/AAAA and CNAME origins"),
    TokenPermission(
        "Account > Load Balancing: Monitors and Pools: Read, Zone > Load Balancers: Read",
        "load-balancer pool origins",
        when="origins.load_balancers",
    ),
    TokenPermission(
        "Zone > Zone Settings: Edit",
        "the mapping writes; UNCONFIRMED: Cloudflare publishes no permission group for the origin cloud region "
        "endpoints, this is the group of the neighbouring cache settings. `plan` performs every read the write "
        "path needs",
        confirmed=False,
    ),
)


def aws_actions(*, engine: bool = False) -> list[str]:
    """The IAM actions of the agent's own role for the per-account walk (the SAM template's policy, secrets aside),
    or for engine mode (`mode: config_aggregator`) when `engine`."""
    return [g.permission for g in AWS.grants if g.permission.startswith("config:") == engine]


def _grant_text(grant: Grant) -> str:
    return f"`{grant.permission}`" + ("" if grant.when == "always" else f" ({grant.when})")


def markdown_table() -> str:
    """The README table of "Permissions, in one place" (a test keeps the README equal to it)."""
    lines = ["| cloud | grant | where | built-in shortcut |", "|---|---|---|---|"]
    for perms in CLOUDS.values():
        grants = ", ".join(_grant_text(g) for g in perms.grants)
        lines.append(f"| {perms.title} | {grants} | {perms.where} | {perms.shortcut or '—'} |")
    return "\n".join(lines)


def cloudflare_markdown() -> str:
    """The README list of Cloudflare token permissions."""
    return "\n".join(
        f"- **{p.group}**: {p.why}" + (f" (only with `{p.when}`)" if p.when else "") + "." for p in CLOUDFLARE
    )


def init_comment_lines(indent: str = "  ") -> list[str]:
    """`init`'s comment lines on the token's permissions (unconfirmed groups say so)."""
    lines = [f"{indent}# Token permissions:"]
    for p in CLOUDFLARE:
        note = f" (only with {p.when})" if p.when else "" if p.confirmed else " (unconfirmed: see the README)"
        lines.append(f"{indent}#   {p.group}{note}")
    return lines


def cloud_comment_line(cloud: str, indent: str = "    ") -> str:
    """One `init` comment line listing a cloud's grants."""
    perms = CLOUDS[cloud]
    shortcut = f"; or {perms.shortcut}" if perms.shortcut else ""
    return f"{indent}# Permissions (least privilege): {', '.join(perms.permissions)}{shortcut}."
