"""`inventory.gcp` validation, the pure record helpers, and the demo fake end to end."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from agent.collectors.base import load_collector
from agent.collectors.gcp.collector import GcpCollector
from agent.collectors.gcp.config import GcpConfig
from agent.collectors.gcp.records import forwarding_rule_records, region_of, zone_region
from agent.collectors.runner import run_collectors
from agent.errors import ConfigError
from agent.models import GLOBAL_REGION
from agent.sandbox.gcp import start_demo


@pytest.mark.parametrize(
    ("settings", "field", "value"),
    [
        pytest.param({"projects": ["My_Project"]}, "projects", "My_Project", id="project-id-case"),
        pytest.param({"projects": ["abc"]}, "projects", "abc", id="project-id-short"),
        pytest.param({"folders": ["folders/abc"]}, "folders", "folders/abc", id="folder-not-numeric"),
        pytest.param({"organizations": ["orgs/1"]}, "organizations", "orgs/1", id="org-prefix"),
        pytest.param({"compute_endpoint": "127.0.0.1:8080"}, "compute_endpoint", "127.0.0.1:8080", id="no-scheme"),
        pytest.param({"resource_manager_endpoint": "https://x/v3"}, "resource_manager_endpoint", "https://x/v3",
                     id="endpoint-with-path"),
        pytest.param({"impersonate_service_account": "not-an-email"}, "impersonate_service_account", "not-an-email",
                     id="impersonation-target"),
        pytest.param({"page_size": 501}, "page_size", "501", id="page-size-cap"),
        pytest.param({"projectz": ["a-project"]}, "projectz", "", id="unknown-key"),
        pytest.param({"retry": {"max_attempts": 0}}, "max_attempts", "0", id="retry-attempts"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_field_and_value(settings: dict[str, Any], field: str, value: str) -> None:
    """A bad value is refused with a message naming the field and the value, from the model and from from_config."""
    with pytest.raises(ValidationError) as caught:
        GcpConfig.model_validate(settings)
    assert field in str(caught.value)
    assert value in str(caught.value)
    with pytest.raises(ConfigError) as config_error:
        GcpCollector.from_config(settings)
    assert field in str(config_error.value) and value in str(config_error.value)


def test_normalised_settings() -> None:
    """Bare folder / organization numbers get their prefix; endpoints lose a trailing slash; duplicates go."""
    cfg = GcpConfig.model_validate(
        {
            "projects": ["web-prod", "web-prod"],
            "folders": ["123", "folders/123"],
            "organizations": ["42"],
            "compute_endpoint": "http://127.0.0.1:8080/",
        }
    )
    assert cfg.projects == ("web-prod",)
    assert cfg.folders == ("folders/123",)
    assert cfg.organizations == ("organizations/42",)
    assert cfg.compute_endpoint == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot be read", id="missing"),
        pytest.param("{not json", "is not JSON", id="not-json"),
        pytest.param(json.dumps({"type": "authorized_user", "refresh_token": "r"}), "authorized_user", id="user"),
        pytest.param(json.dumps({"type": "service_account", "client_email": "a@b"}), "lacks private_key",
                     id="incomplete"),
    ],
)  # fmt: skip
def test_credentials_file_is_checked_up_front(tmp_path: Path, content: str | None, message: str) -> None:
    """credentials_file must be a service-account key: ConfigError names the field, never the file's secrets."""
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        GcpCollector.from_config({"credentials_file": str(path)})
    assert "inventory.gcp.credentials_file" in str(caught.value)
    assert message in str(caught.value)
    assert "refresh_token" not in str(caught.value) or '"r"' not in str(caught.value)


def test_load_collector_by_source_name() -> None:
    """The COLLECTORS table resolves `gcp` to this collector, built from a GcpConfig."""
    collector = load_collector("gcp", GcpConfig(projects=("web-prod",)))
    assert isinstance(collector, GcpCollector)
    assert [s.label for s in collector.scopes()] == ["gcp:web-prod"]


def test_config_module_imports_no_sdk() -> None:
    """config.py, records.py and the fake load no Google SDK module (compute_v1 alone costs 0.8 s).

    (``google`` and ``google.cloud`` themselves are namespace packages that site-packages .pth files pre-import.)
    """
    code = (
        "import sys; import agent.collectors.gcp.config, agent.collectors.gcp.records, agent.sandbox.gcp; "
        "heavy = ('google.cloud.', 'google.auth', 'google.api_core', 'grpc'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("scope_key", "urls", "region"),
    [
        pytest.param("regions/us-central1", {}, "us-central1", id="region-key"),
        pytest.param("zones/europe-west1-b", {}, "europe-west1", id="zone-key"),
        pytest.param("zones/us-central1-ai1a", {}, "us-central1", id="ai-zone-key"),
        pytest.param("global", {}, GLOBAL_REGION, id="global-key"),
        pytest.param("", {}, GLOBAL_REGION, id="no-key"),
        pytest.param("global", {"region_url": "https://www.googleapis.com/compute/v1/projects/p/regions/asia-east2"},
                     "asia-east2", id="region-url-wins"),
        pytest.param("zones/x-y1-a", {"zone_url": "https://compute.googleapis.com/compute/v1/projects/p/zones/me-west1-c"},
                     "me-west1", id="zone-url-wins"),
        pytest.param("", {"region_url": "projects/p/regions/us-west4"}, "us-west4", id="partial-url"),
    ],
)  # fmt: skip
def test_region_of(scope_key: str, urls: dict[str, str], region: str) -> None:
    """The item's own region/zone URL wins; else the aggregated-list scope key; a zone maps to its region."""
    assert region_of(scope_key, **urls) == region


def test_zone_region() -> None:
    assert zone_region("northamerica-northeast2-c") == "northamerica-northeast2"


def test_demo_yields_exactly_the_expected_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    """start_demo + the collector (through the runner) map every demo origin IP as promised; the anycast one is
    reported as global, which the pipeline never writes."""
    with contextlib.ExitStack() as stack:
        demo = start_demo(stack)
        for name, value in demo.env.items():
            monkeypatch.setenv(name, value)
        collector = GcpCollector.from_config(demo.config)
        stack.callback(collector.close)
        found = run_collectors([collector], concurrency=4)
        workdir = Path(demo.config["credentials_file"]).parent
    assert found.errors == []
    regional = {r.ip: r.region for r in found.records if r.region != GLOBAL_REGION}
    assert regional == demo.expected_regions
    global_ips = {r.ip for r in found.records if r.region == GLOBAL_REGION}
    assert global_ips == set(demo.origin_ips) - set(demo.expected_regions)
    assert not workdir.exists()  # the demo's key file is removed with the stack
    assert os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") is None


def test_forwarding_rule_records_without_self_link() -> None:
    """Pure helper on SDK-shaped objects: an IPv6 range's address is kept, the resource id is built from the scope
    when selfLink is missing, and internal schemes are skipped."""
    rule = SimpleNamespace(
        name="v6-lb",
        I_p_address="2600:1901:0:abcd:0:0:0:0/96",
        load_balancing_scheme="EXTERNAL",
        region="",
        network_tier="PREMIUM",
    )
    internal = SimpleNamespace(**{**vars(rule), "name": "ilb", "load_balancing_scheme": "INTERNAL_MANAGED"})
    records = list(forwarding_rule_records("p-proj", "regions/us-west1", [rule, internal]))
    assert [(r.ip, r.region, r.resource_id, r.kind) for r in records] == [
        ("2600:1901:0:abcd::", "us-west1", "projects/p-proj/regions/us-west1/forwardingRules/v6-lb", "forwarding-rule")
    ]
