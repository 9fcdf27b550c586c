"""Named policies: what a run is allowed to change. The keys are what users type."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["POLICIES", "Policy"]


@dataclass(frozen=True, slots=True)
class Policy:
    """`update`: correct vendor/region drift of existing mappings; `delete`: remove mappings of IPs that are no longer
    origins of the zone (only when discovery and origins were complete)."""

    name: str
    update: bool
    delete: bool


POLICIES: dict[str, Policy] = {
    # Never touches an existing mapping: hand-made or foreign mappings are safe.
    "create-only": Policy("create-only", update=False, delete=False),
    "upsert": Policy("upsert", update=True, delete=False),
    "sync": Policy("sync", update=True, delete=True),
}
