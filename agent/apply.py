"""Applies a zone's plan through a `MappingStore`: the order of the changes and the per-change accounting.

How changes become requests (batches, the deprecated family's create-only POSTs, 1145 handling) is the store's
business (`agent.cloudflare.store`); a dry run is just `DryRunStore`, which sends nothing. This module only decides
the order (deletes first: they free room under the zone cap, then creates, then updates) and guarantees that every
planned change gets exactly one result, in plan order: a change the store did not answer for is failed, never
dropped.
"""

from __future__ import annotations

from agent.cloudflare.store import MappingStore
from agent.models import ChangeResult, Outcome
from agent.plan import Plan

__all__ = ["apply_changes"]


def apply_changes(store: MappingStore, zone_id: str, plan: Plan) -> tuple[ChangeResult, ...]:
    """Apply `plan.changes` (deletes, creates, updates) and return one result per change, in that order."""
    changes = plan.changes
    answered: dict[int, ChangeResult] = {}
    for result in store.apply(zone_id, changes):
        answered.setdefault(id(result.change), result)
    return tuple(
        answered.get(id(change)) or ChangeResult(change, Outcome.FAILED, "no result from the mapping store")
        for change in changes
    )
