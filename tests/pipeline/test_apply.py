"""The apply step against the Cloudflare fake over HTTP: batches, per-item failures, the v1 1145 race, dry run."""

from __future__ import annotations

import pytest

from agent.apply import ClientWriter, DryRunWriter, apply_plan
from agent.cloudflare import ApiFamily, CloudflareClient, CloudflareCredentials, RateLimiter
from agent.plan import Change, Plan
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


def create(ip: str, vendor: str = "aws", region: str = "us-east-1") -> Change:
    return Change("create", ip, vendor, region, source="test")


def test_v2_batches_of_100_and_per_item_failures(cf: FakeCloudflare, zone: str) -> None:
    """250 creates go out as 3 batch requests; an item the API refuses is a failed result, the rest apply."""
    plan = Plan(
        creates=[create(f"10.0.{i // 250}.{i % 250}") for i in range(249)] + [create("10.9.9.9", "aws", "nowhere-1")]
    )
    with client_for(cf, "v2") as client:
        results = apply_plan(ClientWriter(client, "v2"), zone, plan)
    assert len(writes(cf)) == 3
    failed = [r for r in results if r.status == "failed"]
    assert [r.change.ip for r in failed] == ["10.9.9.9"] and failed[0].error
    assert sum(r.status == "applied" for r in results) == 249
    assert len(cf.mappings(zone)) == 249


@pytest.mark.parametrize(("existing", "status"), [(("aws", "us-east-1"), "exists"), (("aws", "eu-west-1"), "conflict")])
def test_v1_create_race_is_not_a_failure(cf: FakeCloudflare, zone: str, existing: tuple[str, str], status: str) -> None:
    """On the older family, a 1145 from a concurrent writer is re-read: same mapping → exists, other → conflict,
    and the concurrent writer's mapping is never overwritten."""
    plan = Plan(creates=[create("192.0.2.1"), create("192.0.2.2")])
    cf.set_mapping(zone, "192.0.2.1", *existing)  # written by someone else after our read
    with client_for(cf, "v1") as client:
        results = apply_plan(ClientWriter(client, "v1"), zone, plan)
    assert {r.change.ip: r.status for r in results} == {"192.0.2.1": status, "192.0.2.2": "applied"}
    assert cf.mappings(zone)["192.0.2.1"] == existing
    assert [r.method for r in writes(cf)] == ["POST", "POST"]


def test_deletes_first_then_upserts(cf: FakeCloudflare, zone: str) -> None:
    cf.set_mapping(zone, "192.0.2.9", "aws", "us-east-1")
    cf.set_mapping(zone, "192.0.2.2", "aws", "us-east-1")
    plan = Plan(
        creates=[create("192.0.2.1")],
        updates=[Change("update", "192.0.2.2", "aws", "eu-west-1", "aws", "us-east-1")],
        deletes=[Change("delete", "192.0.2.9", "aws", "us-east-1", "aws", "us-east-1")],
    )
    with client_for(cf, "v2") as client:
        results = apply_plan(ClientWriter(client, "v2"), zone, plan)
    assert [r.method for r in writes(cf)] == ["DELETE", "PUT"]
    assert all(r.status == "applied" for r in results)
    assert cf.mappings(zone) == {"192.0.2.1": ("aws", "us-east-1"), "192.0.2.2": ("aws", "eu-west-1")}


def test_dry_run_writer_sends_nothing(cf: FakeCloudflare, zone: str) -> None:
    plan = Plan(creates=[create(f"10.0.0.{i}") for i in range(150)])
    results = apply_plan(DryRunWriter("v2"), zone, plan, dry_run=True)
    assert {r.status for r in results} == {"planned"} and len(results) == 150
    assert cf.requests == []


def test_auth_failure_mid_apply_stops_the_rest(cf: FakeCloudflare, zone: str) -> None:
    plan = Plan(creates=[create(f"10.0.{i // 250}.{i % 250}") for i in range(300)])
    cf.fail_next(403, code=10000, count=1, match="PUT")
    with client_for(cf, "v2") as client:
        results = apply_plan(ClientWriter(client, "v2"), zone, plan)
    assert len(writes(cf)) == 1
    assert sum(r.status == "failed" for r in results) == 100
    assert sum(r.status == "skipped" for r in results) == 200
