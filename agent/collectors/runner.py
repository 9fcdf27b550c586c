"""Runs collectors: fans their scopes out over a bounded thread pool, isolates failures per scope, shards leaf scopes.

Discovery runs once per run and serves every zone. A scope that raises is recorded as a `ScopeError` (error class,
vendor code, message) and never stops the others; records it yielded before failing are kept. Child scopes returned
by a scope are scheduled as soon as it finishes, so an organization's accounts, and each account's regions, are
enumerated concurrently too.

Several processes (`processes > 1`). Threads share one GIL, and an SDK spends milliseconds of CPU per leaf scope
(building a client, signing, parsing XML or JSON): with hundreds of account x region leaves, one process is CPU-bound
long before the cloud APIs are. So the runner can fork worker processes before any collector work starts. Each
worker runs the threaded runner over the same (inherited) collector instances, runs every non-leaf scope (as a
`--shard` does) and collects only its share of the leaf scopes: with ``h = crc32(label)``, a leaf belongs to worker
``w`` of this shard ``(index, count)`` iff ``h % count == index`` and ``(h // count) % processes == w``, so worker
shares and outer shards partition the leaves. Workers pickle their result back through a pipe; the parent counts
non-leaf work once (from the first worker that reported) and de-duplicates errors, which non-leaf scopes raise in
every worker. A worker that dies before reporting becomes one `ScopeError` per source (``aws:worker-1``), so the run
is incomplete, never stuck. `fork` is required (the collectors and callables are inherited, not pickled); without it
the runner warns and stays in one process. Each worker gets the whole `concurrency`: a leaf mostly waits on the
network, so a worker with fewer threads leaves its core idle (AWS bench, 340 leaves on 2 cores: 2 workers x 32
threads 1.6 s, 2 x 16 2.2 s, 1 x 32 2.4 s). The price: every worker repeats the non-leaf calls (AssumeRole,
DescribeRegions...).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from typing import Any

from agent.collectors.base import Collector
from agent.errors import CollectorError
from agent.models import CloudAddress, Scope, ScopeError

__all__ = ["DEFAULT_CONCURRENCY", "Discovery", "in_shard", "run_collectors", "worker_of"]

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


def worker_of(scope: Scope, shard: tuple[int, int] | None, processes: int) -> int:
    """Which worker process of its shard collects leaf `scope`: ``(crc32(label) // count) % processes``.

    Independent of `in_shard` (which uses ``crc32 % count``), so every shard spreads its leaves over all its workers.
    """
    count = 1 if shard is None else shard[1]
    return (zlib.crc32(scope.label.encode()) // count) % processes


def _error_of(scope: Scope, exc: BaseException) -> ScopeError:
    code = exc.code if isinstance(exc, CollectorError) else str(getattr(exc, "code", "") or "")
    message = str(exc) or exc.__class__.__name__
    return ScopeError(scope=scope.label, error=exc.__class__.__name__, code=code, message=message[:MAX_ERROR_MESSAGE])


class _Progress:
    """The discovery's part of the terminal status line (`agent.progress`); nothing when not on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._display: Any = None
        if self.enabled:
            from agent.progress import progress_display

            self._display = progress_display(True, "discovery: starting")
            self._display.__enter__()  # ended by `end`; shares the CLI's display when one runs

    def show(self, parts: Sequence[Discovery], pending: int, unit: str = "scopes", last: str = "") -> None:
        if self.enabled:
            from agent.progress import status

            done = sum(d.scopes_done for d in parts)
            addresses = sum(sum(d.counts.values()) for d in parts)
            errors = sum(len(d.errors) for d in parts)
            latest = f" | {last[:60]}" if last else ""
            status(
                f"discovery: {done} scopes done, {pending} {unit} running, {addresses} addresses, "
                f"{errors} errors{latest}"
            )

    def end(self) -> None:
        if self._display is not None:
            self._display.__exit__(None, None, None)
            self._display = None


def _can_fork() -> bool:
    """Whether worker processes can inherit the collectors (POSIX `fork`; not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


@dataclass
class _Parts:
    """One worker's pass, split by kind of work.

    `leaves`: leaf scopes, each collected by exactly one worker. `shared`: everything every worker does (listing
    scopes, non-leaf scopes, leaves counted as `sharded_out`), which the parent takes from one worker only.
    """

    leaves: Discovery = field(default_factory=Discovery)
    shared: Discovery = field(default_factory=Discovery)

    def of(self, scope: Scope) -> Discovery:
        return self.leaves if scope.leaf else self.shared


def run_collectors(
    collectors: Sequence[Collector],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    shard: tuple[int, int] | None = None,
    keep: Callable[[CloudAddress], bool] | None = None,
    remaining_time: Callable[[], float] | None = None,
    progress: bool = False,
    processes: int = 1,
) -> Discovery:
    """Collect every scope of every collector; see the module docstring.

    `concurrency` bounds the scopes in flight in each process; `processes` > 1 forks that many workers (see the module
    docstring), each with its own pool of `concurrency` threads.
    """
    status = _Progress(progress)
    if processes > 1 and collectors:
        if _can_fork():
            return _run_forked(
                collectors, processes, concurrency=concurrency, shard=shard, keep=keep,
                remaining_time=remaining_time, status=status,
            )  # fmt: skip
        logger.warning(
            "discovery_processes=%d needs the 'fork' start method, absent here: using one process", processes
        )
    parts = _collect(
        collectors, concurrency=concurrency, shard=shard, keep=keep, remaining_time=remaining_time, status=status
    )
    return _merge([parts])


def _collect(
    collectors: Sequence[Collector],
    *,
    concurrency: int,
    shard: tuple[int, int] | None,
    keep: Callable[[CloudAddress], bool] | None,
    remaining_time: Callable[[], float] | None,
    status: _Progress,
    worker: tuple[int, int] | None = None,
) -> _Parts:
    """The threaded runner. `worker` ``(index, processes)``: collect only that worker's share of the leaf scopes."""
    parts = _Parts()
    lock = threading.Lock()

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
            part = parts.of(scope)
            with lock:
                part.counts[collector.source] += seen
                part.records.extend(found)
        return children

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="collect") as pool:
        running: dict[Future[list[Scope]], tuple[Collector, Scope]] = {}

        def submit(collector: Collector, scopes: Iterable[Scope]) -> None:
            for scope in scopes:
                if not in_shard(scope, shard):
                    parts.shared.sharded_out += 1
                    continue
                if worker is not None and scope.leaf and worker_of(scope, shard, worker[1]) != worker[0]:
                    continue  # a sibling worker process collects it
                if remaining_time is not None and remaining_time() <= 0:
                    parts.of(scope).skipped.append(scope.label)
                    continue
                running[pool.submit(work, collector, scope)] = (collector, scope)

        for collector in collectors:
            try:
                roots = list(collector.scopes())
            except Exception as exc:  # a broken source must not stop the others
                logger.warning("source %s: could not list its scopes: %s", collector.source, exc)
                parts.shared.errors.append(_error_of(Scope(collector.source, ("*",)), exc))
                continue
            submit(collector, roots)

        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                collector, scope = running.pop(future)
                part = parts.of(scope)
                part.scopes_done += 1
                try:
                    children = future.result()
                except Exception as exc:
                    error = _error_of(scope, exc)
                    logger.warning("scope %s failed: %s %s: %s", scope.label, error.error, error.code, error.message)
                    part.errors.append(error)
                    continue
                submit(collector, children)
            status.show((parts.leaves, parts.shared), len(running), last=scope.label)
    status.end()
    return parts


def _merge(results: Sequence[_Parts]) -> Discovery:
    """One `Discovery` from workers' parts: leaf work from all, shared work from the first, errors de-duplicated."""
    merged = Discovery()
    counted = [results[0].shared] if results else []
    for part in [*counted, *(r.leaves for r in results)]:
        merged.records.extend(part.records)
        merged.counts.update(part.counts)
        merged.scopes_done += part.scopes_done
        merged.sharded_out += part.sharded_out
    errors: dict[tuple[str, str, str], ScopeError] = {}
    skipped: dict[str, None] = {}
    for result in results:
        for part in (result.shared, result.leaves):
            for error in part.errors:
                errors.setdefault((error.scope, error.code, error.message), error)
            skipped.update(dict.fromkeys(part.skipped))
    merged.errors = sorted(errors.values(), key=lambda e: e.scope)
    merged.skipped = list(skipped)
    return merged


def _run_forked(
    collectors: Sequence[Collector],
    processes: int,
    *,
    concurrency: int,
    shard: tuple[int, int] | None,
    keep: Callable[[CloudAddress], bool] | None,
    remaining_time: Callable[[], float] | None,
    status: _Progress,
) -> Discovery:
    """Fork `processes` workers, gather their parts as they report, turn silent deaths into errors."""
    context = multiprocessing.get_context("fork")
    pipes = [context.Pipe(duplex=False) for _ in range(processes)]
    options = {"concurrency": concurrency, "shard": shard, "keep": keep, "remaining_time": remaining_time}
    workers = []
    waiting = set(range(processes))
    try:
        for index in range(processes):
            process = context.Process(
                target=_worker, args=(index, pipes, collectors, options), name=f"discovery-{index}", daemon=True
            )
            process.start()
            workers.append(process)
        for _, writer in pipes:
            writer.close()  # so that a worker's death reads as end of file
        results: dict[int, _Parts] = {}
        failures: dict[int, str] = {}
        while waiting:
            handles: dict[Any, int] = {pipes[i][0]: i for i in waiting}
            handles.update({workers[i].sentinel: i for i in waiting})
            for handle in wait_ready(list(handles)):
                index = handles[handle]
                if index not in waiting:
                    continue
                reader = pipes[index][0]
                if reader.poll():
                    try:
                        results[index] = reader.recv()
                    except Exception as exc:  # end of file: it died; or its result did not unpickle
                        failures[index] = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
                elif workers[index].is_alive():
                    continue  # its sentinel is not ready yet: the reader woke us up
                waiting.discard(index)
                reported = [results[i] for i in sorted(results)]
                status.show([r.leaves for r in reported] + [r.shared for r in reported[:1]], len(waiting), "workers")
        status.end()
    finally:  # normally every worker has reported and is exiting; on an exception here, stop them now
        for process in workers:
            if waiting:
                process.kill()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        for reader, _ in pipes:
            reader.close()
    merged = _merge([results[i] for i in sorted(results)])
    for index in range(processes):
        if index in results:
            continue
        exitcode = workers[index].exitcode
        how = f"was killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exited ({exitcode})"
        detail = f" ({failures[index]})" if index in failures else ""
        for source in dict.fromkeys(c.source for c in collectors):
            merged.errors.append(
                ScopeError(
                    scope=f"{source}:worker-{index}",
                    error="WorkerDied",
                    code=str(exitcode),
                    message=f"discovery worker {index} of {processes} {how} before reporting{detail}; "
                    "its share of the leaf scopes is missing",
                )
            )
        logger.warning("discovery worker %d of %d %s before reporting its results", index, processes, how)
    merged.errors.sort(key=lambda e: e.scope)
    return merged


def _worker(
    index: int, pipes: list[tuple[Connection, Connection]], collectors: Sequence[Collector], options: dict[str, Any]
) -> None:
    """In the forked child: collect this worker's share, send it to the parent, exit at once (no inherited cleanup)."""
    writer = pipes[index][1]
    for i, (reader, other) in enumerate(pipes):
        reader.close()
        if i != index:
            other.close()
    parts = _collect(collectors, status=_Progress(False), worker=(index, len(pipes)), **options)
    try:
        writer.send(parts)
    except Exception as exc:  # e.g. a record that does not pickle: say so rather than die silently
        failed = _Parts()
        for source in dict.fromkeys(c.source for c in collectors):
            failed.leaves.errors.append(_error_of(Scope(source, (f"worker-{index}",)), exc))
        writer.send(failed)
    writer.close()
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
