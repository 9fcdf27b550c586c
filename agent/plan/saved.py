"""Saved plans: `plan --out PLAN.json` writes one, `apply PLAN.json` applies exactly it (format in the README).

A plan file is JSON, versioned by ``format_version``. For each zone it keeps the id and name, the API family and the
policy it was made with, a fingerprint of the zone's mappings as read, the match (evidence for the summary), and the
plan: every change with its new and old mapping, source and confidence, plus what was withheld (drift, stale,
unsupported, over cap). Apply re-reads only the mappings of the planned zones: if a mapping the plan touches changed,
or the zone's fingerprint did, the plan is stale and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError
from agent.ip import InvalidIPError, canonical_ip
from agent.models import RegionMapping

if TYPE_CHECKING:
    from agent.plan.plan import Plan
    from agent.report.summary import DiscoveryOutcome, RunOutcome, ZoneOutcome

__all__ = ["FORMAT", "FORMAT_VERSION", "SavedPlan", "dump_plan", "fingerprint", "load_plan", "stale_ips", "write_plan"]

FORMAT = "origin-region-agent plan"
FORMAT_VERSION = 1


def fingerprint(mappings: Iterable[RegionMapping]) -> str:
    """A digest of a zone's mappings (IP, vendor, region; not `modified_on`), independent of listing order."""
    lines = sorted(f"{m.ip} {m.vendor.value} {m.region}" for m in mappings)
    return "sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()


def stale_ips(plan: Plan, current: Mapping[str, RegionMapping]) -> list[str]:
    """The IPs the plan touches whose mapping is no longer what the plan was made from (absent for a create)."""
    changed = []
    for change in plan.changes:
        now = current.get(change.ip)
        was = change.old
        if (now is None) != (was is None) or (now is not None and was is not None and now.placement != was.placement):
            changed.append(change.ip)
    return changed


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """A plan file, read back."""

    created_at: str
    base_url: str
    api_family: str
    policy: str
    batch_size: int
    discovery: DiscoveryOutcome
    zones: tuple[ZoneOutcome, ...]


def _adapters() -> tuple[Any, Any]:
    from pydantic import TypeAdapter

    from agent.report.summary import DiscoveryOutcome, ZoneOutcome

    return TypeAdapter(ZoneOutcome), TypeAdapter(DiscoveryOutcome)


def dump_plan(outcome: RunOutcome, *, base_url: str, batch_size: int) -> dict[str, Any]:
    """The plan file's document for a planned (not yet applied) run."""
    zone_adapter, discovery_adapter = _adapters()
    zones = []
    for zone in outcome.zones:
        data = zone_adapter.dump_python(zone, mode="json")
        data.pop("results", None)
        zones.append(
            {"zone_id": zone.zone_id, "zone": zone.zone, "api_family": outcome.api_family, "policy": outcome.policy}
            | data
        )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "cloudflare": {"base_url": base_url, "api_family": outcome.api_family},
        "policy": outcome.policy,
        "batch_size": batch_size,
        "planned_changes": outcome.planned_changes,
        "discovery": discovery_adapter.dump_python(outcome.discovery, mode="json") if outcome.discovery else None,
        "zones": zones,
    }


def write_plan(path: str | Path, outcome: RunOutcome, *, base_url: str, batch_size: int) -> None:
    """Write the plan file atomically (a reader never sees half a plan)."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_text(json.dumps(dump_plan(outcome, base_url=base_url, batch_size=batch_size), indent=2) + "\n")
    temp.replace(target)


def is_canonical(ip: str) -> bool:
    try:
        return canonical_ip(ip) == ip
    except InvalidIPError:
        return False


def _field(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ConfigError(f"plan file: {where}{key} must be a {kind.__name__}, got {value!r}")
    return value


def load_plan(path: str | Path) -> SavedPlan:
    """Read and validate a plan file; `ConfigError` naming the field for anything wrong with it."""
    from pydantic import ValidationError

    from agent.report.summary import DiscoveryOutcome

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"plan file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"plan file {str(path)!r} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"plan file {str(path)!r} is not an origin-region-agent plan (no format {FORMAT!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"plan file: format_version {data.get('format_version')!r} is not supported (this agent reads "
            f"{FORMAT_VERSION}); make the plan again with this version"
        )
    cloudflare = _field(data, "cloudflare", dict, "")
    api_family = _field(cloudflare, "api_family", str, "cloudflare.")
    policy = _field(data, "policy", str, "")
    zone_adapter, discovery_adapter = _adapters()
    zones = []
    for index, raw in enumerate(_field(data, "zones", list, "")):
        if not isinstance(raw, dict):
            raise ConfigError(f"plan file: zones[{index}] must be an object")
        raw = dict(raw)
        for key, expected in (("api_family", api_family), ("policy", policy)):
            if raw.pop(key, expected) != expected:
                raise ConfigError(f"plan file: zones[{index}].{key} differs from the plan's {key} {expected!r}")
        try:
            zones.append(zone_adapter.validate_python(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"plan file: zones[{index}].{where}: {first['msg']}") from None
    for zone in zones:
        for change in zone.plan.changes if zone.plan is not None else ():
            if not is_canonical(change.ip):
                raise ConfigError(f"plan file: zone {zone.zone}: {change.ip!r} is not a canonical IP address")
    try:
        discovery = discovery_adapter.validate_python(data.get("discovery") or {})
    except ValidationError as exc:
        raise ConfigError(f"plan file: discovery: {exc.errors()[0]['msg']}") from None
    batch_size = _field(data, "batch_size", int, "")
    if not 1 <= batch_size <= 100:
        raise ConfigError(f"plan file: batch_size must be 1..100, got {batch_size}")
    return SavedPlan(
        created_at=str(data.get("created_at", "")),
        base_url=_field(cloudflare, "base_url", str, "cloudflare."),
        api_family=api_family,
        policy=policy,
        batch_size=batch_size,
        discovery=discovery if isinstance(discovery, DiscoveryOutcome) else DiscoveryOutcome(),
        zones=tuple(zones),
    )
