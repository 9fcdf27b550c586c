"""Mapping stores: one per API family behind one small interface, `apply(zone_id, changes) -> results`.

A store owns the wire side of applying a plan: how changes become requests (batches, single calls), and how each
response becomes a per-change `ChangeResult`. `agent.apply` only orders the changes and accounts for them.

* `V2Store` (current family): deletes as batch DELETEs, creates and updates as batch PUT upserts (≤100 items).
* `V1Store` (deprecated family, `agent.cloudflare.store_v1`): creates as POSTs with 1145 handling, updates as batch
  PATCHes, deletes as batch DELETEs. Dropping v1 one day is deleting that module and its line in `_FAMILIES`.
* `DryRunStore`: the same batches, nothing sent; every change comes back `planned`.

A request that fails as a whole fails only its own changes. When the credentials stop working, the rest of the zone's
changes are not attempted (`skipped`): every further request would be refused the same way.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Protocol

from agent.cloudflare.client import BATCH_LIMIT, ApiFamily, BatchResult, CloudflareClient
from agent.cloudflare.errors import CloudflareAuthError, CloudflareError, MappingNotFound
from agent.models import Action, Change, ChangeResult, Outcome
from agent.signals import stop_requested

__all__ = [
    "DryRunStore",
    "MappingStore",
    "Request",
    "RequestStore",
    "V2Store",
    "batch_delete",
    "batch_outcomes",
    "batch_upsert",
    "chunks",
    "store_for",
]

logger = logging.getLogger(__name__)

Request = tuple[Sequence[Change], Callable[[], list[ChangeResult]]]
"""The changes one API request carries, and the call that sends it and answers one result per change."""


class MappingStore(Protocol):
    """Applies changes to a zone's mappings and answers one `ChangeResult` per change."""

    family: ApiFamily

    def apply(self, zone_id: str, changes: Sequence[Change]) -> list[ChangeResult]: ...


def chunks(changes: Sequence[Change], size: int) -> Iterator[Sequence[Change]]:
    for start in range(0, len(changes), size):
        yield changes[start : start + size]


def batch_outcomes(batch: Sequence[Change], result: BatchResult) -> list[ChangeResult]:
    """One result per change of a batch call: failed items carry the API's message; unmentioned ones fail."""
    failed = {item.ip: item.message for item in result.failed}
    succeeded = set(result.succeeded)
    outcomes = []
    for change in batch:
        if change.ip in failed:
            outcomes.append(ChangeResult(change, Outcome.FAILED, failed[change.ip]))
        elif change.ip in succeeded:
            outcomes.append(ChangeResult(change, Outcome.APPLIED))
        else:  # never drop an item silently
            outcomes.append(ChangeResult(change, Outcome.FAILED, "not reported by the API"))
    return outcomes


def batch_delete(client: CloudflareClient, zone_id: str, batch: Sequence[Change]) -> list[ChangeResult]:
    """A batch delete; an item whose mapping is already gone (another agent or a person deleted it since it was
    listed) is done, ``gone``, not failed: two concurrent `sync` runs converge and both exit 0."""
    try:
        outcomes = batch_outcomes(batch, client.batch_delete(zone_id, [c.ip for c in batch]))
    except MappingNotFound:  # 1142 for the whole call: the zone has no mappings left at all
        return [ChangeResult(c, Outcome.GONE) for c in batch]
    return [_gone_or_failed(client, zone_id, r) if r.outcome is Outcome.FAILED else r for r in outcomes]


def _gone_or_failed(client: CloudflareClient, zone_id: str, result: ChangeResult) -> ChangeResult:
    # The per-item error text is undocumented: ask for the mapping instead; only 1142 proves it is gone.
    try:
        client.get_mapping(zone_id, result.change.ip)
    except MappingNotFound:
        return ChangeResult(result.change, Outcome.GONE)
    except CloudflareAuthError:
        raise
    except CloudflareError:
        return result
    return result


def batch_upsert(client: CloudflareClient, zone_id: str, batch: Sequence[Change]) -> list[ChangeResult]:
    return batch_outcomes(batch, client.batch_upsert(zone_id, [c.target for c in batch]))


def _planned(batch: Sequence[Change]) -> list[ChangeResult]:
    return [ChangeResult(c, Outcome.PLANNED) for c in batch]


class RequestStore:
    """The shared loop: send each request of `requests()`, isolate failures per request, stop on refused credentials."""

    family: ApiFamily

    @staticmethod
    def batches(changes: Sequence[Change], size: int) -> Iterator[Sequence[Change]]:
        """How this family groups changes into requests (each batch holds one action)."""
        raise NotImplementedError

    def __init__(self, batch_size: int = BATCH_LIMIT) -> None:
        if not 1 <= batch_size <= BATCH_LIMIT:
            raise ValueError(f"batch_size must be 1..{BATCH_LIMIT}, got {batch_size}")
        self.batch_size = batch_size

    def requests(self, zone_id: str, changes: Sequence[Change]) -> Iterator[Request]:
        raise NotImplementedError

    def apply(self, zone_id: str, changes: Sequence[Change]) -> list[ChangeResult]:
        results: list[ChangeResult] = []
        for carried, send in self.requests(zone_id, changes):
            if (stopped_by := stop_requested()) is not None:  # SIGTERM/SIGINT: nothing more is sent
                done = {id(r.change) for r in results}
                results.extend(
                    ChangeResult(c, Outcome.SKIPPED, f"not attempted: stopped by {stopped_by}")
                    for c in changes
                    if id(c) not in done
                )
                break
            try:
                results.extend(send())
            except CloudflareAuthError as exc:
                results.extend(ChangeResult(c, Outcome.FAILED, str(exc)) for c in carried)
                done = {id(r.change) for r in results}
                results.extend(
                    ChangeResult(c, Outcome.SKIPPED, "not attempted: authentication failed")
                    for c in changes
                    if id(c) not in done
                )
                break
            except CloudflareError as exc:
                logger.warning("zone %s: a request for %d changes failed: %s", zone_id, len(carried), exc)
                results.extend(ChangeResult(c, Outcome.FAILED, str(exc)) for c in carried)
        return results


def _split(changes: Sequence[Change]) -> tuple[list[Change], list[Change]]:
    deletes = [c for c in changes if c.action is Action.DELETE]
    return deletes, [c for c in changes if c.action is not Action.DELETE]


class V2Store(RequestStore):
    """Current family: batch DELETE for deletes, batch PUT (merging upsert) for creates and updates."""

    family = ApiFamily.V2

    def __init__(self, client: CloudflareClient, batch_size: int = BATCH_LIMIT) -> None:
        super().__init__(batch_size)
        if client.family is not ApiFamily.V2:
            raise ValueError(f"V2Store needs a v2 client, got {client.family.value}")
        self._client = client

    @staticmethod
    def batches(changes: Sequence[Change], size: int) -> Iterator[Sequence[Change]]:
        deletes, upserts = _split(changes)
        yield from chunks(deletes, size)
        yield from chunks(upserts, size)

    def requests(self, zone_id: str, changes: Sequence[Change]) -> Iterator[Request]:
        for batch in self.batches(changes, self.batch_size):
            send = batch_delete if batch[0].action is Action.DELETE else batch_upsert
            yield batch, partial(send, self._client, zone_id, batch)


class DryRunStore(RequestStore):
    """Sends nothing: every change is `planned`, in the batches a real store of the family would send."""

    def __init__(self, family: ApiFamily, batch_size: int = BATCH_LIMIT) -> None:
        super().__init__(batch_size)
        self.family = family
        self._grouping = _store_class(family).batches

    def requests(self, zone_id: str, changes: Sequence[Change]) -> Iterator[Request]:
        for batch in self._grouping(changes, self.batch_size):
            yield batch, partial(_planned, batch)


# Families other than the default live in their own module, imported when used.
_FAMILIES: dict[ApiFamily, str] = {ApiFamily.V1: "agent.cloudflare.store_v1:V1Store"}


def store_for(client: CloudflareClient | None, family: ApiFamily, *, dry_run: bool, batch_size: int) -> MappingStore:
    """The store a run writes through: `DryRunStore` when `dry_run`, otherwise the client's family."""
    if dry_run:
        return DryRunStore(family, batch_size)
    if client is None:
        raise ValueError("a store that writes needs a client")
    store: MappingStore = _store_class(family)(client, batch_size)
    return store


def _store_class(family: ApiFamily) -> Any:
    if family is ApiFamily.V2:
        return V2Store
    module, _, name = _FAMILIES[family].partition(":")
    return getattr(importlib.import_module(module), name)
