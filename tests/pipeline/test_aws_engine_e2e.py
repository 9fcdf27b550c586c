"""AWS engine mode through the CLI: a partial aggregator never deletes, and outdated engine data never corrects."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time
from typing import Any

import pytest

from agent.sandbox import aws
from agent.sandbox.cloudflare import FakeCloudflare
from agent.sandbox.demo import DemoCloud


def start(stack: contextlib.ExitStack, use_cloud: Any) -> DemoCloud:
    cloud: DemoCloud = use_cloud(aws.start_demo(stack, engine=True))
    return cloud


def test_partial_aggregator_creates_but_never_deletes(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with contextlib.ExitStack() as stack:
        cloud = start(stack, use_cloud)
        fake = cloud.fake
        fake.aggregators[0].failed["eu-west-1"] = ("AccessDeniedException", "cannot assume the Config service role")
        cf.set_mapping(zone, "192.0.2.200", "aws", "us-east-1")  # no longer an origin: sync would delete it
        config = write_config([], inventory={"aws": cloud.config}, policy="sync")
        result = run_cli("sync", "--config", str(config), "--output", "json")
    assert result.exit_code != 0
    summary = result.summary
    assert summary["discovery"]["complete"] is False
    (error,) = summary["discovery"]["scope_errors"]
    assert error["scope"].endswith("/eu-west-1") and error["code"] == "AggregatorSourceFailed"
    mappings = cf.mappings(zone)
    assert "192.0.2.200" in mappings  # kept: the picture is incomplete
    assert mappings["52.4.12.34"] == ("aws", "us-east-1")  # what the engine did see is still created


def test_engine_data_older_than_a_mapping_never_corrects_it(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with contextlib.ExitStack() as stack:
        cloud = start(stack, use_cloud)
        fake = cloud.fake
        fake.aggregators[0].capture_time = time.time() - 3600  # the aggregator last looked an hour ago
        cf.set_mapping(zone, "54.247.10.20", "aws", "eu-central-1")  # written just now, by hand
        config = write_config([], inventory={"aws": cloud.config}, policy="upsert")
        result = run_cli("sync", "--config", str(config), "--output", "json")
        assert cf.mappings(zone)["54.247.10.20"] == ("aws", "eu-central-1")  # not "corrected" by older data
        (zone_summary,) = result.summary["zones"]
        assert [(c["action"], c["ip"]) for c in zone_summary["outdated"]] == [("update", "54.247.10.20")]
        text = run_cli("plan", "--config", str(config))
        assert "54.247.10.20" in text.stdout and "older than the mapping's modified_on" in text.stdout
        fake.aggregators[0].capture_time = None  # fresh engine data: now the correction goes through
        result = run_cli("sync", "--config", str(config), "--output", "json")
    assert result.exit_code == 0, result.stdout
    assert cf.mappings(zone)["54.247.10.20"] == ("aws", "eu-west-1")


def test_discover_shows_the_engine_observation_time(
    use_cloud: Any, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with contextlib.ExitStack() as stack:
        cloud = start(stack, use_cloud)
        cloud.fake.aggregators[0].capture_time = 1_772_366_400.0  # 2026-03-01T12:00:00Z
        config = write_config([("192.0.2.1", "aws", "us-east-1")], inventory={"aws": cloud.config})
        listed = json.loads(run_cli("discover", "--config", str(config), "--output", "json").stdout)
        rows = list(csv.DictReader(io.StringIO(run_cli("discover", "--config", str(config), "--output", "csv").stdout)))
    observed = {a["ip"]: a["observed_at"] for a in listed["addresses"]}
    assert observed["52.4.12.34"] == "2026-03-01T12:00:00+00:00"
    assert observed["192.0.2.1"] == ""  # the static file is not an engine: no observation time
    assert {r["ip"]: r["observed_at"] for r in rows} == observed
