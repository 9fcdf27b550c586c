"""Fixtures for the tests of the sandbox Cloudflare fake: a running fake on a `FakeClock` and an httpx client."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_support import EMAIL, GLOBAL_KEY, SPEC_PATH, TOKEN

from agent.clock import FakeClock
from agent.sandbox.cloudflare import FakeCloudflare


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """One CA-loaded context for every client: building one per httpx.Client costs ~0.1 s (all traffic is http)."""
    return ssl.create_default_context()


@pytest.fixture(scope="session")
def http(tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    """A bare client (no base URL, no credentials) for one-off requests with explicit headers."""
    with httpx.Client(verify=tls, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_780_000_000.0)  # 2026-05-28T20:26:40Z


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeCloudflare]:
    with FakeCloudflare(tokens=(TOKEN,), global_keys={EMAIL: GLOBAL_KEY}, clock=clock) as server:
        yield server


@pytest.fixture
def zone_id(fake: FakeCloudflare) -> str:
    return fake.add_zone("example.com")


@pytest.fixture
def api(fake: FakeCloudflare, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    """httpx on the fake's base URL with the Bearer token; raw wire access."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=fake.base_url, headers=headers, timeout=10, verify=tls) as client:
        yield client


@pytest.fixture
def anon(fake: FakeCloudflare, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    """httpx on the fake without credentials."""
    with httpx.Client(base_url=fake.base_url, timeout=10, verify=tls) as client:
        yield client
