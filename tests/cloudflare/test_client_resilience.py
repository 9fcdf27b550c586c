"""Retries, backoff, Retry-After, x-should-retry, dropped connections, timeouts and client-side pacing.

Everything runs on a FakeClock shared by the fake and the client: sleeps are recorded, never slept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate

import pytest
from cf_support import QuirkServer, envelope, ipv4

from agent.clock import FakeClock
from agent.cloudflare import (
    ApiFamily,
    CloudflareAPIError,
    CloudflareClient,
    CloudflareConnectionError,
    MappingExists,
    MappingNotFound,
    RateLimited,
    RateLimiter,
    default_rate_limiter,
    set_default_rate_limiter,
)
from agent.cloudflare.auth import CloudflareCredentials
from agent.models import RegionMapping, Vendor
from agent.sandbox.cloudflare import FakeCloudflare


def test_5xx_is_retried_honouring_retry_after(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, clock: FakeClock, zone_id: str
) -> None:
    """Two 503s with Retry-After: 2 are retried after exactly 2 s each, then the answer is used."""
    client = make_client()
    fake.fail_next(503, count=2, code=1140, retry_after="2")
    assert client.list_mappings(zone_id) == []
    assert [r.status for r in fake.requests] == [503, 503, 200]
    assert clock.sleeps == [2.0, 2.0]


def test_429_waits_retry_after_once_for_everyone(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, clock: FakeClock, zone_id: str
) -> None:
    """A 429 with Retry-After: 3 waits 3 s (the shared limiter's pause does not add a second wait)."""
    client = make_client()
    fake.fail_next(429, code=1015, retry_after="3")
    client.upsert_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    assert [r.status for r in fake.requests] == [429, 200]
    assert clock.sleeps == [3.0]
    assert fake.mappings(zone_id) == {"192.0.2.1": ("aws", "us-east-1")}


def test_retry_after_http_date_and_cap(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, clock: FakeClock, zone_id: str
) -> None:
    """Retry-After as an HTTP date is relative to the clock; a value above 60 s is capped at 60 s."""
    client = make_client()
    fake.fail_next(503, retry_after=formatdate(clock.time() + 5, usegmt=True))
    client.list_mappings(zone_id)
    fake.fail_next(503, retry_after="600")
    client.list_mappings(zone_id)
    assert clock.sleeps == [5.0, 60.0]


def test_backoff_without_retry_after(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, clock: FakeClock, zone_id: str
) -> None:
    """Without a hint the waits grow exponentially (0.5 s, 1 s, 2 s, 4 s) with 0.75-1.0 jitter."""
    client = make_client(max_retries=4)
    fake.fail_next(500, count=4)
    client.list_mappings(zone_id)
    assert len(clock.sleeps) == 4
    for n, slept in enumerate(clock.sleeps):
        assert 0.75 * 0.5 * 2**n <= slept <= 0.5 * 2**n


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504])
def test_transient_statuses_are_retried(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str, status: int
) -> None:
    """408, 409 and 5xx are retried."""
    client = make_client()
    fake.fail_next(status, retry_after="1")
    assert client.list_mappings(zone_id) == []
    assert [r.status for r in fake.requests] == [status, 200]


def test_retries_run_out(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, clock: FakeClock, zone_id: str
) -> None:
    """After max_retries the last error is raised, marked retryable; a 429 keeps its retry_after."""
    client = make_client(max_retries=2)
    fake.fail_next(503, count=3, retry_after="1")
    with pytest.raises(CloudflareAPIError) as info:
        client.list_mappings(zone_id)
    assert info.value.status == 503 and info.value.retryable
    assert len(fake.requests) == 3
    fake.clear_requests()
    fake.fail_next(429, count=3, code=1015, retry_after="2")
    with pytest.raises(RateLimited) as limited:
        client.list_mappings(zone_id)
    assert limited.value.retry_after == 2.0
    assert len(fake.requests) == 3


def test_x_should_retry_overrides_the_status(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """x-should-retry: false stops a 503 from being retried; true makes a 400 retried."""
    client = make_client()
    fake.fail_next(503, should_retry="false")
    with pytest.raises(CloudflareAPIError):
        client.list_mappings(zone_id)
    assert len(fake.requests) == 1
    fake.clear_requests()
    fake.fail_next(400, code=1001, should_retry="true", retry_after="1")
    assert client.list_mappings(zone_id) == []
    assert [r.status for r in fake.requests] == [400, 200]


def test_client_errors_are_not_retried(client: CloudflareClient, fake: FakeCloudflare, zone_id: str) -> None:
    """A 404 (MappingNotFound) is final: one request."""
    with pytest.raises(MappingNotFound):
        client.get_mapping(zone_id, "192.0.2.1")
    assert len(fake.requests) == 1


def test_dropped_connection_is_retried(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str, family: ApiFamily
) -> None:
    """A connection closed without a response is retried; the write then lands once."""
    client = make_client(family)
    fake.drop_next(1, match="/batch")
    result = client.batch_upsert(zone_id, [RegionMapping("192.0.2.1", Vendor.AWS, "us-east-1")])
    assert result.succeeded == ("192.0.2.1",)
    assert [r.status for r in fake.requests] == [0, 200]


def test_dropped_connections_run_out(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """When every attempt is dropped, CloudflareConnectionError (retryable, no status) ends it."""
    client = make_client(max_retries=2)
    fake.drop_next(3)
    with pytest.raises(CloudflareConnectionError) as info:
        client.list_mappings(zone_id)
    assert info.value.status is None and info.value.retryable
    assert len(fake.requests) == 3


def test_v1_create_retried_after_a_lost_answer_reports_mapping_exists(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """A create-only POST is retried after a dropped connection; if the IP exists by then, MappingExists says so."""
    client = make_client(ApiFamily.V1)
    fake.drop_next(1, match="POST")
    assert client.create_mapping(zone_id, "192.0.2.1", "aws", "us-east-1").ip == "192.0.2.1"
    assert [r.status for r in fake.requests] == [0, 200]
    with pytest.raises(MappingExists):
        client.create_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")


def test_timeout_is_retried_then_raised(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """A read timeout (httpx.Timeout from the `timeout` option) is a retryable CloudflareConnectionError."""
    client = make_client(timeout=0.05, max_retries=1)
    fake.set_latency(0.25)
    with pytest.raises(CloudflareConnectionError, match="timed out") as info:
        client.list_mappings(zone_id)
    assert info.value.retryable
    assert client.requests_sent == 2
    # The fake still answers both requests after its latency: wait for that, so nothing leaks into the next test.
    deadline = time.monotonic() + 5
    while len(fake.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(fake.requests) == 2


# -- pacing -------------------------------------------------------------------------------------------------------


def test_client_with_the_servers_budget_never_sees_429(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, clock: FakeClock, zone_id: str
) -> None:
    """Fake: 10 requests per 60 s; client limiter: the same. 35 calls all succeed, spread over 3+ windows."""
    fake.set_rate_limit(10, 60)
    limiter = RateLimiter(10, 60, burst_requests=None, clock=clock)
    client = make_client(rate_limiter=limiter, max_retries=0)
    start = clock.monotonic()
    for i in range(35):
        client.upsert_mapping(zone_id, ipv4(i), "aws", "us-east-1")
    assert all(r.status == 200 for r in fake.requests)
    assert len(fake.requests) == 35
    assert clock.monotonic() - start >= 180
    assert limiter.waited > 0


def test_ratelimit_header_pauses_the_client(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, clock: FakeClock, zone_id: str
) -> None:
    """With a generous limiter, the fake's `Ratelimit: ...;r=0;t=N` header alone holds requests back: no 429."""
    fake.set_rate_limit(5, 30)
    client = make_client(max_retries=0)
    for _ in range(12):
        client.list_mappings(zone_id)
    assert all(r.status == 200 for r in fake.requests)
    assert clock.monotonic() - fake.requests[0].at >= 60
    assert client.rate_limiter.waited >= 60


def test_one_limiter_shared_by_clients_protects_them_all(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, clock: FakeClock, zone_id: str
) -> None:
    """Two clients with separate limiters: the second does not know the quota is spent and gets a 429. Sharing one
    limiter (the default) makes the second wait instead."""
    fake.set_rate_limit(5, 30)
    first, second = make_client(max_retries=0), make_client(max_retries=0)
    for _ in range(5):
        first.list_mappings(zone_id)
    with pytest.raises(RateLimited):
        second.list_mappings(zone_id)

    clock.advance(60)
    shared = RateLimiter(1000, 300, clock=clock)
    first, second = make_client(max_retries=0, rate_limiter=shared), make_client(max_retries=0, rate_limiter=shared)
    fake.clear_requests()
    for _ in range(5):
        first.list_mappings(zone_id)
    second.list_mappings(zone_id)
    assert [r.status for r in fake.requests] == [200] * 6
    assert shared.waited > 0


def test_x_ratelimit_headers_pause_the_client(
    make_client: Callable[..., CloudflareClient], quirk: Callable[..., object], clock: FakeClock
) -> None:
    """The other documented header set: X-RateLimit-Remaining: 0 with X-RateLimit-Reset (HTTP date) pauses too."""

    def answer(method: str, path: str, query: dict, headers: dict) -> tuple:
        reset = formatdate(clock.time() + 7, usegmt=True)
        return 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, envelope({"status": "active"})

    server = quirk(answer)
    client = CloudflareClient(
        CloudflareCredentials("t0ken"),
        base_url=server.base_url,  # type: ignore[attr-defined]
        clock=clock,
        rate_limiter=RateLimiter(clock=clock),
    )
    with client:
        client.verify_token()
        assert client.rate_limiter.waited == 0
        client.verify_token()
    assert client.rate_limiter.waited == 7.0


def test_clients_share_the_process_default_limiter(fake: FakeCloudflare) -> None:
    """Without an explicit limiter every client uses the one process-wide default; it can be replaced."""
    creds = CloudflareCredentials("t0ken")
    with CloudflareClient(creds, base_url=fake.base_url) as a, CloudflareClient(creds, base_url=fake.base_url) as b:
        assert a.rate_limiter is b.rate_limiter is default_rate_limiter()
        assert (a.rate_limiter.requests, a.rate_limiter.per_seconds) == (1000, 300.0)
    custom = RateLimiter(600, 300.0)
    set_default_rate_limiter(custom)
    try:
        with CloudflareClient(creds, base_url=fake.base_url) as c:
            assert c.rate_limiter is custom
    finally:
        set_default_rate_limiter(None)
    assert default_rate_limiter() is not custom


def test_limiter_alone_keeps_within_a_silent_servers_budget(
    quirk: Callable[..., QuirkServer], clock: FakeClock
) -> None:
    """A server enforcing 10 requests per 60 s that sends no rate-limit headers at all: the client's limiter with the
    same budget never triggers a 429, while a client without that budget does."""
    hits: list[float] = []

    def answer(method: str, path: str, query: dict, headers: dict) -> tuple:
        now = clock.monotonic()
        hits[:] = [t for t in hits if t > now - 60]
        if len(hits) >= 10:
            return 429, {}, {"success": False, "errors": [{"code": 1015, "message": "slow down"}], "result": None}
        hits.append(now)
        return 200, {}, envelope({"status": "active"})

    server = quirk(answer)
    paced = CloudflareClient(
        CloudflareCredentials("t0ken"),
        base_url=server.base_url,
        clock=clock,
        max_retries=0,
        rate_limiter=RateLimiter(10, 60, burst_requests=None, clock=clock),
    )
    with paced:
        for _ in range(25):
            paced.verify_token()
    assert clock.monotonic() - 1_780_000_000.0 >= 120
    unpaced = CloudflareClient(
        CloudflareCredentials("t0ken"),
        base_url=server.base_url,
        clock=clock,
        max_retries=0,
        rate_limiter=RateLimiter(1000, 60, burst_requests=None, clock=clock),
    )
    with unpaced, pytest.raises(RateLimited):
        for _ in range(25):
            unpaced.verify_token()
