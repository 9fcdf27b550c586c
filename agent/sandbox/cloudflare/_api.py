"""What the fake Cloudflare answers: zones, DNS records, load balancers and origin cloud regions (v1 and v2).

`CloudflareApi` holds the state and turns one parsed request into ``(status, body)``; it knows nothing of sockets,
faults or recording (that is `FakeCloudflare`, which subclasses it). Every rule here follows
``shared/reference/cloudflare-api.md`` section 9; the choices the public sources leave open are listed in
`FakeCloudflare`'s docstring and are attributes a test can change.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.clock import SYSTEM_CLOCK, Clock
from agent.ip import InvalidIPError, canonical_ip, is_ip

from ._model import (
    MAPPING_SETTING_ID,
    MESSAGES,
    ApiError,
    DnsRecord,
    LoadBalancer,
    MappingEntry,
    Pool,
    Zone,
    rfc3339,
    success,
)
from ._regions import supported_regions_fixture

__all__ = ["DEFAULT_ACCOUNT_ID", "NO_BODY", "ApiRequest", "Caller", "CloudflareApi"]

DEFAULT_ACCOUNT_ID = "01a7362d577a6c3019a474fd6f485823"  # the documentation's example account id
VENDORS = ("aws", "azure", "gcp", "oci")
BATCH_MAX_ITEMS = 100
_ID_RE = re.compile(r"[0-9a-f]{32}")
_ZONE_NAME_RE = re.compile(r"([a-zA-Z0-9][\-a-zA-Z0-9]*\.)+[\-a-zA-Z0-9]{2,20}")


class _NoBody:
    """Sentinel: the request had no body at all (not even ``null``)."""

    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling; never holds the secret itself."""

    scheme: str  # "token" | "key"
    token_id: str | None = None  # a stable non-secret id for a token (sha256 prefix)
    email: str | None = None  # the global-key user's email (not a secret)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One request as the routes see it; `segments` are the URL-decoded path segments after ``/client/v4``."""

    method: str
    path: str
    segments: tuple[str, ...]
    query: dict[str, list[str]]
    body: Any  # parsed JSON, NO_BODY when empty; unparsable JSON raised 400 before routing
    caller: Caller | None = None

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


Handler = Callable[["CloudflareApi", ApiRequest, dict[str, str]], tuple[int, dict[str, Any]]]


class CloudflareApi:
    """The Cloudflare API state and its routes (see the module docstring). Thread-safe: one lock per request."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        supported_regions: Mapping[str, Sequence[Any]] | None = None,
        max_mappings: int = 3500,
        zone_not_found_status: int = 404,
    ) -> None:
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.max_mappings = max_mappings
        self.zone_not_found_status = zone_not_found_status
        self._vendors = supported_regions_fixture(supported_regions)
        self._allowed = {vendor: {str(item["name"]) for item in items} for vendor, items in self._vendors.items()}
        self._zones: dict[str, Zone] = {}
        self._pools: dict[str, Pool] = {}
        self._accounts: dict[str, str] = {}  # account id -> name
        self._lock = threading.RLock()
        # Switches for behaviour the public sources leave open (documented in FakeCloudflare's docstring).
        self.repeat_first_page = False
        self.tiered_cache_error: tuple[int, int, str] = (
            400,
            1155,
            "Tiered Cache must be enabled on the zone to use origin cloud regions.",
        )
        self.tiered_cache_blocks_writes = False
        self.v1_delete_not_found_code = 1142
        self.batch_too_large_code = 1146
        self.batch_over_cap = "reject"  # "reject": whole batch 403/1164; "partial": per-item failures
        self.batch_delete_requires_body = False

    # ------------------------------------------------------------------ seeding (test controls)

    def add_zone(
        self,
        name: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        zone_id: str | None = None,
        tiered_cache: bool = True,
        status: str = "active",
        account_name: str = "Demo Account",
    ) -> str:
        """Create a zone and return its 32-hex id."""
        if not _ZONE_NAME_RE.fullmatch(name):
            raise ValueError(f"zone name {name!r} is not a domain name")
        zone_id = zone_id or secrets.token_hex(16)
        if not _ID_RE.fullmatch(zone_id) or not _ID_RE.fullmatch(account_id):
            raise ValueError(f"zone_id {zone_id!r} and account_id {account_id!r} must be 32 lowercase hex characters")
        with self._lock:
            if zone_id in self._zones:
                raise ValueError(f"zone_id {zone_id!r} already exists")
            self._accounts.setdefault(account_id, account_name)
            self._zones[zone_id] = Zone(
                id=zone_id,
                name=name.lower(),
                account_id=account_id,
                account_name=self._accounts[account_id],
                status=status,
                created_on=self._now(),
                tiered_cache=tiered_cache,
            )
        return zone_id

    def add_dns_record(
        self,
        zone_id: str,
        type: str,
        name: str,
        content: str,
        *,
        proxied: bool = True,
        ttl: int = 1,
        validate_content: bool = True,
        comment: str | None = None,
    ) -> str:
        """Add a DNS record and return its id. `name` may be relative (``www``, ``@``); it is stored as an FQDN.

        Real Cloudflare validates A/AAAA content; pass ``validate_content=False`` to store junk on purpose.
        """
        zone = self._zone_or_raise(zone_id)
        rtype = type.upper()
        if validate_content and rtype in {"A", "AAAA"}:
            try:
                parsed = ipaddress.ip_address(content)
            except ValueError:
                raise ValueError(f"{rtype} record content {content!r} is not an IP address") from None
            if (rtype == "A") != (parsed.version == 4):
                raise ValueError(f"{rtype} record content {content!r} has the wrong IP version")
        fqdn = _fqdn(name, zone.name)
        record_id = secrets.token_hex(16)
        with self._lock:
            zone.dns_records[record_id] = DnsRecord(
                id=record_id,
                type=rtype,
                name=fqdn,
                content=content,
                proxied=proxied and rtype in {"A", "AAAA", "CNAME"},
                ttl=ttl,
                created_on=self._now(),
                comment=comment,
            )
        return record_id

    def remove_dns_record(self, zone_id: str, record_id: str) -> None:
        """Delete a DNS record (what a person editing the zone does while the agent runs)."""
        zone = self._zone_or_raise(zone_id)
        with self._lock:
            del zone.dns_records[record_id]

    def add_pool(
        self, account_id: str, name: str, origins: Iterable[Mapping[str, Any]], *, monitor: str | None = None
    ) -> str:
        """Add a load-balancer pool to an account (creating the account if needed) and return its id."""
        if not _ID_RE.fullmatch(account_id):
            raise ValueError(f"account_id {account_id!r} must be 32 lowercase hex characters")
        full_origins = []
        for origin in origins:
            if "address" not in origin:
                raise ValueError(f"pool origin {origin!r} has no 'address'")
            full_origins.append(
                {"name": origin.get("name", str(origin["address"])), "enabled": True, "weight": 1.0, "header": {}}
                | dict(origin)
            )
        pool_id = secrets.token_hex(16)
        with self._lock:
            self._accounts.setdefault(account_id, "Demo Account")
            self._pools[pool_id] = Pool(
                id=pool_id,
                account_id=account_id,
                name=name,
                origins=full_origins,
                created_on=self._now(),
                monitor=monitor,
            )
        return pool_id

    def add_load_balancer(
        self,
        zone_id: str,
        name: str,
        *,
        default_pools: list[str],
        fallback_pool: str | None = None,
        region_pools: dict[str, list[str]] | None = None,
        pop_pools: dict[str, list[str]] | None = None,
        country_pools: dict[str, list[str]] | None = None,
        enabled: bool = True,
        proxied: bool = True,
    ) -> str:
        """Add a load balancer to a zone and return its id; pool ids must exist."""
        zone = self._zone_or_raise(zone_id)
        if not default_pools:
            raise ValueError("a load balancer needs at least one default pool")
        referenced = [*default_pools, *([fallback_pool] if fallback_pool else [])]
        for mapping in (region_pools or {}, pop_pools or {}, country_pools or {}):
            for ids in mapping.values():
                referenced.extend(ids)
        unknown = [pool for pool in referenced if pool not in self._pools]
        if unknown:
            raise ValueError(f"unknown pool ids {unknown}")
        lb_id = secrets.token_hex(16)
        with self._lock:
            zone.load_balancers[lb_id] = LoadBalancer(
                id=lb_id,
                name=_fqdn(name, zone.name),
                default_pools=list(default_pools),
                fallback_pool=fallback_pool or default_pools[0],
                region_pools={k: list(v) for k, v in (region_pools or {}).items()},
                pop_pools={k: list(v) for k, v in (pop_pools or {}).items()},
                country_pools={k: list(v) for k, v in (country_pools or {}).items()},
                created_on=self._now(),
                enabled=enabled,
                proxied=proxied,
            )
        return lb_id

    def set_mapping(self, zone_id: str, ip: str, vendor: str, region: str) -> None:
        """Store a mapping without a request (no validation beyond the canonical IP; the cap is not applied)."""
        zone = self._zone_or_raise(zone_id)
        with self._lock:
            now = self._now()
            zone.mappings[canonical_ip(ip)] = MappingEntry(vendor, region, now)
            zone.mappings_modified_on = now

    def mappings(self, zone_id: str) -> dict[str, tuple[str, str]]:
        """Canonical IP -> (vendor, region), in list order."""
        zone = self._zone_or_raise(zone_id)
        with self._lock:
            return {ip: (entry.vendor, entry.region) for ip, entry in zone.mappings.items()}

    def set_tiered_cache(self, zone_id: str, enabled: bool) -> None:
        """Switch Tiered Cache on the zone; off makes supported_regions fail (see `tiered_cache_error`)."""
        self._zone_or_raise(zone_id).tiered_cache = enabled

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: ApiRequest) -> tuple[int, dict[str, Any]]:
        """Route one authenticated request; raises `ApiError` for every failure."""
        handler, params = self._route(request)
        with self._lock:
            if "zone_id" in params:
                self._zone_for(params["zone_id"], request.path)
            if "account_id" in params and params["account_id"] not in self._accounts:
                self._route_error(request.path)
            return handler(self, request, params)

    def _route(self, request: ApiRequest) -> tuple[Handler, dict[str, str]]:
        segments = request.segments
        for pattern, methods in _ROUTES:
            if len(pattern) != len(segments):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, segments, strict=True):
                if want.startswith("{"):
                    params[want[1:-1]] = got
                elif want != got:
                    break
            else:
                handler = methods.get(request.method)
                if handler is None:
                    raise ApiError(405, 10405, f"Method {request.method} not allowed for this route")
                return handler, params
        raise ApiError(404, 7000, "No route for that URI")

    def _route_error(self, path: str) -> None:
        message = f"Could not route to {path}, perhaps your object identifier is invalid?"
        raise ApiError(self.zone_not_found_status, 7003, message)

    def _zone_for(self, zone_id: str, path: str) -> Zone:
        zone = self._zones.get(zone_id) if _ID_RE.fullmatch(zone_id) else None
        if zone is None:
            self._route_error(path)
        assert zone is not None
        return zone

    def _zone_or_raise(self, zone_id: str) -> Zone:
        zone = self._zones.get(zone_id)
        if zone is None:
            raise KeyError(f"unknown zone id {zone_id!r}")
        return zone

    def _now(self) -> str:
        return rfc3339(self.clock.time())

    # ------------------------------------------------------------------ /user/tokens/verify

    def _verify_token(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        caller = request.caller
        if caller is None or caller.scheme != "token":
            # Verify is for API tokens only; a global key cannot be "verified" (UNCONFIRMED status/code).
            raise ApiError(401, 1000, "Invalid API Token")
        message = {"code": 10000, "message": "This API Token is valid and active", "type": None}
        return 200, success({"id": caller.token_id, "status": "active"}, messages=[message])

    # ------------------------------------------------------------------ /user

    def _user(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The calling user (what a global-key client checks its credentials with). Tokens without the "User
        Details" permission are refused like the real API does; this fake grants it to none of them."""
        caller = request.caller
        if caller is None or caller.scheme != "key":
            raise ApiError(403, 9109, "Unauthorized to access requested resource")
        user_id = hashlib.sha256((caller.email or "").encode()).hexdigest()[:32]
        return 200, success({"id": user_id, "email": caller.email, "suspended": False})

    # ------------------------------------------------------------------ /zones

    def _list_zones(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        page, per_page = _pagination(request, default=20, low=5, high=50, code=1001)
        conditions = [
            (attribute, spec)
            for param, attribute in (
                ("name", "name"),
                ("status", "status"),
                ("account.id", "account_id"),
                ("account.name", "account_name"),
            )
            if (spec := request.arg(param)) is not None
        ]
        combine = any if request.arg("match") == "any" else all
        zones = [
            z
            for z in self._zones.values()
            if not conditions or combine(_text_filter(getattr(z, attribute), spec) for attribute, spec in conditions)
        ]
        order = request.arg("order")
        if order in {"name", "status", "account.id", "account.name"}:
            key = {"name": "name", "status": "status", "account.id": "account_id", "account.name": "account_name"}
            zones.sort(key=lambda z: getattr(z, key[order]), reverse=request.arg("direction") == "desc")
        items, info = _page(zones, page, per_page, repeat_first=self.repeat_first_page)
        return 200, success([self._zone_json(z) for z in items], result_info=info)

    def _zone_json(self, zone: Zone) -> dict[str, Any]:
        return {
            "id": zone.id,
            "name": zone.name,
            "status": zone.status,
            "paused": False,
            "type": "full",
            "development_mode": 0,
            "name_servers": ["tony.ns.cloudflare.com", "woz.ns.cloudflare.com"],
            "original_name_servers": None,
            "original_registrar": None,
            "original_dnshost": None,
            "created_on": zone.created_on,
            "modified_on": zone.created_on,
            "activated_on": zone.created_on if zone.status == "active" else None,
            "meta": {
                "step": 4,
                "custom_certificate_quota": 0,
                "page_rule_quota": 3,
                "phishing_detected": False,
                "foundation_dns": False,
            },
            "owner": {"id": zone.account_id, "type": "organization", "name": zone.account_name},
            "account": {"id": zone.account_id, "name": zone.account_name},
            "permissions": ["#zone:read", "#zone:edit"],
            "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "legacy_id": "free"},
        }

    # ------------------------------------------------------------------ /zones/{id}/dns_records

    def _list_dns_records(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        # Bounds from the current docs (1..5,000,000, default 100); older clients assume 5..5000 (DISAGREE, 7.2).
        page, per_page = _pagination(request, default=100, low=1, high=5_000_000, code=1004)
        zone = self._zones[params["zone_id"]]
        conditions: list[tuple[str, str, str]] = []  # (record attribute, operator, operand)
        if (rtype := request.arg("type")) is not None:
            conditions.append(("type", "exact", rtype))
        for fieldname in ("name", "content"):
            for key, values in request.query.items():
                if key == fieldname or key.startswith(fieldname + "."):
                    operator = key.partition(".")[2] or "exact"
                    if operator not in {"exact", "contains", "startswith", "endswith"}:
                        raise ApiError(400, 1004, f"unsupported filter {key!r}")
                    conditions.append((fieldname, operator, values[-1]))
        if (proxied := request.arg("proxied")) is not None:
            if proxied not in {"true", "false"}:
                raise ApiError(400, 1004, f"invalid proxied value {proxied!r}")
            conditions.append(("proxied", "exact", proxied))
        combine = any if request.arg("match") == "any" else all
        records = [
            r
            for r in zone.dns_records.values()
            if not conditions or combine(_dns_match(_dns_field(r, a), op, v) for a, op, v in conditions)
        ]
        items, info = _page(records, page, per_page, repeat_first=self.repeat_first_page)
        return 200, success([_dns_json(r, zone) for r in items], result_info=info)

    # ------------------------------------------------------------------ load balancers

    def _list_pools(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        monitor = request.arg("monitor")
        pools = [
            p
            for p in self._pools.values()
            if p.account_id == params["account_id"] and (monitor is None or p.monitor == monitor)
        ]
        return 200, success([_pool_json(p) for p in pools])  # SinglePage: no result_info

    def _list_load_balancers(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        return 200, success([_lb_json(lb) for lb in zone.load_balancers.values()])

    # ------------------------------------------------------------------ origin cloud regions: shared rules

    def _canonical_path_ip(self, raw: str) -> str:
        try:
            return canonical_ip(raw)
        except InvalidIPError:
            raise ApiError(400, 1146) from None

    def _validated(self, ip: Any, vendor: Any, region: Any) -> tuple[str, str, str]:
        """Check one item; raise `ApiError` 400 with 1146 (IP) or 1157 (vendor/region)."""
        if not isinstance(ip, str):
            raise ApiError(400, 1146)
        try:
            canonical = canonical_ip(ip)
        except InvalidIPError:
            raise ApiError(400, 1146) from None
        if not isinstance(vendor, str) or not isinstance(region, str) or region not in self._allowed.get(vendor, ()):
            raise ApiError(400, 1157)
        return canonical, vendor, region

    def _check_writable(self, zone: Zone) -> None:
        if self.tiered_cache_blocks_writes and not zone.tiered_cache:
            status, code, message = self.tiered_cache_error
            raise ApiError(status, code, message)

    def _store(self, zone: Zone, ip: str, vendor: str, region: str) -> MappingEntry:
        """Create or overwrite; 403/1164 only when a NEW IP would exceed the cap (overwrite at the cap is fine)."""
        if ip not in zone.mappings and len(zone.mappings) >= self.max_mappings:
            raise ApiError(403, 1164)
        now = self._now()
        entry = zone.mappings[ip] = MappingEntry(vendor, region, now)
        zone.mappings_modified_on = now
        return entry

    def _remove(self, zone: Zone, ip: str) -> MappingEntry:
        entry = zone.mappings.pop(ip)
        # Removing the last mapping deletes the setting itself, hence no timestamp.
        zone.mappings_modified_on = self._now() if zone.mappings else None
        return entry

    def _object_body(self, request: ApiRequest) -> dict[str, Any]:
        if not isinstance(request.body, dict):
            raise ApiError(400, 1146, "Request body must be a JSON object.")
        return request.body

    def _batch_body(self, request: ApiRequest, *, allow_empty: bool) -> list[Any]:
        body = request.body
        if body is NO_BODY and allow_empty:
            return []
        if not isinstance(body, list):
            raise ApiError(400, 1146, "Request body must be a JSON array.")
        if len(body) > BATCH_MAX_ITEMS:
            message = f"Batch contains {len(body)} items; at most {BATCH_MAX_ITEMS} are allowed."
            raise ApiError(400, self.batch_too_large_code, message)
        return body

    def _batch_upsert(
        self, zone: Zone, items: list[Any], ip_key: str, out_key: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        """Apply a batch in order (last write wins for a repeated IP; every occurrence is reported).

        With ``batch_over_cap == "reject"`` a batch whose new IPs would pass the cap is refused whole (403/1164,
        nothing applied), as the spec's 4XX example suggests; ``"partial"`` fails only the items that do not fit.
        """
        self._check_writable(zone)
        checked: list[tuple[Any, tuple[str, str, str] | ApiError]] = []
        for item in items:
            raw_ip = item.get(ip_key) if isinstance(item, dict) else None
            try:
                if not isinstance(item, dict):
                    raise ApiError(400, 1146)
                checked.append((raw_ip, self._validated(raw_ip, item.get("vendor"), item.get("region"))))
            except ApiError as exc:
                checked.append((raw_ip, exc))
        if self.batch_over_cap == "reject":
            new = {c[0] for _, c in checked if isinstance(c, tuple) and c[0] not in zone.mappings}
            if new and len(zone.mappings) + len(new) > self.max_mappings:
                raise ApiError(403, 1164)
        succeeded: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for raw_ip, outcome in checked:
            if isinstance(outcome, tuple):
                try:
                    self._store(zone, *outcome)
                except ApiError as exc:
                    failed.append({out_key: outcome[0], "error": exc.message})
                    continue
                succeeded.append({out_key: outcome[0], "region": outcome[2], "vendor": outcome[1]})
            else:
                failed.append({out_key: _echo_ip(raw_ip), "error": outcome.message})
        return succeeded, failed, bool(succeeded)

    def _batch_delete(
        self, zone: Zone, items: list[Any], out_key: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        """Delete in order; unknown and invalid IPs (and a repeat of an IP already deleted) go to `failed`."""
        succeeded: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for raw_ip in items:
            try:
                if not isinstance(raw_ip, str):
                    raise InvalidIPError(raw_ip, "not a string")
                ip = canonical_ip(raw_ip)
            except InvalidIPError:
                failed.append({out_key: _echo_ip(raw_ip), "error": MESSAGES[1146]})
                continue
            if ip not in zone.mappings:
                failed.append({out_key: ip, "error": "No origin cloud region mapping exists for this IP."})
                continue
            entry = self._remove(zone, ip)
            succeeded.append({out_key: ip, "region": entry.region, "vendor": entry.vendor})
        return succeeded, failed, bool(succeeded)

    def _supported_regions(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        if not zone.tiered_cache:
            status, code, message = self.tiered_cache_error
            raise ApiError(status, code, message)
        vendors = {vendor: [dict(item) for item in items] for vendor, items in self._vendors.items()}
        return 200, success({"obtained_codes": True, "vendors": vendors})

    # ------------------------------------------------------------------ v2 /origin/cloud_regions

    def _v2_list(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        page, per_page = _pagination(
            request,
            default=20,
            low=1,
            high=100,
            code=1146,
            per_page_message="invalid per_page parameter, must be between 1 and 100",
            page_message="invalid page parameter, must be a positive integer",
        )
        zone = self._zones[params["zone_id"]]
        items, info = _page(list(zone.mappings.items()), page, per_page, repeat_first=self.repeat_first_page)
        return 200, success([_v2_entry(ip, e) for ip, e in items], result_info=info)

    def _v2_get(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        ip = self._canonical_path_ip(params["ip"])
        if ip not in zone.mappings:
            raise ApiError(404, 1142)
        return 200, success(_v2_entry(ip, zone.mappings[ip]))

    def _v2_put(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        path_ip = self._canonical_path_ip(params["ip"])
        body = self._object_body(request)
        body_ip = body.get("origin_ip")
        if isinstance(body_ip, str) and is_ip(body_ip) and canonical_ip(body_ip) != path_ip:
            raise ApiError(400, 1146, "body origin_ip does not match URL")
        ip, vendor, region = self._validated(body_ip, body.get("vendor"), body.get("region"))
        self._check_writable(zone)
        entry = self._store(zone, ip, vendor, region)
        return 200, success(_v2_entry(ip, entry))

    def _v2_delete(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        ip = self._canonical_path_ip(params["ip"])
        if ip not in zone.mappings:
            raise ApiError(404, 1142)
        self._check_writable(zone)
        self._remove(zone, ip)
        return 200, success({"origin_ip": ip})

    def _v2_batch_put(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        items = self._batch_body(request, allow_empty=False)
        succeeded, failed, _ = self._batch_upsert(zone, items, "origin_ip", "origin_ip")
        return 200, success({"succeeded": succeeded, "failed": failed})

    def _v2_batch_delete(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        items = self._batch_body(request, allow_empty=not self.batch_delete_requires_body)
        self._check_writable(zone)
        succeeded, failed, _ = self._batch_delete(zone, items, "origin_ip")
        return 200, success({"succeeded": succeeded, "failed": failed})

    # ------------------------------------------------------------------ v1 /cache/origin_cloud_regions

    def _v1_wrapper(self, value: Any, modified_on: str | None) -> dict[str, Any]:
        return {"id": MAPPING_SETTING_ID, "editable": True, "value": value, "modified_on": modified_on}

    def _v1_list_result(self, zone: Zone) -> dict[str, Any]:
        value = [_v1_entry(ip, e) for ip, e in zone.mappings.items()]
        return self._v1_wrapper(value, zone.mappings_modified_on)

    def _v1_list(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, success(self._v1_list_result(self._zones[params["zone_id"]]))

    def _v1_body_item(self, request: ApiRequest) -> tuple[str, str, str]:
        body = self._object_body(request)
        return self._validated(body.get("ip"), body.get("vendor"), body.get("region"))

    def _v1_create(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        ip, vendor, region = self._v1_body_item(request)
        if ip in zone.mappings:
            raise ApiError(400, 1145)
        self._check_writable(zone)
        entry = self._store(zone, ip, vendor, region)  # POST also enforces the cap (UNCONFIRMED in the spec)
        return 200, success(self._v1_wrapper(_v1_entry(ip, entry), entry.modified_on))

    def _v1_upsert(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        ip, vendor, region = self._v1_body_item(request)
        self._check_writable(zone)
        self._store(zone, ip, vendor, region)
        return 200, success(self._v1_list_result(zone))  # v1 PATCH answers with the whole list

    def _v1_get(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        ip = self._canonical_path_ip(params["ip"])
        if ip not in zone.mappings:
            raise ApiError(404, 1142)
        entry = zone.mappings[ip]
        return 200, success(self._v1_wrapper(_v1_entry(ip, entry), entry.modified_on))

    def _v1_delete(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        ip = self._canonical_path_ip(params["ip"])
        if ip not in zone.mappings:
            code = self.v1_delete_not_found_code
            raise ApiError(404, code, MESSAGES.get(code, "No origin cloud region mapping exists for this IP."))
        self._check_writable(zone)
        entry = self._remove(zone, ip)
        return 200, success(self._v1_wrapper(_v1_entry(ip, entry), entry.modified_on))

    def _v1_batch_patch(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        items = self._batch_body(request, allow_empty=False)
        succeeded, failed, applied = self._batch_upsert(zone, items, "ip", "origin-ip")
        modified_on = zone.mappings_modified_on if applied else None
        return 200, success(self._v1_wrapper({"succeeded": succeeded, "failed": failed}, modified_on))

    def _v1_batch_delete(self, request: ApiRequest, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        zone = self._zones[params["zone_id"]]
        items = self._batch_body(request, allow_empty=not self.batch_delete_requires_body)
        self._check_writable(zone)
        succeeded, failed, applied = self._batch_delete(zone, items, "origin-ip")
        modified_on = zone.mappings_modified_on if applied else None
        return 200, success(self._v1_wrapper({"succeeded": succeeded, "failed": failed}, modified_on))


# ---------------------------------------------------------------------- routing table

_V1 = ("zones", "{zone_id}", "cache", "origin_cloud_regions")
_V2 = ("zones", "{zone_id}", "origin", "cloud_regions")

# Literal segments (batch, supported_regions) come before the {ip} pattern: the first match wins.
_ROUTES: list[tuple[tuple[str, ...], dict[str, Handler]]] = [
    (("user", "tokens", "verify"), {"GET": CloudflareApi._verify_token}),
    (("user",), {"GET": CloudflareApi._user}),
    (("zones",), {"GET": CloudflareApi._list_zones}),
    (("zones", "{zone_id}", "dns_records"), {"GET": CloudflareApi._list_dns_records}),
    (("zones", "{zone_id}", "load_balancers"), {"GET": CloudflareApi._list_load_balancers}),
    (("accounts", "{account_id}", "load_balancers", "pools"), {"GET": CloudflareApi._list_pools}),
    (_V2, {"GET": CloudflareApi._v2_list}),
    ((*_V2, "batch"), {"PUT": CloudflareApi._v2_batch_put, "DELETE": CloudflareApi._v2_batch_delete}),
    ((*_V2, "supported_regions"), {"GET": CloudflareApi._supported_regions}),
    (
        (*_V2, "{ip}"),
        {"GET": CloudflareApi._v2_get, "PUT": CloudflareApi._v2_put, "DELETE": CloudflareApi._v2_delete},
    ),
    (_V1, {"GET": CloudflareApi._v1_list, "POST": CloudflareApi._v1_create, "PATCH": CloudflareApi._v1_upsert}),
    ((*_V1, "batch"), {"PATCH": CloudflareApi._v1_batch_patch, "DELETE": CloudflareApi._v1_batch_delete}),
    ((*_V1, "supported_regions"), {"GET": CloudflareApi._supported_regions}),
    ((*_V1, "{ip}"), {"GET": CloudflareApi._v1_get, "DELETE": CloudflareApi._v1_delete}),
]


# ---------------------------------------------------------------------- helpers


def token_id(token: str) -> str:
    """A stable, non-secret id for a token (what /user/tokens/verify reports)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _fqdn(name: str, zone_name: str) -> str:
    name = name.lower().rstrip(".")
    if name in {"@", "", zone_name}:
        return zone_name
    return name if name.endswith("." + zone_name) else f"{name}.{zone_name}"


def _echo_ip(raw: Any) -> str:
    """How a failed batch item names an IP the fake could not canonicalise: the text as sent."""
    return raw if isinstance(raw, str) else ("" if raw is None else str(raw))


def _parse_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def _pagination(
    request: ApiRequest,
    *,
    default: int,
    low: int,
    high: int,
    code: int,
    per_page_message: str | None = None,
    page_message: str | None = None,
) -> tuple[int, int]:
    raw_page, raw_per_page = request.arg("page"), request.arg("per_page")
    page = 1 if raw_page is None else _parse_int(raw_page)
    if page is None or page < 1:
        raise ApiError(400, code, page_message or f"invalid page parameter {raw_page!r}, must be a positive integer")
    per_page = default if raw_per_page is None else _parse_int(raw_per_page)
    if per_page is None or not low <= per_page <= high:
        message = per_page_message or f"invalid per_page parameter, must be between {low} and {high}"
        raise ApiError(400, code, message)
    return page, per_page


def _page(items: list[Any], page: int, per_page: int, *, repeat_first: bool) -> tuple[list[Any], dict[str, int]]:
    """Slice one page; a page past the end is empty with a correct `result_info`.

    `repeat_first` reproduces the ``/accounts`` quirk (cloudflare-python #2584): every page answers like page 1.
    """
    if repeat_first:
        page = 1
    chunk = items[(page - 1) * per_page : page * per_page]
    total = len(items)
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": total,
        "total_pages": math.ceil(total / per_page),
    }
    return chunk, info


def _text_filter(value: str, spec: str) -> bool:
    """The /zones `name` operators: ``equal`` (default), ``not_equal``, ``starts_with``, ... ``*_case_sensitive``."""
    operator, sep, operand = spec.partition(":")
    known = {"equal", "not_equal", "starts_with", "ends_with", "contains"}
    base = operator.removesuffix("_case_sensitive")
    if not sep or base not in known:
        operator, operand, base = "equal", spec, "equal"
    if not operator.endswith("_case_sensitive"):
        value, operand = value.lower(), operand.lower()
    return {
        "equal": value == operand,
        "not_equal": value != operand,
        "starts_with": value.startswith(operand),
        "ends_with": value.endswith(operand),
        "contains": operand in value,
    }[base]


def _dns_field(record: DnsRecord, attribute: str) -> str:
    value = getattr(record, attribute)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _dns_match(value: str, operator: str, operand: str) -> bool:
    value, operand = value.lower(), operand.lower()
    return {
        "exact": value == operand,
        "contains": operand in value,
        "startswith": value.startswith(operand),
        "endswith": value.endswith(operand),
    }[operator]


def _v2_entry(ip: str, entry: MappingEntry) -> dict[str, Any]:
    return {"origin_ip": ip, "vendor": entry.vendor, "region": entry.region, "modified_on": entry.modified_on}


def _v1_entry(ip: str, entry: MappingEntry) -> dict[str, Any]:
    return {"origin-ip": ip, "vendor": entry.vendor, "region": entry.region, "modified_on": entry.modified_on}


def _dns_json(record: DnsRecord, zone: Zone) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": record.id,
        "zone_id": zone.id,
        "zone_name": zone.name,
        "name": record.name,
        "type": record.type,
        "content": record.content,
        "proxiable": record.proxiable,
        "proxied": record.proxied,
        "ttl": record.ttl,
        "settings": {},
        "meta": {"auto_added": False, "source": "primary"},
        "tags": [],
        "created_on": record.created_on,
        "modified_on": record.created_on,
    }
    if record.comment is not None:
        body["comment"] = record.comment
    return body


def _pool_json(pool: Pool) -> dict[str, Any]:
    return {
        "id": pool.id,
        "name": pool.name,
        "description": "",
        "enabled": pool.enabled,
        "minimum_origins": 1,
        "monitor": pool.monitor,
        "check_regions": None,
        "notification_email": "",
        "origins": [dict(o) for o in pool.origins],
        "created_on": pool.created_on,
        "modified_on": pool.created_on,
    }


def _lb_json(lb: LoadBalancer) -> dict[str, Any]:
    return {
        "id": lb.id,
        "name": lb.name,
        "description": "",
        "enabled": lb.enabled,
        "proxied": lb.proxied,
        "ttl": 30,
        "default_pools": list(lb.default_pools),
        "fallback_pool": lb.fallback_pool,
        "region_pools": {k: list(v) for k, v in lb.region_pools.items()},
        "pop_pools": {k: list(v) for k, v in lb.pop_pools.items()},
        "country_pools": {k: list(v) for k, v in lb.country_pools.items()},
        "steering_policy": "",
        "session_affinity": "none",
        "created_on": lb.created_on,
        "modified_on": lb.created_on,
    }
