"""Runs collectors: fans their scopes out over a bounded thread pool, isolates failures per scope, shards leaf scopes.

Discovery runs once per run and serves every zone. A scope that raises is recorded as a `ScopeError` (error class,
vendor code, message) and never stops the others; records it yielded before failing are kept. Child scopes returned
by a scope are scheduled as soon as it finishes, so an organization's accounts, and each account's regions, are
enumerated concurrently too.
"""

from __future__ import annotations

import logging
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from agent.collectors.base import Collector
from agent.errors import CollectorError
from agent.models import CloudAddress, Scope, ScopeError

__all__ = ["DEFAULT_CONCURRENCY", "Discovery", "in_shard", "run_collectors"]

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16
MAX_ERROR_MESSAGE = 500


@dataclass
class Discovery:
    """What a discovery pass found. `counts` counts every address seen per source, before the `keep` filter."""

    records: list[CloudAddress] = field(default_factory=list)
    errors: list[ScopeError] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    scopes_done: int = 0
    skipped: list[str] = field(default_factory=list)  # scope labels not started (deadline)
    sharded_out: int = 0  # leaf scopes left to other shards

    @property
    def complete(self) -> bool:
        """True when every scope ran to its end: only then may a run delete mappings."""
        return not self.errors and not self.skipped


def in_shard(scope: Scope, shard: tuple[int, int] | None) -> bool:
    """Whether this worker owns `scope`. Non-leaf scopes (cheap enumeration) run on every shard."""
    if shard is None or not scope.leaf:
        return True
    index, count = shard
    return zlib.crc32(scope.label.encode()) % count == index


def _error_of(scope: Scope, exc: BaseException) -> ScopeError:
    code = exc.code if isinstance(exc, CollectorError) else str(getattr(exc, "code", "") or "")
    message = str(exc) or exc.__class__.__name__
    return ScopeError(scope=scope.label, error=exc.__class__.__name__, code=code, message=message[:MAX_ERROR_MESSAGE])


class _Progress:
    """One status line on a terminal (stderr), nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()

    def show(self, d: Discovery, pending: int) -> None:
        if self.enabled:
            sys.stderr.write(
                f"\rdiscovery: {d.scopes_done} scopes done, {pending} running, "
                f"{sum(d.counts.values())} addresses, {len(d.errors)} errors   "
            )
            sys.stderr.flush()

    def end(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def run_collectors(
    collectors: Sequence[Collector],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    shard: tuple[int, int] | None = None,
    keep: Callable[[CloudAddress], bool] | None = None,
    remaining_time: Callable[[], float] | None = None,
    progress: bool = False,
) -> Discovery:
    """Collect every scope of every collector; see the module docstring."""
    discovery = Discovery()
    lock = threading.Lock()
    status = _Progress(progress)

    def work(collector: Collector, scope: Scope) -> list[Scope]:
        children: list[Scope] = []
        found: list[CloudAddress] = []
        seen = 0
        try:
            for item in collector.collect(scope):
                if isinstance(item, Scope):
                    children.append(item)
                    continue
                seen += 1
                if keep is None or keep(item):
                    found.append(item)
        finally:
            with lock:
                discovery.counts[collector.source] += seen
                discovery.records.extend(found)
        return children

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="collect") as pool:
        running: dict[Future[list[Scope]], tuple[Collector, Scope]] = {}

        def submit(collector: Collector, scopes: Iterable[Scope]) -> None:
            for scope in scopes:
                if not in_shard(scope, shard):
                    discovery.sharded_out += 1
                    continue
                if remaining_time is not None and remaining_time() <= 0:
                    discovery.skipped.append(scope.label)
                    continue
                running[pool.submit(work, collector, scope)] = (collector, scope)

        for collector in collectors:
            try:
                roots = list(collector.scopes())
            except Exception as exc:  # a broken source must not stop the others
                logger.warning("source %s: could not list its scopes: %s", collector.source, exc)
                discovery.errors.append(_error_of(Scope(collector.source, ("*",)), exc))
                continue
            submit(collector, roots)

        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                collector, scope = running.pop(future)
                discovery.scopes_done += 1
                try:
                    children = future.result()
                except Exception as exc:
                    error = _error_of(scope, exc)
                    logger.warning("scope %s failed: %s %s: %s", scope.label, error.error, error.code, error.message)
                    discovery.errors.append(error)
                    continue
                submit(collector, children)
            status.show(discovery, len(running))
    status.end()
    discovery.errors.sort(key=lambda e: e.scope)
    return discovery
