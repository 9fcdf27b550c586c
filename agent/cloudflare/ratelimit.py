"""The client-side rate limiter shared by every `CloudflareClient` of the process.

Cloudflare allows 1,200 requests per 5 minutes per user, counted across the dashboard, every API key and token
together, and refuses *every* call for five minutes once that is exceeded (reference section 1.3). A 429 is therefore
far more expensive than waiting, so the agent paces itself:

* ``DEFAULT_REQUESTS`` = 1,000 per ``DEFAULT_PER_SECONDS`` = 300 s (a sliding window): 200 requests of head room for
  people using the dashboard or other tools with the same user while the agent runs;
* a burst allowance of ``DEFAULT_BURST_REQUESTS`` = 50 per second: short bursts go out at full speed, far below the
  200 requests per second per IP limit;
* `pause_for` lets the server's own signals (``Ratelimit: "default";r=0;t=N``, ``X-RateLimit-Remaining: 0``,
  ``Retry-After`` on a 429) hold back every client sharing the limiter, not only the one that saw the header.

The window accounting is pyrate-limiter's ``InMemoryBucket`` (sliding-window log). We feed it timestamps from the
injectable `agent.clock.Clock` and do the waiting ourselves on that clock, instead of using pyrate's ``Limiter``,
because the ``Limiter`` sleeps with ``time.sleep`` and tests must stay instant on a `FakeClock`.
"""

from __future__ import annotations

import logging
import math
import threading

from pyrate_limiter import InMemoryBucket, Rate, RateItem
from pyrate_limiter.abstracts.algorithm import Decision
from pyrate_limiter.utils import validate_rate_list

from agent.clock import SYSTEM_CLOCK, Clock

__all__ = [
    "DEFAULT_BURST_REQUESTS",
    "DEFAULT_BURST_SECONDS",
    "DEFAULT_PER_SECONDS",
    "DEFAULT_REQUESTS",
    "RateLimiter",
    "default_rate_limiter",
    "set_default_rate_limiter",
]

logger = logging.getLogger(__name__)

DEFAULT_REQUESTS = 1000
DEFAULT_PER_SECONDS = 300.0
DEFAULT_BURST_REQUESTS = 50
DEFAULT_BURST_SECONDS = 1.0


class RateLimiter:
    """At most `requests` per `per_seconds` (sliding window), optionally also at most `burst_requests` per
    `burst_seconds`; thread-safe; time comes from `clock` (waits use `clock.sleep`).

    `try_acquire()` never blocks: it takes a slot and returns 0.0, or returns the seconds to wait. `acquire()` waits
    on the clock until a slot is free and returns the total time waited.
    """

    def __init__(
        self,
        requests: int = DEFAULT_REQUESTS,
        per_seconds: float = DEFAULT_PER_SECONDS,
        *,
        burst_requests: int | None = DEFAULT_BURST_REQUESTS,
        burst_seconds: float = DEFAULT_BURST_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        if requests < 1 or per_seconds <= 0:
            raise ValueError(
                f"rate limit must allow at least 1 request per positive period, got {requests}/{per_seconds}s"
            )
        rates = [Rate(requests, _ms(per_seconds))]
        if burst_requests is not None:
            burst = Rate(burst_requests, _ms(burst_seconds))
            # pyrate wants the shorter window to have the smaller limit and the higher density; otherwise the burst
            # limit is pointless (it never binds before the main one), which is a configuration mistake worth naming.
            if not validate_rate_list([burst, rates[0]]):
                raise ValueError(
                    f"burst limit {burst_requests}/{burst_seconds}s must be a shorter window with fewer requests and a "
                    f"higher rate than {requests}/{per_seconds}s (or pass burst_requests=None)"
                )
            rates.insert(0, burst)
        self.requests = requests
        self.per_seconds = per_seconds
        self.burst_requests = burst_requests
        self.burst_seconds = burst_seconds
        self.clock: Clock = clock or SYSTEM_CLOCK
        self._bucket = InMemoryBucket(rates)
        self._lock = threading.Lock()
        self._paused_until = -math.inf
        self.waited = 0.0  # total seconds spent waiting in acquire(), for reports and tests

    def __repr__(self) -> str:
        burst = f", burst={self.burst_requests}/{self.burst_seconds}s" if self.burst_requests is not None else ""
        return f"RateLimiter({self.requests}/{self.per_seconds}s{burst})"

    def try_acquire(self) -> float:
        """Take one slot now and return 0.0, or take nothing and return how many seconds to wait first."""
        with self._lock:
            now = self.clock.monotonic()
            if now < self._paused_until:
                return self._paused_until - now
            now_ms = _ms(now)
            self._bucket.leak(now_ms)
            decision = self._bucket.put_decision(RateItem("cloudflare", now_ms))
            assert isinstance(decision, Decision)  # InMemoryBucket is synchronous
            if decision.allowed:
                return 0.0
            wait_ms = decision.retry_after_ms if decision.retry_after_ms is not None else 1
            return max(wait_ms, 1) / 1000.0

    def acquire(self) -> float:
        """Block (on the clock) until a slot is free, take it, and return the seconds waited."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                if waited:
                    logger.debug("rate limiter held a Cloudflare request back for %.3fs", waited)
                    with self._lock:
                        self.waited += waited
                return waited
            self.clock.sleep(wait)
            waited += wait

    def pause_for(self, seconds: float) -> None:
        """Hold every request back for `seconds` from now (the server said the quota is spent)."""
        if seconds <= 0:
            return
        with self._lock:
            until = self.clock.monotonic() + seconds
            if until > self._paused_until:
                self._paused_until = until
        logger.info("Cloudflare rate limit reached: pausing requests for %.1fs", seconds)


def _ms(seconds: float) -> int:
    return math.floor(seconds * 1000)


_default_lock = threading.Lock()
_default: RateLimiter | None = None


def default_rate_limiter() -> RateLimiter:
    """The process-wide limiter every client uses unless given its own (created on first use, system clock)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RateLimiter()
        return _default


def set_default_rate_limiter(limiter: RateLimiter | None) -> None:
    """Replace the process-wide limiter (e.g. from configuration at start-up); None restores the default."""
    global _default
    with _default_lock:
        _default = limiter
