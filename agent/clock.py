"""Injectable time: production uses `SystemClock`; tests use `FakeClock`, whose `sleep` only advances the clock."""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """What retry, rate-limit and deadline logic may ask of time."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (intervals only)."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch (timestamps, HTTP dates)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to, or when someone sleeps on it. Thread-safe.

    `sleeps` records every sleep so tests can assert on backoff and Retry-After handling.
    """

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


SYSTEM_CLOCK = SystemClock()
