"""The run summary: what was discovered, planned and applied, per zone. `RunReport.to_dict()` is the JSON document
(schema `SCHEMA_VERSION`, documented in the README); the CLI, the handlers and the metrics all read it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.apply import ChangeResult
    from agent.collectors.runner import Discovery
    from agent.match import MatchResult
    from agent.origins import ZoneOrigins
    from agent.plan import Change, Plan

__all__ = ["SCHEMA_VERSION", "RunReport", "ZoneReport"]

SCHEMA_VERSION = 1
EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_GUARD = 0, 1, 2, 3


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def _change_dict(change: Change, status: str, error: str = "", confidence: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"action": change.action, "ip": change.ip, "vendor": change.vendor, "region": change.region}
    if change.old_vendor:
        out["old_vendor"], out["old_region"] = change.old_vendor, change.old_region
    out["source"] = change.source
    if confidence:
        out["confidence"] = confidence
    out["status"] = status
    if error:
        out["error"] = error
    return out


@dataclass
class ZoneReport:
    """One zone's outcome. Counts are filled from the plan and then from the apply results."""

    zone: str
    zone_id: str
    complete: bool = True
    origin_ips: int = 0
    origins: dict[str, list[str]] = field(default_factory=dict)
    current_mappings: int = 0
    matched: int = 0
    unchanged: int = 0
    unsupported: list[dict[str, str]] = field(default_factory=list)
    ambiguous: list[dict[str, Any]] = field(default_factory=list)
    global_only: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    over_cap: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    _confidence: dict[str, str] = field(default_factory=dict, repr=False)

    def set_origins(self, origins: ZoneOrigins) -> None:
        self.origin_ips = len(origins.ips)
        self.origins = origins.ips
        self.warnings.extend(origins.warnings)

    def set_plan(self, plan: Plan, matched: MatchResult, *, complete: bool, current: int) -> None:
        self.complete = complete
        self.current_mappings = current
        ips = self.origins
        desired = {ip: matched.desired[ip] for ip in ips if ip in matched.desired}
        self._confidence = {ip: d.confidence for ip, d in desired.items()}
        self.matched = len(desired)
        self.unchanged = len(plan.unchanged)
        self.unsupported = [{"ip": d.ip, "vendor": d.vendor, "region": d.region} for d in plan.unsupported]
        self.ambiguous = [
            {
                "ip": ip,
                "candidates": [
                    {"vendor": c.vendor, "region": c.region, "sources": list(c.sources)} for c in matched.ambiguous[ip]
                ],
            }
            for ip in sorted(ips)
            if ip in matched.ambiguous
        ]
        self.global_only = sorted(ip for ip in ips if ip in matched.global_only)
        self.unmatched = sorted(ip for ip in ips if ip in matched.unmatched)
        self.disagreements = [
            {
                "ip": d.ip,
                "chosen": {"vendor": d.vendor, "region": d.region, "confidence": d.confidence},
                "feed": [{"vendor": c.vendor, "region": c.region, "sources": list(c.sources)} for c in d.disagreements],
            }
            for d in desired.values()
            if d.disagreements
        ]
        self.drift = [_change_dict(c, "withheld by policy") for c in plan.drift]
        self.stale = list(plan.stale)
        self.over_cap = [c.ip for c in plan.over_cap]
        if plan.over_cap:
            self.warnings.append(f"{len(plan.over_cap)} new mappings left out: the zone would exceed its cap")
        self.changes = [_change_dict(c, "pending", confidence=self._confidence.get(c.ip, "")) for c in plan.changes]

    def record_results(self, results: list[ChangeResult]) -> None:
        self.changes = [
            _change_dict(r.change, r.status, r.error, self._confidence.get(r.change.ip, "")) for r in results
        ]

    def _count(self, action: str) -> int:
        return sum(1 for c in self.changes if c["action"] == action and c["status"] in ("applied", "planned"))

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [
            {"ip": c["ip"], "action": c["action"], "error": c.get("error", "")}
            for c in self.changes
            if c["status"] in ("failed", "skipped")
        ]

    def to_dict(self) -> dict[str, Any]:
        exists = sum(1 for c in self.changes if c["status"] == "exists")
        return {
            "zone": self.zone,
            "zone_id": self.zone_id,
            "complete": self.complete,
            "error": self.error,
            "origin_ips": self.origin_ips,
            "current_mappings": self.current_mappings,
            "matched": self.matched,
            "created": self._count("create"),
            "updated": self._count("update"),
            "deleted": self._count("delete"),
            "unchanged": self.unchanged + exists,
            "unsupported": self.unsupported,
            "ambiguous": self.ambiguous,
            "global": self.global_only,
            "unmatched": self.unmatched,
            "failed": self.failed,
            "conflicts": [c for c in self.changes if c["status"] == "conflict"],
            "drift": self.drift,
            "stale": self.stale,
            "over_cap": self.over_cap,
            "disagreements": self.disagreements,
            "warnings": self.warnings,
            "changes": self.changes,
            "origins": {ip: refs for ip, refs in sorted(self.origins.items())},
        }


@dataclass
class RunReport:
    """The whole run. `exit_code`: 0 ok, 1 partial failure, 2 configuration/authentication, 3 refused by a guard."""

    started_at: datetime
    dry_run: bool
    policy: str
    api_family: str = "v2"
    shard: tuple[int, int] | None = None
    max_changes: int | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    discovery: Discovery | None = None
    zones: list[ZoneReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: bool = False
    _exit: int | None = None

    def fatal(self, message: str, *, exit_code: int) -> None:
        self.errors.append(message)
        self._exit = exit_code

    def refuse(self, message: str) -> None:
        self.errors.append(message)
        self.refused = True

    def finish(self, finished_at: datetime, duration_s: float) -> None:
        self.finished_at = finished_at
        self.duration_s = round(duration_s, 3)

    @property
    def planned_changes(self) -> int:
        return sum(len(z.changes) for z in self.zones)

    @property
    def exit_code(self) -> int:
        if self._exit is not None:
            return self._exit
        if self.refused:
            return EXIT_GUARD
        partial = (
            self.skipped
            or (self.discovery is not None and (self.discovery.errors or self.discovery.skipped))
            or any(z.error or z.failed for z in self.zones)
        )
        return EXIT_PARTIAL if partial else EXIT_OK

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def _discovery_dict(self) -> dict[str, Any]:
        d = self.discovery
        if d is None:
            return {
                "complete": False,
                "scopes": 0,
                "sources": {},
                "vendors": {},
                "scope_errors": [],
                "skipped_scopes": [],
            }
        errors_by_source = Counter(e.scope.split(":", 1)[0] for e in d.errors)
        kept_by_vendor = Counter(r.vendor.value for r in d.records)
        return {
            "complete": d.complete,
            "scopes": d.scopes_done,
            "sharded_out": d.sharded_out,
            "sources": {
                s: {"addresses": n, "scope_errors": errors_by_source.get(s, 0)}
                for s, n in sorted((d.counts | Counter(dict.fromkeys(errors_by_source, 0))).items())
            },
            "vendors": dict(sorted(kept_by_vendor.items())),
            "scope_errors": [
                {"scope": e.scope, "error": e.error, "code": e.code, "message": e.message} for e in d.errors
            ],
            "skipped_scopes": list(d.skipped),
        }

    def to_dict(self) -> dict[str, Any]:
        zones = [z.to_dict() for z in self.zones]
        totals: Counter[str] = Counter()
        for z in zones:
            for key in ("created", "updated", "deleted", "unchanged", "matched", "origin_ips"):
                totals[key] += z[key]
            for key in ("unsupported", "ambiguous", "unmatched", "failed", "conflicts", "global"):
                totals[key] += len(z[key])
        return {
            "version": SCHEMA_VERSION,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_s": self.duration_s,
            "dry_run": self.dry_run,
            "policy": self.policy,
            "api_family": self.api_family,
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            "discovery": self._discovery_dict(),
            "zones": zones,
            "totals": dict(totals),
            "guard": {
                "max_changes": self.max_changes,
                "planned_changes": self.planned_changes,
                "refused": self.refused,
            },
            "skipped": self.skipped,
            "errors": self.errors,
            "exit_code": self.exit_code,
        }
