"""Joins the inventory with the origin IPs: pure, no I/O, imports only `agent.models`.

Per origin IP, the records of the highest-ranked evidence decide (cloud account APIs and static inventories outrank
published feeds, which describe allocation, not assignment):

* one (vendor, region) among them          -> `Desired` (sources merged; confidence of that tier);
* several different (vendor, region)       -> ambiguous: never written, reported;
* only ``global`` (anycast) regions        -> global: never written, reported;
* a lower tier that disagrees              -> kept on `Desired.disagreements` for the summary.

The result never depends on the order records arrive in (collector threads finish in any order): a claim's
confidence is the strongest by `agent.models.CONFIDENCE_RANK` (account, static, feed), source lists are sorted by
name, candidates by (vendor, region), and every mapping of the result is keyed in IP order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from agent.models import CONFIDENCE_RANK, GLOBAL_REGION, CloudAddress, Confidence, Vendor

__all__ = ["Candidate", "Desired", "MatchResult", "match"]

# Tiers that decide: an account API and a static inventory are equally authoritative; a feed only fills gaps.
_TIER = {Confidence.ACCOUNT: 2, Confidence.STATIC: 2, Confidence.FEED: 1}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One (vendor, region) claim for an IP and who made it."""

    vendor: Vendor
    region: str
    sources: tuple[str, ...]
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class Desired:
    """The mapping the inventory asks for, with its evidence."""

    ip: str
    vendor: Vendor
    region: str
    sources: tuple[str, ...]
    confidence: Confidence
    disagreements: tuple[Candidate, ...] = ()
    observed_at: datetime | None = None
    """When the freshest record behind the claim was observed by an inventory engine; None: read live."""


@dataclass
class MatchResult:
    """Outcome per origin IP: exactly one of desired, ambiguous, global_only, or unmatched."""

    desired: dict[str, Desired] = field(default_factory=dict)
    ambiguous: dict[str, tuple[Candidate, ...]] = field(default_factory=dict)
    global_only: dict[str, tuple[Candidate, ...]] = field(default_factory=dict)
    unmatched: set[str] = field(default_factory=set)


def _label(record: CloudAddress) -> str:
    parts = [record.source or record.vendor.value]
    if record.account:
        parts.append(record.account)
    if record.resource_id:
        parts.append(record.resource_id)
    return ":".join(parts)


def _candidates(records: list[CloudAddress]) -> list[Candidate]:
    by_claim: dict[tuple[Vendor, str], list[CloudAddress]] = {}
    for record in records:
        by_claim.setdefault((record.vendor, record.region), []).append(record)
    candidates = []
    for (vendor, region), claims in sorted(by_claim.items()):
        strongest = min(claims, key=lambda r: (CONFIDENCE_RANK[r.confidence], _label(r)))
        sources = tuple(sorted({_label(r) for r in claims}))
        candidates.append(Candidate(vendor, region, sources, strongest.confidence))
    return candidates


def match(records: Iterable[CloudAddress], origin_ips: Collection[str]) -> MatchResult:
    """Classify every origin IP against the inventory; see the module docstring."""
    wanted = origin_ips if isinstance(origin_ips, (set, frozenset, dict)) else set(origin_ips)
    seen: dict[str, list[CloudAddress]] = {}
    for record in records:
        if record.ip in wanted:
            seen.setdefault(record.ip, []).append(record)

    result = MatchResult(unmatched={ip for ip in wanted if ip not in seen})
    for ip in sorted(seen):
        found = seen[ip]
        top = max(_TIER[r.confidence] for r in found)
        best = [r for r in found if _TIER[r.confidence] == top]
        lower = _candidates([r for r in found if _TIER[r.confidence] < top])
        regional = [c for c in _candidates(best) if c.region != GLOBAL_REGION]
        if not regional:
            result.global_only[ip] = tuple(_candidates(best))
        elif len(regional) > 1:
            result.ambiguous[ip] = tuple(regional)
        else:
            (chosen,) = regional
            disagreements = tuple(
                c for c in lower if (c.vendor, c.region) != (chosen.vendor, chosen.region) and c.region != GLOBAL_REGION
            )
            behind = [r for r in best if (r.vendor, r.region) == (chosen.vendor, chosen.region)]
            result.desired[ip] = Desired(
                ip, chosen.vendor, chosen.region, chosen.sources, chosen.confidence, disagreements, _observed(behind)
            )
    return result


def _observed(records: list[CloudAddress]) -> datetime | None:
    """The evidence time of a claim: None when any record was read live, else the freshest engine observation."""
    times = [r.observed_at for r in records]
    if not times or any(t is None for t in times):
        return None
    return max(t for t in times if t is not None)
