"""When and how long to retry a Cloudflare request: status rules, `Retry-After`/`Ratelimit` header parsing, backoff.

Mirrors the official SDK (reference section 1.4): retry 408, 409, 429, every 5xx, connection errors and timeouts;
`x-should-retry: true|false` overrides the status rule; `Retry-After`/`retry-after-ms` (seconds, fractions allowed,
or an HTTP date) is honoured; otherwise exponential backoff ``min(0.5 * 2**n, 8) * jitter`` with jitter in
``[0.75, 1.0]``.

One deliberate difference: the SDK ignores a `Retry-After` above 60 s and falls back to its short backoff, which
against Cloudflare's five-minute lockout only burns the remaining attempts. We wait ``min(Retry-After,
MAX_RETRY_AFTER)`` (60 s) instead, so a run never hangs for minutes on one call but does slow down.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "MAX_RETRY_AFTER",
    "RETRY_STATUSES",
    "backoff",
    "parse_rate_limit_wait",
    "parse_retry_after",
    "should_retry_status",
]

MAX_RETRY_AFTER = 60.0
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0
RETRY_STATUSES = frozenset({408, 409, 429})


def should_retry_status(status: int, headers: Mapping[str, str]) -> bool:
    """`x-should-retry` wins; otherwise 408, 409, 429 and every 5xx are transient."""
    hint = headers.get("x-should-retry", "").strip().lower()
    if hint == "true":
        return True
    if hint == "false":
        return False
    return status in RETRY_STATUSES or status >= 500


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait (`retry-after-ms`, then `Retry-After` as seconds or HTTP date), or None.

    `now` is wall-clock epoch seconds (for HTTP dates). Negative results become 0; the cap is applied by the caller.
    """
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    return _seconds_until_http_date(value, now)


def _seconds_until_http_date(value: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(when.timestamp() - now, 0.0)


_RATELIMIT_FIELD = re.compile(r"\b([rt])\s*=\s*(\d+(?:\.\d+)?)")


def parse_rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """When the response says the quota is spent, the seconds until it resets; else None.

    Understands both documented header sets (reference section 1.3): the IETF draft ``Ratelimit: "default";r=0;t=30``
    (r = remaining, t = seconds to reset) and ``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset`` (an RFC 1123
    date, or seconds).
    """
    draft = headers.get("ratelimit")
    if draft:
        fields = dict(_RATELIMIT_FIELD.findall(draft))
        if "r" in fields and float(fields["r"]) <= 0:
            return float(fields.get("t", "1"))
    remaining = headers.get("x-ratelimit-remaining")
    if remaining is not None and remaining.strip() in ("0", "0.0"):
        reset = headers.get("x-ratelimit-reset", "").strip()
        if not reset:
            return 1.0
        try:
            seconds = float(reset)
        except ValueError:
            return _seconds_until_http_date(reset, now)
        # A large number is an epoch timestamp, a small one a delta.
        return max(seconds - now, 0.0) if seconds > 1_000_000_000 else seconds
    return None


def backoff(retry_number: int, *, uniform: Callable[[float, float], float] = random.uniform) -> float:
    """Wait before retry `retry_number` (0 for the first retry) when the server gave no hint."""
    return float(min(BACKOFF_BASE * 2.0**retry_number, BACKOFF_MAX) * uniform(0.75, 1.0))
