"""End to end through the CLI, over real HTTP, against the Cloudflare fake and a static inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.sandbox.cloudflare import FakeCloudflare
from tests.pipeline.conftest import writes

INVENTORY = [
    ("192.0.2.1", "aws", "us-east-1"),
    ("192.0.2.2", "aws", "eu-west-1"),
    ("2001:db8::10", "gcp", "us-central1"),
    ("192.0.2.4", "aws", "mars-north-1"),  # not a supported region
    ("192.0.2.5", "aws", "us-east-1"),
    ("192.0.2.5", "aws", "us-west-2"),  # the same IP in two regions: ambiguous
]


def seed(cf: FakeCloudflare, zone: str) -> None:
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    cf.add_dns_record(zone, "A", "b.example.com", "192.0.2.2")
    cf.add_dns_record(zone, "AAAA", "c.example.com", "2001:DB8:0::10")  # stored in any spelling
    cf.add_dns_record(zone, "A", "d.example.com", "192.0.2.4")
    cf.add_dns_record(zone, "A", "e.example.com", "192.0.2.5")
    cf.add_dns_record(zone, "A", "f.example.com", "198.51.100.1")  # in no inventory
    cf.add_dns_record(zone, "A", "grey.example.com", "192.0.2.99", proxied=False)  # DNS-only: not an origin


def test_create_only_creates_missing_and_keeps_hand_made(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """The default policy creates what is missing and never touches an existing mapping."""
    seed(cf, zone)
    cf.set_mapping(zone, "192.0.2.2", "aws", "eu-central-1")  # made by hand, disagrees with the inventory
    result = run_cli("sync", "--config", str(write_config(INVENTORY)), "--output", "json")
    assert result.exit_code == 0, result.stderr
    assert cf.mappings(zone) == {
        "192.0.2.1": ("aws", "us-east-1"),
        "192.0.2.2": ("aws", "eu-central-1"),
        "2001:db8::10": ("gcp", "us-central1"),
    }
    (z,) = result.summary["zones"]
    assert (z["origin_ips"], z["matched"], z["created"], z["updated"], z["deleted"]) == (6, 4, 2, 0, 0)
    assert z["unmatched"] == ["198.51.100.1"]
    assert z["unsupported"] == [{"ip": "192.0.2.4", "vendor": "aws", "region": "mars-north-1"}]
    assert [a["ip"] for a in z["ambiguous"]] == ["192.0.2.5"]
    assert [d["ip"] for d in z["drift"]] == ["192.0.2.2"]
    assert {c["ip"]: c["status"] for c in z["changes"]} == {"192.0.2.1": "applied", "2001:db8::10": "applied"}
    assert z["origins"]["2001:db8::10"] == ["AAAA c.example.com"]
    summary = result.summary
    for key in ("version", "started_at", "finished_at", "duration_s", "dry_run", "policy", "discovery"):
        assert key in summary
    assert summary["discovery"]["sources"]["static"] == {"addresses": 6, "scope_errors": 0}


def test_plan_and_dry_run_send_no_write(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """`plan` and `sync --dry-run` run the whole path but send no mutating request."""
    seed(cf, zone)
    config = str(write_config(INVENTORY))
    for args in (["plan"], ["sync", "--dry-run"]):
        result = run_cli(*args, "--config", config, "--output", "json")
        assert result.exit_code == 0
        assert writes(cf) == []
        (z,) = result.summary["zones"]
        assert result.summary["dry_run"] is True
        assert z["created"] == 3 and {c["status"] for c in z["changes"]} == {"planned"}
    assert cf.mappings(zone) == {}


def test_second_run_writes_nothing_and_stays_within_request_budget(
    cf: FakeCloudflare, zone: str, write_config, run_cli
) -> None:
    """A run where nothing changes makes zero writes and at most DNS pages + mapping pages + 3 requests."""
    seed(cf, zone)
    config = str(write_config(INVENTORY))
    assert run_cli("sync", "--config", config).exit_code == 0
    cf.clear_requests()
    result = run_cli("sync", "--config", config, "--output", "json")
    assert result.exit_code == 0
    assert writes(cf) == []
    paths = [r.path for r in cf.requests]
    dns_pages = sum(p.endswith("/dns_records") for p in paths)
    mapping_pages = sum(p.endswith("/origin/cloud_regions") for p in paths)
    assert len(paths) <= dns_pages + mapping_pages + 3, paths
    assert result.summary["zones"][0]["unchanged"] == 3


def test_upsert_corrects_drift(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    seed(cf, zone)
    cf.set_mapping(zone, "192.0.2.2", "aws", "eu-central-1")
    result = run_cli("sync", "--config", str(write_config(INVENTORY)), "--policy", "upsert", "--output", "json")
    assert result.exit_code == 0
    assert cf.mappings(zone)["192.0.2.2"] == ("aws", "eu-west-1")
    assert result.summary["zones"][0]["updated"] == 1


def test_sync_deletes_mappings_of_former_origins(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """sync removes a mapping whose IP is no longer an origin of the zone; everything else stays."""
    seed(cf, zone)
    cf.set_mapping(zone, "203.0.113.50", "aws", "us-east-1")  # not an origin any more
    cf.set_mapping(zone, "198.51.100.1", "aws", "us-east-1")  # an origin, but unmatched: kept
    result = run_cli("sync", "--config", str(write_config(INVENTORY)), "--policy", "sync", "--output", "json")
    assert result.exit_code == 0
    mappings = cf.mappings(zone)
    assert "203.0.113.50" not in mappings and "198.51.100.1" in mappings
    assert result.summary["zones"][0]["deleted"] == 1


def test_sync_never_deletes_after_a_failed_scope(
    cf: FakeCloudflare, zone: str, write_config, run_cli, tmp_path: Path
) -> None:
    """A broken inventory row fails its scope: the run applies what it can, deletes nothing, exits 1."""
    seed(cf, zone)
    cf.set_mapping(zone, "203.0.113.50", "aws", "us-east-1")
    config = write_config([*INVENTORY, ("not-an-ip", "aws", "us-east-1")])
    result = run_cli("sync", "--config", str(config), "--policy", "sync", "--output", "json")
    assert result.exit_code == 1
    assert "203.0.113.50" in cf.mappings(zone)
    assert "192.0.2.1" in cf.mappings(zone)
    (error,) = result.summary["discovery"]["scope_errors"]
    assert error["code"] == "BadInventory" and "not-an-ip" in error["message"]
    assert result.summary["zones"][0]["stale"] == ["203.0.113.50"]


def test_max_changes_guard_refuses_whole_plan(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    seed(cf, zone)
    config = str(write_config(INVENTORY))
    result = run_cli("sync", "--config", config, "--max-changes", "1", "--output", "json")
    assert result.exit_code == 3
    assert writes(cf) == []
    assert result.summary["guard"] == {
        "max_changes": 1,
        "planned_changes": 3,
        "refused": True,
        "max_deletes": "10%",
        "planned_deletes": 0,
    }
    result = run_cli("sync", "--config", config, "--max-changes", "1", "--force", "--output", "json")
    assert result.exit_code == 0 and len(cf.mappings(zone)) == 3


def test_failed_batch_is_partial_failure(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """A batch the API keeps refusing fails its items (exit 1); the summary names them."""
    seed(cf, zone)
    cf.fail_next(500, count=10, match="PUT")
    result = run_cli("sync", "--config", str(write_config(INVENTORY)), "--output", "json")
    assert result.exit_code == 1
    failed = result.summary["zones"][0]["failed"]
    assert sorted(f["ip"] for f in failed) == ["192.0.2.1", "192.0.2.2", "2001:db8::10"]


def test_tiered_cache_off_is_reported_for_the_zone(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """A zone whose supported regions are refused (Tiered Cache off) is reported with the reason; exit 1."""
    seed(cf, zone)
    cf.set_tiered_cache(zone, False)
    result = run_cli("sync", "--config", str(write_config(INVENTORY)), "--output", "json")
    assert result.exit_code == 1
    assert "Tiered Cache" in result.summary["zones"][0]["error"]


def test_wrong_token_is_exit_2(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    seed(cf, zone)
    result = run_cli(
        "sync",
        "--config",
        str(write_config(INVENTORY)),
        "--output",
        "json",
        env={"CLOUDFLARE_API_TOKEN": "wrong-token-abcdef"},
    )
    assert result.exit_code == 2
    assert "wrong-token-abcdef" not in result.stdout + result.stderr
    assert writes(cf) == []


def test_unknown_zone_is_exit_2(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    result = run_cli("sync", "--config", str(write_config(INVENTORY)), "--zone", "nope.example", "--output", "json")
    assert result.exit_code == 2
    assert "nope.example" in result.summary["errors"][0]


@pytest.mark.allow_contract_violations("/dns_records")
def test_malformed_dns_contents_are_skipped_with_a_warning(
    cf: FakeCloudflare, zone: str, write_config, run_cli
) -> None:
    seed(cf, zone)
    cf.add_dns_record(zone, "A", "junk.example.com", "192.0.2.300", validate_content=False)
    cf.add_dns_record(zone, "A", "cidr.example.com", "192.0.2.0/24", validate_content=False)
    result = run_cli("sync", "--config", str(write_config(INVENTORY)), "--output", "json")
    assert result.exit_code == 0
    warnings = result.summary["zones"][0]["warnings"]
    assert any("junk.example.com" in w and "192.0.2.300" in w for w in warnings)
    assert any("cidr.example.com" in w for w in warnings)
    assert len(cf.mappings(zone)) == 3
    # Real Cloudflare would not hand out such records (the OpenAPI schema says so): the fake did on purpose.
    assert cf.contract_violations and all("/dns_records" in v for v in cf.contract_violations)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("policy: yolo\n", "policy: Input should be", id="bad-policy"),
        pytest.param("zones: [{name: example.com}]\nshard: 1/0\n", "shard", id="bad-shard"),
        pytest.param("zones: [{name: a.com}]\npolicy: sync\nshard: 0/2\n", "cannot run sharded", id="sync-sharded"),
        pytest.param("zones: [{nmae: a.com}]\n", "zones.0.nmae: unknown key", id="typo-key"),
        pytest.param("zones: [{id: XYZ}]\n", "zone id 'XYZ'", id="bad-zone-id"),
        pytest.param("cloudflare: {api_token: '${NOPE_NOT_SET}'}\n", "NOPE_NOT_SET is not set", id="missing-env"),
        pytest.param("zones: [\n", "not valid YAML at line", id="broken-yaml"),
        pytest.param("- a\n- b\n", "top level must be a mapping", id="list-top-level"),
        pytest.param("origins: {static: ['10.0.0.1/8']}\n", "origins.static", id="bad-static-origin"),
        pytest.param("concurrency: 0\n", "concurrency: Input should be greater than or equal to 1", id="concurrency"),
        pytest.param("inventory: {static: {}}\n", "inventory.static: give `path` or `paths`", id="static-no-path"),
    ],
)
def test_bad_configs_exit_2_with_a_clear_message(tmp_path: Path, run_cli, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = run_cli("sync", "--config", str(path))
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_secret_values_are_not_echoed_in_config_errors(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cloudflare: {api_token: 12345, api_key: {x: 1}}\n")
    result = run_cli("sync", "--config", str(path), env={"CLOUDFLARE_API_TOKEN": "tok-should-not-leak"})
    assert result.exit_code == 2
    assert "12345" not in result.stderr and "tok-should-not-leak" not in result.stderr


def test_missing_config_file(run_cli, tmp_path: Path) -> None:
    result = run_cli("sync", "--config", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 2 and "cannot read config file" in result.stderr


def test_text_summary_on_terminal_output(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    seed(cf, zone)
    result = run_cli("plan", "--config", str(write_config(INVENTORY)), "--output", "text")
    assert result.exit_code == 0
    assert "+ create" in result.stdout and "192.0.2.1" in result.stdout and "dry run" in result.stdout
    assert "ambiguous: 192.0.2.5" in result.stdout


def test_no_dry_run_flag_overrides_the_file(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """`init` writes `dry_run: true`: such a config writes nothing, and `--no-dry-run` applies anyway."""
    seed(cf, zone)
    config = str(write_config(INVENTORY, dry_run=True))
    assert run_cli("sync", "--config", config).exit_code == 0 and writes(cf) == []
    assert run_cli("sync", "--config", config, "--no-dry-run").exit_code == 0
    assert len(cf.mappings(zone)) == 3


def test_ambiguous_credentials_are_refused(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """A token and a global key at once: refused before any request, naming the settings, not their values."""
    result = run_cli(
        "plan",
        "--config",
        str(write_config(INVENTORY)),
        env={"CLOUDFLARE_EMAIL": "ops@example.com", "CLOUDFLARE_API_KEY": "k" * 37},
    )
    assert result.exit_code == 2
    assert "ambiguous Cloudflare credentials" in result.stderr + result.stdout
    assert "k" * 37 not in result.stderr + result.stdout
    assert cf.requests == []
