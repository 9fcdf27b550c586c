"""Lists one zone's origin IPs and remembers, for each, which records or pools point at it.

Sources, per `OriginSettings`: proxied A/AAAA records (default; every A/AAAA with ``dns: all``), the pools of the zone's
load balancers (opt-in, needs the account id), proxied CNAME targets and configured hostnames resolved through DNS
(opt-in), and a static list. Record contents that are not valid IPs are skipped with a warning naming the record.
Anything that could not be listed or resolved makes the result incomplete, which forbids deletes for the zone.
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

    def add(self, ip_text: str, referrer: str) -> None:
        try:
            ip = canonical_ip(ip_text.strip()) if isinstance(ip_text, str) else canonical_ip(ip_text)
        except InvalidIPError as exc:
            self.warn(f"{referrer}: content is not a valid IP address, skipped ({exc.reason}: {ip_text!r})")
            return
        self.ips.setdefault(ip, []).append(referrer)

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


def _resolve_into(origins: ZoneOrigins, resolver: Resolver, hostname: str, referrer: str) -> None:
    try:
        addresses = resolver.resolve(hostname)
    except ResolveError as exc:
        origins.complete = False
        origins.warn(f"{referrer}: {exc}")
        return
    for address in addresses:
        origins.add(address, f"{referrer} -> {hostname}")


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
    needs_resolver = settings.resolve_cnames or settings.hostnames or settings.load_balancers
    if resolver is None and needs_resolver:
        resolver = DnsResolver(settings.nameservers, port=settings.resolver_port)

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
            elif rtype == "CNAME" and settings.resolve_cnames and resolver is not None:
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
                if origin.get("enabled") is False:
                    continue
                referrer = f"pool {pool.get('name', pool_id)}/{origin.get('name', '?')}"
                address = str(origin.get("address", ""))
                try:
                    canonical_ip(address)
                except InvalidIPError:
                    if resolver is not None:
                        _resolve_into(origins, resolver, address, referrer)
                    continue
                origins.add(address, referrer)

    for hostname in settings.hostnames:
        if resolver is not None:
            _resolve_into(origins, resolver, hostname, "hostname")
    for ip in settings.static:
        origins.add(ip, "static")
    return origins
