"""Proof, right before any delete, that each candidate is not an origin of the zone.

A zone's DNS records are listed by page number, which is not a snapshot: a record deleted on an earlier page while
later pages are being read shifts the rest by one, and one live record is never seen. Its mapping would then look
stale. So before a `sync` deletes anything in a zone:

1. the origins are listed a second time; both listings must agree (same origin and protected addresses, both
   complete), else the picture changed during the run;
2. each candidate address is looked up with a filtered DNS query (``content=<ip>``); any A/AAAA record that makes it
   an origin under the zone's settings means the first listing missed it;
3. proxied CNAMEs pointing outside the zone are resolved (through the configured resolvers, even with
   `resolve_cnames` off): the addresses behind them are protected; a failed resolution leaves the zone incomplete.

Any doubt makes the zone incomplete for deletes: the candidates stay, listed as `stale`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.config import OriginSettings
from agent.ip import InvalidIPError, canonical_ip
from agent.origins.resolve import DnsResolver, ResolveError, Resolver
from agent.origins.zone import ZoneOrigins, zone_origins

__all__ = ["MAX_CONTENT_CHECKS", "Verdict", "verify_deletes"]

logger = logging.getLogger(__name__)

MAX_CONTENT_CHECKS = 100  # filtered queries per zone; beyond, the second listing alone is the proof


@dataclass
class Verdict:
    """`keep`: addresses whose mappings must stay; `doubt`: why deletes are off for the zone (None: proven)."""

    keep: set[str] = field(default_factory=set)
    doubt: str | None = None
    protected: dict[str, list[str]] = field(default_factory=dict)


def _canonical(text: Any) -> str | None:
    try:
        return canonical_ip(str(text).strip())
    except InvalidIPError:
        return None


def verify_deletes(
    client: Any,
    first: ZoneOrigins,
    settings: OriginSettings,
    candidates: Iterable[str],
    *,
    account_pools: Callable[[], list[dict[str, Any]]] | None = None,
    resolver: Resolver | None = None,
) -> Verdict:
    """See the module docstring. Cloudflare errors propagate (the caller records the zone as failed)."""
    candidates = sorted(set(candidates))
    if resolver is None:
        resolver = DnsResolver(settings.nameservers, port=settings.resolver_port)
    second = zone_origins(
        client, first.zone_id, first.zone_name, settings, account_pools=account_pools, resolver=resolver
    )
    verdict = Verdict(keep=first.keep | second.keep)
    verdict.protected = {ip: list(refs) for ip, refs in second.protected.items()}
    if not second.complete:
        verdict.doubt = "the second listing of the zone's origins was incomplete"
        return verdict
    changed = (first.keep ^ second.keep) | (set(first.external_targets) ^ set(second.external_targets))
    if changed:
        verdict.doubt = (
            f"the zone's origins changed during the run ({len(changed)} addresses or names differ between two "
            f"listings, e.g. {sorted(changed)[0]})"
        )
        return verdict

    if settings.dns != "off":
        for ip in candidates[:MAX_CONTENT_CHECKS]:
            for record in client.dns_records(first.zone_id, content=ip):
                if record.get("type") not in ("A", "AAAA") or _canonical(record.get("content")) != ip:
                    continue
                if settings.dns == "all" or record.get("proxied"):
                    verdict.keep.add(ip)
                    verdict.doubt = (
                        f"{record.get('type')} {record.get('name')} points at {ip}, which the zone listing missed "
                        "(DNS changed during the run)"
                    )
                    return verdict

    for hostname, referrers in sorted(second.external_targets.items()):
        try:
            addresses = resolver.resolve(hostname)
        except ResolveError as exc:
            verdict.doubt = f"{referrers[0]}: {exc}; the addresses behind it cannot be protected"
            return verdict
        for address in addresses:
            resolved = _canonical(address)
            if resolved is not None:
                verdict.keep.add(resolved)
                verdict.protected.setdefault(resolved, []).extend(f"{r} -> {hostname}" for r in referrers)
    return verdict
