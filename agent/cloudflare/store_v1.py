"""The deprecated v1 family's store (`/cache/origin_cloud_regions`, end of life 2026-10-01).

Creates are POSTs, one per IP, because only POST is create-only: a 1145 ("already exists") from a concurrent writer
is not a failure. The mapping is re-read and reported `exists` (same vendor/region) or `conflict` (someone else
mapped it differently; left alone, never overwritten). Updates go out as batch PATCHes, deletes as batch DELETEs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial

from agent.cloudflare.client import BATCH_LIMIT, ApiFamily, CloudflareClient
from agent.cloudflare.errors import CloudflareAuthError, CloudflareError, MappingExists
from agent.cloudflare.store import Request, RequestStore, batch_delete, batch_upsert, chunks
from agent.models import Action, Change, ChangeResult, Outcome

__all__ = ["V1Store"]


class V1Store(RequestStore):
    family = ApiFamily.V1

    def __init__(self, client: CloudflareClient, batch_size: int = BATCH_LIMIT) -> None:
        super().__init__(batch_size)
        if client.family is not ApiFamily.V1:
            raise ValueError(f"V1Store needs a v1 client, got {client.family.value}")
        self._client = client

    @staticmethod
    def batches(changes: Sequence[Change], size: int) -> Iterator[Sequence[Change]]:
        yield from chunks([c for c in changes if c.action is Action.DELETE], size)
        yield from ([c] for c in changes if c.action is Action.CREATE)  # POST creates one IP
        yield from chunks([c for c in changes if c.action is Action.UPDATE], size)

    def requests(self, zone_id: str, changes: Sequence[Change]) -> Iterator[Request]:
        for batch in self.batches(changes, self.batch_size):
            action = batch[0].action
            if action is Action.CREATE:
                yield batch, partial(self._create, zone_id, batch[0])
            else:
                yield (
                    batch,
                    partial(batch_delete if action is Action.DELETE else batch_upsert, self._client, zone_id, batch),
                )

    def _create(self, zone_id: str, change: Change) -> list[ChangeResult]:
        return [self._create_one(zone_id, change)]

    def _create_one(self, zone_id: str, change: Change) -> ChangeResult:
        new = change.target
        try:
            self._client.create_mapping(zone_id, new.ip, new.vendor.value, new.region)
            return ChangeResult(change, Outcome.APPLIED)
        except MappingExists:
            # Someone (another agent, a person) created it after we read the list: re-read, never overwrite.
            try:
                found = self._client.get_mapping(zone_id, new.ip)
            except CloudflareAuthError:
                raise
            except CloudflareError as exc:
                return ChangeResult(change, Outcome.CONFLICT, f"already mapped; re-reading it failed: {exc}")
            if found.placement == new.placement:
                return ChangeResult(change, Outcome.EXISTS)
            return ChangeResult(change, Outcome.CONFLICT, f"already mapped to {found.vendor}/{found.region}")
