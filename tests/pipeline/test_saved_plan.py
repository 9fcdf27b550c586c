"""Saved plans end to end against the Cloudflare fake: `plan --out`, then `apply PLAN.json` writes exactly that plan
(in its batches, with no discovery and no origin listing), and refuses a stale plan or one made for something else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.sandbox.cloudflare import FakeCloudflare
from tests.pipeline.conftest import writes

INVENTORY = [
    ("192.0.2.1", "aws", "us-east-1"),
    ("192.0.2.2", "aws", "eu-west-1"),
    ("192.0.2.3", "gcp", "us-central1"),
    ("2001:db8::10", "gcp", "us-central1"),
    ("192.0.2.9", "aws", "us-east-1"),
]


def seed(cf: FakeCloudflare, zone: str) -> None:
    for number, (ip, _, _) in enumerate(INVENTORY):
        cf.add_dns_record(zone, "AAAA" if ":" in ip else "A", f"o{number}.example.com", ip)
    cf.set_mapping(zone, "192.0.2.9", "aws", "us-east-1")  # already right: unchanged
    cf.set_mapping(zone, "192.0.2.3", "gcp", "europe-west1")  # drift: updated under upsert


def make_plan(cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path, **extra: Any) -> Path:
    seed(cf, zone)
    config = write_config(INVENTORY, **extra)
    out = tmp_path / "plan.json"
    result = run_cli("plan", "--config", str(config), "--policy", "upsert", "--out", str(out), "--output", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert writes(cf) == []  # plan stays a dry run
    return out


@pytest.mark.parametrize("family", ["v2", "v1"])
def test_plan_out_then_apply_writes_exactly_the_plan(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path, family: str
) -> None:
    plan_file = make_plan(cf, zone, write_config, run_cli, tmp_path, cloudflare={"api_family": family, "batch_size": 2})
    saved = json.loads(plan_file.read_text())
    assert saved["format"] == "origin-region-agent plan" and saved["format_version"] == 1
    (planned_zone,) = saved["zones"]
    assert (planned_zone["zone_id"], planned_zone["zone"], planned_zone["api_family"]) == (zone, "example.com", family)
    assert planned_zone["policy"] == "upsert" and planned_zone["fingerprint"].startswith("sha256:")
    creates = [c["new"]["ip"] for c in planned_zone["plan"]["creates"]]
    updates = [(c["old"]["region"], c["new"]["region"]) for c in planned_zone["plan"]["updates"]]
    assert creates == ["192.0.2.1", "192.0.2.2", "2001:db8::10"]
    assert updates == [("europe-west1", "us-central1")]
    assert planned_zone["plan"]["creates"][0]["source"] and planned_zone["plan"]["creates"][0]["confidence"]

    # The inventory is gone by apply time: apply must not run discovery at all.
    config = write_config(INVENTORY, cloudflare={"api_family": family, "batch_size": 2})
    (tmp_path / "inventory.csv").unlink()
    cf.clear_requests()
    result = run_cli("apply", str(plan_file), "--config", str(config), "--output", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert cf.mappings(zone) == {
        "192.0.2.1": ("aws", "us-east-1"),
        "192.0.2.2": ("aws", "eu-west-1"),
        "192.0.2.3": ("gcp", "us-central1"),
        "2001:db8::10": ("gcp", "us-central1"),
        "192.0.2.9": ("aws", "us-east-1"),
    }
    assert not any("/dns_records" in r.path or "load_balancers" in r.path for r in cf.requests)
    sent = [(r.method, r.body) for r in writes(cf)]
    if family == "v2":  # creates then updates, in batches of the planned size (2)
        assert sent == [
            ("PUT", [_v2("192.0.2.1", "aws", "us-east-1"), _v2("192.0.2.2", "aws", "eu-west-1")]),
            ("PUT", [_v2("2001:db8::10", "gcp", "us-central1"), _v2("192.0.2.3", "gcp", "us-central1")]),
        ]
    else:  # create-only POSTs, then the update as a batch PATCH
        assert [m for m, _ in sent] == ["POST", "POST", "POST", "PATCH"]
        assert [b["ip"] for _, b in sent[:3]] == creates
    (z,) = result.summary["zones"]
    assert (z["created"], z["updated"], z["deleted"], z["unchanged"]) == (3, 1, 0, 1)
    assert result.summary["plan_file"]["path"] == str(plan_file)


def _v2(ip: str, vendor: str, region: str) -> dict[str, str]:
    return {"origin_ip": ip, "vendor": vendor, "region": region}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(("192.0.2.1", "aws", "us-west-2"), "192.0.2.1", id="a-planned-create-now-exists"),
        pytest.param(("192.0.2.3", "gcp", "asia-east1"), "192.0.2.3", id="a-planned-update-moved"),
        pytest.param(("203.0.113.7", "aws", "us-east-1"), "mappings changed", id="an-untouched-mapping-appeared"),
    ],
)
def test_a_stale_plan_writes_nothing(
    cf: FakeCloudflare,
    zone: str,
    write_config: Any,
    run_cli: Any,
    tmp_path: Path,
    change: tuple[str, str, str],
    named: str,
) -> None:
    plan_file = make_plan(cf, zone, write_config, run_cli, tmp_path)
    cf.set_mapping(zone, *change)  # someone changed the zone between plan and apply
    before = cf.mappings(zone)
    cf.clear_requests()
    result = run_cli("apply", str(plan_file), "--config", str(write_config(INVENTORY)), "--output", "json")
    assert result.exit_code == 3, result.stdout + result.stderr
    assert writes(cf) == [] and cf.mappings(zone) == before
    (error,) = result.summary["errors"]
    assert "stale" in error and "example.com" in error and named in error
    assert result.summary["guard"]["refused"] is True


def test_apply_reapplies_the_guards(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path
) -> None:
    plan_file = make_plan(cf, zone, write_config, run_cli, tmp_path)
    cf.clear_requests()
    config = str(write_config(INVENTORY, max_changes=2))
    result = run_cli("apply", str(plan_file), "--config", config, "--output", "json")
    assert result.exit_code == 3 and writes(cf) == []
    assert "max_changes=2" in result.summary["errors"][0]
    assert run_cli("apply", str(plan_file), "--config", config, "--force", "--output", "none").exit_code == 0
    assert len(cf.mappings(zone)) == 5


@pytest.mark.parametrize(
    ("config_change", "message"),
    [
        pytest.param({"zones": [{"name": "other.example"}]}, "zones the config does not name", id="another-zone"),
        pytest.param({"cloudflare": {"api_family": "v1"}}, "API family v2", id="another-family"),
        pytest.param(
            {"cloudflare": {"base_url": "http://127.0.0.1:9/client/v4"}}, "Cloudflare endpoint", id="another-endpoint"
        ),
    ],
)
def test_a_plan_for_something_else_is_refused(
    cf: FakeCloudflare,
    zone: str,
    write_config: Any,
    run_cli: Any,
    tmp_path: Path,
    config_change: dict[str, Any],
    message: str,
) -> None:
    plan_file = make_plan(cf, zone, write_config, run_cli, tmp_path)
    cf.add_zone("other.example")
    cf.clear_requests()
    result = run_cli("apply", str(plan_file), "--config", str(write_config(INVENTORY, **config_change)))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in result.stdout + result.stderr
    assert writes(cf) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("not json", "is not JSON", id="not-json"),
        pytest.param('{"format": "something else"}', "is not an origin-region-agent plan", id="not-a-plan"),
        pytest.param(None, "format_version 99", id="future-version"),
        pytest.param(None, "zones[0].plan.creates.0.new.vendor", id="bad-vendor"),
        pytest.param(None, "not a canonical IP", id="bad-ip"),
    ],
)
def test_a_broken_plan_file_is_a_clear_error(
    cf: FakeCloudflare,
    zone: str,
    write_config: Any,
    run_cli: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    content: str | None,
    message: str,
) -> None:
    plan_file = make_plan(cf, zone, write_config, run_cli, tmp_path)
    if content is not None:
        plan_file.write_text(content)
    else:
        data = json.loads(plan_file.read_text())
        case = request.node.callspec.id
        if case == "future-version":
            data["format_version"] = 99
        elif case == "bad-vendor":
            data["zones"][0]["plan"]["creates"][0]["new"]["vendor"] = "ibm"
        else:
            data["zones"][0]["plan"]["creates"][0]["new"]["ip"] = "192.0.2.01"
        plan_file.write_text(json.dumps(data))
    result = run_cli("apply", str(plan_file), "--config", str(write_config(INVENTORY)))
    assert result.exit_code == 2
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert writes(cf) == []


def test_detailed_exitcode_tells_pending_changes_from_in_sync(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any
) -> None:
    seed(cf, zone)
    config = str(write_config(INVENTORY))
    assert run_cli("plan", "--config", config, "--output", "none").exit_code == 0
    assert run_cli("plan", "--config", config, "--detailed-exitcode", "--output", "none").exit_code == 4
    assert run_cli("sync", "--config", config, "--output", "none").exit_code == 0
    assert run_cli("plan", "--config", config, "--detailed-exitcode", "--output", "none").exit_code == 0


def test_plan_file_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "## Saved plans" in readme and "--detailed-exitcode" in readme
    section = readme.split("## Saved plans", 1)[1].split("\n## ", 1)[0]
    for key in ("format_version", "fingerprint", "api_family", "policy", "batch_size", "creates", "over_cap"):
        assert key in section, key


def test_apply_dry_run_checks_and_writes_nothing(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path
) -> None:
    plan_file = make_plan(cf, zone, write_config, run_cli, tmp_path)
    config = str(write_config(INVENTORY))
    cf.clear_requests()
    result = run_cli("apply", str(plan_file), "--config", config, "--dry-run", "--output", "json")
    assert result.exit_code == 0 and writes(cf) == []
    (z,) = result.summary["zones"]
    assert {c["status"] for c in z["changes"]} == {"planned"} and z["created"] == 3
    cf.set_mapping(zone, "192.0.2.1", "aws", "us-west-2")
    stale = run_cli("apply", str(plan_file), "--config", config, "--dry-run", "--output", "json")
    assert stale.exit_code == 3 and "192.0.2.1" in stale.summary["errors"][0]


def test_an_unwritable_plan_file_is_a_clear_error(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path
) -> None:
    seed(cf, zone)
    out = tmp_path / "no-such-dir" / "plan.json"
    result = run_cli("plan", "--config", str(write_config(INVENTORY)), "--out", str(out), "--output", "none")
    assert result.exit_code == 2 and "cannot write the plan file" in result.stderr
    assert "Traceback" not in result.stderr and writes(cf) == []


def test_apply_reapplies_max_deletes(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path
) -> None:
    """A sync plan with two deletes, made under a generous limit, is refused at apply time under a stricter one."""
    seed(cf, zone)
    cf.set_mapping(zone, "203.0.113.1", "aws", "us-east-1")  # no longer origins: sync deletes them
    cf.set_mapping(zone, "203.0.113.2", "aws", "us-east-1")
    out = tmp_path / "plan.json"
    config = str(write_config(INVENTORY, max_deletes=10))
    made = run_cli("plan", "--config", config, "--policy", "sync", "--out", str(out), "--output", "none")
    assert made.exit_code == 0, made.stdout + made.stderr
    assert len(json.loads(out.read_text())["zones"][0]["plan"]["deletes"]) == 2
    cf.clear_requests()
    strict = str(write_config(INVENTORY, max_deletes=1))
    result = run_cli("apply", str(out), "--config", strict, "--output", "json")
    assert result.exit_code == 3 and writes(cf) == []
    assert "max_deletes=1" in result.summary["errors"][0]
    assert run_cli("apply", str(out), "--config", strict, "--force", "--output", "none").exit_code == 0
    assert "203.0.113.1" not in cf.mappings(zone) and "203.0.113.2" not in cf.mappings(zone)


def test_a_planned_delete_whose_ip_is_an_origin_again_is_stale(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path
) -> None:
    """Deletes were proven at plan time; by apply time a DNS record may point at the IP again: nothing is written."""
    seed(cf, zone)
    cf.set_mapping(zone, "203.0.113.1", "aws", "us-east-1")  # not an origin when the plan is made
    out = tmp_path / "plan.json"
    config = str(write_config(INVENTORY, max_deletes=10))
    made = run_cli("plan", "--config", config, "--policy", "sync", "--out", str(out), "--output", "none")
    assert made.exit_code == 0, made.stdout + made.stderr
    cf.add_dns_record(zone, "A", "back.example.com", "203.0.113.1")  # an origin again
    cf.clear_requests()
    result = run_cli("apply", str(out), "--config", config, "--output", "json")
    assert result.exit_code == 3 and writes(cf) == []
    assert "origins again: 203.0.113.1" in result.summary["errors"][0]
    assert cf.mappings(zone)["203.0.113.1"] == ("aws", "us-east-1")
