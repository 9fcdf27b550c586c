"""Each cloud end to end: its sandbox fake → the real SDK → `origin-region-agent sync` → the Cloudflare fake."""

from __future__ import annotations

import contextlib
import importlib
import json

import pytest

from agent.sandbox.cloudflare import FakeCloudflare
from agent.sandbox.demo_run import CLOUD_MODULES, engine_capable


@pytest.mark.parametrize("source", sorted(CLOUD_MODULES))
def test_cloud_sync_maps_its_addresses(
    source: str, cf: FakeCloudflare, zone: str, write_config, run_cli, use_cloud
) -> None:
    module = importlib.import_module(CLOUD_MODULES[source])
    with contextlib.ExitStack() as stack:
        cloud = use_cloud(module.start_demo(stack))
        config = write_config([], inventory={source: cloud.config})
        result = run_cli("sync", "--config", str(config), "--output", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert cloud.expected_regions, "the demo cloud must expect at least one mapping"
    assert cf.mappings(zone) == {ip: (source, region) for ip, region in cloud.expected_regions.items()}
    summary = result.summary
    assert summary["discovery"]["sources"][source]["addresses"] >= len(cloud.expected_regions)
    (zone_summary,) = summary["zones"]
    assert zone_summary["created"] == len(cloud.expected_regions)
    # Whatever the agent must not map (global addresses, foreign IPs) is reported, not written.
    not_mapped = set(cloud.origin_ips) - set(cloud.expected_regions)
    reported = (
        set(zone_summary["global"]) | set(zone_summary["unmatched"]) | {u["ip"] for u in zone_summary["unsupported"]}
    )
    assert {ip for ip in not_mapped} <= reported | {a["ip"] for a in zone_summary["ambiguous"]}


def test_demo_command_runs_the_whole_pipeline(run_cli) -> None:
    """`demo` needs no credentials: it plans, applies, and a hand-made mapping survives create-only."""
    result = run_cli("demo", "--output", "json")
    assert result.exit_code == 0, result.stdout[-2000:]
    out = json.loads(result.stdout)
    plan, summary = out["plan"], out["summary"]
    assert plan["dry_run"] and not summary["dry_run"]
    (zone,) = summary["zones"]
    assert zone["created"] == plan["zones"][0]["created"] > 0
    assert [d["ip"] for d in zone["drift"]] == ["203.0.113.10"]  # hand-made mapping kept
    assert zone["unmatched"] == ["198.51.100.77"] or "198.51.100.77" in zone["unmatched"]
    assert {s for s in summary["discovery"]["sources"]} >= {"static"}


@pytest.mark.parametrize("source", sorted(s for s in CLOUD_MODULES if engine_capable(s)))
def test_cloud_engine_sync_maps_the_same_addresses(
    source: str, cf: FakeCloudflare, zone: str, write_config, run_cli, use_cloud
) -> None:
    """Engine mode (the cloud's inventory engine fake, real SDK) through `sync`: the same mappings as per account."""
    module = importlib.import_module(CLOUD_MODULES[source])
    with contextlib.ExitStack() as stack:
        cloud = use_cloud(module.start_demo(stack, engine=True))
        config = write_config([], inventory={source: cloud.config})
        result = run_cli("sync", "--config", str(config), "--output", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert cf.mappings(zone) == {ip: (source, region) for ip, region in cloud.expected_regions.items()}
    assert result.summary["discovery"]["complete"] is True


def test_demo_engine_flag_discovers_through_the_engines(run_cli) -> None:
    """`demo --engine`: clouds whose fake has an inventory engine use it; the others say they stayed per account."""
    result = run_cli("demo", "--engine", "--output", "json")
    assert result.exit_code == 0, result.stdout[-2000:]
    out = json.loads(result.stdout)
    (zone,) = out["summary"]["zones"]
    assert zone["created"] > 0
    notes = " ".join(out["notes"])
    for source in CLOUD_MODULES:
        if engine_capable(source):
            assert f"{source}: no inventory engine" not in notes
        else:
            assert f"{source}: no inventory engine" in notes or f"{source}: skipped" in notes
    assert out["summary"]["discovery"]["sources"]["aws"]["addresses"] == 4
