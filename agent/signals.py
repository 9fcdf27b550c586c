"""Graceful stop on SIGTERM (Kubernetes, Cloud Run, container runtimes before a kill) and SIGINT (Ctrl-C).

The first signal asks the run to stop: discovery schedules no new scope, the apply step finishes the request in
flight (a batch is atomic on the wire; abandoning it half-read would leave us not knowing what was applied), marks
every change not yet sent as ``skipped``, and the summary is still emitted (stdout, ``--summary-file``, JSON log).
The exit code is 128 + the signal number, as shells report it: 130 for SIGINT, 143 for SIGTERM. A second SIGINT
stops at once (Python's default ``KeyboardInterrupt``). A re-run converges: nothing applied is lost.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["EXIT_CODES", "graceful_stop", "request_stop", "reset", "stop_requested"]

logger = logging.getLogger(__name__)

EXIT_CODES = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}

_lock = threading.Lock()
_stopped_by: str | None = None


def stop_requested() -> str | None:
    """The name of the signal that asked the run to stop (``"SIGTERM"``), or None."""
    return _stopped_by


def request_stop(name: str) -> None:
    global _stopped_by
    with _lock:
        if _stopped_by is None:
            _stopped_by = name


def reset() -> None:
    global _stopped_by
    with _lock:
        _stopped_by = None


@contextmanager
def graceful_stop() -> Iterator[None]:
    """Within this block, SIGTERM and SIGINT request a graceful stop instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread only
        yield
        return
    reset()  # a new run: an earlier run's stop does not carry over
    previous: dict[int, Any] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop_requested() is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the user means it
        request_stop(name)
        logger.warning("received %s: finishing the request in flight, then stopping (nothing more is sent)", name)

    for wanted in (signal.SIGTERM, signal.SIGINT):
        previous[int(wanted)] = signal.signal(wanted, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        reset()
