"""Fixtures for the AWS collector: a hermetic environment, the sandbox EC2/STS/Organizations fake, one moto server."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.collectors.aws.collector import AwsCollector
from agent.models import CloudAddress, Scope, ScopeError
from agent.sandbox.aws import AwsFake

MGMT = "111111111111"


_UNSET = (
    *("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"),
    *("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"),
    *("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    *("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CA_BUNDLE", "AWS_DATA_PATH", "AWS_RETRY_MODE"),
    *("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_ORGANIZATIONS"),
    *("AWS_MAX_ATTEMPTS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"),
)


@pytest.fixture(autouse=True)
def _hermetic_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real config file, profile, metadata service or web identity may be reached (cloud-sdks.md §6)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in _UNSET:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsFake]:
    """A started fake with the management account 111111111111, whose key is in the environment."""
    with AwsFake() as started:
        started.add_account(MGMT)
        for key, value in started.credentials(MGMT).items():
            monkeypatch.setenv(key, value)
        yield started


def fake_config(fake: AwsFake, **overrides: Any) -> dict[str, Any]:
    """`inventory.aws` pointing every service at the fake, with no retries unless asked."""
    return {
        "endpoint_url": fake.url,
        "sts_endpoint_url": fake.url,
        "organizations_endpoint_url": fake.url,
        "max_attempts": 1,
        "connect_timeout": 2,
        "read_timeout": 10,
        **overrides,
    }


@dataclass
class Walk:
    """Everything one sequential walk of a collector's scope tree produced."""

    records: list[CloudAddress] = field(default_factory=list)
    errors: list[ScopeError] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)

    def regions(self) -> dict[str, str]:
        return {r.ip: r.region for r in self.records}

    def by_ip(self) -> dict[str, CloudAddress]:
        return {r.ip: r for r in self.records}


def walk(collector: AwsCollector) -> Walk:
    """Collect every scope depth-first in this thread, recording failures like the runner does."""
    from agent.errors import CollectorError

    result = Walk()

    def visit(scope: Scope) -> None:
        result.scopes.append(scope.label)
        if scope.leaf:
            result.leaves.append(scope.label)
        try:
            items = list(collector.collect(scope))
        except CollectorError as exc:
            result.errors.append(ScopeError(scope.label, type(exc).__name__, exc.code, str(exc)))
            return
        for item in items:
            if isinstance(item, Scope):
                visit(item)
            else:
                result.records.append(item)

    for root in collector.scopes():
        visit(root)
    collector.close()
    return result


# ---------------------------------------------------------------------- moto


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """ONE moto server for the whole session, on an ephemeral loopback port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """moto, reset, with moto's default account's fake keys in the environment."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return moto_server
