"""The run's outcome as immutable values, and the ONE function that turns it into the JSON summary (schema 1).

Each zone's outcome is a `ZoneOutcome` (origins, match, plan, results); the run is a `RunOutcome`. `summarize` is the
only place that knows the summary schema: the text renderer, the metrics, the logs, the CLI and the serverless
handlers (their error answers included, via `RunOutcome.failed_before_start`) all read its output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent.match import Candidate, Desired, MatchResult
from agent.models import Action, Change, ChangeResult, Outcome, ScopeError
from agent.plan import Plan
from agent.secrets import redact_obj
from agent.signals import EXIT_CODES

if TYPE_CHECKING:
    from agent.collectors.runner import Discovery

__all__ = [
    "EXIT_CHANGES",
    "EXIT_CONFIG",
    "EXIT_GUARD",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "SCHEMA_VERSION",
    "DiscoveryOutcome",
    "RunOutcome",
    "RunReport",
    "ZoneMatch",
    "ZoneOutcome",
    "summarize",
]

SCHEMA_VERSION = 1
EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_GUARD = 0, 1, 2, 3
EXIT_CHANGES = 4  # `plan --detailed-exitcode`: succeeded, and there are changes to apply


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


@dataclass(frozen=True, slots=True)
class DiscoveryOutcome:
    """What discovery found, reduced to what the summary says (the records themselves are not kept)."""

    ran: bool = False
    scopes: int = 0
    sharded_out: int = 0
    addresses: tuple[tuple[str, int], ...] = ()  # (source, addresses seen), by source
    vendors: tuple[tuple[str, int], ...] = ()  # (vendor, records kept for the zones' origin IPs)
    scope_errors: tuple[ScopeError, ...] = ()  # sorted by scope: threads finish in any order
    skipped_scopes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.ran and not self.scope_errors and not self.skipped_scopes

    @classmethod
    def of(cls, discovery: Discovery) -> DiscoveryOutcome:
        kept = Counter(r.vendor.value for r in discovery.records)
        return cls(
            ran=True,
            scopes=discovery.scopes_done,
            sharded_out=discovery.sharded_out,
            addresses=tuple(sorted(discovery.counts.items())),
            vendors=tuple(sorted(kept.items())),
            scope_errors=tuple(sorted(discovery.errors, key=lambda e: (e.scope, e.error, e.code, e.message))),
            skipped_scopes=tuple(sorted(discovery.skipped)),
        )


@dataclass(frozen=True, slots=True)
class ZoneMatch:
    """The match restricted to one zone's origin IPs, each list in IP order."""

    desired: tuple[Desired, ...] = ()
    ambiguous: tuple[tuple[str, tuple[Candidate, ...]], ...] = ()
    global_only: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()

    @classmethod
    def of(cls, matched: MatchResult, origin_ips: Iterable[str]) -> ZoneMatch:
        ips = sorted(origin_ips)
        return cls(
            desired=tuple(matched.desired[ip] for ip in ips if ip in matched.desired),
            ambiguous=tuple((ip, matched.ambiguous[ip]) for ip in ips if ip in matched.ambiguous),
            global_only=tuple(ip for ip in ips if ip in matched.global_only),
            unmatched=tuple(ip for ip in ips if ip in matched.unmatched),
        )


@dataclass(frozen=True, slots=True)
class ZoneOutcome:
    """One zone's outcome. Built stage by stage with `dataclasses.replace`; never mutated.

    `origins` maps each origin IP to what points at it, in IP order. `fingerprint` identifies the mappings as read
    (see `agent.plan.saved.fingerprint`); `results` is None until the plan was applied (or dry-run applied).
    """

    zone: str
    zone_id: str
    error: str | None = None
    complete: bool = True
    origins: tuple[tuple[str, tuple[str, ...]], ...] = ()
    warnings: tuple[str, ...] = ()
    current_mappings: int = 0
    fingerprint: str = ""
    match: ZoneMatch = field(default_factory=ZoneMatch)
    plan: Plan | None = None
    results: tuple[ChangeResult, ...] | None = None

    @property
    def origin_ips(self) -> frozenset[str]:
        return frozenset(ip for ip, _ in self.origins)

    def failed_results(self) -> tuple[ChangeResult, ...]:
        return tuple(r for r in self.results or () if r.outcome.failure)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """The whole run. `exit_code`: 0 ok, 1 partial failure, 2 configuration/authentication, 3 refused by a guard."""

    started_at: datetime
    dry_run: bool | None
    policy: str | None
    api_family: str | None = "v2"
    shard: tuple[int, int] | None = None
    max_changes: int | None = None
    max_deletes: int | str | None = None
    stopped_by: str | None = None  # "SIGTERM" / "SIGINT": the run stopped early on a signal (agent.signals)
    finished_at: datetime | None = None
    duration_s: float = 0.0
    discovery: DiscoveryOutcome | None = None
    zones: tuple[ZoneOutcome, ...] = ()
    errors: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    refused: bool = False
    fatal_exit: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()  # additional top-level summary fields (e.g. the plan file applied)

    @classmethod
    def failed_before_start(
        cls, message: str, *, exit_code: int, started_at: datetime | None = None, duration_s: float = 0.0
    ) -> RunOutcome:
        """A run that never started (bad config, unreadable secret): what the handlers answer."""
        now = datetime.now(UTC)
        return cls(
            started_at=started_at or now,
            dry_run=None,
            policy=None,
            api_family=None,
            finished_at=now,
            duration_s=round(duration_s, 3),
            errors=(message,),
            fatal_exit=exit_code,
            extra=(("error", message),),
        )

    def fatal(self, message: str, *, exit_code: int) -> RunOutcome:
        return replace(self, errors=(*self.errors, message), fatal_exit=exit_code)

    def refuse(self, message: str) -> RunOutcome:
        return replace(self, errors=(*self.errors, message), refused=True)

    def finish(self, finished_at: datetime, duration_s: float) -> RunOutcome:
        return replace(self, finished_at=finished_at, duration_s=round(duration_s, 3))

    @property
    def planned_changes(self) -> int:
        return sum(len(z.plan) for z in self.zones if z.plan is not None)

    @property
    def exit_code(self) -> int:
        if self.fatal_exit is not None:
            return self.fatal_exit
        if self.stopped_by is not None:
            return EXIT_CODES.get(self.stopped_by, EXIT_PARTIAL)
        if self.refused:
            return EXIT_GUARD
        discovery = self.discovery
        partial = (
            self.skipped
            or (discovery is not None and (discovery.scope_errors or discovery.skipped_scopes))
            # an unproven picture (nothing deleted there) and creates left out by the zone cap are partial too
            or any(
                z.error or z.failed_results() or not z.complete or (z.plan is not None and z.plan.over_cap)
                for z in self.zones
            )
        )
        return EXIT_PARTIAL if partial else EXIT_OK

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return summarize(self)


RunReport = RunOutcome  # the name the public API (`agent.RunReport`) has always exported
ZoneReport = ZoneOutcome


# -- the summary -----------------------------------------------------------------------------------------------------


def _change_dict(change: Change, status: Outcome, error: str = "") -> dict[str, Any]:
    target = change.target
    out: dict[str, Any] = {"action": change.action.value, "ip": change.ip, "vendor": target.vendor.value}
    out["region"] = target.region
    if change.old is not None:
        out["old_vendor"], out["old_region"] = change.old.vendor.value, change.old.region
    out["source"] = change.source
    if change.confidence is not None:
        out["confidence"] = change.confidence.value
    out["status"] = status.value
    if error:
        out["error"] = error
    return out


def _candidates(candidates: Iterable[Candidate]) -> list[dict[str, Any]]:
    return [{"vendor": c.vendor.value, "region": c.region, "sources": list(c.sources)} for c in candidates]


def _zone_dict(zone: ZoneOutcome) -> dict[str, Any]:
    plan = zone.plan if zone.plan is not None else Plan()
    if zone.results is not None:
        changes = [_change_dict(r.change, r.outcome, r.error) for r in zone.results]
        outcomes = [(r.change.action, r.outcome) for r in zone.results]
    else:
        changes = [_change_dict(c, Outcome.PENDING) for c in plan.changes]
        outcomes = []
    done = Counter(action for action, outcome in outcomes if outcome.done)
    exists = sum(1 for _, outcome in outcomes if outcome is Outcome.EXISTS)
    warnings = list(zone.warnings)
    if plan.over_cap:
        warnings.append(f"{len(plan.over_cap)} new mappings left out: the zone would exceed its cap")
    return {
        "zone": zone.zone,
        "zone_id": zone.zone_id,
        "complete": zone.complete,
        "error": zone.error,
        "origin_ips": len(zone.origins),
        "current_mappings": zone.current_mappings,
        "matched": len(zone.match.desired) if zone.plan is not None else 0,
        "created": done[Action.CREATE],
        "updated": done[Action.UPDATE],
        "deleted": done[Action.DELETE],
        "already_gone": sum(1 for action, outcome in outcomes if outcome is Outcome.GONE),
        "unchanged": len(plan.unchanged) + exists,
        "unsupported": [{"ip": d.ip, "vendor": d.vendor.value, "region": d.region} for d in plan.unsupported],
        "ambiguous": [{"ip": ip, "candidates": _candidates(cands)} for ip, cands in zone.match.ambiguous]
        if zone.plan is not None
        else [],
        "global": list(zone.match.global_only) if zone.plan is not None else [],
        "unmatched": list(zone.match.unmatched) if zone.plan is not None else [],
        "failed": [
            {"ip": r.change.ip, "action": r.change.action.value, "error": r.error} for r in zone.failed_results()
        ],
        "conflicts": [
            _change_dict(r.change, r.outcome, r.error) for r in zone.results or () if r.outcome is Outcome.CONFLICT
        ],
        "drift": [_change_dict(c, Outcome.WITHHELD) for c in plan.drift],
        "stale": list(plan.stale),
        "outdated": [_change_dict(c, Outcome.WITHHELD) for c in plan.outdated],
        "over_cap": [c.ip for c in plan.over_cap],
        "disagreements": [
            {
                "ip": d.ip,
                "chosen": {"vendor": d.vendor.value, "region": d.region, "confidence": d.confidence.value},
                "feed": _candidates(d.disagreements),
            }
            for d in zone.match.desired
            if d.disagreements
        ]
        if zone.plan is not None
        else [],
        "warnings": warnings,
        "changes": changes,
        "origins": {ip: list(refs) for ip, refs in zone.origins},
    }


def _discovery_dict(d: DiscoveryOutcome | None) -> dict[str, Any]:
    if d is None or not d.ran:
        return {"complete": False, "scopes": 0, "sources": {}, "vendors": {}, "scope_errors": [], "skipped_scopes": []}
    errors_by_source = Counter(e.scope.split(":", 1)[0] for e in d.scope_errors)
    addresses = dict(d.addresses)
    return {
        "complete": d.complete,
        "scopes": d.scopes,
        "sharded_out": d.sharded_out,
        "sources": {
            s: {"addresses": addresses.get(s, 0), "scope_errors": errors_by_source.get(s, 0)}
            for s in sorted(set(addresses) | set(errors_by_source))
        },
        "vendors": dict(d.vendors),
        "scope_errors": [
            {"scope": e.scope, "error": e.error, "code": e.code, "message": e.message} for e in d.scope_errors
        ],
        "skipped_scopes": list(d.skipped_scopes),
    }


def summarize(run: RunOutcome) -> dict[str, Any]:
    """The JSON summary, schema 1 (documented in the README). The one place that builds it."""
    zones = [_zone_dict(z) for z in run.zones]
    totals: Counter[str] = Counter()
    for z in zones:
        for key in ("created", "updated", "deleted", "already_gone", "unchanged", "matched", "origin_ips"):
            totals[key] += z[key]
        for key in ("unsupported", "ambiguous", "unmatched", "failed", "conflicts", "global", "over_cap", "stale"):
            totals[key] += len(z[key])
    summary: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_s": run.duration_s,
        "dry_run": run.dry_run,
        "policy": run.policy,
        "api_family": run.api_family,
        "shard": f"{run.shard[0]}/{run.shard[1]}" if run.shard else None,
        "discovery": _discovery_dict(run.discovery),
        "zones": zones,
        "totals": dict(totals),
        "guard": {
            "max_changes": run.max_changes,
            "planned_changes": run.planned_changes,
            "refused": run.refused,
            "max_deletes": run.max_deletes,
            "planned_deletes": sum(len(z.plan.deletes) for z in run.zones if z.plan is not None),
        },
        "skipped": list(run.skipped),
        "errors": list(run.errors),
        "stopped_by": run.stopped_by,
    }
    summary.update(run.extra)
    summary["exit_code"] = run.exit_code
    return redact_obj(summary)  # every output path reads this: no registered secret leaves
