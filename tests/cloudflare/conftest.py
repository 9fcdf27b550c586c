"""Fixtures for the Cloudflare client tests: the sandbox fake on 127.0.0.1 (validating traffic against the OpenAPI
subset) and clients pointed at it, all on one `FakeClock` so retries and pacing cost no real time."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cf_support import ACCOUNT_ID, EMAIL, GLOBAL_KEY, TOKEN, QuirkServer
from openapi_check import load_spec

from agent.clock import FakeClock
from agent.cloudflare import ApiFamily, CloudflareClient, CloudflareCredentials, RateLimiter
from agent.sandbox.cloudflare import FakeCloudflare


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeCloudflare]:
    """One fake for the session: building its OpenAPI validator costs ~0.1 s, too much to pay per test."""
    spec = load_spec()
    with FakeCloudflare(tokens=(TOKEN,), global_keys={EMAIL: GLOBAL_KEY}, openapi_spec=spec) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeCloudflare, clock: FakeClock) -> Iterator[FakeCloudflare]:
    """The session's fake, on this test's clock, with an empty request log; every exchange of the test must
    conform to the OpenAPI subset. Tests isolate themselves by working in their own zone (`zone_id`)."""
    fake_server.clock = clock
    fake_server.clear_requests()
    before = len(fake_server.contract_violations)
    yield fake_server
    fake_server.repeat_first_page = False
    fake_server.set_rate_limit(None)
    fake_server.max_mappings = 3500
    fake_server.set_latency(0)
    violations = fake_server.contract_violations[before:]
    # The fake's own 429 body uses code 971 (as seen in a public log), below the spec's `minimum: 1000`; that
    # finding is about the fake's response, not about what the client sent.
    assert [v for v in violations if "971 is less than the minimum" not in v] == []


_zone_numbers = itertools.count(1)


@pytest.fixture
def zone_name() -> str:
    return f"zone{next(_zone_numbers):04d}.example.com"


@pytest.fixture
def zone_id(fake: FakeCloudflare, zone_name: str) -> str:
    return fake.add_zone(zone_name, account_id=ACCOUNT_ID)


@pytest.fixture
def creds() -> CloudflareCredentials:
    return CloudflareCredentials(TOKEN)


@pytest.fixture
def make_client(
    fake: FakeCloudflare, clock: FakeClock, creds: CloudflareCredentials
) -> Iterator[Callable[..., CloudflareClient]]:
    """Build clients on the fake; each gets a generous limiter on the shared FakeClock unless one is passed."""
    clients: list[CloudflareClient] = []

    def build(family: ApiFamily = ApiFamily.V2, **kwargs: Any) -> CloudflareClient:
        kwargs.setdefault("rate_limiter", RateLimiter(100_000, 300.0, burst_requests=None, clock=clock))
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("credentials", creds)
        client = CloudflareClient(kwargs.pop("credentials"), base_url=fake.base_url, family=family, **kwargs)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture(params=[ApiFamily.V2, ApiFamily.V1], ids=["v2", "v1"])
def family(request: pytest.FixtureRequest) -> ApiFamily:
    return request.param


@pytest.fixture
def client(make_client: Callable[..., CloudflareClient], family: ApiFamily) -> CloudflareClient:
    return make_client(family)


@pytest.fixture
def quirk() -> Iterator[Callable[..., QuirkServer]]:
    """Start `QuirkServer`s answering from a function; all are closed after the test."""
    servers: list[QuirkServer] = []

    def start(answer: Callable[..., Any]) -> QuirkServer:
        server = QuirkServer(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
