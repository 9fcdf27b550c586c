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

Freshness: inventory engines (AWS Config, Cloud Asset Inventory…) lag the control plane. A change whose evidence
(`Desired.observed_at`, the freshest engine observation behind the claim) is older than the mapping's own
`modified_on` is withheld into `outdated`: someone wrote the mapping after the engine last looked. Likewise a delete
is withheld when the mapping changed after `evidence_time`, the oldest engine observation of the run's inventory.
Live API records carry no observation time and are never withheld.

"complete" means every collector scope succeeded and the zone's origins were listed completely: a partial picture
never deletes. New mappings beyond the zone cap (3,500 by default, after this plan's deletes) are not planned; they are
listed in `over_cap`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.match import Desired
from agent.models import Action, Change, RegionMapping
from agent.plan.policy import Policy

__all__ = ["ZONE_MAPPING_CAP", "Change", "Plan", "calculate"]

ZONE_MAPPING_CAP = 3500


@dataclass(frozen=True, slots=True)
class Plan:
    """What a zone needs, already filtered by the policy. Immutable: what is shown is what is applied."""

    creates: tuple[Change, ...] = ()
    updates: tuple[Change, ...] = ()
    deletes: tuple[Change, ...] = ()
    unchanged: tuple[str, ...] = ()
    unsupported: tuple[Desired, ...] = ()
    drift: tuple[Change, ...] = ()  # updates the policy withheld
    stale: tuple[str, ...] = ()  # mappings of non-origins the policy (or incompleteness) kept
    over_cap: tuple[Change, ...] = ()  # creates beyond the zone cap
    outdated: tuple[Change, ...] = ()  # updates/deletes withheld: the engine evidence predates the mapping

    @property
    def changes(self) -> tuple[Change, ...]:
        """Every change in the order it is applied: deletes first (they free room under the cap), creates, updates."""
        return (*self.deletes, *self.creates, *self.updates)

    def __len__(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


def calculate(
    current: Mapping[str, RegionMapping],
    desired: Mapping[str, Desired],
    *,
    origin_ips: set[str] | frozenset[str] | Mapping[str, object],
    supported: Mapping[str, set[str]] | None,
    policy: Policy,
    complete: bool,
    cap: int = ZONE_MAPPING_CAP,
    evidence_time: datetime | None = None,
) -> Plan:
    """Diff `current` (ip -> mapping) against `desired`; see the module docstring.

    `supported` is None when the zone's supported regions are unknown: then nothing is classed unsupported and the
    API's own validation (1157) reports per item.
    """
    creates: list[Change] = []
    updates: list[Change] = []
    deletes: list[Change] = []
    unchanged: list[str] = []
    unsupported: list[Desired] = []
    drift: list[Change] = []
    stale: list[str] = []
    outdated: list[Change] = []

    def is_supported(d: Desired) -> bool:
        return supported is None or d.region in supported.get(d.vendor.value, ())

    for ip, want in sorted(desired.items()):
        source = ",".join(want.sources)
        have = current.get(ip)
        new = RegionMapping(ip, want.vendor, want.region)
        if have is not None and have.placement == new.placement:
            unchanged.append(ip)
        elif not is_supported(want):
            if have is None or policy.update:
                unsupported.append(want)
            else:
                drift.append(Change(Action.UPDATE, new, have, source, want.confidence))
        elif have is None:
            creates.append(Change(Action.CREATE, new, None, source, want.confidence))
        elif policy.update and _predates(want.observed_at, have):
            outdated.append(Change(Action.UPDATE, new, have, source, want.confidence))
        elif policy.update:
            updates.append(Change(Action.UPDATE, new, have, source, want.confidence))
        else:
            drift.append(Change(Action.UPDATE, new, have, source, want.confidence))

    for ip, have in sorted(current.items()):
        if ip in origin_ips:
            continue
        if policy.delete and complete and _predates(evidence_time, have):
            outdated.append(Change(Action.DELETE, None, have))
        elif policy.delete and complete:
            deletes.append(Change(Action.DELETE, None, have))
        else:
            stale.append(ip)

    room = max(cap - (len(current) - len(deletes)), 0)
    return Plan(
        creates=tuple(creates[:room]),
        updates=tuple(updates),
        deletes=tuple(deletes),
        unchanged=tuple(unchanged),
        unsupported=tuple(unsupported),
        drift=tuple(drift),
        stale=tuple(stale),
        over_cap=tuple(creates[room:]),
        outdated=tuple(outdated),
    )


def _predates(observed_at: datetime | None, have: RegionMapping) -> bool:
    """True when engine evidence observed at `observed_at` is older than the mapping's last modification.

    An unreadable `modified_on` counts as newer: the agent cannot prove its evidence is fresher.
    """
    if observed_at is None or have.modified_on is None:
        return False
    try:
        modified = datetime.fromisoformat(have.modified_on)
    except ValueError:
        return True
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return observed_at < modified
