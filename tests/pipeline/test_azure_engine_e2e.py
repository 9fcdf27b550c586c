"""Azure Resource Graph mode end to end: the fake's ARG endpoint → the real SDK → `origin-region-agent sync` → the
Cloudflare fake; and a partial engine answer deletes nothing."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from agent.sandbox.azure import FakeAzure, start_demo_fake
from agent.sandbox.cloudflare import FakeCloudflare


def _start(stack: contextlib.ExitStack, use_cloud: Any) -> tuple[FakeAzure, Any]:
    fake, cloud = start_demo_fake(stack, engine=True)
    return fake, use_cloud(cloud)


def test_sync_in_resource_graph_mode_maps_the_same_addresses(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with contextlib.ExitStack() as stack:
        _, cloud = _start(stack, use_cloud)
        config = write_config([], inventory={"azure": cloud.config})
        result = run_cli("sync", "--config", str(config), "--output", "json")
    assert cloud.config["mode"] == "resource_graph"
    assert result.exit_code == 0, result.stdout + result.stderr
    assert cf.mappings(zone) == {ip: ("azure", region) for ip, region in cloud.expected_regions.items()}
    (zone_summary,) = result.summary["zones"]
    assert zone_summary["created"] == len(cloud.expected_regions)
    assert set(zone_summary["global"]) == set(cloud.origin_ips) - set(cloud.expected_regions)


def test_partial_engine_answer_is_a_scope_error_and_deletes_nothing(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A truncated Resource Graph answer: what came is applied, the stale mapping stays, exit code 1."""
    with contextlib.ExitStack() as stack:
        fake, cloud = _start(stack, use_cloud)
        cf.set_mapping(zone, "203.0.113.50", "azure", "eastus")  # no longer an origin: `sync` would delete it
        fake.arg_truncate = True
        config = write_config([], inventory={"azure": cloud.config})
        result = run_cli("sync", "--config", str(config), "--policy", "sync", "--output", "json")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "203.0.113.50" in cf.mappings(zone)
    (error,) = result.summary["discovery"]["scope_errors"]
    assert error["code"] == "PartialResult" and error["scope"] == "azure:resource-graph/tenant"
    assert result.summary["zones"][0]["stale"] == ["203.0.113.50"]


def test_engine_data_older_than_a_mapping_does_not_correct_it(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mapping written just now (modified_on = now) is newer than Resource Graph's data (query time minus the
    assumed lag): `upsert` withholds the correction as outdated. With no assumed lag, the same run corrects it."""
    with contextlib.ExitStack() as stack:
        _, cloud = _start(stack, use_cloud)
        ip, region = sorted(cloud.expected_regions.items())[0]
        cf.set_mapping(zone, ip, "azure", "brazilsouth")
        config = write_config([], inventory={"azure": cloud.config})
        held = run_cli("sync", "--config", str(config), "--policy", "upsert", "--output", "json")
        assert held.exit_code == 0, held.stdout + held.stderr
        assert cf.mappings(zone)[ip] == ("azure", "brazilsouth")
        assert [c["ip"] for c in held.summary["zones"][0]["outdated"]] == [ip]

        fresh = write_config([], inventory={"azure": {**cloud.config, "resource_graph_lag_seconds": 0}})
        fixed = run_cli("sync", "--config", str(fresh), "--policy", "upsert", "--output", "json")
        assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
        assert cf.mappings(zone)[ip] == ("azure", region)
        assert fixed.summary["zones"][0]["outdated"] == [] and fixed.summary["zones"][0]["updated"] == 1
