"""Fixtures for the serverless handlers: the Cloudflare fake, a static inventory, a recording Pushgateway."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.sandbox.cloudflare import FakeCloudflare

TOKEN = "handler-test-token-0123456789"
INVENTORY = "ip,vendor,region\n192.0.2.10,aws,us-east-1\n192.0.2.11,gcp,us-central1\n"
ENV_VARS = (
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_TOKEN_FILE",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN_SECRET_ARN",
    "CLOUDFLARE_API_TOKEN_PARAMETER",
    "ORIGIN_REGION_AGENT_CONFIG",
    "ORIGIN_REGION_AGENT_SHARDS",
    "ORIGIN_REGION_AGENT_TIME_BUDGET_S",
    "ORIGIN_REGION_AGENT_SAFETY_MARGIN_S",
    "ORIGIN_REGION_AGENT_LOG_FORMAT",
    "JOB_COMPLETION_INDEX",
    "CLOUD_RUN_TASK_INDEX",
    "CLOUD_RUN_TASK_COUNT",
    "AzureFunctionsJobHost__functionTimeout",
    "AzureWebJobsScriptRoot",
)


@pytest.fixture(autouse=True)
def _isolated_logging_and_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Handlers reconfigure the root logger and read the environment: restore both after each test."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


@dataclass
class Push:
    method: str
    path: str
    body: str


@dataclass
class Gateway:
    url: str = ""
    pushes: list[Push] = field(default_factory=list)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """A recording Pushgateway stand-in on 127.0.0.1."""
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            gw.pushes.append(Push(self.command, self.path, self.rfile.read(length).decode()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = _record

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield gw
    server.shutdown()
    server.server_close()


@pytest.fixture
def cf() -> Iterator[FakeCloudflare]:
    fake = FakeCloudflare(tokens=(TOKEN,))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def zone(cf: FakeCloudflare) -> str:
    """example.com with two proxied origins that the static inventory knows and one it does not."""
    zid = cf.add_zone("example.com")
    cf.add_dns_record(zid, "A", "www.example.com", "192.0.2.10", proxied=True)
    cf.add_dns_record(zid, "A", "api.example.com", "192.0.2.11", proxied=True)
    cf.add_dns_record(zid, "A", "old.example.com", "198.51.100.7", proxied=True)
    return zid


@dataclass
class Setup:
    """A config file pointing at the fake, and the environment a platform would give the function."""

    path: Path
    config: dict[str, Any]
    env: dict[str, str]

    def write(self, **changes: Any) -> Path:
        self.config.update(changes)
        self.path.write_text(yaml.safe_dump(self.config))
        return self.path


@pytest.fixture
def setup(tmp_path: Path, cf: FakeCloudflare, zone: str, gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """Config + environment (set in os.environ, as the platforms do) for one handler run."""
    inventory = tmp_path / "inv.csv"
    inventory.write_text(INVENTORY)
    config: dict[str, Any] = {
        "cloudflare": {"base_url": cf.base_url, "max_retries": 0},
        "zones": [{"name": "example.com"}],
        "policy": "create-only",
        "inventory": {"static": {"path": str(inventory)}},
        "metrics": {"pushgateway_url": gateway.url, "job": "origin_region_agent"},
    }
    s = Setup(tmp_path / "config.yaml", config, {})
    s.write()
    s.env = {"ORIGIN_REGION_AGENT_CONFIG": str(s.path), "CLOUDFLARE_API_TOKEN": TOKEN}
    for key, value in s.env.items():
        monkeypatch.setenv(key, value)
    return s


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of captured stderr (non-JSON lines are a test failure: logs must be JSON)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


EXPECTED_MAPPINGS = {"192.0.2.10": ("aws", "us-east-1"), "192.0.2.11": ("gcp", "us-central1")}


@pytest.fixture
def parse_logs() -> Any:
    """`json_lines` as a fixture (test modules here are not importable as a package)."""
    return json_lines


@pytest.fixture
def expected_mappings() -> dict[str, tuple[str, str]]:
    return dict(EXPECTED_MAPPINGS)


@pytest.fixture
def token() -> str:
    """The token the Cloudflare fake accepts."""
    return TOKEN
