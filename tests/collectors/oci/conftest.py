"""Fixtures for the OCI collector: RSA keys made at run time, a started `OciFake`, config builders, a scope walker."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.collectors.oci.collector import OciCollector
from agent.collectors.oci.config import OciConfig
from agent.models import CloudAddress, Scope
from agent.sandbox.oci import OciFake, generate_key_pem, public_key_of, write_oci_config


@pytest.fixture(autouse=True)
def _hermetic_oci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real config file, metadata service or injected principal may be reached (cloud-sdks.md §6)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OCI_CONFIG_FILE", str(tmp_path / "no-such-config"))
    monkeypatch.setenv("OCI_METADATA_BASE_URL", "http://127.0.0.1:9/opc/v2")
    for name in ("OCI_REGION", "OCI_RESOURCE_PRINCIPAL_VERSION", "OCI_RESOURCE_PRINCIPAL_RPST",
                 "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", "OCI_RESOURCE_PRINCIPAL_REGION", "REQUESTS_CA_BUNDLE",
                 "KUBERNETES_SERVICE_HOST", "OCI_KUBERNETES_SERVICE_ACCOUNT_CERT_PATH",
                 "OCI_SDK_DEFAULT_RETRY_ENABLED"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def key_pem() -> str:
    """The API signing key registered with the fake."""
    return generate_key_pem()


@pytest.fixture(scope="session")
def other_key_pem() -> str:
    """A key the fake does not know."""
    return generate_key_pem()


@dataclass
class Tenancy:
    """A started fake plus the API-key identity registered with it."""

    fake: OciFake
    user_id: str
    fingerprint: str
    key_pem: str
    directory: Path
    compartments: dict[str, str] = field(default_factory=dict)

    def config_file(self, *, key_pem: str | None = None, region: str = "us-ashburn-1") -> Path:
        directory = self.directory / f"cfg-{len(list(self.directory.iterdir()))}"
        directory.mkdir()
        return write_oci_config(
            directory, tenancy_id=self.fake.tenancy_id, user_id=self.user_id, fingerprint=self.fingerprint,
            key_pem=key_pem or self.key_pem, region=region,
        )  # fmt: skip

    def config(self, *, key_pem: str | None = None, **overrides: Any) -> OciConfig:
        """An `OciConfig` for this fake: no retries, no breaker, short timeouts (tests fail fast)."""
        values: dict[str, Any] = {
            "config_file": str(self.config_file(key_pem=key_pem)),
            "endpoint_template": self.fake.endpoint_template,
            "retry": {"max_attempts": 1},
            "circuit_breaker": {"enabled": False},
            "connect_timeout_seconds": 2,
            "read_timeout_seconds": 5,
        }
        values.update(overrides)
        return OciConfig.model_validate(values)

    def collector(self, **overrides: Any) -> OciCollector:
        return OciCollector.from_config(self.config(**overrides))


@pytest.fixture
def tenancy(key_pem: str, tmp_path: Path) -> Iterator[Tenancy]:
    """An empty tenancy subscribed to us-ashburn-1 (home, 3 ADs): page size 2 so paging is exercised."""
    fake = OciFake(page_size=2)
    user_id, fingerprint = fake.add_api_key(public_key_of(key_pem))
    fake.subscribe("us-ashburn-1", home=True, ads=3)
    directory = tmp_path / "oci"
    directory.mkdir()
    with fake:
        yield Tenancy(fake, user_id, fingerprint, key_pem, directory)


@dataclass
class Walk:
    """What a full run over a collector's scopes produced."""

    records: list[CloudAddress]
    errors: dict[str, Exception]  # scope label -> exception
    leaves: list[Scope]

    @property
    def regions(self) -> dict[str, str]:
        return {r.ip: r.region for r in self.records}


def walk(collector: OciCollector, *, concurrency: int = 1) -> Walk:
    """Collect every scope breadth-first, isolating failures per scope like the runner does."""
    result = Walk([], {}, [])

    def run(scope: Scope) -> tuple[list[CloudAddress], list[Scope], Exception | None]:
        records: list[CloudAddress] = []
        children: list[Scope] = []
        try:
            for item in collector.collect(scope):
                (children if isinstance(item, Scope) else records).append(item)
        except Exception as exc:
            return records, children, exc
        return records, children, None

    level = list(collector.scopes())
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        while level:
            nxt: list[Scope] = []
            for scope, (records, children, error) in zip(level, pool.map(run, level), strict=True):
                if scope.leaf:
                    result.leaves.append(scope)
                result.records.extend(records)
                nxt.extend(children)
                if error is not None:
                    result.errors[scope.label] = error
            level = nxt
    collector.close()
    return result


@pytest.fixture(name="walk")
def walk_fixture() -> Any:
    """The `walk` helper (a fixture, so test modules need not import conftest)."""
    return walk
