"""The collector runner: fan-out over a bounded pool, failure isolation per scope, sharding, deadlines."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agent.collectors.runner import in_shard, run_collectors
from agent.errors import CollectorError
from agent.models import CloudAddress, Scope, Vendor
from tests.collectors.runner_support import TreeCollector


def test_all_scopes_collected() -> None:
    d = run_collectors([TreeCollector()], concurrency=4)
    assert len(d.records) == 3 * 4 * 2 and d.errors == [] and d.complete
    assert d.scopes_done == 3 + 12 and d.counts["aws"] == 24


def test_failures_stay_in_their_scope() -> None:
    """A failing account and a failing region are recorded; every other scope still runs."""
    d = run_collectors([TreeCollector(fail={"aws:acct0", "aws:acct1/region2"})], concurrency=4)
    assert [(e.scope, e.code, e.error) for e in d.errors] == [
        ("aws:acct0", "AccessDenied", "CollectorError"),
        ("aws:acct1/region2", "AccessDenied", "CollectorError"),
    ]
    assert len(d.records) == (4 + 3) * 2
    assert not d.complete


def test_records_before_a_failure_are_kept() -> None:
    class Partial(TreeCollector):
        def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
            yield CloudAddress(ip="10.0.0.1", vendor=Vendor.AWS, region="r", source="aws")
            raise RuntimeError("connection reset")

        def scopes(self) -> Iterator[Scope]:
            yield Scope("aws", ("only",))

    d = run_collectors([Partial()])
    assert [r.ip for r in d.records] == ["10.0.0.1"]
    assert d.errors[0].error == "RuntimeError" and d.errors[0].message == "connection reset"


def test_broken_scopes_listing_does_not_stop_other_sources() -> None:
    class Broken(TreeCollector):
        source = "gcp"

        def scopes(self) -> Iterator[Scope]:
            raise CollectorError("no credentials", vendor="gcp", code="DefaultCredentialsError")

    d = run_collectors([Broken(), TreeCollector(accounts=1, regions=1)])
    assert [e.scope for e in d.errors] == ["gcp:*"] and len(d.records) == 2


def test_concurrency_is_bounded_and_used() -> None:
    collector = TreeCollector(accounts=4, regions=8, delay=0.02)
    started = time.perf_counter()
    run_collectors([collector], concurrency=8)
    elapsed = time.perf_counter() - started
    assert collector.peak == 8
    assert elapsed < 36 * 0.02 / 2  # far below sequential time


@pytest.mark.parametrize("count", [2, 3, 5])
def test_shards_partition_leaf_scopes(count: int) -> None:
    """Every leaf scope is collected by exactly one shard; non-leaf scopes run everywhere."""
    seen: list[str] = []
    for index in range(count):
        d = run_collectors([TreeCollector(accounts=5, regions=6)], shard=(index, count))
        seen.extend(f"{r.account}/{r.region}" for r in d.records if r.ip.endswith(".1"))
        assert d.sharded_out + len({(r.account, r.region) for r in d.records}) == 30
    assert sorted(seen) == sorted({f"acct{a}/region{r}" for a in range(5) for r in range(6)})


def test_in_shard_is_stable() -> None:
    scope = Scope("aws", ("123", "us-east-1"))
    assert [in_shard(scope, (i, 4)) for i in range(4)].count(True) == 1
    assert in_shard(Scope("aws", ("123",), leaf=False), (3, 4))


def test_deadline_skips_new_scopes() -> None:
    calls = iter([10.0, 10.0, 10.0] + [-1.0] * 100)
    d = run_collectors([TreeCollector(accounts=3, regions=2)], concurrency=1, remaining_time=lambda: next(calls))
    assert d.skipped and not d.complete


def test_keep_filters_records_but_counts_all() -> None:
    d = run_collectors([TreeCollector()], keep=lambda r: r.ip.endswith(".1"))
    assert len(d.records) == 12 and d.counts["aws"] == 24
