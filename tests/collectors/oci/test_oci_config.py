"""`inventory.oci` validation: clear errors naming field and value, no SDK import."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from agent.collectors.oci.collector import OciCollector
from agent.collectors.oci.config import OciConfig
from agent.errors import ConfigError


def test_defaults_are_production_ready() -> None:
    """Config-file auth, IPv6 on, bounded SDK retries and a circuit breaker, SDK-chosen endpoints."""
    config = OciConfig()
    assert (config.auth, config.config_file, config.profile, config.ipv6) == (
        "config_file", "~/.oci/config", "DEFAULT", True
    )  # fmt: skip
    assert config.retry.max_attempts > 1 and config.circuit_breaker.enabled
    assert config.identity_endpoint("us-ashburn-1") is None and config.network_endpoint("us-ashburn-1") is None


def test_endpoint_templates_are_formatted_per_region() -> None:
    """`endpoint_template` serves both services unless a service-specific template overrides it."""
    config = OciConfig(
        endpoint_template="http://127.0.0.1:8080/{region}/",
        network_endpoint_template="https://iaas.{region}.oraclecloud.com",
    )
    assert config.identity_endpoint("eu-frankfurt-1") == "http://127.0.0.1:8080/eu-frankfurt-1"
    assert config.network_endpoint("eu-frankfurt-1") == "https://iaas.eu-frankfurt-1.oraclecloud.com"


@pytest.mark.parametrize(
    ("values", "field", "needle"),
    [
        pytest.param({"endpoint_template": "127.0.0.1:8080/{region}"}, "endpoint_template", "http://", id="no-scheme"),
        pytest.param(
            {"endpoint_template": "http://x/{realm}/{region}"}, "endpoint_template", "realm", id="placeholder"
        ),
        pytest.param(
            {"identity_endpoint_template": "http://x/{"}, "identity_endpoint_template", "template", id="broken-template"
        ),
        pytest.param({"region": "US East"}, "region", "US East", id="bad-region"),
        pytest.param({"regions": ["us-ashburn-1", "ashburn"]}, "regions", "ashburn", id="bad-region-list"),
        pytest.param({"tenancy": "ocid1.user.oc1..aaaa"}, "tenancy", "ocid1.user.oc1..aaaa", id="not-a-tenancy"),
        pytest.param({"compartments": ["prod"]}, "compartments", "prod", id="compartment-name"),
        pytest.param({"auth": "api_key"}, "auth", "api_key", id="unknown-auth"),
        pytest.param({"retry": {"max_attempts": 0}}, "retry.max_attempts", "0", id="zero-attempts"),
        pytest.param({"page_size": 5000}, "page_size", "5000", id="page-size"),
        pytest.param({"ipv_6": False}, "ipv_6", "ipv_6", id="typo-key"),
    ],
)
def test_bad_values_name_the_field_and_value(values: dict[str, object], field: str, needle: str) -> None:
    """Every refusal names the field and echoes the value (the config loader turns it into a ConfigError)."""
    with pytest.raises(ValidationError) as info:
        OciConfig.model_validate(values)
    text = str(info.value)
    assert field in text and needle in text


def test_from_config_with_a_dict_raises_config_error() -> None:
    """`from_config` accepts the raw section too, and reports bad input as ConfigError."""
    with pytest.raises(ConfigError, match=r"inventory\.oci") as info:
        OciCollector.from_config({"auth": "config_file", "regions": ["nowhere"]})
    assert "nowhere" in str(info.value)


def test_regions_and_compartments_are_deduplicated() -> None:
    """Listing a region twice does not scan it twice."""
    config = OciConfig(regions=("us-ashburn-1", "us-ashburn-1", "us-gov-ashburn-1"))
    assert config.regions == ("us-ashburn-1", "us-gov-ashburn-1")


def test_config_module_imports_no_sdk() -> None:
    """Validating a config must not pay for `import oci` (about 0.25 s and 80 MiB)."""
    code = "import sys, agent.collectors.oci.config, agent.collectors.oci; assert 'oci' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
