"""The apply step against the Cloudflare fake over HTTP: stores per API family, batches, per-item failures, the v1
1145 race, dry run, and the accounting in `agent.apply` (one result per change, in plan order)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.apply import apply_changes
from agent.cloudflare import ApiFamily, CloudflareClient, CloudflareCredentials, RateLimiter
from agent.cloudflare.store import DryRunStore, V2Store, store_for
from agent.cloudflare.store_v1 import V1Store
from agent.models import Action, Change, ChangeResult, Outcome, RegionMapping, Vendor
from agent.plan import Plan
from agent.sandbox.cloudflare import FakeCloudflare
from tests.pipeline.conftest import TOKEN, writes


def client_for(cf: FakeCloudflare, family: str) -> CloudflareClient:
    return CloudflareClient(
        CloudflareCredentials(TOKEN),
        base_url=cf.base_url,
        family=ApiFamily(family),
        max_retries=0,
        rate_limiter=RateLimiter(100000, 1, burst_requests=None),
    )


def mapping(ip: str, vendor: str = "aws", region: str = "us-east-1") -> RegionMapping:
    return RegionMapping(ip, Vendor(vendor), region)


def create(ip: str, vendor: str = "aws", region: str = "us-east-1") -> Change:
    return Change(Action.CREATE, mapping(ip, vendor, region), None, source="test")


def update(ip: str, old: tuple[str, str], new: tuple[str, str]) -> Change:
    return Change(Action.UPDATE, mapping(ip, *new), mapping(ip, *old), source="test")


def delete(ip: str, vendor: str = "aws", region: str = "us-east-1") -> Change:
    return Change(Action.DELETE, None, mapping(ip, vendor, region))


def test_v2_batches_of_100_and_per_item_failures(cf: FakeCloudflare, zone: str) -> None:
    """250 creates go out as 3 batch requests; an item the API refuses is a failed result, the rest apply."""
    creates = [create(f"10.0.{i // 250}.{i % 250}") for i in range(249)]
    plan = Plan(creates=(*creates, create("10.9.9.9", "aws", "nowhere-1")))
    with client_for(cf, "v2") as client:
        results = apply_changes(V2Store(client), zone, plan)
    assert len(writes(cf)) == 3
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    assert [r.change.ip for r in failed] == ["10.9.9.9"] and failed[0].error
    assert sum(r.outcome is Outcome.APPLIED for r in results) == 249
    assert len(cf.mappings(zone)) == 249
    assert [r.change for r in results] == list(plan.changes)  # one result per change, in plan order


@pytest.mark.parametrize(
    ("existing", "outcome"), [(("aws", "us-east-1"), Outcome.EXISTS), (("aws", "eu-west-1"), Outcome.CONFLICT)]
)
def test_v1_create_race_is_not_a_failure(
    cf: FakeCloudflare, zone: str, existing: tuple[str, str], outcome: Outcome
) -> None:
    """On the older family, a 1145 from a concurrent writer is re-read: same mapping → exists, other → conflict,
    and the concurrent writer's mapping is never overwritten."""
    plan = Plan(creates=(create("192.0.2.1"), create("192.0.2.2")))
    cf.set_mapping(zone, "192.0.2.1", *existing)  # written by someone else after our read
    with client_for(cf, "v1") as client:
        results = apply_changes(V1Store(client), zone, plan)
    assert {r.change.ip: r.outcome for r in results} == {"192.0.2.1": outcome, "192.0.2.2": Outcome.APPLIED}
    assert cf.mappings(zone)["192.0.2.1"] == existing
    assert [r.method for r in writes(cf)] == ["POST", "POST"]


def test_v1_updates_are_batch_patches_and_deletes_batch_deletes(cf: FakeCloudflare, zone: str) -> None:
    cf.set_mapping(zone, "192.0.2.2", "aws", "us-east-1")
    cf.set_mapping(zone, "192.0.2.9", "aws", "us-east-1")
    plan = Plan(
        creates=(create("192.0.2.1"),),
        updates=(update("192.0.2.2", ("aws", "us-east-1"), ("aws", "eu-west-1")),),
        deletes=(delete("192.0.2.9"),),
    )
    with client_for(cf, "v1") as client:
        results = apply_changes(store_for(client, ApiFamily.V1, dry_run=False, batch_size=100), zone, plan)
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in writes(cf)] == [
        ("DELETE", "batch"),
        ("POST", "origin_cloud_regions"),
        ("PATCH", "batch"),
    ]
    assert all(r.outcome is Outcome.APPLIED for r in results)
    assert cf.mappings(zone) == {"192.0.2.1": ("aws", "us-east-1"), "192.0.2.2": ("aws", "eu-west-1")}


def test_deletes_first_then_upserts(cf: FakeCloudflare, zone: str) -> None:
    cf.set_mapping(zone, "192.0.2.9", "aws", "us-east-1")
    cf.set_mapping(zone, "192.0.2.2", "aws", "us-east-1")
    plan = Plan(
        creates=(create("192.0.2.1"),),
        updates=(update("192.0.2.2", ("aws", "us-east-1"), ("aws", "eu-west-1")),),
        deletes=(delete("192.0.2.9"),),
    )
    with client_for(cf, "v2") as client:
        results = apply_changes(V2Store(client), zone, plan)
    assert [r.method for r in writes(cf)] == ["DELETE", "PUT"]
    assert all(r.outcome is Outcome.APPLIED for r in results)
    assert cf.mappings(zone) == {"192.0.2.1": ("aws", "us-east-1"), "192.0.2.2": ("aws", "eu-west-1")}


def test_dry_run_store_sends_nothing(cf: FakeCloudflare, zone: str) -> None:
    plan = Plan(creates=tuple(create(f"10.0.0.{i}") for i in range(150)))
    store = DryRunStore(ApiFamily.V2)
    assert [len(batch) for batch, _ in store.requests(zone, plan.changes)] == [100, 50]  # the batches v2 would send
    results = apply_changes(store, zone, plan)
    assert {r.outcome for r in results} == {Outcome.PLANNED} and len(results) == 150
    assert cf.requests == []


def test_auth_failure_mid_apply_stops_the_rest(cf: FakeCloudflare, zone: str) -> None:
    plan = Plan(creates=tuple(create(f"10.0.{i // 250}.{i % 250}") for i in range(300)))
    cf.fail_next(403, code=10000, count=1, match="PUT")
    with client_for(cf, "v2") as client:
        results = apply_changes(V2Store(client), zone, plan)
    assert len(writes(cf)) == 1
    assert sum(r.outcome is Outcome.FAILED for r in results) == 100
    assert sum(r.outcome is Outcome.SKIPPED for r in results) == 200


def test_a_change_the_store_does_not_answer_for_is_failed() -> None:
    """The accounting never drops a change, whatever a store answers."""

    class Forgetful:
        family = ApiFamily.V2

        def apply(self, zone_id: str, changes: Sequence[Change]) -> list[ChangeResult]:
            return [ChangeResult(changes[1], Outcome.APPLIED)]

    plan = Plan(creates=(create("192.0.2.1"), create("192.0.2.2")))
    results = apply_changes(Forgetful(), "z", plan)
    assert [(r.change.ip, r.outcome) for r in results] == [
        ("192.0.2.1", Outcome.FAILED),
        ("192.0.2.2", Outcome.APPLIED),
    ]


def test_stores_refuse_a_client_of_the_other_family(cf: FakeCloudflare) -> None:
    with client_for(cf, "v1") as client, pytest.raises(ValueError, match="v2 client"):
        V2Store(client)
    with client_for(cf, "v2") as client, pytest.raises(ValueError, match="v1 client"):
        V1Store(client)


def test_change_carries_new_and_old_mappings() -> None:
    with pytest.raises(ValueError):
        Change(Action.CREATE, None, mapping("192.0.2.1"))
    with pytest.raises(ValueError):
        Change(Action.UPDATE, mapping("192.0.2.1"), mapping("192.0.2.2"))
    change = update("192.0.2.1", ("aws", "us-east-1"), ("gcp", "europe-west1"))
    assert change.ip == "192.0.2.1" and change.old is not None and change.old.region == "us-east-1"


@pytest.mark.parametrize("family", ["v2", "v1"])
def test_dry_run_batches_are_the_requests_a_real_apply_sends(cf: FakeCloudflare, zone: str, family: str) -> None:
    for i in range(3):
        cf.set_mapping(zone, f"192.0.2.{10 + i}", "aws", "us-east-1")  # to update
        cf.set_mapping(zone, f"192.0.2.{20 + i}", "aws", "us-east-1")  # to delete
    plan = Plan(
        creates=tuple(create(f"192.0.2.{i}") for i in range(3)),
        updates=tuple(update(f"192.0.2.{10 + i}", ("aws", "us-east-1"), ("aws", "eu-west-1")) for i in range(3)),
        deletes=tuple(delete(f"192.0.2.{20 + i}") for i in range(3)),
    )
    dry = DryRunStore(ApiFamily(family), batch_size=2)
    planned = [[c.ip for c in batch] for batch, _ in dry.requests(zone, plan.changes)]
    with client_for(cf, family) as client:
        results = apply_changes(store_for(client, ApiFamily(family), dry_run=False, batch_size=2), zone, plan)
    assert all(r.outcome is Outcome.APPLIED for r in results)
    sent = []
    for request in writes(cf):
        body = request.body
        if isinstance(body, dict):  # v1 POST: one IP
            sent.append([body["ip"]])
        else:
            sent.append([item if isinstance(item, str) else item.get("origin_ip", item.get("ip")) for item in body])
    assert planned == sent
