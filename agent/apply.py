"""Applies a zone's plan through a `MappingWriter`, in batches, recording the outcome of every change.

Dry-run uses the very same code path with `DryRunWriter`, which answers every write as if it had succeeded and sends
nothing: the only difference between a dry run and a real one is the writer.

Current API family (v2): creates and updates go out as batch upserts (PUT /batch, ≤100 items), deletes as batch
deletes. Older family (v1): creates are POSTs, one per IP, because only POST is create-only; a 1145 ("already
exists") from a concurrent writer is not a failure: the mapping is re-read and reported as ``exists`` (same
vendor/region) or ``conflict`` (someone else mapped it differently; left alone). Per-item failures are recorded;
a failed batch fails only its own items.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent.cloudflare import BatchResult, CloudflareAuthError, CloudflareError, MappingExists
from agent.ip import InvalidIPError, canonical_ip
from agent.plan import Change, Plan

__all__ = ["ChangeResult", "ClientWriter", "DryRunWriter", "MappingWriter", "apply_plan"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What happened to one planned change: applied, failed, exists, conflict, planned (dry run), skipped."""

    change: Change
    status: str
    error: str = ""


class MappingWriter(Protocol):
    """The writes the apply step needs. Implemented by the Cloudflare client (`ClientWriter`) and `DryRunWriter`."""

    family: str

    def batch_upsert(self, zone_id: str, items: Sequence[dict[str, str]]) -> BatchResult: ...

    def batch_delete(self, zone_id: str, ips: Sequence[str]) -> BatchResult: ...

    def create_mapping(self, zone_id: str, ip: str, vendor: str, region: str) -> dict[str, Any]: ...

    def get_mapping(self, zone_id: str, ip: str) -> dict[str, Any]: ...


class ClientWriter:
    """Writes through a `CloudflareClient`."""

    def __init__(self, client: Any, family: str) -> None:
        self._client = client
        self.family = family

    def batch_upsert(self, zone_id: str, items: Sequence[dict[str, str]]) -> BatchResult:
        result: BatchResult = self._client.batch_upsert(zone_id, items)
        return result

    def batch_delete(self, zone_id: str, ips: Sequence[str]) -> BatchResult:
        result: BatchResult = self._client.batch_delete(zone_id, ips)
        return result

    def create_mapping(self, zone_id: str, ip: str, vendor: str, region: str) -> dict[str, Any]:
        mapping: dict[str, Any] = self._client.create_mapping(zone_id, ip, vendor, region)
        return mapping

    def get_mapping(self, zone_id: str, ip: str) -> dict[str, Any]:
        mapping: dict[str, Any] = self._client.get_mapping(zone_id, ip)
        return mapping


class DryRunWriter:
    """Sends nothing; every write "succeeds" so the rest of the path (batching, accounting, report) runs unchanged."""

    def __init__(self, family: str) -> None:
        self.family = family

    def batch_upsert(self, zone_id: str, items: Sequence[dict[str, str]]) -> BatchResult:
        return BatchResult(succeeded=[dict(i) for i in items], failed=[])

    def batch_delete(self, zone_id: str, ips: Sequence[str]) -> BatchResult:
        return BatchResult(succeeded=[{"origin_ip": ip} for ip in ips], failed=[])

    def create_mapping(self, zone_id: str, ip: str, vendor: str, region: str) -> dict[str, Any]:
        return {"origin_ip": ip, "vendor": vendor, "region": region}

    def get_mapping(self, zone_id: str, ip: str) -> dict[str, Any]:  # pragma: no cover - never reached in dry runs
        raise NotImplementedError


def _chunks(items: Sequence[Change], size: int) -> Iterator[Sequence[Change]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _key(ip: Any) -> str:
    try:
        return canonical_ip(str(ip))
    except InvalidIPError:
        return str(ip)


def _batch_outcomes(batch: Sequence[Change], result: BatchResult, ok: str) -> list[ChangeResult]:
    succeeded = {_key(item.get("origin_ip")) for item in result.succeeded}
    failed = {_key(item.get("origin_ip")): str(item.get("error") or "failed") for item in result.failed}
    outcomes = []
    for change in batch:
        if change.ip in failed:
            outcomes.append(ChangeResult(change, "failed", failed[change.ip]))
        elif change.ip in succeeded:
            outcomes.append(ChangeResult(change, ok))
        else:  # never drop an item silently
            outcomes.append(ChangeResult(change, "failed", "not reported by the API"))
    return outcomes


class _Aborted(Exception):
    """Credentials stopped working mid-apply: the remaining changes are not attempted."""


def apply_plan(
    writer: MappingWriter, zone_id: str, plan: Plan, *, batch_size: int = 100, dry_run: bool = False
) -> list[ChangeResult]:
    """Apply deletes (first: they free room under the cap), then creates, then updates. See the module docstring."""
    ok = "planned" if dry_run else "applied"
    results: list[ChangeResult] = []
    pending: list[Change] = list(plan.deletes) + list(plan.creates) + list(plan.updates)

    def guarded(batch: Sequence[Change], call: Any) -> None:
        try:
            results.extend(call())
        except CloudflareAuthError as exc:
            results.extend(ChangeResult(c, "failed", str(exc)) for c in batch)
            raise _Aborted from exc
        except CloudflareError as exc:
            logger.warning("zone %s: a batch of %d failed: %s", zone_id, len(batch), exc)
            results.extend(ChangeResult(c, "failed", str(exc)) for c in batch)

    try:
        for batch in _chunks(plan.deletes, batch_size):
            guarded(batch, lambda b=batch: _batch_outcomes(b, writer.batch_delete(zone_id, [c.ip for c in b]), ok))
        if writer.family == "v1":
            for change in plan.creates:
                guarded([change], lambda c=change: [_create_v1(writer, zone_id, c, ok)])
            upserts: list[Change] = list(plan.updates)
        else:
            upserts = list(plan.creates) + list(plan.updates)
        for batch in _chunks(upserts, batch_size):
            items = [{"origin_ip": c.ip, "vendor": c.vendor, "region": c.region} for c in batch]
            guarded(batch, lambda b=batch, i=items: _batch_outcomes(b, writer.batch_upsert(zone_id, i), ok))
    except _Aborted:
        done = {id(r.change) for r in results}
        results.extend(
            ChangeResult(c, "skipped", "not attempted: authentication failed") for c in pending if id(c) not in done
        )
    return results


def _create_v1(writer: MappingWriter, zone_id: str, change: Change, ok: str) -> ChangeResult:
    try:
        writer.create_mapping(zone_id, change.ip, change.vendor, change.region)
        return ChangeResult(change, ok)
    except MappingExists:
        # Someone (another agent, a person) created it after we read the list: re-read, never overwrite.
        found = writer.get_mapping(zone_id, change.ip)
        if (found.get("vendor"), found.get("region")) == (change.vendor, change.region):
            return ChangeResult(change, "exists")
        return ChangeResult(change, "conflict", f"already mapped to {found.get('vendor')}/{found.get('region')}")
