"""Fixtures for the Azure collector: the ARM + AAD fake over HTTPS (trustme CA) and a hermetic environment."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from azure_testkit import CLIENT_ID, SECRET, SUB_A, SUB_B, TENANT

from agent.sandbox.azure import READER, FakeAzure


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_pem(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("azure-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real Azure config, CLI login, managed-identity endpoint or CA override can leak into a test."""
    for name in (
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_USERNAME",
        "AZURE_PASSWORD",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "AZURE_TOKEN_CREDENTIALS",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # IMDS would be 169.254.169.254; point it at a closed loopback port instead.
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-cli"))


@pytest.fixture
def fake(server_ctx: ssl.SSLContext) -> Iterator[FakeAzure]:
    """A fake with one tenant, one service principal holding Reader on SUB_A and SUB_B; two items per page."""
    with FakeAzure(server_ctx, page_size=2) as fake:
        fake.add_service_principal(TENANT, CLIENT_ID, secret=SECRET)
        fake.add_subscription(SUB_A, tenant_id=TENANT, display_name="prod", readers={CLIENT_ID: READER})
        fake.add_subscription(SUB_B, tenant_id=TENANT, display_name="staging", readers={CLIENT_ID: READER})
        yield fake


@pytest.fixture
def sp_config(fake: FakeAzure, ca_pem: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`inventory.azure` for a service principal against the fake; the secret comes from the environment."""
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    return {
        "auth": "service_principal",
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "arm_endpoint": fake.url,
        "authority_host": fake.url,
        "disable_instance_discovery": True,
        "ca_bundle": str(ca_pem),
        "retry_total": 0,
    }
