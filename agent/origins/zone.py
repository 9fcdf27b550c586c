"""Lists one zone's origin IPs and remembers, for each, which records or pools point at it.

Sources, per `OriginSettings`: proxied A/AAAA records (default; every A/AAAA with ``dns: all``), the pools of the zone's
load balancers (opt-in, needs the account id), proxied CNAME targets and configured hostnames resolved through DNS
(opt-in), and a static list. Record contents that are not valid IPs are skipped with a warning naming the record.
Anything that could not be listed or resolved makes the result incomplete, which forbids deletes for the zone.

Besides the origins to map (`ips`), some addresses are only *protected*: their mappings are never deleted, but they
are not mapped either (`protected`): disabled (standby) pool origins, which take traffic on failover, and the
addresses behind proxied CNAMEs when `resolve_cnames` is off. CNAME chains inside the zone are followed through the
zone's own records; targets outside the zone are listed in `external_targets` and resolved only when a delete needs
proving (`agent.origins.verify`), so runs that never delete make no DNS queries for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.config import OriginSettings
from agent.ip import InvalidIPError, canonical_ip
from agent.origins.resolve import DnsResolver, ResolveError, Resolver

__all__ = ["Resolver", "ZoneOrigins", "pool_ids_of", "zone_origins"]

logger = logging.getLogger(__name__)


@dataclass
class ZoneOrigins:
    """Origin IPs of one zone. `ips` maps each canonical IP to what points at it (``A www.example.com``…)."""

    zone_id: str
    zone_name: str
    ips: dict[str, list[str]] = field(default_factory=dict)
    complete: bool = True
    warnings: list[str] = field(default_factory=list)
    protected: dict[str, list[str]] = field(default_factory=dict)  # never deleted, not mapped
    external_targets: dict[str, list[str]] = field(default_factory=dict)  # unresolved CNAME target -> referrers

    def add(self, ip_text: str, referrer: str, *, protect_only: bool = False) -> None:
        try:
            ip = canonical_ip(ip_text.strip()) if isinstance(ip_text, str) else canonical_ip(ip_text)
        except InvalidIPError as exc:
            self.warn(f"{referrer}: content is not a valid IP address, skipped ({exc.reason}: {ip_text!r})")
            return
        (self.protected if protect_only else self.ips).setdefault(ip, []).append(referrer)

    @property
    def keep(self) -> set[str]:
        """Every address whose mapping must not be deleted: origins and protected addresses."""
        return set(self.ips) | set(self.protected)

    def warn(self, message: str) -> None:
        logger.warning("zone %s: %s", self.zone_name, message)
        self.warnings.append(message)


def pool_ids_of(load_balancer: dict[str, Any]) -> set[str]:
    """Every pool a load balancer can send traffic to: default, fallback, region, PoP and country pools."""
    ids = set(load_balancer.get("default_pools") or [])
    if load_balancer.get("fallback_pool"):
        ids.add(load_balancer["fallback_pool"])
    for key in ("region_pools", "pop_pools", "country_pools"):
        for pools in (load_balancer.get(key) or {}).values():
            ids.update(pools)
    return ids


MAX_CNAME_DEPTH = 8


def _resolve_into(
    origins: ZoneOrigins, resolver: Resolver, hostname: str, referrer: str, *, protect_only: bool = False
) -> None:
    try:
        addresses = resolver.resolve(hostname)
    except ResolveError as exc:
        origins.complete = False
        origins.warn(f"{referrer}: {exc}")
        return
    for address in addresses:
        origins.add(address, f"{referrer} -> {hostname}", protect_only=protect_only)


def _in_zone(name: str, zone_name: str) -> bool:
    zone = zone_name.lower().rstrip(".")
    return name == zone or name.endswith("." + zone)


def _follow_cname(
    client: Any,
    origins: ZoneOrigins,
    settings: OriginSettings,
    resolver: Resolver | None,
    target: str,
    referrer: str,
    by_name: dict[str, list[dict[str, Any]]],
) -> None:
    """Where a proxied CNAME leads: in-zone targets through the zone's own records (any proxy status: a DNS-only
    record behind a proxied CNAME still takes the traffic), outside targets through DNS (now with
    `resolve_cnames`, else later and only for the deletion check)."""
    protect_only = not settings.resolve_cnames
    seen: set[str] = set()
    pending = [target]
    while pending:
        name = pending.pop().rstrip(".").lower()
        if name in seen:
            continue
        seen.add(name)
        if len(seen) > MAX_CNAME_DEPTH:
            origins.complete = False
            origins.warn(f"{referrer}: CNAME chain longer than {MAX_CNAME_DEPTH} names (a loop?), not followed")
            return
        if not _in_zone(name, origins.zone_name):
            if settings.resolve_cnames and resolver is not None:
                _resolve_into(origins, resolver, name, referrer)
            else:
                origins.external_targets.setdefault(name, []).append(referrer)
            continue
        if name not in by_name:
            by_name[name] = client.dns_records(origins.zone_id, name=name)
        found = [r for r in by_name[name] if r.get("type") in ("A", "AAAA", "CNAME")]
        if not found:
            origins.warn(f"{referrer}: points at {name}, which has no A, AAAA or CNAME record in the zone")
        for record in found:
            if record.get("type") == "CNAME":
                pending.append(str(record.get("content", "")))
            else:
                origins.add(record.get("content", ""), f"{referrer} -> {name}", protect_only=protect_only)


def zone_origins(
    client: Any,
    zone_id: str,
    zone_name: str,
    settings: OriginSettings,
    *,
    account_pools: Callable[[], list[dict[str, Any]]] | None = None,
    resolver: Resolver | None = None,
) -> ZoneOrigins:
    """Collect the origin IPs of a zone through `client` (an `agent.cloudflare.CloudflareClient`).

    `account_pools` returns the account's load-balancer pools (shared and cached across zones by the caller).
    Cloudflare API errors propagate: the caller records the zone as failed.
    """
    origins = ZoneOrigins(zone_id, zone_name)
    needs_resolver = bool(settings.resolve_cnames or settings.hostnames or settings.load_balancers)
    if resolver is None and needs_resolver:
        resolver = DnsResolver(settings.nameservers, port=settings.resolver_port)

    by_name: dict[str, list[dict[str, Any]]] = {}
    if settings.dns != "off":
        records: Iterable[dict[str, Any]] = client.dns_records(
            zone_id, proxied=True if settings.dns == "proxied" else None
        )
        for record in records:
            rtype, name = record.get("type"), record.get("name", "?")
            if settings.dns == "proxied" and not record.get("proxied"):
                continue
            if rtype in ("A", "AAAA"):
                origins.add(record.get("content", ""), f"{rtype} {name}")
            elif rtype == "CNAME" and record.get("proxied"):
                _follow_cname(
                    client, origins, settings, resolver, str(record.get("content", "")), f"CNAME {name}", by_name
                )
            elif rtype == "CNAME" and settings.resolve_cnames and resolver is not None:  # DNS-only, with dns: all
                _resolve_into(origins, resolver, str(record.get("content", "")).rstrip("."), f"CNAME {name}")

    if settings.load_balancers and account_pools is not None:
        wanted: dict[str, str] = {}
        for lb in client.load_balancers(zone_id):
            for pool_id in pool_ids_of(lb):
                wanted.setdefault(pool_id, lb.get("name", lb.get("id", "?")))
        pools = {p["id"]: p for p in account_pools()}
        for pool_id, lb_name in sorted(wanted.items()):
            pool = pools.get(pool_id)
            if pool is None:
                origins.complete = False
                origins.warn(f"load balancer {lb_name}: pool {pool_id} not found in the account")
                continue
            for origin in pool.get("origins") or []:
                # A disabled origin (or one of a disabled pool) is a standby that takes traffic on failover:
                # its mapping is protected from deletion, but it is not mapped while it is off.
                standby = origin.get("enabled") is False or pool.get("enabled") is False
                referrer = f"pool {pool.get('name', pool_id)}/{origin.get('name', '?')}" + (
                    " (disabled)" if standby else ""
                )
                address = str(origin.get("address", ""))
                try:
                    canonical_ip(address)
                except InvalidIPError:
                    if resolver is not None:
                        _resolve_into(origins, resolver, address, referrer, protect_only=standby)
                    continue
                origins.add(address, referrer, protect_only=standby)

    for hostname in settings.hostnames:
        if resolver is not None:
            _resolve_into(origins, resolver, hostname, "hostname")
    for ip in settings.static:
        origins.add(ip, "static")
    return origins
