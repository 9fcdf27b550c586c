"""GCP Cloud Asset Inventory mode end to end: the fake's ListAssets → the real google-cloud-asset client →
`origin-region-agent sync` → the Cloudflare fake; a partial engine answer deletes nothing; engine data older than a
mapping does not correct it."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from agent.sandbox.cloudflare import FakeCloudflare
from agent.sandbox.gcp import FakeGcp, start_demo_fake


def _start(stack: contextlib.ExitStack, use_cloud: Any) -> tuple[FakeGcp, Any]:
    fake, cloud = start_demo_fake(stack, engine=True)
    return fake, use_cloud(cloud)


def test_sync_in_asset_inventory_mode_maps_the_same_addresses(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with contextlib.ExitStack() as stack:
        fake, cloud = _start(stack, use_cloud)
        config = write_config([], inventory={"gcp": cloud.config})
        result = run_cli("sync", "--config", str(config), "--output", "json")
        paths = [c.path for c in fake.calls]
    assert cloud.config["mode"] == "asset_inventory"
    assert result.exit_code == 0, result.stdout + result.stderr
    assert paths and all(p.startswith("/v1/organizations/") for p in paths)  # only the engine was asked
    assert cf.mappings(zone) == {ip: ("gcp", region) for ip, region in cloud.expected_regions.items()}
    (zone_summary,) = result.summary["zones"]
    assert zone_summary["created"] == len(cloud.expected_regions)
    assert set(zone_summary["global"]) == set(cloud.origin_ips) - set(cloud.expected_regions)


def test_partial_engine_answer_is_a_scope_error_and_deletes_nothing(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second ListAssets page fails: nothing from the engine is used, the stale mapping stays, exit code 1."""
    with contextlib.ExitStack() as stack:
        fake, cloud = _start(stack, use_cloud)
        cf.set_mapping(zone, "203.0.113.50", "gcp", "us-east1")  # no longer an origin: `sync` would delete it
        fake.asset_fail_page = 1
        settings = {**cloud.config, "asset_page_size": 2, "retry": {"max_attempts": 1}}
        config = write_config([], inventory={"gcp": settings})
        result = run_cli("sync", "--config", str(config), "--policy", "sync", "--output", "json")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "203.0.113.50" in cf.mappings(zone)
    (error,) = result.summary["discovery"]["scope_errors"]
    assert error["scope"] == "gcp:asset_inventory/organizations/424242424242" and error["code"] == "UNAVAILABLE"
    assert result.summary["zones"][0]["stale"] == ["203.0.113.50"]


def test_engine_data_older_than_a_mapping_does_not_correct_it(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An asset last updated an hour ago cannot correct a mapping written now; once the asset changes, it can."""
    with contextlib.ExitStack() as stack:
        fake, cloud = _start(stack, use_cloud)
        ip, region = "34.123.45.67", "us-central1"
        link = "https://www.googleapis.com/compute/v1/projects/demo-web-prod/regions/us-central1/addresses/web-ip"
        fake.asset_update_times[link] -= 3600
        cf.set_mapping(zone, ip, "gcp", "asia-east1")
        config = write_config([], inventory={"gcp": cloud.config})
        held = run_cli("sync", "--config", str(config), "--policy", "upsert", "--output", "json")
        assert held.exit_code == 0, held.stdout + held.stderr
        assert cf.mappings(zone)[ip] == ("gcp", "asia-east1")
        assert [c["ip"] for c in held.summary["zones"][0]["outdated"]] == [ip]

        fake.asset_update_times[link] += 7200  # the engine saw the address after the mapping was written
        fixed = run_cli("sync", "--config", str(config), "--policy", "upsert", "--output", "json")
        assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
        assert cf.mappings(zone)[ip] == ("gcp", region)
