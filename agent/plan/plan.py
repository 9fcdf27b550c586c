"""The plan for one zone: a pure function of current mappings, desired mappings and the policy.

Decision table (per IP):

| current        | desired / origin                | supported | create-only | upsert          | sync            |
|----------------|---------------------------------|-----------|-------------|-----------------|-----------------|
| absent         | desired                         | yes       | create      | create          | create          |
| absent         | desired                         | no        | unsupported | unsupported     | unsupported     |
| same v/r       | desired                         | -         | unchanged   | unchanged       | unchanged       |
| other v/r      | desired                         | yes       | drift (kept)| update          | update          |
| other v/r      | desired                         | no        | drift (kept)| unsupported     | unsupported     |
| present        | origin, but unmatched/ambiguous | -         | untouched   | untouched       | untouched       |
| present        | not an origin of the zone       | -         | untouched   | untouched       | delete if complete |

"complete" means every collector scope succeeded and the zone's origins were listed completely: a partial picture
never deletes. New mappings beyond the zone cap (3,500 by default, after this plan's deletes) are not planned; they are
listed in `over_cap`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.match import Desired
from agent.plan.policy import Policy

__all__ = ["ZONE_MAPPING_CAP", "Change", "Plan", "calculate"]

ZONE_MAPPING_CAP = 3500


@dataclass(frozen=True, slots=True)
class Change:
    """One planned write. `old_*` are set for updates and deletes."""

    action: str  # "create" | "update" | "delete"
    ip: str
    vendor: str
    region: str
    old_vendor: str = ""
    old_region: str = ""
    source: str = ""


@dataclass
class Plan:
    """What a zone needs, already filtered by the policy."""

    creates: list[Change] = field(default_factory=list)
    updates: list[Change] = field(default_factory=list)
    deletes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unsupported: list[Desired] = field(default_factory=list)
    drift: list[Change] = field(default_factory=list)  # updates the policy withheld
    stale: list[str] = field(default_factory=list)  # mappings of non-origins the policy (or incompleteness) kept
    over_cap: list[Change] = field(default_factory=list)

    @property
    def changes(self) -> list[Change]:
        return [*self.deletes, *self.creates, *self.updates]

    def __len__(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


def calculate(
    current: Mapping[str, tuple[str, str]],
    desired: Mapping[str, Desired],
    *,
    origin_ips: set[str] | frozenset[str] | Mapping[str, object],
    supported: Mapping[str, set[str]] | None,
    policy: Policy,
    complete: bool,
    cap: int = ZONE_MAPPING_CAP,
) -> Plan:
    """Diff `current` (ip -> (vendor, region)) against `desired`; see the module docstring.

    `supported` is None when the zone's supported regions are unknown: then nothing is classed unsupported and the
    API's own validation (1157) reports per item.
    """
    plan = Plan()

    def is_supported(d: Desired) -> bool:
        return supported is None or d.region in supported.get(d.vendor, ())

    for ip, want in sorted(desired.items()):
        source = ",".join(want.sources)
        have = current.get(ip)
        if have == (want.vendor, want.region):
            plan.unchanged.append(ip)
        elif not is_supported(want):
            if have is None or policy.update:
                plan.unsupported.append(want)
            else:
                plan.drift.append(Change("update", ip, want.vendor, want.region, *have, source=source))
        elif have is None:
            plan.creates.append(Change("create", ip, want.vendor, want.region, source=source))
        elif policy.update:
            plan.updates.append(Change("update", ip, want.vendor, want.region, *have, source=source))
        else:
            plan.drift.append(Change("update", ip, want.vendor, want.region, *have, source=source))

    for ip, (vendor, region) in sorted(current.items()):
        if ip in origin_ips:
            continue
        if policy.delete and complete:
            plan.deletes.append(Change("delete", ip, vendor, region, vendor, region))
        else:
            plan.stale.append(ip)

    room = cap - (len(current) - len(plan.deletes))
    if len(plan.creates) > room:
        keep = max(room, 0)
        plan.over_cap = plan.creates[keep:]
        plan.creates = plan.creates[:keep]
    return plan
