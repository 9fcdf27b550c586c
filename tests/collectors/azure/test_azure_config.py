"""`inventory.azure` validation: bad values are named in the error, endpoints default from the cloud."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure_testkit import CLIENT_ID, SECRET, TENANT
from pydantic import ValidationError

from agent.collectors.azure.collector import AzureCollector
from agent.collectors.azure.config import AzureConfig
from agent.errors import ConfigError


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"subscriptions": ["not-a-guid"]}, "'not-a-guid'"),
        ({"arm_endpoint": "http://127.0.0.1:8080"}, "'http://127.0.0.1:8080'"),
        ({"authority_host": "login.microsoftonline.com"}, "'login.microsoftonline.com'"),
        ({"auth": "service_principal", "tenant_id": TENANT}, "client_id"),
        ({"tenant_id": "a/b"}, "'a/b'"),
        ({"retry_total": -1}, "retry_total"),
        ({"cloud": "mars"}, "cloud"),
        ({"exclude_credentials": ["interactive_browser"]}, "exclude_credentials"),
        ({"subscription": []}, "subscription"),
    ],
    ids=["bad-subscription-id", "plain-http-arm", "authority-without-scheme", "sp-without-client", "tenant-slash",
         "negative-retries", "unknown-cloud", "unknown-credential", "typo-key"],
)  # fmt: skip
def test_invalid_values_are_refused_naming_field_and_value(section: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        AzureConfig.model_validate(section)
    assert needle in str(info.value)


def test_from_config_turns_a_bad_mapping_into_config_error() -> None:
    """A raw YAML mapping with a bad value becomes ConfigError naming the section."""
    with pytest.raises(ConfigError, match=r"inventory\.azure.*not-a-guid"):
        AzureCollector.from_config({"subscriptions": ["not-a-guid"]})


@pytest.mark.parametrize(
    ("cloud", "arm", "authority"),
    [
        ("public", "https://management.azure.com", "https://login.microsoftonline.com"),
        ("china", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
        ("usgov", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
    ],
)
def test_sovereign_cloud_defaults(cloud: str, arm: str, authority: str) -> None:
    config = AzureConfig.model_validate({"cloud": cloud})
    assert config.resolved_arm_endpoint == arm
    assert config.resolved_credential_scope == f"{arm}/.default"
    assert config.resolved_authority_host == authority


def test_explicit_endpoints_override_the_cloud() -> None:
    config = AzureConfig.model_validate(
        {"cloud": "china", "arm_endpoint": "https://arm.proxy.internal/", "authority_host": "https://aad.internal"}
    )
    assert config.resolved_arm_endpoint == "https://arm.proxy.internal"
    assert config.resolved_credential_scope == "https://arm.proxy.internal/.default"
    assert config.resolved_authority_host == "https://aad.internal"


def test_subscription_ids_are_lower_cased_and_deduplicated() -> None:
    sub = "0000000A-0000-4000-8000-00000000000A"
    assert AzureConfig.model_validate({"subscriptions": [sub, sub.lower()]}).subscriptions == (sub.lower(),)


def test_missing_secret_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    section = {"auth": "service_principal", "tenant_id": TENANT, "client_id": CLIENT_ID}
    with pytest.raises(ConfigError, match=r"client_secret_env.*'AZURE_CLIENT_SECRET'"):
        AzureCollector.from_config(section)


def test_unreadable_secret_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    section = {"auth": "service_principal", "tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret_file": missing}
    with pytest.raises(ConfigError, match=r"client_secret_file.*nope"):
        AzureCollector.from_config(section)


def test_secret_is_never_in_the_collector_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    section = {"auth": "service_principal", "tenant_id": TENANT, "client_id": CLIENT_ID}
    collector = AzureCollector.from_config(section)
    assert SECRET not in repr(vars(collector)) and "**********" in repr(vars(collector))


def test_config_module_imports_no_sdk() -> None:
    """config.py is imported for every config validation; the Azure SDK must load only with the collector."""
    import subprocess
    import sys

    code = "import sys, agent.collectors.azure.config; print(any(m.startswith('azure') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
