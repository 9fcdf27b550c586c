"""Fixtures for end-to-end runs: the Cloudflare fake (checked against the OpenAPI subset), configs, the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from agent.cli import cli
from agent.sandbox.cloudflare import FakeCloudflare
from agent.sandbox.demo import DemoCloud

TOKEN = "e2e-token-0123456789"
SPEC = Path(__file__).parent.parent / "data" / "cloudflare-openapi-subset.json"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def cf(request: pytest.FixtureRequest) -> Iterator[FakeCloudflare]:
    """The Cloudflare fake; every exchange of a documented operation is checked against the OpenAPI subset."""
    fake = FakeCloudflare(tokens=(TOKEN,), openapi_spec=json.loads(SPEC.read_text()))
    fake.start()
    yield fake
    fake.stop()
    marker = request.node.get_closest_marker("allow_contract_violations")
    allowed = marker.args if marker else ()
    assert [v for v in fake.contract_violations if not any(a in v for a in allowed)] == []


@pytest.fixture
def zone(cf: FakeCloudflare) -> str:
    return cf.add_zone("example.com")


@pytest.fixture
def use_cloud(cf: FakeCloudflare, zone: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`use_cloud(cloud)`: the agent gets a started demo cloud's credentials (environment) and the zone gets its origins
    as A/AAAA records; returns the cloud."""

    def use(cloud: DemoCloud) -> DemoCloud:
        for key, value in cloud.env.items():
            monkeypatch.setenv(key, value)
        for number, ip in enumerate(cloud.origin_ips):
            cf.add_dns_record(zone, "AAAA" if ":" in ip else "A", f"o{number}.example.com", ip)
        return cloud

    return use


def writes(fake: FakeCloudflare) -> list[Any]:
    return [r for r in fake.requests if r.method in MUTATING]


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads(self.stdout)


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    for var in ("CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_TOKEN_FILE", "ORIGIN_REGION_AGENT_CONFIG"):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def write_config(tmp_path: Path, cf: FakeCloudflare) -> Any:
    """Write a config pointing at the fake with a static inventory made of `rows` (ip, vendor, region)."""

    def write(rows: list[tuple[str, str, str]] | None = None, **extra: Any) -> Path:
        inventory = tmp_path / "inventory.csv"
        inventory.write_text("ip,vendor,region\n" + "".join(f"{ip},{v},{r}\n" for ip, v, r in rows or []))
        config: dict[str, Any] = {
            "cloudflare": {
                "base_url": cf.base_url,
                "max_retries": 0,
                "rate_limit": {"requests": 100000, "window_s": 1, "burst_requests": None},
            },
            "zones": [{"name": "example.com"}],
            "inventory": {"static": {"path": str(inventory)}},
        }
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write
