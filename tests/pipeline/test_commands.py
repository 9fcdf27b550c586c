"""The other CLI commands: discover, mappings, regions, demo; the v1 family end to end; all zones of an account."""

from __future__ import annotations

import csv
import io
import json

from agent.sandbox.cloudflare import FakeCloudflare
from tests.pipeline.conftest import writes

ROWS = [("192.0.2.1", "aws", "us-east-1"), ("192.0.2.2", "gcp", "europe-west1")]


def test_discover_lists_the_inventory_in_each_format(write_config, run_cli) -> None:
    config = str(write_config(ROWS))
    table = run_cli("discover", "--config", config)
    assert table.exit_code == 0 and "192.0.2.1" in table.stdout and "2 addresses" in table.stdout
    as_json = json.loads(run_cli("discover", "--config", config, "--output", "json").stdout)
    assert {a["ip"] for a in as_json["addresses"]} == {"192.0.2.1", "192.0.2.2"} and as_json["complete"]
    rows = list(csv.DictReader(io.StringIO(run_cli("discover", "--config", config, "--output", "csv").stdout)))
    assert [(r["ip"], r["vendor"], r["region"]) for r in rows] == ROWS


def test_mappings_and_regions(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    cf.set_mapping(zone, "192.0.2.1", "aws", "us-east-1")
    config = str(write_config(ROWS))
    listed = json.loads(run_cli("mappings", "--config", config, "--zone", "example.com", "--output", "json").stdout)
    assert [(m["origin_ip"], m["vendor"], m["region"]) for m in listed] == [("192.0.2.1", "aws", "us-east-1")]
    regions = json.loads(run_cli("regions", "--config", config, "--zone", zone, "--output", "json").stdout)
    assert "us-east-1" in regions["aws"] and "europe-west1" in regions["gcp"]
    cf.set_tiered_cache(zone, False)
    refused = run_cli("regions", "--config", config, "--zone", zone)
    assert refused.exit_code == 2 and "error:" in refused.stderr


def test_v1_family_end_to_end(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """The older family creates with POST (create-only by construction) and a rerun writes nothing."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    cf.add_dns_record(zone, "A", "b.example.com", "192.0.2.2")
    config = str(write_config(ROWS, cloudflare={"base_url": cf.base_url, "api_family": "v1", "max_retries": 0}))
    result = run_cli("sync", "--config", config, "--output", "json")
    assert result.exit_code == 0
    assert [r.method for r in writes(cf)] == ["POST", "POST"]
    assert cf.mappings(zone) == {"192.0.2.1": ("aws", "us-east-1"), "192.0.2.2": ("gcp", "europe-west1")}
    cf.clear_requests()
    assert run_cli("sync", "--config", config).exit_code == 0 and writes(cf) == []


def test_all_zones_of_an_account(cf: FakeCloudflare, write_config, run_cli) -> None:
    account = "ab" * 16
    zones = [cf.add_zone(f"z{i}.example", account_id=account) for i in range(3)]
    other = cf.add_zone("other.example", account_id="cd" * 16)
    for zone in [*zones, other]:
        cf.add_dns_record(zone, "A", "www", "192.0.2.1")
    config = str(
        write_config(
            ROWS,
            zones=[],
            all_zones=True,
            cloudflare={"base_url": cf.base_url, "account_id": account, "max_retries": 0},
        )
    )
    result = run_cli("sync", "--config", config, "--output", "json")
    assert result.exit_code == 0
    assert sorted(z["zone"] for z in result.summary["zones"]) == ["z0.example", "z1.example", "z2.example"]
    assert all(cf.mappings(z) == {"192.0.2.1": ("aws", "us-east-1")} for z in zones) and cf.mappings(other) == {}


def test_summary_file(cf: FakeCloudflare, zone: str, write_config, run_cli, tmp_path) -> None:
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    out = tmp_path / "summary.json"
    result = run_cli("sync", "--config", str(write_config(ROWS)), "--summary-file", str(out), "--output", "text")
    assert result.exit_code == 0
    assert json.loads(out.read_text())["zones"][0]["created"] == 1


def test_explicit_zone_settings_win_over_all_zones(cf: FakeCloudflare, write_config, run_cli) -> None:
    """A zone listed explicitly keeps its own `origins` even when all_zones lists it too."""
    account = "ef" * 16
    quiet = cf.add_zone("quiet.example", account_id=account)
    loud = cf.add_zone("loud.example", account_id=account)
    for zone in (quiet, loud):
        cf.add_dns_record(zone, "A", "www", "192.0.2.1")
    config = str(
        write_config(
            ROWS,
            zones=[{"name": "quiet.example", "origins": {"dns": "off"}}],
            all_zones=True,
            cloudflare={"base_url": cf.base_url, "account_id": account, "max_retries": 0},
        )
    )
    result = run_cli("sync", "--config", config, "--output", "json")
    assert result.exit_code == 0
    assert {z["zone"]: z["origin_ips"] for z in result.summary["zones"]} == {"quiet.example": 0, "loud.example": 1}
    assert cf.mappings(quiet) == {} and cf.mappings(loud) == {"192.0.2.1": ("aws", "us-east-1")}
