"""A local fake of the GCP APIs the `gcp` collector calls: Compute v1, Resource Manager v3, OAuth, IAM credentials.

It speaks the real JSON over HTTP on 127.0.0.1 so the unmodified google-cloud-compute / resource-manager / google-auth
libraries run against it:

* ``GET /compute/v1/projects/{p}/aggregated/{addresses|instances|forwardingRules}``: the ``items`` map keyed by
  ``regions/…`` / ``zones/…`` / ``global``, a ``NO_RESULTS_ON_PAGE`` ``warning`` for every empty scope of a page,
  ``maxResults`` (≤ 500) / ``pageToken`` / ``nextPageToken`` paging; ``global/addresses`` and
  ``global/forwardingRules`` plain lists.
* ``GET /v3/projects?parent=``, ``GET /v3/folders?parent=``, ``GET /v3/projects:search?query=`` (``state:``,
  ``parent:``, ``id:`` terms), with ``pageSize`` / ``pageToken``.
* ``POST /token`` (the OAuth 2 JWT-bearer grant a service-account key's ``token_uri`` points to) and
  ``POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`` (impersonation).

Every API call needs ``Authorization: Bearer``: a token this fake issued, a registered static token, or a self-signed
service-account JWT whose RS256 signature is checked against the registered public key. Errors use Google's JSON
(``{"error": {"code", "message", "status", "errors": [{"reason", "domain", "message"}], "details": [...]}}``):
Compute API disabled (403 ``accessNotConfigured`` / ``SERVICE_DISABLED``), missing permission (403 ``forbidden``),
quota (429 ``rateLimitExceeded`` / ``RATE_LIMIT_EXCEEDED``), bad credentials (401). Only the standard library and
``cryptography`` (a google-auth dependency) are used, so the `demo` command needs no dev dependencies.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from agent.sandbox.demo import DemoCloud
from agent.sandbox.server import serve_in_background, stop_serving

__all__ = [
    "FakeFolder",
    "FakeGcp",
    "FakeProject",
    "ServiceAccountKey",
    "generate_service_account_key",
    "start_demo",
    "start_demo_fake",
]

API_HOST = "https://www.googleapis.com"  # the host Compute writes into selfLink / region / zone URLs
MAX_RESULTS = 500  # Compute's limit on maxResults
ASSET_PAGE_MAX = 1000  # ListAssets pageSize maximum
ASSET_PAGE_DEFAULT = 100  # ListAssets pageSize when 0 or unset
_ASSET_PARAMS = frozenset({"assetTypes", "contentType", "pageSize", "pageToken", "readTime", "relationshipTypes"})
MAX_PAGE_SIZE = 1000  # Resource Manager's page size cap (larger values are clamped, as the real service does)
TOKEN_LIFETIME = 3600
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # the "aud" google-auth puts in grant assertions
DEFAULT_REGIONS = ("us-central1", "us-east1", "europe-west1", "asia-east1")
_COMMON_PARAMS = frozenset({"alt", "prettyPrint", "fields", "key", "quotaUser", "$alt", "$prettyPrint"})
_AGGREGATED_PARAMS = frozenset(
    {"maxResults", "pageToken", "filter", "orderBy", "includeAllScopes", "returnPartialSuccess", "serviceProjectNumber"}
)
_LIST_PARAMS = frozenset({"maxResults", "pageToken", "filter", "orderBy", "returnPartialSuccess"})
_AGGREGATED = {  # collection in the URL -> (field in a scoped list, compute kind prefix, scopes it lives in)
    "addresses": ("addresses", "address", "regional"),
    "instances": ("instances", "instance", "zonal"),
    "forwardingRules": ("forwardingRules", "forwardingRule", "regional"),
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ServiceAccountKey:
    """A generated service-account key: `info` is the key-file JSON (holds the private key: never log it)."""

    email: str
    key_id: str
    public_pem: bytes = field(repr=False)
    info: dict[str, str] = field(repr=False)

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.info))
        path.chmod(0o600)
        return path


def generate_service_account_key(email: str, *, project_id: str, token_uri: str) -> ServiceAccountKey:
    """A throwaway RSA-2048 service-account key in Google's key-file format, signed and verified locally."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_id = secrets.token_hex(20)
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": private_pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    return ServiceAccountKey(email=email, key_id=key_id, public_pem=public_pem, info=info)


@dataclass
class FakeProject:
    """One project. `readers` None means every authenticated principal may list it (and see it in a search)."""

    project_id: str
    number: str
    parent: str = ""
    state: str = "ACTIVE"
    compute_enabled: bool = True
    readers: set[str] | None = None
    rate_limited: bool = False  # every compute call answers 429
    transient_failures: int = 0  # the next N compute calls answer 503, then the project recovers
    addresses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (scope key, Address JSON)
    instances: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    forwarding_rules: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class FakeFolder:
    """A folder; `parent` is ``organizations/N`` or ``folders/N``. `denied` makes listing under it answer 403."""

    name: str
    parent: str
    state: str = "ACTIVE"
    denied: bool = False


@dataclass(frozen=True)
class Call:
    """One request the fake answered: for tests that assert who called what."""

    method: str
    path: str
    principal: str
    status: int


class _ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _google_error(
    code: int, status: str, message: str, reason: str = "", domain: str = "global", details: list[Any] | None = None
) -> _ApiError:
    error: dict[str, Any] = {"code": code, "message": message}
    if reason:
        error["errors"] = [{"message": message, "domain": domain, "reason": reason}]
    error["status"] = status
    if details:
        error["details"] = details
    return _ApiError(code, {"error": error})


def _error_info(reason: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": metadata,
    }


def _bad_request(message: str) -> _ApiError:
    return _google_error(400, "INVALID_ARGUMENT", message, reason="invalid")


class FakeGcp:
    """The fake server and its state. Seed with `add_*`, then point clients at `endpoint`.

    Thread-safe: the server handles requests on threads, and tests seed while it runs.
    """

    def __init__(
        self, *, regions: tuple[str, ...] = DEFAULT_REGIONS, require_auth: bool = True, latency: float = 0.0
    ) -> None:
        self.regions = regions
        self.latency = latency  # seconds every API call (not token grants) takes before answering (benchmarks)
        self.require_auth = require_auth
        self.projects: dict[str, FakeProject] = {}
        self.folders: dict[str, FakeFolder] = {}
        self.organizations: set[str] = set()
        self.calls: list[Call] = []
        self.emitted: list[tuple[str, dict[str, Any]]] = []  # (compute method id, JSON body) of every 200 answer
        self._keys: dict[str, dict[str, bytes]] = {}  # email -> key id -> public PEM
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> (principal, expiry)
        self._token_creators: dict[str, set[str]] = {}  # target SA -> principals allowed to impersonate it
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = 1_000_000_000_000
        # Cloud Asset Inventory (same state: the assets are the projects' compute resources)
        self.asset_update_times: dict[str, float] = {}  # selfLink -> when the engine last saw it change
        self.asset_denied: set[str] = set()  # parents on which ListAssets answers 403 (no cloudasset.assets.list*)
        self.asset_rate_limited = False  # every ListAssets answers 429 RESOURCE_EXHAUSTED
        self.asset_fail_page: int | None = None  # this page (0-based) answers 503: the answer stops half-way

    # --- lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> FakeGcp:
        """Serve on an ephemeral 127.0.0.1 port, on a daemon thread."""
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = serve_in_background(self._server, "fake-gcp")
        return self

    def stop(self) -> None:
        if self._server is not None:
            stop_serving(self._server)
            self._server = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``: the ``api_endpoint`` for compute and resource manager, the IAM endpoint."""
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return f"{self.endpoint}/token"

    # --- seeding ----------------------------------------------------------------------------------------------------

    def _next_id(self) -> str:
        with self._lock:
            self._ids += 7919
            return str(self._ids)

    def add_organization(self, name: str) -> None:
        with self._lock:
            self.organizations.add(name)

    def add_folder(self, name: str, parent: str, *, state: str = "ACTIVE", denied: bool = False) -> FakeFolder:
        with self._lock:
            folder = FakeFolder(name=name, parent=parent, state=state, denied=denied)
            self.folders[name] = folder
            return folder

    def add_project(self, project_id: str, *, parent: str = "", state: str = "ACTIVE", **kw: Any) -> FakeProject:
        with self._lock:
            project = FakeProject(project_id=project_id, number=self._next_id()[-12:], parent=parent, state=state, **kw)
            self.projects[project_id] = project
            return project

    def add_address(
        self,
        project: str,
        name: str,
        ip: str,
        *,
        region: str | None = None,
        address_type: str = "EXTERNAL",
        status: str = "IN_USE",
        prefix_length: int | None = None,
    ) -> dict[str, Any]:
        """A static address; `region` None makes it global (anycast, for global load balancers)."""
        p = self.projects[project]
        where = f"regions/{region}" if region else "global"
        body: dict[str, Any] = {
            "kind": "compute#address",
            "id": self._next_id(),
            "creationTimestamp": "2025-03-04T05:06:07.890-08:00",
            "name": name,
            "address": ip,
            "addressType": address_type,
            "ipVersion": "IPV6" if ":" in ip else "IPV4",
            "status": status,
            "selfLink": f"{API_HOST}/compute/v1/projects/{project}/{where}/addresses/{name}",
        }
        if address_type == "EXTERNAL":
            body["networkTier"] = "PREMIUM"
        if prefix_length is not None:
            body["prefixLength"] = prefix_length
        if region:
            body["region"] = f"{API_HOST}/compute/v1/projects/{project}/regions/{region}"
        if status == "IN_USE":
            body["users"] = [f"{API_HOST}/compute/v1/projects/{project}/{where}/forwardingRules/{name}-fr"]
        with self._lock:
            p.addresses.append((where, body))
            self.asset_update_times[body["selfLink"]] = time.time()
        return body

    def add_instance(
        self,
        project: str,
        name: str,
        *,
        zone: str,
        nat_ips: tuple[str, ...] = (),
        external_ipv6: tuple[str, ...] = (),
        internal_ip: str = "10.128.0.2",
        status: str = "RUNNING",
    ) -> dict[str, Any]:
        """An instance with one NIC per given external IP (an IPv4 access config or an IPv6 access config)."""
        p = self.projects[project]
        zone_url = f"{API_HOST}/compute/v1/projects/{project}/zones/{zone}"
        region = zone.rpartition("-")[0]
        nics: list[dict[str, Any]] = []
        for i, ip in enumerate(nat_ips or ("",)):
            nic: dict[str, Any] = {
                "kind": "compute#networkInterface",
                "name": f"nic{i}",
                "network": f"{API_HOST}/compute/v1/projects/{project}/global/networks/default",
                "subnetwork": f"{API_HOST}/compute/v1/projects/{project}/regions/{region}/subnetworks/default",
                "networkIP": internal_ip,
                "stackType": "IPV4_ONLY",
                "fingerprint": "abcdEFGH1234=",
            }
            if ip:
                nic["accessConfigs"] = [
                    {
                        "kind": "compute#accessConfig",
                        "type": "ONE_TO_ONE_NAT",
                        "name": "External NAT",
                        "natIP": ip,
                        "networkTier": "PREMIUM",
                    }
                ]
            nics.append(nic)
        if external_ipv6:
            nics[0]["stackType"] = "IPV4_IPV6"
            nics[0]["ipv6AccessType"] = "EXTERNAL"
            nics[0]["ipv6AccessConfigs"] = [
                {
                    "kind": "compute#accessConfig",
                    "type": "DIRECT_IPV6",
                    "name": "external-ipv6",
                    "externalIpv6": ip6,
                    "externalIpv6PrefixLength": 96,
                    "networkTier": "PREMIUM",
                }
                for ip6 in external_ipv6
            ]
        body = {
            "kind": "compute#instance",
            "id": self._next_id(),
            "creationTimestamp": "2025-03-04T05:06:07.890-08:00",
            "name": name,
            "machineType": f"{zone_url}/machineTypes/e2-small",
            "status": status,
            "zone": zone_url,
            "networkInterfaces": nics,
            "selfLink": f"{zone_url}/instances/{name}",
            "canIpForward": False,
            "cpuPlatform": "Intel Broadwell",
            "labelFingerprint": "42WmSpB8rSM=",
            "fingerprint": "xyzXYZ0987=",
            "deletionProtection": False,
        }
        with self._lock:
            p.instances.append((f"zones/{zone}", body))
            self.asset_update_times[str(body["selfLink"])] = time.time()
        return body

    def add_forwarding_rule(
        self,
        project: str,
        name: str,
        ip: str,
        *,
        region: str | None = None,
        scheme: str = "EXTERNAL",
    ) -> dict[str, Any]:
        """A load balancer's forwarding rule; `region` None makes it global (anycast)."""
        p = self.projects[project]
        where = f"regions/{region}" if region else "global"
        body: dict[str, Any] = {
            "kind": "compute#forwardingRule",
            "id": self._next_id(),
            "creationTimestamp": "2025-03-04T05:06:07.890-08:00",
            "name": name,
            "IPAddress": ip,
            "IPProtocol": "TCP",
            "portRange": "443-443",
            "target": f"{API_HOST}/compute/v1/projects/{project}/{where}/targetHttpsProxies/{name}-proxy",
            "selfLink": f"{API_HOST}/compute/v1/projects/{project}/{where}/forwardingRules/{name}",
            "loadBalancingScheme": scheme,
            "networkTier": "PREMIUM",
            "ipVersion": "IPV6" if ":" in ip else "IPV4",
            "fingerprint": "q1w2e3r4t5Y=",
            "labelFingerprint": "42WmSpB8rSM=",
        }
        if region:
            body["region"] = f"{API_HOST}/compute/v1/projects/{project}/regions/{region}"
        with self._lock:
            p.forwarding_rules.append((where, body))
            self.asset_update_times[body["selfLink"]] = time.time()
        return body

    # --- credentials ------------------------------------------------------------------------------------------------

    def create_service_account_key(self, email: str, *, project_id: str = "sa-project") -> ServiceAccountKey:
        """Generate a key for `email`, trust its public half, and point its ``token_uri`` at this fake."""
        key = generate_service_account_key(email, project_id=project_id, token_uri=self.token_uri)
        self.register_key(key.email, key.key_id, key.public_pem)
        return key

    def register_key(self, email: str, key_id: str, public_pem: bytes) -> None:
        with self._lock:
            self._keys.setdefault(email, {})[key_id] = public_pem

    def add_token(self, token: str, principal: str, *, lifetime: float = TOKEN_LIFETIME) -> None:
        """Accept a static bearer token as `principal` (e.g. for ``google.oauth2.credentials.Credentials``)."""
        with self._lock:
            self._tokens[token] = (principal, time.time() + lifetime)

    def allow_impersonation(self, target: str, caller: str) -> None:
        """Give `caller` ``roles/iam.serviceAccountTokenCreator`` on service account `target`."""
        with self._lock:
            self._token_creators.setdefault(target, set()).add(caller)

    def _issue(self, principal: str) -> tuple[str, float]:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        expiry = time.time() + TOKEN_LIFETIME
        with self._lock:
            self._tokens[token] = (principal, expiry)
        return token, expiry

    def _verify_jwt(self, token: str, *, audiences: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """Claims of a service-account-signed RS256 JWT, or None when the signature, key or expiry is wrong."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        try:
            head_b64, claims_b64, sig_b64 = token.split(".")
            header = json.loads(_b64url_decode(head_b64))
            claims = json.loads(_b64url_decode(claims_b64))
            signature = _b64url_decode(sig_b64)
        except ValueError:
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
            return None
        with self._lock:
            pem = self._keys.get(str(claims.get("iss")), {}).get(str(header.get("kid")))
        if pem is None:
            return None
        public_key = serialization.load_pem_public_key(pem)
        if not isinstance(public_key, rsa.RSAPublicKey):
            return None
        try:
            public_key.verify(signature, f"{head_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return None
        now = time.time()
        if not (claims.get("iat", now + 1) - 300 <= now < claims.get("exp", 0)):
            return None
        if audiences and claims.get("aud") not in audiences:
            return None
        return claims

    def principal(self, authorization: str | None) -> str | None:
        """Who a request's ``Authorization`` header authenticates, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = authorization[len("Bearer ") :]
        with self._lock:
            known = self._tokens.get(token)
        if known is not None:
            return known[0] if known[1] > time.time() else None
        claims = self._verify_jwt(token)  # a self-signed JWT (what google-auth sends for compute)
        if claims is None or claims.get("sub", claims.get("iss")) != claims.get("iss"):
            return None
        if "scope" not in claims and "aud" not in claims:
            return None
        return str(claims["iss"])

    # --- request handling -------------------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any], str]:
        """Route one request; return (status, JSON body, authenticated principal or "")."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        who = ""
        try:
            if method == "POST" and path == "/token":
                return 200, self._token_grant(body), who
            who = self.principal(headers.get("Authorization")) or ""
            if not who:
                if self.require_auth:
                    raise _ApiError(401, _UNAUTHENTICATED)
                who = "anonymous"
            if method == "POST" and path.startswith("/v1/projects/-/serviceAccounts/"):
                return 200, self._generate_access_token(who, path, body), who
            if method != "GET":
                raise _google_error(404, "NOT_FOUND", f"No route for {method} {path}", reason="notFound")
            if path.startswith("/v1/") and path.endswith("/assets"):
                return 200, self._list_assets(path, parse_qs(parts.query, keep_blank_values=True)), who
            if path.startswith("/compute/v1/projects/"):
                return 200, self._compute(who, path, query), who
            if path.startswith("/v3/"):
                return 200, self._resource_manager(who, path, query), who
            raise _google_error(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")
        except _ApiError as exc:
            return exc.status, exc.body, who

    def record(self, method: str, path: str, principal: str, status: int) -> None:
        with self._lock:
            self.calls.append(Call(method, path, principal, status))

    def _token_grant(self, body: bytes) -> dict[str, Any]:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise _ApiError(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        claims = self._verify_jwt(form.get("assertion", ""), audiences=(GOOGLE_TOKEN_AUDIENCE, self.token_uri))
        if claims is None:
            raise _ApiError(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        token, _ = self._issue(str(claims["iss"]))
        return {"access_token": token, "expires_in": TOKEN_LIFETIME, "token_type": "Bearer"}

    def _generate_access_token(self, caller: str, path: str, body: bytes) -> dict[str, Any]:
        target, sep, verb = path.removeprefix("/v1/projects/-/serviceAccounts/").partition(":")
        if not sep or verb != "generateAccessToken":
            raise _google_error(404, "NOT_FOUND", f"No route for POST {path}")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            raise _bad_request("Invalid JSON payload received.") from None
        if not request.get("scope"):
            raise _bad_request("Scope required.")
        chain = [*(request.get("delegates") or []), target]
        who = caller
        for hop in chain:  # every hop needs Token Creator on the next one
            hop = hop.removeprefix("projects/-/serviceAccounts/")
            with self._lock:
                allowed = who in self._token_creators.get(hop, set())
            if not allowed:
                msg = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
                raise _google_error(
                    403,
                    "PERMISSION_DENIED",
                    msg,
                    details=[
                        _error_info("IAM_PERMISSION_DENIED", {"permission": "iam.serviceAccounts.getAccessToken"})
                    ],
                )
            who = hop
        token, expiry = self._issue(target)
        return {"accessToken": token, "expireTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))}

    # --- compute ----------------------------------------------------------------------------------------------------

    def _project_for_compute(self, who: str, project_id: str, permission: str) -> FakeProject:
        with self._lock:
            project = self.projects.get(project_id)
        if project is None or project.state != "ACTIVE":
            raise _google_error(
                404, "NOT_FOUND", f"The resource 'projects/{project_id}' was not found", reason="notFound"
            )
        if not project.compute_enabled:
            msg = (
                f"Compute Engine API has not been used in project {project.number} before or it is disabled. Enable "
                f"it by visiting https://console.developers.google.com/apis/api/compute.googleapis.com/overview"
                f"?project={project.number} then retry."
            )
            meta = {
                "service": "compute.googleapis.com",
                "consumer": f"projects/{project.number}",
                "serviceTitle": "Compute Engine API",
            }
            raise _google_error(
                403,
                "PERMISSION_DENIED",
                msg,
                reason="accessNotConfigured",
                domain="usageLimits",
                details=[_error_info("SERVICE_DISABLED", meta)],
            )
        if project.readers is not None and who not in project.readers:
            raise _google_error(
                403,
                "PERMISSION_DENIED",
                f"Required '{permission}' permission for 'projects/{project_id}'",
                reason="forbidden",
            )
        if project.rate_limited:
            msg = (
                "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service "
                f"'compute.googleapis.com' for consumer 'project_number:{project.number}'."
            )
            meta = {
                "service": "compute.googleapis.com",
                "consumer": f"projects/{project.number}",
                "quota_metric": "compute.googleapis.com/read_requests",
                "quota_limit": "ReadRequestsPerMinutePerProject",
            }
            raise _google_error(
                429,
                "RESOURCE_EXHAUSTED",
                msg,
                reason="rateLimitExceeded",
                details=[_error_info("RATE_LIMIT_EXCEEDED", meta)],
            )
        with self._lock:
            if project.transient_failures > 0:
                project.transient_failures -= 1
                raise _google_error(503, "UNAVAILABLE", "The service is currently unavailable.", reason="backendError")
        return project

    def _compute(self, who: str, path: str, query: dict[str, str]) -> dict[str, Any]:
        parts = path.removeprefix("/compute/v1/projects/").split("/")
        if len(parts) == 3 and parts[1] == "aggregated" and parts[2] in _AGGREGATED:
            _check_params(query, _AGGREGATED_PARAMS)
            project = self._project_for_compute(who, parts[0], f"compute.{parts[2]}.list")
            body = self._aggregated(project, parts[2], query)
            method = f"{parts[2]}.aggregatedList"
        elif len(parts) == 3 and parts[1] == "global" and parts[2] in ("addresses", "forwardingRules"):
            _check_params(query, _LIST_PARAMS)
            name = {"addresses": "globalAddresses", "forwardingRules": "globalForwardingRules"}[parts[2]]
            project = self._project_for_compute(who, parts[0], f"compute.{name}.list")
            body = self._global_list(project, parts[2], query)
            method = f"{name}.list"
        else:
            raise _google_error(404, "NOT_FOUND", f"The requested URL {path} was not found.", reason="notFound")
        with self._lock:
            self.emitted.append((method, body))
        return body

    def _items(self, project: FakeProject, collection: str) -> list[tuple[str, dict[str, Any]]]:
        attr = {"addresses": "addresses", "instances": "instances", "forwardingRules": "forwarding_rules"}[collection]
        with self._lock:
            return list(getattr(project, attr))

    def _page(self, items: list[Any], query: dict[str, str], kind: str) -> tuple[list[Any], str]:
        if query.get("filter"):
            raise _bad_request("Invalid value for field 'filter': this fake implements no filter expressions.")
        try:
            size = int(query.get("maxResults", MAX_RESULTS))
        except ValueError:
            raise _bad_request(f"Invalid value for field 'maxResults': '{query['maxResults']}'.") from None
        if not 0 <= size <= MAX_RESULTS:
            raise _bad_request(f"Invalid value for field 'maxResults': '{size}'. Must be less than or equal to 500")
        size = size or MAX_RESULTS
        offset = _decode_token(query.get("pageToken", ""), kind)
        page = items[offset : offset + size]
        next_token = _encode_token(kind, offset + size) if offset + size < len(items) else ""
        return page, next_token

    def _aggregated(self, project: FakeProject, collection: str, query: dict[str, str]) -> dict[str, Any]:
        field_name, kind, scope_type = _AGGREGATED[collection]
        items = self._items(project, collection)
        scope_keys = (
            [f"zones/{r}-{z}" for r in self.regions for z in ("a", "b", "c")]
            if scope_type == "zonal"
            else [f"regions/{r}" for r in self.regions]
        )
        for key, _ in items:
            if key not in scope_keys:
                scope_keys.append(key)
        if scope_type == "regional" and "global" not in scope_keys:
            scope_keys.append("global")
        order = {key: i for i, key in enumerate(scope_keys)}
        items.sort(key=lambda kv: order[kv[0]])  # stable: insertion order within a scope
        page, next_token = self._page(items, query, f"agg-{collection}")
        grouped: dict[str, list[dict[str, Any]]] = {}
        for key, item in page:
            grouped.setdefault(key, []).append(item)
        out_items: dict[str, Any] = {}
        for key in scope_keys:
            if key in grouped:
                out_items[key] = {field_name: grouped[key]}
            else:
                out_items[key] = {
                    "warning": {
                        "code": "NO_RESULTS_ON_PAGE",
                        "message": f"There are no results for scope '{key}' on this page.",
                        "data": [{"key": "scope", "value": key}],
                    }
                }
        body: dict[str, Any] = {
            "kind": f"compute#{kind}AggregatedList",
            "id": f"projects/{project.project_id}/aggregated/{collection}",
            "items": out_items,
            "selfLink": f"{API_HOST}/compute/v1/projects/{project.project_id}/aggregated/{collection}",
        }
        if next_token:
            body["nextPageToken"] = next_token
        return body

    def _global_list(self, project: FakeProject, collection: str, query: dict[str, str]) -> dict[str, Any]:
        items = [item for key, item in self._items(project, collection) if key == "global"]
        page, next_token = self._page(items, query, f"global-{collection}")
        kind = {"addresses": "address", "forwardingRules": "forwardingRule"}[collection]
        body: dict[str, Any] = {
            "kind": f"compute#{kind}List",
            "id": f"projects/{project.project_id}/global/{collection}",
            "selfLink": f"{API_HOST}/compute/v1/projects/{project.project_id}/global/{collection}",
        }
        if page:
            body["items"] = page
        if next_token:
            body["nextPageToken"] = next_token
        return body

    # --- resource manager -------------------------------------------------------------------------------------------

    # --- Cloud Asset Inventory (v1 ListAssets) -----------------------------------------------------------------------

    def _list_assets(self, path: str, raw: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /v1/{parent}/assets``: the compute assets under an organization, folder or project.

        Enforced as the service does: parent form and existence/permission (403), ``contentType`` (this fake serves
        RESOURCE, and name-only answers without it), ``pageSize`` 0..1000 (0 → 100), page tokens, asset types as RE2
        full-match patterns, unknown parameters (400), ``readTime`` unsupported here (400 rather than ignored).
        """
        query = {k: v[-1] for k, v in raw.items()}
        _check_params(query, _ASSET_PARAMS)
        parent = path.removeprefix("/v1/").removesuffix("/assets")
        kind, _, name = parent.partition("/")
        if kind not in ("organizations", "folders", "projects") or not name or "/" in name:
            raise _google_error(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")
        if query.get("readTime"):
            raise _bad_request("readTime: this fake serves current data only")
        content = query.get("contentType", "0")
        if content not in ("0", "1", "CONTENT_TYPE_UNSPECIFIED", "RESOURCE"):
            raise _bad_request(f"contentType {content!r}: this fake serves resource content only")
        with_resource = content in ("1", "RESOURCE")
        try:
            size = int(query.get("pageSize", "0"))
        except ValueError:
            raise _bad_request(f"Invalid value for field 'pageSize': '{query['pageSize']}'.") from None
        if not 0 <= size <= ASSET_PAGE_MAX:
            raise _bad_request(f"page_size must be in [0, {ASSET_PAGE_MAX}], got {size}")
        size = size or ASSET_PAGE_DEFAULT
        try:
            patterns = [re.compile(t) for t in raw.get("assetTypes", [])]
        except re.error as exc:
            raise _bad_request(f"Invalid asset type regular expression: {exc}") from None
        with self._lock:
            denied = parent in self.asset_denied or not self._asset_parent_exists(kind, name)
            rate_limited = self.asset_rate_limited
            fail_page = self.asset_fail_page
        if denied:
            msg = f"The caller does not have permission: cloudasset.assets.listResource on {parent}"
            raise _google_error(403, "PERMISSION_DENIED", msg)
        if rate_limited:
            msg = "Quota exceeded for quota metric 'List Assets requests' and limit 'per minute per organization'."
            raise _google_error(429, "RESOURCE_EXHAUSTED", msg, details=[_error_info("RATE_LIMIT_EXCEEDED", {})])
        assets = [
            a for a in self._assets_under(parent) if not patterns or any(p.fullmatch(a["assetType"]) for p in patterns)
        ]
        offset = _decode_token(query.get("pageToken", ""), "assets")
        if fail_page is not None and offset // size == fail_page:
            raise _google_error(503, "UNAVAILABLE", "The service is currently unavailable.")
        page = assets[offset : offset + size]
        if not with_resource:
            page = [{k: v for k, v in a.items() if k != "resource"} for a in page]
        body: dict[str, Any] = {"readTime": _rfc3339(time.time()), "assets": page}
        if offset + size < len(assets):
            body["nextPageToken"] = _encode_token("assets", offset + size)
        with self._lock:
            self.emitted.append(("assets.list", body))
        return body

    def _asset_parent_exists(self, kind: str, name: str) -> bool:
        if kind == "organizations":
            return f"organizations/{name}" in self.organizations
        if kind == "folders":
            return f"folders/{name}" in self.folders
        return any(p.project_id == name or p.number == name for p in self.projects.values())

    def _ancestors(self, project: FakeProject) -> list[str]:
        chain = [f"projects/{project.number}"]
        parent = project.parent
        while parent:
            chain.append(parent)
            folder = self.folders.get(parent)
            parent = folder.parent if folder else ""
        return chain

    def _assets_under(self, parent: str) -> list[dict[str, Any]]:
        """Every compute asset of the ACTIVE projects below `parent`, in a stable order (project id, then kind)."""
        out: list[dict[str, Any]] = []
        with self._lock:
            projects = sorted(self.projects.values(), key=lambda p: p.project_id)
            for project in projects:
                ancestors = self._ancestors(project)
                if project.state != "ACTIVE" or not project.compute_enabled:
                    continue  # a project pending deletion or without Compute holds no live compute resources
                if parent not in ancestors and parent != f"projects/{project.project_id}":
                    continue
                for collection, items in (
                    ("Address", project.addresses),
                    ("Instance", project.instances),
                    ("ForwardingRule", project.forwarding_rules),
                ):
                    for where, item in items:
                        out.append(self._asset(project, ancestors, collection, where, item))
        return out

    def _asset(
        self, project: FakeProject, ancestors: list[str], collection: str, where: str, item: dict[str, Any]
    ) -> dict[str, Any]:
        is_global = where == "global"
        discovery = f"Global{collection}" if is_global else collection
        link = str(item["selfLink"])
        if is_global:
            location = "global"
        elif collection == "Instance":
            location = str(item["zone"]).rsplit("/", 1)[-1]
        else:
            location = where.removeprefix("regions/")
        updated = self.asset_update_times.get(link, 0.0)
        return {
            "name": "//compute.googleapis.com/" + link.split("/compute/v1/", 1)[1],
            "assetType": f"compute.googleapis.com/{discovery}",
            "resource": {
                "version": "v1",
                "discoveryDocumentUri": "https://www.googleapis.com/discovery/v1/apis/compute/v1/rest",
                "discoveryName": discovery,
                "parent": f"//cloudresourcemanager.googleapis.com/projects/{project.number}",
                "data": item,
                "location": location,
            },
            "ancestors": ancestors,
            "updateTime": _rfc3339(updated),
        }

    def _project_json(self, p: FakeProject) -> dict[str, Any]:
        return {
            "name": f"projects/{p.number}",
            "parent": p.parent,
            "projectId": p.project_id,
            "state": p.state,
            "displayName": p.project_id,
            "createTime": "2024-01-02T03:04:05.678Z",
            "updateTime": "2024-01-02T03:04:05.678Z",
            "etag": f'W/"{p.number}"',
        }

    def _visible(self, who: str, p: FakeProject) -> bool:
        return p.readers is None or who in p.readers

    def _check_parent(self, parent: str) -> None:
        with self._lock:
            folder = self.folders.get(parent)
            known = parent in self.organizations or (folder is not None and folder.state == "ACTIVE")
        if not parent:
            raise _google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
        if not known or (folder is not None and folder.denied):
            raise _google_error(403, "PERMISSION_DENIED", "The caller does not have permission")

    def _rm_page(self, items: list[Any], query: dict[str, str], kind: str) -> tuple[list[Any], str]:
        try:
            size = int(query.get("pageSize", "0") or 0)
        except ValueError:
            raise _google_error(400, "INVALID_ARGUMENT", "Invalid value for pageSize") from None
        if size < 0:
            raise _google_error(400, "INVALID_ARGUMENT", "page_size must be non-negative")
        size = min(size or 50, MAX_PAGE_SIZE)
        offset = _decode_token(query.get("pageToken", ""), kind)
        page = items[offset : offset + size]
        return page, _encode_token(kind, offset + size) if offset + size < len(items) else ""

    def _resource_manager(self, who: str, path: str, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            projects = list(self.projects.values())
            folders = list(self.folders.values())
        if path == "/v3/projects":
            _check_params(query, {"parent", "pageSize", "pageToken", "showDeleted"})
            parent = query.get("parent", "")
            self._check_parent(parent)
            show_deleted = query.get("showDeleted") == "true"
            chosen = [
                self._project_json(p)
                for p in projects
                if p.parent == parent and (show_deleted or p.state == "ACTIVE") and self._visible(who, p)
            ]
            page, token = self._rm_page(chosen, query, f"projects-{parent}")
            return {"projects": page, **({"nextPageToken": token} if token else {})} if page else {}
        if path == "/v3/folders":
            _check_params(query, {"parent", "pageSize", "pageToken", "showDeleted"})
            parent = query.get("parent", "")
            self._check_parent(parent)
            show_deleted = query.get("showDeleted") == "true"
            chosen = [
                {
                    "name": f.name,
                    "parent": f.parent,
                    "displayName": f.name,
                    "state": f.state,
                    "createTime": "2024-01-02T03:04:05.678Z",
                    "etag": f'W/"{f.name}"',
                }
                for f in folders
                if f.parent == parent and (show_deleted or f.state == "ACTIVE")
            ]
            page, token = self._rm_page(chosen, query, f"folders-{parent}")
            return {"folders": page, **({"nextPageToken": token} if token else {})} if page else {}
        if path == "/v3/projects:search":
            _check_params(query, {"query", "pageSize", "pageToken"})
            terms = _search_terms(query.get("query", ""))
            chosen = [
                self._project_json(p)
                for p in projects
                if self._visible(who, p)
                and all(
                    {"state": p.state, "parent": p.parent, "id": p.project_id, "projectid": p.project_id}[k] == v
                    for k, v in terms
                )
            ]
            page, token = self._rm_page(chosen, query, "search")
            return {"projects": page, **({"nextPageToken": token} if token else {})} if page else {}
        raise _google_error(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")


_UNAUTHENTICATED = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "errors": [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
        "status": "UNAUTHENTICATED",
    }
}


def _check_params(query: dict[str, str], allowed: frozenset[str] | set[str]) -> None:
    for name in query:
        if name not in allowed and name not in _COMMON_PARAMS:
            raise _google_error(
                400,
                "INVALID_ARGUMENT",
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                "parameter. Field 'name' could not be found in request message.",
                reason="invalid",
            )


def _search_terms(query: str) -> list[tuple[str, str]]:
    """``state:ACTIVE parent:folders/1`` → pairs; keys the fake does not know are a 400, as a typo is for Google."""
    terms = []
    for term in query.split():
        key, sep, value = term.partition(":")
        if not sep:
            key, sep, value = term.partition("=")
        key = key.lower()
        if not sep or key not in ("state", "parent", "id", "projectid"):
            raise _google_error(400, "INVALID_ARGUMENT", f"Invalid query: unsupported term {term!r}")
        terms.append((key, value))
    return terms


def _rfc3339(epoch: float) -> str:
    micros = round(epoch * 1_000_000)
    seconds, micros = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def _encode_token(kind: str, offset: int) -> str:
    return _b64url(json.dumps([kind, offset]).encode())


def _decode_token(token: str, kind: str) -> int:
    if not token:
        return 0
    try:
        got_kind, offset = json.loads(_b64url_decode(token))
    except (ValueError, TypeError):
        raise _bad_request(f"Invalid value for field 'pageToken': '{token}'.") from None
    if got_kind != kind or not isinstance(offset, int) or offset < 0:
        raise _bad_request(f"Invalid value for field 'pageToken': '{token}'.")
    return offset


class _Handler(BaseHTTPRequestHandler):
    owner: FakeGcp
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # status line, headers and body leave in one write (no Nagle / delayed-ACK stall)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.owner.latency and not self.path.startswith("/token"):
            time.sleep(self.owner.latency)
        status, payload, who = self.owner.handle(self.command, self.path, self.headers, body)
        self.owner.record(self.command, self.path, who, status)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve


# --- demo ---------------------------------------------------------------------------------------------------------

DEMO_ORG = "organizations/424242424242"
DEMO_SERVICE_ACCOUNT = "origin-region-agent@demo-ops.iam.gserviceaccount.com"


def start_demo(stack: contextlib.ExitStack, *, engine: bool = False) -> DemoCloud:
    """See `start_demo_fake`; returns only the `DemoCloud`."""
    return start_demo_fake(stack, engine=engine)[1]


def start_demo_fake(stack: contextlib.ExitStack, *, engine: bool = False) -> tuple[FakeGcp, DemoCloud]:
    """Start the fake with an organization of three projects, and hand the demo its `inventory.gcp` section.

    Regional IPs in us-central1, europe-west1 and asia-east1 map; the global (anycast) forwarding rule is reported but
    must not be mapped; the internal address is not reported at all. `engine`: configure the collector for Cloud Asset
    Inventory (``mode: asset_inventory``) over the same organization.
    """
    fake = FakeGcp(regions=("us-central1", "europe-west1", "asia-east1")).start()
    stack.callback(fake.stop)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gcp-demo-")))
    key_file = fake.create_service_account_key(DEMO_SERVICE_ACCOUNT, project_id="demo-ops").write(
        workdir / "service-account.json"
    )

    fake.add_organization(DEMO_ORG)
    fake.add_folder("folders/1001", DEMO_ORG)
    fake.add_project("demo-ops", parent=DEMO_ORG)
    fake.add_project("demo-web-prod", parent="folders/1001")
    fake.add_project("demo-data-prod", parent="folders/1001")
    fake.add_project("demo-old", parent="folders/1001", state="DELETE_REQUESTED")

    fake.add_address("demo-web-prod", "web-ip", "34.123.45.67", region="us-central1")
    fake.add_forwarding_rule("demo-web-prod", "web-lb", "34.76.10.20", region="europe-west1")
    fake.add_forwarding_rule("demo-web-prod", "global-lb", "34.120.55.66")  # anycast: region "global", never mapped
    fake.add_address("demo-web-prod", "internal-ip", "10.10.0.5", region="us-central1", address_type="INTERNAL")
    fake.add_instance(
        "demo-data-prod",
        "api-1",
        zone="asia-east1-b",
        nat_ips=("35.201.88.99",),
        external_ipv6=("2600:1900:4030:12ab::",),
    )

    expected = {
        "34.123.45.67": "us-central1",
        "34.76.10.20": "europe-west1",
        "35.201.88.99": "asia-east1",
        "2600:1900:4030:12ab::": "asia-east1",
    }
    config: dict[str, Any] = {
        "organizations": [DEMO_ORG],
        "credentials_file": str(key_file),
        "compute_endpoint": fake.endpoint,
        "resource_manager_endpoint": fake.endpoint,
        "retry": {"max_attempts": 2, "initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.2},
        "timeout_seconds": 10,
    }
    if engine:
        del config["organizations"]
        config.update(mode="asset_inventory", scope=DEMO_ORG, asset_endpoint=fake.endpoint)
    env = {
        # never reach a real metadata server or gcloud config
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
        "NO_GCE_CHECK": "true",  # read by google-auth at import: the demo process skips the metadata probe
        "CLOUDSDK_CONFIG": str(workdir / "gcloud"),
    }
    return fake, DemoCloud(
        source="gcp",
        config=config,
        env=env,
        origin_ips=[*expected, "34.120.55.66"],
        expected_regions=expected,
    )
