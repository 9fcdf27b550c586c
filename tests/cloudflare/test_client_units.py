"""Pure pieces of the client: credentials from the environment, retry/header rules, the rate limiter; plus
pagination edge cases served by a minimal loopback server (shapes the fake never produces)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import pytest
from cf_support import TOKEN, QuirkServer, envelope

from agent.clock import FakeClock
from agent.cloudflare import CloudflareClient, CloudflareCredentials, PaginationError, RateLimiter
from agent.cloudflare.retry import backoff, parse_rate_limit_wait, parse_retry_after, should_retry_status
from agent.errors import ConfigError

# -- credentials --------------------------------------------------------------------------------------------------


def test_from_env_token_key_and_file(tmp_path: Path) -> None:
    """Each scheme is read from its variables; a token's trailing newline and a file's white space are stripped."""
    assert CloudflareCredentials.from_env({"CLOUDFLARE_API_TOKEN": TOKEN + "\n"}) == CloudflareCredentials(TOKEN)
    key = CloudflareCredentials.from_env({"CLOUDFLARE_API_KEY": "k3y", "CLOUDFLARE_EMAIL": "a@b.c"})
    assert (key.scheme, key.email) == ("global_key", "a@b.c")
    secret = tmp_path / "token"
    secret.write_text(f"  {TOKEN}\n", encoding="utf-8")
    from_file = CloudflareCredentials.from_env({"CLOUDFLARE_API_TOKEN_FILE": str(secret), "CLOUDFLARE_API_TOKEN": ""})
    assert from_file == CloudflareCredentials(TOKEN)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY"]),
        ({"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_API_KEY": "k3y"}, ["ambiguous", "CLOUDFLARE_API_KEY"]),
        ({"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_API_TOKEN_FILE": "/x"}, ["ambiguous", "TOKEN_FILE"]),
        ({"CLOUDFLARE_API_KEY": "k3y"}, ["CLOUDFLARE_EMAIL is missing"]),
        ({"CLOUDFLARE_EMAIL": "a@b.c"}, ["CLOUDFLARE_API_KEY is missing"]),
        ({"CLOUDFLARE_API_TOKEN": f"{TOKEN} x"}, ["white space"]),
        ({"CLOUDFLARE_API_TOKEN_FILE": "/nonexistent/token"}, ["/nonexistent/token", "does not exist"]),
    ],
    ids=["nothing", "token+key", "token+file", "key-no-email", "email-no-key", "bad-token", "missing-file"],
)
def test_from_env_errors_name_the_variables_not_the_values(env: dict[str, str], names: list[str]) -> None:
    """Missing or ambiguous settings are ConfigError naming the variables; no secret value is echoed."""
    with pytest.raises(ConfigError) as info:
        CloudflareCredentials.from_env(env)
    for name in names:
        assert name in str(info.value)
    assert TOKEN not in str(info.value) and "k3y" not in str(info.value)


def test_token_file_empty(tmp_path: Path) -> None:
    """An empty secret file is a ConfigError naming the file."""
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        CloudflareCredentials.from_token_file(empty)


def test_credentials_need_exactly_one_scheme() -> None:
    """Token and key together, or a key without email, are refused."""
    with pytest.raises(ConfigError, match="not both"):
        CloudflareCredentials(TOKEN, email="a@b.c", api_key="k")
    with pytest.raises(ConfigError, match="email"):
        CloudflareCredentials(api_key="k")
    with pytest.raises(ConfigError, match="non-ASCII"):
        CloudflareCredentials("tökén")


# -- retry rules --------------------------------------------------------------------------------------------------

NOW = 1_780_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
    ids=["seconds", "fraction", "ms-wins", "http-date", "past-date", "garbage", "absent"],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ratelimit": '"default";r=0;t=30'}, 30.0),
        ({"ratelimit": '"default";r=50;t=30'}, None),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": formatdate(NOW + 12, usegmt=True)}, 12.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 20)}, 20.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "5"}, 5.0),
        ({"x-ratelimit-remaining": "3", "x-ratelimit-reset": "5"}, None),
        ({}, None),
    ],
    ids=["draft-spent", "draft-left", "x-date", "x-epoch", "x-delta", "x-left", "none"],
)
def test_parse_rate_limit_wait(headers: dict[str, str], expected: float | None) -> None:
    assert parse_rate_limit_wait(headers, NOW) == expected


@pytest.mark.parametrize(
    ("status", "hint", "expected"),
    [
        (408, "", True),
        (409, "", True),
        (429, "", True),
        (500, "", True),
        (599, "", True),
        (400, "", False),
        (404, "", False),
        (503, "false", False),
        (400, "true", True),
        (200, "", False),
    ],
)
def test_should_retry_status(status: int, hint: str, expected: bool) -> None:
    assert should_retry_status(status, {"x-should-retry": hint} if hint else {}) is expected


def test_backoff_grows_and_caps() -> None:
    """0.5 s doubling up to 8 s, times jitter in [0.75, 1]."""
    assert [backoff(n, uniform=lambda a, b: b) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff(0, uniform=lambda a, b: a) == 0.375


# -- rate limiter -------------------------------------------------------------------------------------------------


def test_limiter_admits_the_budget_then_waits_for_the_window() -> None:
    """5 per 10 s: five go at once, the sixth waits until the first leaves the window; try_acquire never blocks."""
    clock = FakeClock()
    limiter = RateLimiter(5, 10, burst_requests=None, clock=clock)
    assert [limiter.acquire() for _ in range(5)] == [0.0] * 5
    wait = limiter.try_acquire()
    assert 10.0 <= wait <= 10.01
    assert clock.sleeps == []
    waited = limiter.acquire()
    assert 10.0 <= waited <= 10.01 and clock.sleeps == [wait]


def test_default_limits_hold_over_any_window() -> None:
    """Defaults (1,000 per 300 s, bursts of 50 per second): 2,100 acquisitions never exceed either limit."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    times = []
    for _ in range(2100):
        limiter.acquire()
        times.append(clock.monotonic())
    for i in range(len(times)):
        if i + 50 < len(times):
            assert times[i + 50] - times[i] > 1.0
        if i + 1000 < len(times):
            assert times[i + 1000] - times[i] > 300.0
    assert times[-1] - times[0] < 2 * 300 + 10  # and it is not needlessly slow


def test_pause_holds_requests_back() -> None:
    """pause_for (a spent-quota signal) delays the next acquisition by that long."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.pause_for(7.5)
    assert limiter.acquire() == 7.5
    assert limiter.waited == 7.5


def test_limiter_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 300)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(10, 300, burst_requests=50, burst_seconds=1)


# -- pagination shapes the fake does not produce ------------------------------------------------------------------


def _client(server: QuirkServer, clock: FakeClock) -> CloudflareClient:
    limiter = RateLimiter(100_000, 300, burst_requests=None, clock=clock)
    return CloudflareClient(CloudflareCredentials(TOKEN), base_url=server.base_url, clock=clock, rate_limiter=limiter)


def test_pages_without_total_pages_end_at_a_short_page(quirk: Callable[..., QuirkServer], clock: FakeClock) -> None:
    """With no total_pages in result_info, a page shorter than per_page is the last one."""
    records = [{"id": str(i), "type": "A", "content": f"192.0.2.{i % 250}"} for i in range(250)]

    def answer(method: str, path: str, query: dict, headers: dict) -> tuple:
        page, per_page = int(query["page"][0]), int(query["per_page"][0])
        chunk = records[(page - 1) * per_page : page * per_page]
        return 200, {}, envelope(chunk, result_info={"page": page, "per_page": per_page, "count": len(chunk)})

    server = quirk(answer)
    with _client(server, clock) as client:
        assert client.dns_records("a" * 32) == records
    assert [q["page"] for _, _, q in server.requests] == [["1"], ["2"], ["3"]]


def test_repeated_complete_page_stops_with_a_warning(
    quirk: Callable[..., QuirkServer], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The /accounts quirk: every page repeats page 1. When page 1 already held total_count items, the client stops
    with a warning; when total_count is unknown, PaginationError."""
    zones = [{"id": f"{i:032x}", "name": f"z{i}.example"} for i in range(50)]
    info: dict = {"total_count": 50}

    def answer(method: str, path: str, query: dict, headers: dict) -> tuple:
        return 200, {}, envelope(zones, result_info=info)

    server = quirk(answer)
    with _client(server, clock) as client, caplog.at_level(logging.WARNING):
        assert client.zones() == zones
        assert "repeated page 2" in caplog.text
        assert len(server.requests) == 2
        info.clear()
        with pytest.raises(PaginationError, match="repeats"):
            client.zones()
    assert len(server.requests) == 4
