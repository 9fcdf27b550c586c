"""The runner with worker processes: same results as one process, leaves partitioned, failures and deaths reported.

Workers are real forked processes; each record says which process collected it (its pid in `details`).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.collectors import runner
from agent.collectors.runner import Discovery, run_collectors, worker_of
from agent.config import load_config
from agent.errors import ConfigError
from agent.models import CloudAddress, Scope, Vendor
from agent.pipeline import discover
from tests.collectors.runner_support import TreeCollector as _Tree

pytestmark = pytest.mark.skipif(not runner._can_fork(), reason="worker processes need the fork start method")


class TreeCollector(_Tree):
    """The shared tree, a little bigger by default here: 4 accounts x 5 regions."""

    def __init__(self, accounts: int = 4, regions: int = 5, **kwargs: Any) -> None:
        super().__init__(accounts, regions, **kwargs)


def _found(d: Discovery) -> list[tuple[str, str, str]]:
    return sorted((r.ip, r.account, r.region) for r in d.records)


def _pids(d: Discovery) -> Counter[str]:
    return Counter(dict(r.details)["pid"] for r in d.records)


def _leaf_in(worker: int, processes: int, collector: TreeCollector, shard: tuple[int, int] | None = None) -> str:
    """The label of a leaf that `worker` collects."""
    return next(s.label for s in collector.leaves() if worker_of(s, shard, processes) == worker)


def test_processes_find_what_one_process_finds() -> None:
    alone = run_collectors([TreeCollector()], concurrency=4)
    forked = run_collectors([TreeCollector()], concurrency=4, processes=3)
    assert _found(forked) == _found(alone) and len(forked.records) == 4 * 5 * 2
    assert forked.counts == alone.counts == Counter(aws=40)
    assert forked.scopes_done == alone.scopes_done == 4 + 20  # non-leaf scopes counted once, not once per worker
    assert forked.errors == [] and forked.skipped == [] and forked.complete
    pids = _pids(forked)
    assert str(os.getpid()) not in pids and len(pids) == 3  # collected in three other processes
    assert sum(pids.values()) == 40


@pytest.mark.parametrize("count", [1, 2, 3])
def test_worker_shares_and_outer_shards_partition_the_leaves(count: int) -> None:
    """Every leaf is collected exactly once over all shards x workers; each shard reports what it left to others."""
    collector = TreeCollector(accounts=5, regions=6)
    seen: list[tuple[str, str]] = []
    for index in range(count):
        shard = (index, count) if count > 1 else None
        d = run_collectors([collector], processes=2, shard=shard)
        mine = {(r.account, r.region) for r in d.records}
        assert mine == {tuple(s.path) for s in collector.leaves() if runner.in_shard(s, shard)}  # in_shard unchanged
        assert d.sharded_out + len(mine) == 30
        assert d.scopes_done == 5 + len(mine)
        seen.extend(mine)
    assert sorted(seen) == sorted(tuple(s.path) for s in collector.leaves())


def test_failures_are_isolated_and_reported_once() -> None:
    """A failing account fails in every worker (it runs everywhere) but is reported once, like a failing leaf."""
    collector = TreeCollector(fail=frozenset({"aws:acct0", "aws:acct1/region2"}))
    alone = run_collectors([collector])
    forked = run_collectors([collector], processes=3)
    assert [(e.scope, e.code, e.error) for e in forked.errors] == [
        ("aws:acct0", "AccessDenied", "CollectorError"),
        ("aws:acct1/region2", "AccessDenied", "CollectorError"),
    ]
    assert forked.errors == alone.errors
    assert _found(forked) == _found(alone) and len(forked.records) == (3 * 5 - 1) * 2
    assert forked.scopes_done == alone.scopes_done and not forked.complete


@pytest.mark.parametrize("dead", [0, 1])
def test_a_dead_worker_is_an_error_not_a_hang(dead: int) -> None:
    collector = TreeCollector()
    collector.die = frozenset({_leaf_in(dead, 2, collector)})
    started = time.monotonic()
    d = run_collectors([collector], concurrency=2, processes=2)
    assert time.monotonic() - started < 10
    assert [(e.scope, e.error, e.code) for e in d.errors] == [(f"aws:worker-{dead}", "WorkerDied", "7")]
    assert f"worker {dead} of 2 exited (7)" in d.errors[0].message and not d.complete
    survivor = [s for s in collector.leaves() if worker_of(s, None, 2) != dead]
    assert {(r.account, r.region) for r in d.records} == {tuple(s.path) for s in survivor}
    assert d.scopes_done == 4 + len(survivor)  # non-leaf work counted once, from the surviving worker


def test_keep_filter_runs_in_the_workers() -> None:
    d = run_collectors([TreeCollector()], keep=lambda r: r.ip.endswith(".1"), processes=2)
    assert len(d.records) == 20 and all(r.ip.endswith(".1") for r in d.records)
    assert d.counts["aws"] == 40


def test_deadline_is_inherited_and_skips_are_reported_once() -> None:
    d = run_collectors([TreeCollector()], remaining_time=lambda: -1.0, processes=3)
    assert d.skipped == [f"aws:acct{a}" for a in range(4)] and d.records == [] and not d.complete


def test_a_result_that_cannot_travel_is_reported() -> None:
    class Unpicklable(TreeCollector):
        def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
            for item in super().collect(scope):
                if isinstance(item, CloudAddress):
                    details = ((lambda: 0),)  # a function does not pickle
                    item = CloudAddress(ip=item.ip, vendor=Vendor.AWS, region="r", details=details)  # type: ignore[arg-type]
                yield item

    d = run_collectors([Unpicklable(accounts=1, regions=4)], processes=2)
    assert {e.scope for e in d.errors} <= {"aws:worker-0", "aws:worker-1"} and d.errors and not d.complete
    assert all("pickle" in e.message.lower() for e in d.errors)


def test_without_fork_it_warns_and_runs_in_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runner, "_can_fork", lambda: False)
    with caplog.at_level(logging.WARNING, logger="agent.collectors.runner"):
        d = run_collectors([TreeCollector()], processes=4)
    assert "fork" in caplog.text and len(d.records) == 40
    assert set(_pids(d)) == {str(os.getpid())}


def test_config_key_reaches_the_runner(tmp_path: Path) -> None:
    """`discovery_processes` from the config file: validated, and `pipeline.discover` forks that many workers."""
    (tmp_path / "bad.yaml").write_text("discovery_processes: 0\n")
    with pytest.raises(ConfigError, match=r"discovery_processes: .*greater than or equal to 1"):
        load_config(tmp_path / "bad.yaml", env={})
    (tmp_path / "good.yaml").write_text("discovery_processes: 2\nconcurrency: 2\n")
    config = load_config(tmp_path / "good.yaml", env={})
    d = discover(config, collectors=[TreeCollector()])
    assert len(d.records) == 40 and len(_pids(d)) == 2 and str(os.getpid()) not in _pids(d)
