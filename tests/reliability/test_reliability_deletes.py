"""`sync` deletes only what is provably not an origin (issue 12, part 1), through the CLI against the fake."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_config
from agent.pipeline import run
from agent.sandbox.cloudflare import DEFAULT_ACCOUNT_ID, FakeCloudflare, RecordedRequest
from agent.sandbox.dns import FakeDns
from tests.pipeline.conftest import writes


def _ip(n: int) -> str:
    return f"10.{n // 250}.{n % 250}.{1 + n % 7}"


def _public(n: int) -> str:
    return f"198.51.{n // 250}.{n % 250 + 1}"


def test_dns_record_deleted_mid_listing_never_deletes_a_live_origin(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any
) -> None:
    """250 proxied A records, all mapped and in the inventory. A record on page 1 is deleted right after page 1 is
    served, so page 2 shifts and the listing misses one live record. Re-verification sees the change: the zone is
    incomplete, nothing is deleted, the unproven candidate is listed as stale, exit 1."""
    inventory = []
    record_ids = []
    for n in range(250):
        ip = _public(n)
        record_ids.append(cf.add_dns_record(zone, "A", f"h{n:03d}.example.com", ip))
        cf.set_mapping(zone, ip, "aws", "us-east-1")
        inventory.append((ip, "aws", "us-east-1"))
    fired = threading.Event()

    def delete_after_page_one(request: RecordedRequest) -> None:
        if request.query.get("page") == ["1"] and not fired.is_set():
            fired.set()
            cf.remove_dns_record(zone, record_ids[10])

    cf.after_served(delete_after_page_one, match="/dns_records")
    result = run_cli("sync", "--config", str(write_config(inventory)), "--policy", "sync", "--output", "json")
    assert fired.is_set()
    shifted = _public(100)  # first record of page 2, shifted onto page 1 after the delete: never listed
    assert shifted in cf.mappings(zone)
    assert len(cf.mappings(zone)) == 250
    assert not [r for r in writes(cf) if r.method == "DELETE"]
    (z,) = result.summary["zones"]
    assert z["deleted"] == 0 and z["complete"] is False
    assert shifted in z["stale"]
    assert any("changed during the run" in w for w in z["warnings"])
    assert result.exit_code == 1


def test_disabled_pool_origin_keeps_its_mapping(cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any) -> None:
    """A disabled (standby) origin of a load-balancer pool is a failover target: sync keeps its mapping."""
    pool = cf.add_pool(
        DEFAULT_ACCOUNT_ID,
        "eu",
        origins=[
            {"address": "192.0.2.10", "name": "live"},
            {"address": "192.0.2.11", "name": "standby", "enabled": False},
        ],
    )
    cf.add_load_balancer(zone, "lb.example.com", default_pools=[pool])
    cf.set_mapping(zone, "192.0.2.10", "aws", "eu-west-1")
    cf.set_mapping(zone, "192.0.2.11", "aws", "eu-west-1")
    config = write_config(
        [("192.0.2.10", "aws", "eu-west-1")],
        cloudflare={"account_id": DEFAULT_ACCOUNT_ID},
        origins={"load_balancers": True, "nameservers": ["127.0.0.1"], "resolver_port": 9},
    )
    result = run_cli("sync", "--config", str(config), "--policy", "sync", "--output", "json")
    assert result.exit_code == 0, result.stdout
    assert set(cf.mappings(zone)) == {"192.0.2.10", "192.0.2.11"}
    assert result.summary["zones"][0]["deleted"] == 0


def test_proxied_cname_chain_inside_the_zone_protects_its_target(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any
) -> None:
    """www (proxied CNAME) -> app.example.com (CNAME) -> origin.example.com (DNS-only A): the A's address takes the
    proxied traffic, so its mapping stays even with resolve_cnames off; a real former origin is deleted."""
    cf.add_dns_record(zone, "CNAME", "www.example.com", "app.example.com")
    cf.add_dns_record(zone, "CNAME", "app.example.com", "origin.example.com", proxied=False)
    cf.add_dns_record(zone, "A", "origin.example.com", "192.0.2.70", proxied=False)
    cf.set_mapping(zone, "192.0.2.70", "aws", "us-east-1")
    cf.set_mapping(zone, "203.0.113.9", "aws", "us-east-1")  # no record points here
    result = run_cli("sync", "--config", str(write_config([])), "--policy", "sync", "--output", "json")
    assert result.exit_code == 0, result.stdout
    assert set(cf.mappings(zone)) == {"192.0.2.70"}
    assert result.summary["zones"][0]["deleted"] == 1


@pytest.fixture
def dns() -> Any:
    with FakeDns({"app.example.net": ["192.0.2.50"]}) as server:
        yield server


def test_proxied_cname_outside_the_zone_is_resolved_for_the_deletion_check(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, dns: FakeDns
) -> None:
    """A proxied CNAME to a name outside the zone: its addresses are resolved (resolve_cnames is off) and protected;
    when it cannot be resolved, the zone deletes nothing and the run exits 1."""
    cf.add_dns_record(zone, "CNAME", "shop.example.com", "app.example.net")
    cf.set_mapping(zone, "192.0.2.50", "aws", "us-east-1")
    cf.set_mapping(zone, "203.0.113.9", "aws", "us-east-1")
    origins = {"nameservers": ["127.0.0.1"], "resolver_port": dns.port}
    config = write_config([], origins=origins)
    result = run_cli("sync", "--config", str(config), "--policy", "sync", "--output", "json")
    assert result.exit_code == 0, result.stdout
    assert set(cf.mappings(zone)) == {"192.0.2.50"}

    cf.add_dns_record(zone, "CNAME", "gone.example.com", "missing.example.net")
    cf.set_mapping(zone, "203.0.113.10", "aws", "us-east-1")
    result = run_cli("sync", "--config", str(config), "--policy", "sync", "--output", "json")
    assert result.exit_code == 1
    assert set(cf.mappings(zone)) == {"192.0.2.50", "203.0.113.10"}
    (z,) = result.summary["zones"]
    assert z["complete"] is False and z["stale"] == ["192.0.2.50", "203.0.113.10"]


def test_max_deletes_default_refuses_a_mass_delete(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any
) -> None:
    """With no setting, a zone may lose at most 10% of its mappings (at least 1) in one run: beyond, the whole plan
    is refused with exit 3 and nothing is written; --max-deletes or --force lets it through."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    for n in range(30):
        cf.set_mapping(zone, _public(n), "aws", "us-east-1")
    config = str(write_config([("192.0.2.1", "aws", "us-east-1")]))
    result = run_cli("sync", "--config", config, "--policy", "sync", "--output", "json")
    assert result.exit_code == 3
    assert writes(cf) == []
    guard = result.summary["guard"]
    assert guard["refused"] is True and guard["planned_deletes"] == 30 and guard["max_deletes"] == "10%"
    assert "max_deletes" in result.summary["errors"][0]

    assert run_cli("sync", "--config", config, "--policy", "sync", "--max-deletes", "29").exit_code == 3
    result = run_cli("sync", "--config", config, "--policy", "sync", "--max-deletes", "100%", "--output", "json")
    assert result.exit_code == 0
    assert set(cf.mappings(zone)) == {"192.0.2.1"}


def test_max_deletes_force_and_bad_value(cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any) -> None:
    for n in range(5):
        cf.set_mapping(zone, _public(n), "aws", "us-east-1")
    config = str(write_config([]))
    result = run_cli("sync", "--config", config, "--policy", "sync", "--max-deletes", "lots")
    assert result.exit_code == 2 and "max_deletes" in result.stderr and "Traceback" not in result.stderr
    assert run_cli("sync", "--config", config, "--policy", "sync", "--force").exit_code == 0
    assert cf.mappings(zone) == {}


def test_two_agents_deleting_at_once_both_exit_0(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path
) -> None:
    """A second agent deletes the stale mappings between our listing and our delete: our delete finds them gone,
    which is done (``already_gone``), not failed; both runs exit 0 and the zone converges."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    cf.set_mapping(zone, "192.0.2.1", "aws", "us-east-1")
    for n in range(2):
        cf.set_mapping(zone, _public(n), "aws", "us-east-1")
    config_path = write_config([("192.0.2.1", "aws", "us-east-1")], policy="sync", max_deletes="100%")
    other: dict[str, Any] = {}
    reads: list[RecordedRequest] = []

    def other_agent_runs(request: RecordedRequest) -> None:
        # Our run reads the mappings to plan, and once more when it replans after re-verifying the deletes: the
        # other agent runs right after that last read, so our deletes reach the API after its own.
        if request.method != "GET" or not request.path.endswith("/origin/cloud_regions") or "report" in other:
            return
        reads.append(request)
        if len(reads) == 2:
            other["report"] = None
            other["report"] = run(load_config(config_path)).to_dict()

    cf.after_served(other_agent_runs, match="/origin/cloud_regions")
    result = run_cli("sync", "--config", str(config_path), "--output", "json")
    assert other["report"]["exit_code"] == 0 and other["report"]["totals"]["deleted"] == 2
    (z,) = result.summary["zones"]
    assert (z["deleted"], z["already_gone"], z["failed"]) == (0, 2, [])
    assert result.exit_code == 0
    assert set(cf.mappings(zone)) == {"192.0.2.1"}


def test_rerun_after_partial_apply_converges(cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any) -> None:
    """A run whose delete batch failed (API error) leaves the mappings; the next run finishes the job."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    cf.set_mapping(zone, _public(0), "aws", "us-east-1")
    config = str(write_config([("192.0.2.1", "aws", "us-east-1")], policy="sync", max_deletes="100%"))
    cf.fail_next(500, code=10001, match="DELETE")
    assert run_cli("sync", "--config", config).exit_code == 1
    assert _public(0) in cf.mappings(zone)
    assert run_cli("sync", "--config", config).exit_code == 0
    assert cf.mappings(zone) == {"192.0.2.1": ("aws", "us-east-1")}
