"""A fake of Azure Resource Manager and Microsoft Entra ID (AAD) over HTTPS, for tests and the `demo` command.

It speaks the real wire format to the unmodified Azure SDK:

* AAD v2: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``
  (client-credentials grant with a client secret, or a federated ``client_assertion`` for workload identity).
  Clients must pass ``disable_instance_discovery=True``: MSAL would otherwise ask login.microsoftonline.com.
* ARM: ``GET /subscriptions`` (SubscriptionClient) and
  ``GET /subscriptions/{id}/providers/Microsoft.Network/publicIPAddresses`` (``public_ip_addresses.list_all``), with
  ``value`` + absolute ``nextLink`` paging built from the fake's own scheme, host and port.

Azure Resource Graph: ``POST /providers/Microsoft.ResourceGraph/resources`` (``ResourceGraphClient.resources``) over
the same seed: ``subscriptions`` / ``managementGroups`` / tenant scope, ``options.$top`` (1-1000, enforced),
``$skipToken`` paging (bound to its query and scope), ``objectArray`` and ``table`` formats, ``resultTruncated`` as
a string, rows filtered by the caller's RBAC (resources the principal cannot read are silently absent, as in the real
service), and the per-user quota (default 15 queries per 5 s window) reported on every answer in
``x-ms-user-quota-remaining`` / ``x-ms-user-quota-resets-after`` and enforced with 429 ``RateLimiting``. It runs no
KQL: it answers the two queries the collector sends (`PUBLIC_IP_QUERY`, `SUBSCRIPTION_QUERY`, kept here as the fake's
own copies so that a changed query fails the tests) and refuses any other with 400 ``InvalidQuery``. Faults:
`arg_truncate`, `arg_subscription_limit_hit`. The texts of 429 and 403 messages are illustrative (unconfirmed).

What it enforces, like the real service: an ``api-version`` query parameter; a bearer token that this fake's AAD
issued for an ARM audience (401 ``AuthenticationFailed`` / ``InvalidAuthenticationToken`` otherwise); role
assignments (a subscription is listed only to principals with a role on it, and reading public IPs needs an action
matching ``Microsoft.Network/publicIPAddresses/read``, else 403 ``AuthorizationFailed``); subscription state
(``Disabled`` → 409 ``ReadOnlyDisabledSubscription``, unknown or ``Deleted`` → 404 ``SubscriptionNotFound``); and
injected throttling (429 ``SubscriptionRequestsThrottled`` with ``Retry-After``). Errors use the ARM shape
``{"error": {"code", "message"}}``; AAD errors use the OAuth2 shape with ``AADSTS`` codes.

HTTPS is not optional: azure-core refuses to send a bearer token over plain http. Pass an `ssl.SSLContext` (trustme
in tests, `agent.sandbox.tls.LocalCA` in the demo).
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import json
import secrets
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from agent.clock import SYSTEM_CLOCK, Clock
from agent.sandbox.server import serve_in_background, stop_serving

__all__ = ["READER", "FakeAzure", "PublicIpSpec", "RecordedRequest", "start_demo", "start_demo_fake"]

READER: tuple[str, ...] = ("*/read",)
"""The actions of the built-in Reader role."""

ARG_API_VERSIONS = frozenset({"2019-04-01", "2020-04-01-preview", "2021-03-01", "2021-06-01-preview", "2022-10-01"})
"""Resource Graph api-versions the fake accepts (8.0.1 of the SDK sends 2021-03-01)."""

SUBSCRIPTION_QUERY = (
    "ResourceContainers | where type =~ 'microsoft.resources/subscriptions' "
    "| project subscriptionId, name, state = tostring(properties.state) | order by subscriptionId asc"
)
PUBLIC_IP_QUERY = (
    "Resources | where type =~ 'microsoft.network/publicipaddresses' | where isnotempty(properties.ipAddress) "
    "| project id, subscriptionId, location, ipAddress = tostring(properties.ipAddress), "
    "ipVersion = tostring(properties.publicIPAddressVersion), "
    "allocation = tostring(properties.publicIPAllocationMethod), skuName = tostring(sku.name), "
    "skuTier = tostring(sku.tier), zones = strcat_array(zones, ','), edgeZone = tostring(extendedLocation.name), "
    "attachedTo = coalesce(tostring(properties.ipConfiguration.id), tostring(properties.natGateway.id)) "
    "| order by id asc"
)
_PUBLIC_IP_READ = "Microsoft.Network/publicIPAddresses/read"

_ARM_AUDIENCES = ("https://management.azure.com/", "https://management.core.windows.net/")
_TOKEN_LIFETIME = 3599


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake served (for assertions): method, path with query, and whether a bearer token came."""

    method: str
    path: str
    bearer: bool


@dataclass(slots=True)
class _Principal:
    tenant_id: str
    client_id: str
    object_id: str
    secret: str | None = field(default=None, repr=False)
    federated_token: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class _Subscription:
    subscription_id: str
    display_name: str
    tenant_id: str
    state: str
    # client_id -> actions granted on this subscription (wildcards as in Azure RBAC, e.g. "*/read")
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    public_ips: list[dict[str, Any]] = field(default_factory=list)
    throttled: int = 0
    retry_after: int = 0


@dataclass(frozen=True, slots=True)
class _Token:
    tenant_id: str
    client_id: str
    audience: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class PublicIpSpec:
    """A public IP to seed; `ip` None is an unallocated dynamic address (real Azure then omits ``ipAddress``)."""

    name: str
    location: str
    ip: str | None
    version: str = "IPv4"
    allocation: str = "Static"
    sku: str | None = None  # "Standard" / "Basic"; None leaves `sku` out, like the ListAll example response
    tier: str = "Regional"
    resource_group: str = "rg1"
    attached_to: str | None = None  # id of the ipConfiguration that uses it
    zones: tuple[str, ...] = ()
    edge_zone: str | None = None
    dns_label: str | None = None


@dataclass(slots=True)
class _ManagementGroup:
    group_id: str
    subscriptions: tuple[str, ...]  # lower-case ids
    children: tuple[str, ...] = ()  # child management group ids
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # inherited by everything below


class _ArmError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details


class FakeAzure:
    """ARM + AAD on 127.0.0.1 (ephemeral port). Thread-safe; use as a context manager or call `close()`."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        page_size: int = 50,
        latency: float = 0.0,
        arg_quota: tuple[int, float] | None = (15, 5.0),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`latency`: seconds added to every ARM / Resource Graph answer. `arg_quota`: Resource Graph queries per
        window (seconds) per principal, None for no limit; its window runs on `clock`."""
        self.page_size = page_size
        self.latency = latency
        self.arg_quota = arg_quota
        self.arg_truncate = False
        self.arg_subscription_limit_hit = False
        self.requests: list[RecordedRequest] = []
        self._clock = clock
        self._quota_windows: dict[str, tuple[float, int]] = {}  # client id -> (window start, queries used)
        self._groups: dict[str, _ManagementGroup] = {}
        self._lock = threading.Lock()
        self._principals: dict[tuple[str, str], _Principal] = {}  # (tenant, client_id)
        self._subscriptions: dict[str, _Subscription] = {}  # lower-case id
        self._tokens: dict[str, _Token] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler, ssl_context, self)
        port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{port}"
        self._thread = serve_in_background(self._server, "fake-azure")

    # -- lifecycle --------------------------------------------------------------------------------------------
    def close(self) -> None:
        stop_serving(self._server, self._thread)

    def __enter__(self) -> FakeAzure:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- seeding ----------------------------------------------------------------------------------------------
    def add_service_principal(
        self,
        tenant_id: str,
        client_id: str,
        *,
        secret: str | None = None,
        federated_token: str | None = None,
    ) -> str:
        """Register an app in `tenant_id` that authenticates with `secret` and/or a federated token. Returns its
        object id (what ARM names in AuthorizationFailed messages)."""
        object_id = str(uuid.uuid4())
        with self._lock:
            self._principals[(tenant_id.lower(), client_id.lower())] = _Principal(
                tenant_id, client_id, object_id, secret, federated_token
            )
        return object_id

    def add_subscription(
        self,
        subscription_id: str,
        *,
        tenant_id: str,
        display_name: str = "",
        state: str = "Enabled",
        readers: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Create a subscription; `readers` maps client ids to the RBAC actions they hold on it."""
        with self._lock:
            self._subscriptions[subscription_id.lower()] = _Subscription(
                subscription_id, display_name or subscription_id, tenant_id, state, dict(readers or {})
            )

    def grant(self, subscription_id: str, client_id: str, actions: tuple[str, ...] = READER) -> None:
        """Assign a role (given by its actions) to `client_id` on the subscription."""
        with self._lock:
            self._subscriptions[subscription_id.lower()].roles[client_id.lower()] = actions

    def add_management_group(
        self,
        group_id: str,
        subscriptions: tuple[str, ...] = (),
        *,
        children: tuple[str, ...] = (),
        readers: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        """A management group holding `subscriptions` and child groups; `readers`' roles apply to all below it."""
        with self._lock:
            self._groups[group_id.lower()] = _ManagementGroup(
                group_id,
                tuple(s.lower() for s in subscriptions),
                tuple(c.lower() for c in children),
                dict(readers or {}),
            )

    def _actions(self, sub: _Subscription, client_id: str) -> tuple[str, ...] | None:
        """The actions `client_id` holds on `sub`, directly or inherited from a management group; None: no role.
        Caller holds the lock."""
        found: list[str] = []
        has_role = False
        if client_id in sub.roles:
            has_role = True
            found += sub.roles[client_id]
        for group in self._groups.values():
            if client_id in group.roles and sub.subscription_id.lower() in self._group_subscriptions(group):
                has_role = True
                found += group.roles[client_id]
        return tuple(found) if has_role else None

    def _group_subscriptions(self, group: _ManagementGroup) -> set[str]:
        subs = set(group.subscriptions)
        for child in group.children:
            if child in self._groups:
                subs |= self._group_subscriptions(self._groups[child])
        return subs

    def set_state(self, subscription_id: str, state: str) -> None:
        with self._lock:
            self._subscriptions[subscription_id.lower()].state = state

    def throttle(self, subscription_id: str, times: int, *, retry_after: int = 1) -> None:
        """Answer the next `times` public-IP requests of the subscription with 429 + ``Retry-After``."""
        with self._lock:
            sub = self._subscriptions[subscription_id.lower()]
            sub.throttled, sub.retry_after = times, retry_after

    def add_public_ip(self, subscription_id: str, spec: PublicIpSpec) -> dict[str, Any]:
        """Seed a public IP, built in the shape of the real ``PublicIPAddresses_ListAll`` response."""
        sub = self._subscriptions[subscription_id.lower()]
        rid = (
            f"/subscriptions/{sub.subscription_id}/resourceGroups/{spec.resource_group}"
            f"/providers/Microsoft.Network/publicIPAddresses/{spec.name}"
        )
        props: dict[str, Any] = {
            "ddosSettings": {"protectionMode": "VirtualNetworkInherited"},
            "idleTimeoutInMinutes": 4,
            "provisioningState": "Succeeded",
            "publicIPAddressVersion": spec.version,
            "publicIPAllocationMethod": spec.allocation,
        }
        if spec.ip is not None:
            props["ipAddress"] = spec.ip
        if spec.attached_to:
            props["ipConfiguration"] = {"id": spec.attached_to}
        if spec.dns_label:
            fqdn = f"{spec.dns_label}.{spec.location}.cloudapp.azure.com"
            props["dnsSettings"] = {"domainNameLabel": spec.dns_label, "fqdn": fqdn}
        item: dict[str, Any] = {
            "name": spec.name,
            "type": "Microsoft.Network/publicIPAddresses",
            "id": rid,
            "location": spec.location,
            "properties": props,
        }
        if spec.sku is not None:
            item["sku"] = {"name": spec.sku, "tier": spec.tier}
        if spec.zones:
            item["zones"] = list(spec.zones)
        if spec.edge_zone:
            item["extendedLocation"] = {"name": spec.edge_zone, "type": "EdgeZone"}
        return self.add_raw_public_ip(subscription_id, item)

    def add_raw_public_ip(self, subscription_id: str, item: dict[str, Any]) -> dict[str, Any]:
        """Seed an arbitrary public-IP JSON object (for odd payloads a real API might still return)."""
        with self._lock:
            self._subscriptions[subscription_id.lower()].public_ips.append(item)
        return item

    # -- request handling (called from server threads) --------------------------------------------------------
    def _record(self, method: str, path: str, bearer: bool) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, bearer))

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        segments = [s for s in parts.path.split("/") if s]
        lower = [s.lower() for s in segments]
        self._record(method, path, str(headers.get("Authorization", "")).startswith("Bearer "))
        # AAD
        if len(lower) == 4 and lower[1:] == ["v2.0", ".well-known", "openid-configuration"] and method == "GET":
            return self._openid_configuration(segments[0])
        if len(lower) == 4 and lower[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
            return self._token(segments[0], body)
        # ARM
        if self.latency:
            time.sleep(self.latency)
        try:
            if lower == ["providers", "microsoft.resourcegraph", "resources"]:
                if method != "POST":
                    raise _ArmError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed.")
                return self._resource_graph(headers, query, body)
            if method != "GET":
                raise _ArmError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed.")
            if lower and lower[0] == "subscriptions":
                if "api-version" not in query:
                    raise _ArmError(
                        400,
                        "MissingApiVersionParameter",
                        "The api-version query parameter (?api-version=) is required for all requests.",
                    )
                token = self._authenticate(headers)
                if len(lower) == 1:
                    return self._list_subscriptions(token, parts.path, query)
                if lower[2:] == ["providers", "microsoft.network", "publicipaddresses"]:
                    return self._list_public_ips(token, segments[1], parts.path, query)
            raise _ArmError(404, "InvalidResourceType", f"The resource type could not be found: '{parts.path}'.")
        except _ArmError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.details is not None:
                error["details"] = exc.details
            return _json(exc.status, {"error": error}, exc.headers)

    def _openid_configuration(self, tenant: str) -> tuple[int, dict[str, str], bytes]:
        if not self._tenant_known(tenant):
            return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        base = f"{self.url}/{tenant}"
        return _json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{self.url}/{tenant}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "tenant_region_scope": "NA",
                "cloud_instance_name": "127.0.0.1",
            },
        )

    def _tenant_known(self, tenant: str) -> bool:
        with self._lock:
            return any(t == tenant.lower() for t, _ in self._principals)

    def _token(self, tenant: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not self._tenant_known(tenant):
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        client_id = form.get("client_id", "")
        with self._lock:
            principal = self._principals.get((tenant.lower(), client_id.lower()))
        if principal is None:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        assertion = form.get("client_assertion")
        if assertion is not None:
            ok = principal.federated_token is not None and secrets.compare_digest(assertion, principal.federated_token)
            if not ok:
                return _aad_error(401, "invalid_client", 700211, "No matching federated identity record found.")
        else:
            given = form.get("client_secret", "")
            if principal.secret is None or not secrets.compare_digest(given, principal.secret):
                return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        scope = form.get("scope", "")
        resources = [s.removesuffix(".default") for s in scope.split() if s.endswith("/.default")]
        if len(resources) != 1:
            return _aad_error(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid.")
        audience = resources[0] if resources[0].endswith("/") else resources[0] + "/"
        access_token = "eyJ0eXAiOiJKV1QifQ." + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
        with self._lock:
            self._tokens[access_token] = _Token(tenant.lower(), client_id.lower(), audience, time.time() + 3600)
        return _json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": _TOKEN_LIFETIME,
                "ext_expires_in": _TOKEN_LIFETIME,
                "access_token": access_token,
            },
        )

    def _authenticate(self, headers: Any) -> _Token:
        challenge = {
            "WWW-Authenticate": f'Bearer authorization_uri="{self.url}/", error="invalid_token", '
            "error_description=\"The authentication failed because of missing 'Authorization' header.\""
        }
        value = str(headers.get("Authorization", ""))
        if not value.startswith("Bearer "):
            raise _ArmError(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", challenge
            )
        with self._lock:
            token = self._tokens.get(value.removeprefix("Bearer ").strip())
        if token is None or token.expires_at < time.time():
            raise _ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if token.audience not in (*_ARM_AUDIENCES, self.url + "/"):
            raise _ArmError(
                401,
                "InvalidAuthenticationToken",
                f"The access token has been obtained for wrong audience or resource '{token.audience}'.",
            )
        return token

    def _list_subscriptions(self, token: _Token, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            visible = [
                s
                for s in self._subscriptions.values()
                if self._actions(s, token.client_id) is not None
                and s.tenant_id.lower() == token.tenant_id
                and s.state != "Deleted"
            ]
            items = [
                {
                    "id": f"/subscriptions/{s.subscription_id}",
                    "authorizationSource": "RoleBased",
                    "managedByTenants": [],
                    "subscriptionId": s.subscription_id,
                    "tenantId": s.tenant_id,
                    "displayName": s.display_name,
                    "state": s.state,
                    "subscriptionPolicies": {
                        "locationPlacementId": "Public_2014-09-01",
                        "quotaId": "PayAsYouGo_2014-09-01",
                        "spendingLimit": "Off",
                    },
                }
                for s in visible
            ]
        return self._page(items, path, query, extra={"count": {"type": "Total", "value": len(items)}})

    def _list_public_ips(
        self, token: _Token, subscription_id: str, path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            sub = self._subscriptions.get(subscription_id.lower())
            if sub is None or sub.state == "Deleted":
                raise _ArmError(
                    404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found."
                )
            if sub.tenant_id.lower() != token.tenant_id:
                raise _ArmError(
                    401,
                    "InvalidAuthenticationTokenTenant",
                    f"The access token is from the wrong issuer. It must match the tenant associated with this "
                    f"subscription '{sub.tenant_id}'.",
                )
            action = _PUBLIC_IP_READ
            granted = self._actions(sub, token.client_id) or ()
            if not any(fnmatch.fnmatch(action.lower(), a.lower()) for a in granted):
                principal = self._principals.get((token.tenant_id, token.client_id))
                oid = principal.object_id if principal else token.client_id
                raise _ArmError(
                    403,
                    "AuthorizationFailed",
                    f"The client '{oid}' with object id '{oid}' does not have authorization to perform action "
                    f"'{action}' over scope '/subscriptions/{sub.subscription_id}' or the scope is invalid. If access "
                    "was recently granted, please refresh your credentials.",
                )
            if sub.state == "Disabled":
                raise _ArmError(
                    409,
                    "ReadOnlyDisabledSubscription",
                    f"The subscription '{sub.subscription_id}' is disabled and therefore marked as read only.",
                )
            if sub.throttled > 0:
                sub.throttled -= 1
                raise _ArmError(
                    429,
                    "SubscriptionRequestsThrottled",
                    f"Number of 'read' requests for subscription '{sub.subscription_id}' exceeded. Please try again "
                    f"after '{sub.retry_after}' seconds.",
                    {"Retry-After": str(sub.retry_after)},
                )
            items = [json.loads(json.dumps(p)) for p in sub.public_ips]
        return self._page(items, path, query)

    # -- Azure Resource Graph -----------------------------------------------------------------------------------
    def _resource_graph(self, headers: Any, query: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        version = query.get("api-version")
        if version is None:
            raise _ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if version not in ARG_API_VERSIONS:
            raise _ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are "
                f"'{','.join(sorted(ARG_API_VERSIONS))}'.",
            )
        token = self._authenticate(headers)
        quota = self._take_quota(token.client_id)
        try:
            request = json.loads(body or b"null")
        except ValueError:
            request = None
        if not isinstance(request, dict):
            raise _ArmError(
                400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
            )
        text = request.get("query")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("InvalidQuery", "The query is required.", quota)
        options = request.get("options") or {}
        if not isinstance(options, dict):
            raise _bad_request("InvalidRequestContent", "options must be an object.", quota)
        top = options.get("$top", 1000)
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 1000:
            raise _bad_request("InvalidParameter", f"Value of '$top' must be between 1 and 1000, got '{top}'.", quota)
        skip = options.get("$skip", 0)
        if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
            raise _bad_request("InvalidParameter", f"Value of '$skip' must be 0 or more, got '{skip}'.", quota)
        result_format = options.get("resultFormat", "objectArray")
        if result_format not in ("objectArray", "table"):
            raise _bad_request("InvalidParameter", f"Unknown resultFormat '{result_format}'.", quota)
        normalized = " ".join(text.split())
        with self._lock:
            subs = self._arg_scope(token, request, quota)
            if normalized == " ".join(PUBLIC_IP_QUERY.split()):
                rows = [row for sub in subs for row in self._arg_public_ips(sub, token.client_id)]
                rows.sort(key=lambda r: str(r["id"]))
            elif normalized == " ".join(SUBSCRIPTION_QUERY.split()):
                rows = [
                    {"subscriptionId": s.subscription_id, "name": s.display_name, "state": s.state}
                    for s in sorted(subs, key=lambda s: s.subscription_id)
                ]
            else:
                raise _bad_request("InvalidQuery", "Query is invalid. Please refer to the documentation.", quota)
        binding = _digest(json.dumps([normalized, request.get("subscriptions"), request.get("managementGroups")]))
        start = skip
        if options.get("$skipToken") is not None:
            decoded = _decode_arg_token(str(options["$skipToken"]))
            if decoded is None or decoded[1] != binding:
                raise _bad_request("InvalidSkipToken", "The $skipToken is invalid for this query.", quota)
            start = decoded[0]
        page = rows[start : start + top]
        truncated = self.arg_truncate
        answer: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(page),
            "resultTruncated": "true" if truncated else "false",
            "facets": [],
        }
        if start + top < len(rows) and not truncated:
            answer["$skipToken"] = _encode_arg_token(start + top, binding)
        if result_format == "table":
            names = list(page[0]) if page else []
            answer["data"] = {
                "columns": [{"name": n, "type": "string"} for n in names],
                "rows": [[r.get(n) for n in names] for r in page],
            }
        else:
            answer["data"] = page
        extra = dict(quota)
        if self.arg_subscription_limit_hit:
            extra["x-ms-tenant-subscription-limit-hit"] = "true"
        return _json(200, answer, extra)

    def _take_quota(self, client_id: str) -> dict[str, str]:
        """Count one query against the principal's window; the quota headers to send, or a 429 when spent."""
        if self.arg_quota is None:
            return {}
        limit, window = self.arg_quota
        now = self._clock.monotonic()
        with self._lock:
            start, used = self._quota_windows.get(client_id, (now, 0))
            if now >= start + window:
                start, used = now, 0
            resets = _hhmmss(start + window - now)
            if used >= limit:
                raise _ArmError(
                    429,
                    "RateLimiting",
                    "Please provide below info when asking for support: timestamp = "
                    f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}, correlationId = {uuid.uuid4()}.",
                    {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": resets},
                    [
                        {
                            "code": "RateLimiting",
                            "message": "Client application has been throttled and should not attempt to repeat the "
                            "request until an amount of time has elapsed. Please see "
                            "https://aka.ms/resourcegraph-throttling for help.",
                        }
                    ],
                )
            self._quota_windows[client_id] = (start, used + 1)
        return {"x-ms-user-quota-remaining": str(limit - used - 1), "x-ms-user-quota-resets-after": resets}

    def _arg_scope(self, token: _Token, request: dict[str, Any], quota: dict[str, str]) -> list[_Subscription]:
        """The subscriptions a query covers: named ones, a management group's, or the tenant's; only those the
        principal holds a role on (others are silently left out). Caller holds the lock."""
        groups = request.get("managementGroups")
        named = request.get("subscriptions")
        if groups:
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise _bad_request("InvalidParameter", "managementGroups must be a list of strings.", quota)
            ids: set[str] = set()
            for group_id in groups:
                group = self._groups.get(group_id.lower())
                if group is None or not self._can_see_group(group, token.client_id):
                    raise _ArmError(
                        403,
                        "AuthorizationFailed",
                        f"The client '{token.client_id}' does not have authorization to perform action "
                        f"'Microsoft.ResourceGraph/resources/read' over scope "
                        f"'/providers/Microsoft.Management/managementGroups/{group_id}' or the scope is invalid.",
                        quota,
                    )
                ids |= self._group_subscriptions(group)
            candidates = [self._subscriptions[i] for i in sorted(ids) if i in self._subscriptions]
        elif named:
            if not isinstance(named, list) or not all(isinstance(s, str) for s in named):
                raise _bad_request("InvalidParameter", "subscriptions must be a list of strings.", quota)
            candidates = [self._subscriptions[s.lower()] for s in named if s.lower() in self._subscriptions]
        else:
            candidates = list(self._subscriptions.values())
        return [
            s
            for s in candidates
            if s.state != "Deleted"
            and s.tenant_id.lower() == token.tenant_id
            and self._actions(s, token.client_id) is not None
        ]

    def _can_see_group(self, group: _ManagementGroup, client_id: str) -> bool:
        if client_id in group.roles:
            return True
        return any(
            client_id in g.roles and group.group_id.lower() in self._descendants(g) for g in self._groups.values()
        )

    def _descendants(self, group: _ManagementGroup) -> set[str]:
        out: set[str] = set()
        for child in group.children:
            out.add(child)
            if child in self._groups:
                out |= self._descendants(self._groups[child])
        return out

    def _arg_public_ips(self, sub: _Subscription, client_id: str) -> list[dict[str, Any]]:
        """The projected rows of `sub`'s readable, allocated public IPs. Caller holds the lock."""
        granted = self._actions(sub, client_id) or ()
        if not any(fnmatch.fnmatch(_PUBLIC_IP_READ.lower(), a.lower()) for a in granted):
            return []
        rows = []
        for item in sub.public_ips:
            props = item.get("properties") or {}
            if not props.get("ipAddress"):
                continue
            sku = item.get("sku") or {}
            attached = (props.get("ipConfiguration") or {}).get("id") or (props.get("natGateway") or {}).get("id")
            rows.append(
                {
                    "id": item.get("id"),
                    "subscriptionId": sub.subscription_id,
                    "location": item.get("location"),
                    "ipAddress": _kql_string(props.get("ipAddress")),
                    "ipVersion": _kql_string(props.get("publicIPAddressVersion")),
                    "allocation": _kql_string(props.get("publicIPAllocationMethod")),
                    "skuName": _kql_string(sku.get("name")),
                    "skuTier": _kql_string(sku.get("tier")),
                    "zones": ",".join(item.get("zones") or []),
                    "edgeZone": _kql_string((item.get("extendedLocation") or {}).get("name")),
                    "attachedTo": _kql_string(attached),
                }
            )
        return rows

    def _page(
        self, items: list[dict[str, Any]], path: str, query: dict[str, str], extra: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        start = _decode_skiptoken(query.get("$skiptoken"))
        if start is None:
            raise _ArmError(400, "InvalidSkipToken", f"The skip token '{query.get('$skiptoken')}' is not valid.")
        end = start + self.page_size
        body: dict[str, Any] = {"value": items[start:end]}
        if end < len(items):
            token = quote(_encode_skiptoken(end), safe="")
            body["nextLink"] = f"{self.url}{path}?api-version={quote(query['api-version'])}&$skiptoken={token}"
        if extra and start == 0:
            body.update(extra)
        return _json(200, body, {"x-ms-ratelimit-remaining-subscription-reads": "11999"})


def _encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_skiptoken(value: str | None) -> int | None:
    if value is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(value.encode()))["o"]
    except (ValueError, KeyError, TypeError):
        return None
    return offset if isinstance(offset, int) and offset >= 0 else None


def _bad_request(code: str, message: str, quota: dict[str, str]) -> _ArmError:
    return _ArmError(
        400,
        "BadRequest",
        "Please provide below info when asking for support.",
        quota,
        [{"code": code, "message": message}],
    )


def _kql_string(value: Any) -> str:
    """KQL ``tostring()``: null and absent become the empty string."""
    return "" if value is None else str(value)


def _hhmmss(seconds: float) -> str:
    whole = max(0, int(-(-seconds // 1)))  # round up: the client must not come back early
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_arg_token(offset: int, binding: str) -> str:
    return base64.b64encode(json.dumps({"$id": offset, "q": binding}).encode()).decode()


def _decode_arg_token(value: str) -> tuple[int, str] | None:
    try:
        data = json.loads(base64.b64decode(value.encode(), validate=True))
        offset, binding = data["$id"], data["q"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(offset, int) or offset < 0 or not isinstance(binding, str):
        return None
    return offset, binding


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    out = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return status, out, json.dumps(body).encode()


def _aad_error(status: int, error: str, code: int, text: str) -> tuple[int, dict[str, str], bytes]:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    return _json(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": trace,
            "correlation_id": correlation,
        },
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, ctx: ssl.SSLContext, fake: FakeAzure) -> None:
        self.ssl_context = ctx
        self.fake = fake
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket, Any]:
        # Accept plain, handshake in the worker thread: a slow client must not block the accept loop.
        sock, addr = self.socket.accept()
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            raise

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.fake.handle(self.command, self.path, self.headers, body)
        self.send_response(status)
        request_id = str(uuid.uuid4())
        self.send_header("x-ms-request-id", request_id)
        self.send_header("x-ms-correlation-request-id", request_id)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:  # the fake is quiet; see FakeAzure.requests
        pass


# -- demo ------------------------------------------------------------------------------------------------------

DEMO_TENANT = "72f988bf-0000-4000-8000-00000000d3e0"
DEMO_CLIENT_ID = "0d3e0000-0000-4000-8000-00000000c11e"
DEMO_SUBSCRIPTIONS = ("a0d3e000-0000-4000-8000-000000000001", "a0d3e000-0000-4000-8000-000000000002")


def start_demo(stack: contextlib.ExitStack, *, engine: bool = False) -> Any:
    """See `start_demo_fake`; returns only the `DemoCloud`."""
    return start_demo_fake(stack, engine=engine)[1]


def start_demo_fake(stack: contextlib.ExitStack, *, engine: bool = False) -> tuple[FakeAzure, Any]:
    """Start the fake with a demo tenant (two subscriptions, regional IPs in three regions, one global-tier anycast
    address that must not be mapped, one unallocated dynamic address) and return the `DemoCloud` to reach it.
    `engine`: configure the collector for Azure Resource Graph (``mode: resource_graph``) over the same tenant.

    Needs only `cryptography` (the CA is generated by `agent.sandbox.tls`), not trustme.
    """
    from agent.sandbox.demo import DemoCloud
    from agent.sandbox.tls import LocalCA

    ca = LocalCA.create()
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ora-azure-demo-")))
    ca_path = ca.write_ca_bundle(tmp / "azure-demo-ca.pem")
    fake = stack.enter_context(FakeAzure(ca.server_context("127.0.0.1", "localhost"), page_size=2))
    secret = secrets.token_urlsafe(24)
    fake.add_service_principal(DEMO_TENANT, DEMO_CLIENT_ID, secret=secret)
    prod, staging = DEMO_SUBSCRIPTIONS
    fake.add_subscription(prod, tenant_id=DEMO_TENANT, display_name="demo-prod", readers={DEMO_CLIENT_ID: READER})
    fake.add_subscription(staging, tenant_id=DEMO_TENANT, display_name="demo-staging", readers={DEMO_CLIENT_ID: READER})
    net = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network"
    nic = net + "/networkInterfaces/{}/ipConfigurations/ipconfig1"
    lb = net + "/loadBalancers/{}/frontendIPConfigurations/fe"
    # Addresses lie inside the real AzureCloud.<region> prefixes of the published Service Tags for the same region.
    regional = [
        (prod, PublicIpSpec("web-eastus-ip", "eastus", "4.156.10.20", attached_to=lb.format(prod, "web", "web-lb"))),
        (prod, PublicIpSpec("api-weu-ip", "westeurope", "4.175.20.30", sku="Standard", zones=("1", "2", "3"))),
        (staging, PublicIpSpec("vm-jpe-ip", "japaneast", "4.189.30.40", attached_to=nic.format(staging, "vm", "nic1"))),
        (staging, PublicIpSpec("web-wus2-v6", "westus2", "2603:1030:c00::25", version="IPv6")),
    ]
    for sub, spec in regional:
        fake.add_public_ip(sub, spec)
    # A cross-region load balancer frontend: Global tier, anycast from many regions despite its home "location".
    # 9.160.0.0/17 is in the region-less "AzureCloud" Service Tag, so no feed maps it to a region either.
    global_ip = "9.160.0.10"
    fake.add_public_ip(prod, PublicIpSpec("xlb-global-ip", "eastus2", global_ip, sku="Standard", tier="Global"))
    fake.add_public_ip(staging, PublicIpSpec("stopped-vm-ip", "eastus", None, allocation="Dynamic", sku="Basic"))

    env_name = "ORA_DEMO_AZURE_CLIENT_SECRET"
    return fake, DemoCloud(
        source="azure",
        config={
            "auth": "service_principal",
            "tenant_id": DEMO_TENANT,
            "client_id": DEMO_CLIENT_ID,
            "client_secret_env": env_name,
            "arm_endpoint": fake.url,
            "authority_host": fake.url,
            "disable_instance_discovery": True,
            "ca_bundle": str(ca_path),
            "retry_total": 1,
            **({"mode": "resource_graph", "resource_graph_page_size": 2} if engine else {}),
        },
        env={env_name: secret},
        origin_ips=[spec.ip for _, spec in regional if spec.ip] + [global_ip],
        expected_regions={spec.ip: spec.location for _, spec in regional if spec.ip},
    )
