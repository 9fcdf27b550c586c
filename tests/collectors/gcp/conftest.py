"""Fixtures for the GCP collector: the compute + resource-manager fake on 127.0.0.1 and a hermetic environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gcp_testkit import SA_EMAIL, MakeCollector

from agent.clock import FakeClock
from agent.collectors.gcp.collector import GcpCollector
from agent.collectors.gcp.config import GcpConfig
from agent.sandbox.gcp import FakeGcp, ServiceAccountKey, generate_service_account_key


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real ADC file, gcloud config or metadata server can leak into a test (cloud-sdks.md §6)."""
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "GOOGLE_API_USE_CLIENT_CERTIFICATE",
        "GOOGLE_API_USE_MTLS_ENDPOINT",
        "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
        "GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))


@pytest.fixture(scope="session")
def key_material() -> ServiceAccountKey:
    """One RSA key for the session (generation costs ~50 ms); each test's fake trusts it and gets its token_uri."""
    return generate_service_account_key(SA_EMAIL, project_id="ops-proj", token_uri="http://127.0.0.1:9/token")


@pytest.fixture
def fake() -> Iterator[FakeGcp]:
    server = FakeGcp().start()
    yield server
    server.stop()


def key_file_for(fake: FakeGcp, key: ServiceAccountKey, path: Path) -> Path:
    """Write `key` as a key file whose token_uri is `fake`'s, and make `fake` trust it."""
    fake.register_key(key.email, key.key_id, key.public_pem)
    path.write_text(json.dumps({**key.info, "token_uri": fake.token_uri}))
    return path


@pytest.fixture
def key_file(fake: FakeGcp, key_material: ServiceAccountKey, tmp_path: Path) -> Path:
    return key_file_for(fake, key_material, tmp_path / "sa.json")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_collector(fake: FakeGcp, key_file: Path, clock: FakeClock) -> Iterator[MakeCollector]:
    """Build a collector pointed at `fake` with the session key; keyword arguments override config keys."""
    built: list[GcpCollector] = []

    def make(**overrides: Any) -> GcpCollector:
        settings: dict[str, Any] = {
            "credentials_file": str(key_file),
            "compute_endpoint": fake.endpoint,
            "resource_manager_endpoint": fake.endpoint,
            "iam_credentials_endpoint": fake.endpoint,
            "retry": {"max_attempts": 1},
            "timeout_seconds": 10,
            **overrides,
        }
        credentials = settings.pop("credentials", None)
        collector = GcpCollector(GcpConfig.model_validate(settings), credentials=credentials, clock=clock)
        built.append(collector)
        return collector

    yield make
    for collector in built:
        collector.close()
