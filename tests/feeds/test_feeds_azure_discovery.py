"""Azure Service Tags through the ARM discovery API: real azure-identity + httpx against an HTTPS fake on 127.0.0.1."""

from __future__ import annotations

import json
import os
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from feeds_support import load_data  # type: ignore[import-not-found]

from agent.clock import FakeClock
from agent.collectors.ranges.collector import RangesCollector
from agent.collectors.ranges.config import RangesConfig
from agent.errors import CollectorError

TENANT = "72f988bf-0000-0000-0000-000000000001"
SUB = "00000000-1111-2222-3333-444444444444"
TOKEN = "eyJ.fake.aad-token"


@dataclass
class FakeArm:
    """AAD v2 token endpoint + ARM ``serviceTags`` (two pages via nextLink), as the real services answer them."""

    base_url: str = ""
    values: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    allowed_subscription: str = SUB

    def answer(self, method: str, path: str, headers: Any) -> tuple[int, Any]:
        parsed = urllib.parse.urlsplit(path)
        self.calls.append(f"{method} {parsed.path}")
        if method == "GET" and parsed.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            base = f"{self.base_url}/{TENANT}"
            return 200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
            }
        if method == "POST" and parsed.path == f"/{TENANT}/oauth2/v2.0/token":
            return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": TOKEN}
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"error": {"code": "AuthenticationFailed", "message": "no token"}}
        query = urllib.parse.parse_qs(parsed.query)
        expected = (
            f"/subscriptions/{self.allowed_subscription}/providers/Microsoft.Network/locations/westeurope/serviceTags"
        )
        if parsed.path.startswith("/subscriptions/") and parsed.path != expected:
            return 403, {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}}
        if parsed.path == expected and "api-version" in query:
            half = len(self.values) // 2
            page = query.get("$skiptoken", ["0"])[0]
            body: dict[str, Any] = {
                "name": "Public",
                "id": f"{expected}/Public",
                "type": "Microsoft.Network/serviceTags",
                "changeNumber": "363",
                "cloud": "Public",
                "values": self.values[:half] if page == "0" else self.values[half:],
            }
            if page == "0":
                body["nextLink"] = f"{self.base_url}{expected}?api-version={query['api-version'][0]}&$skiptoken=1"
            return 200, body
        return 404, {"error": {"code": "NotFound", "message": path}}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def fake_arm(ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[FakeArm, Path]]:
    state = FakeArm()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _go(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, body = state.answer(method, self.path, self.headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._go("GET")

        def do_POST(self) -> None:
            self._go("POST")

    ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ssl_ctx)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ssl_ctx.wrap_socket(httpd.socket, server_side=True)
    state.base_url = f"https://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    try:
        yield state, ca_pem
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def azure_env(monkeypatch: pytest.MonkeyPatch, fake_arm: tuple[FakeArm, Path]) -> None:
    """The environment a workload would have: a service principal for azure-identity's EnvironmentCredential."""
    state, ca_pem = fake_arm
    for key in list(os.environ):
        if key.startswith(("AZURE_", "MSI_", "IDENTITY_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", "client-id")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", state.base_url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_pem))  # azure-identity's transport (requests)


def _config(state: FakeArm, ca_pem: Path, tmp_path: Path, subscription: str = SUB) -> RangesConfig:
    return RangesConfig.model_validate(
        {
            "feeds": ["azure"],
            "cache_dir": str(tmp_path / "cache"),
            "ca_bundle": str(ca_pem),
            "azure_discovery": {
                "subscription_id": subscription,
                "arm_endpoint": state.base_url,
                "disable_instance_discovery": True,
            },
        }
    )


def test_discovery_api_with_default_azure_credential(
    fake_arm: tuple[FakeArm, Path], azure_env: None, feed_docs: Any, tmp_path: Path
) -> None:
    """DefaultAzureCredential gets a token from the fake AAD; both pages are merged, parsed, and then cached."""
    state, ca_pem = fake_arm
    wanted = {"AzureCloud.germanywc", "AzureCloud.switzerlandn", "AzureFrontDoor.Frontend"}
    state.values = [v for v in load_data("azure-ServiceTags_Public.json.gz")["values"] if v["name"] in wanted]
    clock = FakeClock()
    collector = RangesCollector(_config(state, ca_pem, tmp_path), clock=clock)
    collector.set_origin_ips(["51.107.0.1", "20.52.64.1", "8.8.8.8"])
    (scope,) = collector.scopes()
    got = {a.ip: a.region for a in collector.collect(scope)}  # type: ignore[union-attr]
    collector.close()
    assert got == {"51.107.0.1": "switzerlandnorth", "20.52.64.1": "germanywestcentral"}
    arm_calls = [c for c in state.calls if "/serviceTags" in c]
    assert len(arm_calls) == 2  # two pages
    assert any(c.startswith("POST") and "/oauth2/v2.0/token" in c for c in state.calls)

    again = RangesCollector(_config(state, ca_pem, tmp_path), clock=clock)  # within max_age: from the cache
    again.set_origin_ips(["51.107.0.1"])
    assert [a.region for a in again.collect(scope)] == ["switzerlandnorth"]  # type: ignore[union-attr]
    again.close()
    assert len([c for c in state.calls if "/serviceTags" in c]) == 2


def test_discovery_api_forbidden_is_a_collector_error(
    fake_arm: tuple[FakeArm, Path], azure_env: None, tmp_path: Path
) -> None:
    """A 403 from ARM fails the azure scope with ARM's error code, and no secret in the message."""
    state, ca_pem = fake_arm
    collector = RangesCollector(_config(state, ca_pem, tmp_path, subscription="99999999-0000-0000-0000-000000000000"))
    collector.set_origin_ips(["51.107.0.1"])
    (scope,) = collector.scopes()
    with pytest.raises(CollectorError) as excinfo:
        list(collector.collect(scope))
    assert excinfo.value.code == "AuthorizationFailed" and excinfo.value.vendor == "azure"
    assert "client-secret" not in str(excinfo.value) and TOKEN not in str(excinfo.value)
