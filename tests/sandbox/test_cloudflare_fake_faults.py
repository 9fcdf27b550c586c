"""Fault injection and rate limiting of the fake Cloudflare: the switches client retry tests rely on."""

from __future__ import annotations

import ssl
import time

import httpx
import pytest

from agent.clock import FakeClock
from agent.sandbox.cloudflare import FakeCloudflare


def test_fail_next_counts_matches_and_headers(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """Injected failures hit only matching requests, `count` times, with the requested headers and code."""
    fake.fail_next(503, count=2, code=1156, retry_after="2", should_retry="true", match="PUT ")
    assert api.get(f"/zones/{zone_id}/origin/cloud_regions").status_code == 200  # not matched
    body = {"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"}
    failures = [api.put(f"/zones/{zone_id}/origin/cloud_regions/192.0.2.1", json=body) for _ in range(2)]
    for response in failures:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2" and response.headers["x-should-retry"] == "true"
        assert response.json() == {
            "success": False,
            "errors": [{"code": 1156, "message": "Failed to validate region against cloud vendor"}],
            "messages": [],
            "result": None,
        }
    assert fake.mappings(zone_id) == {}  # an injected failure does not execute the request
    assert api.put(f"/zones/{zone_id}/origin/cloud_regions/192.0.2.1", json=body).status_code == 200
    assert [r.status for r in fake.requests] == [200, 503, 503, 200]


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502])
def test_fail_next_any_status(api: httpx.Client, fake: FakeCloudflare, status: int) -> None:
    fake.fail_next(status)
    response = api.get("/zones")
    assert response.status_code == status and response.json()["errors"][0]["code"] == 1140
    assert "retry-after" not in response.headers and "x-should-retry" not in response.headers
    assert api.get("/zones").status_code == 200


def test_drop_next_closes_without_response(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    fake.drop_next(match="/origin/cloud_regions/batch")
    items = [{"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"}]
    with pytest.raises(httpx.RemoteProtocolError):
        api.put(f"/zones/{zone_id}/origin/cloud_regions/batch", json=items)
    assert fake.mappings(zone_id) == {}
    assert fake.requests[-1].status == 0 and fake.requests[-1].body == items
    assert api.put(f"/zones/{zone_id}/origin/cloud_regions/batch", json=items).status_code == 200


@pytest.mark.parametrize(("kind", "content_type"), [("json", "application/json"), ("html", "text/html")])
def test_malformed_next(api: httpx.Client, fake: FakeCloudflare, kind: str, content_type: str) -> None:
    fake.malformed_next(kind=kind)  # type: ignore[arg-type]
    response = api.get("/zones")
    assert response.status_code == 200 and response.headers["content-type"] == content_type
    with pytest.raises(ValueError):
        response.json()
    fake.malformed_next(kind="html", status=502)
    assert api.get("/zones").status_code == 502
    assert api.get("/zones").json()["success"] is True


def test_rate_limit_sliding_window_on_injected_clock(api: httpx.Client, fake: FakeCloudflare, clock: FakeClock) -> None:
    """N requests per window, then 429 + Retry-After until the oldest request leaves the window."""
    fake.set_rate_limit(3, window_s=60)
    statuses = []
    for _ in range(3):
        statuses.append(api.get("/zones").status_code)
        clock.advance(10)
    limited = api.get("/zones")
    assert statuses == [200, 200, 200] and limited.status_code == 429
    assert limited.headers["retry-after"] == "30"  # the first request (t=0) leaves the window at t=60; now t=30
    assert limited.headers["ratelimit"] == '"default";r=0;t=30'
    assert limited.headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert limited.json()["errors"] == [
        {"code": 971, "message": "Please wait and consider throttling your request speed"}
    ]
    clock.advance(30)
    ok = api.get("/zones")
    assert ok.status_code == 200 and ok.headers["ratelimit"].startswith('"default";r=0;')
    fake.set_rate_limit(None)
    assert all(api.get("/zones").status_code == 200 for _ in range(5))
    assert "ratelimit" not in api.get("/zones").headers


def test_latency_is_a_real_sleep(api: httpx.Client, fake: FakeCloudflare) -> None:
    fake.set_latency(0.05)
    started = time.perf_counter()
    api.get("/zones")
    assert time.perf_counter() - started >= 0.05
    fake.set_latency(0)


def test_fault_arguments_are_checked(fake: FakeCloudflare) -> None:
    with pytest.raises(ValueError):
        fake.fail_next(500, count=0)
    with pytest.raises(ValueError):
        fake.malformed_next(kind="xml")  # type: ignore[arg-type]


def test_lifecycle(clock: FakeClock, http: httpx.Client) -> None:
    """start() is idempotent and returns the base URL; stop() frees the port; base_url needs a start."""
    fake = FakeCloudflare(clock=clock)
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    url = fake.start()
    assert url == fake.start() == fake.base_url
    assert url.startswith("http://127.0.0.1:") and url.endswith("/client/v4")
    fake.stop()
    fake.stop()
    with pytest.raises(httpx.ConnectError):
        http.get(url + "/zones", headers={"Authorization": "Bearer test-token"})


def test_concurrent_batches_are_consistent(fake: FakeCloudflare, zone_id: str, tls: ssl.SSLContext) -> None:
    """Threads writing at once lose nothing (one lock per request)."""
    from concurrent.futures import ThreadPoolExecutor

    def write(batch: int) -> int:
        items = [{"origin_ip": f"10.{batch}.0.{i}", "vendor": "aws", "region": "us-east-1"} for i in range(100)]
        with httpx.Client(
            verify=tls, base_url=fake.base_url, headers={"Authorization": "Bearer cf-test-token_7Hq2"}
        ) as c:
            return c.put(f"/zones/{zone_id}/origin/cloud_regions/batch", json=items).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(write, range(16))) == {200}
    assert len(fake.mappings(zone_id)) == 1600
