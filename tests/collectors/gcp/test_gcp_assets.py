"""Engine mode: Cloud Asset Inventory ListAssets through the real google-cloud-asset client (REST) against the fake.

The fake serves ListAssets from the same projects as its Compute API, so one seeded scenario feeds both modes.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from gcp_testkit import MakeCollector
from pydantic import ValidationError

from agent.collectors.gcp.config import GcpConfig
from agent.collectors.runner import run_collectors
from agent.models import CloudAddress
from agent.sandbox.gcp import FakeGcp

ORG = "organizations/777"


def seed_org(fake: FakeGcp) -> None:
    """org ─┬─ web-prod (every kind of IP: regional, global, IPv6, internal, instances, forwarding rules)
    ├─ folders/5 ─┬─ data-prod (an instance), sys-logs (an address), gone-proj (DELETE_REQUESTED)
    │             └─ folders/6 ─ deep-proj (an address)
    """
    fake.add_organization(ORG)
    fake.add_folder("folders/5", ORG)
    fake.add_folder("folders/6", "folders/5")
    fake.add_project("web-prod", parent=ORG)
    fake.add_address("web-prod", "web-ip", "34.123.45.67", region="us-central1")
    fake.add_address("web-prod", "v6-ip", "2600:1901:0:1234::", region="europe-west1", prefix_length=96)
    fake.add_address("web-prod", "reserved", "35.10.0.1", region="asia-east1", status="RESERVED")
    fake.add_address("web-prod", "internal", "10.0.0.7", region="us-central1", address_type="INTERNAL")
    fake.add_address("web-prod", "anycast", "34.117.1.2")  # global
    fake.add_instance("web-prod", "vm-1", zone="us-east1-b", nat_ips=("34.75.1.1", "34.75.1.2"))
    fake.add_instance("web-prod", "vm-2", zone="europe-west1-c", external_ipv6=("2600:1900:4010:9::",))
    fake.add_instance("web-prod", "vm-private", zone="us-central1-a")
    fake.add_forwarding_rule("web-prod", "nlb", "34.76.10.20", region="europe-west1")
    fake.add_forwarding_rule("web-prod", "alb", "34.76.10.21", region="europe-west1", scheme="EXTERNAL_MANAGED")
    fake.add_forwarding_rule("web-prod", "ilb", "10.1.2.3", region="europe-west1", scheme="INTERNAL")
    fake.add_forwarding_rule("web-prod", "glb", "34.120.55.66", scheme="EXTERNAL_MANAGED")  # global
    fake.add_project("data-prod", parent="folders/5")
    fake.add_instance("data-prod", "api-1", zone="asia-east1-b", nat_ips=("35.201.88.99",))
    fake.add_project("sys-logs", parent="folders/5")
    fake.add_address("sys-logs", "ip", "34.90.0.9", region="us-east1")
    fake.add_project("gone-proj", parent="folders/5", state="DELETE_REQUESTED")
    fake.add_address("gone-proj", "ip", "34.90.0.10", region="us-east1")
    fake.add_project("deep-proj", parent="folders/6")
    fake.add_address("deep-proj", "ip", "34.90.0.11", region="asia-east1")


def without_time(records: list[CloudAddress]) -> set[CloudAddress]:
    return {dataclasses.replace(r, observed_at=None) for r in records}


def asset_calls(fake: FakeGcp) -> list[str]:
    return [c.path for c in fake.calls if c.path.startswith("/v1/") and "/assets" in c.path]


def test_both_modes_yield_the_same_inventory(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """Same scenario, per-project walk vs one ListAssets: identical records (observed_at aside)."""
    seed_org(fake)
    per_project = run_collectors([make_collector(organizations=[ORG])], concurrency=4)
    calls_before = len(fake.calls)
    engine = run_collectors(
        [make_collector(mode="asset_inventory", scope=ORG, asset_endpoint=fake.endpoint)], concurrency=4
    )
    assert per_project.errors == [] and engine.errors == []
    assert len(per_project.records) == 13
    engine_calls = [c.path for c in fake.calls[calls_before:]]
    assert engine_calls and all(c.startswith(f"/v1/{ORG}/assets?") for c in engine_calls)  # no compute, no walk
    assert without_time(engine.records) == without_time(per_project.records)
    assert len(engine.records) == len(per_project.records)
    assert {r.ip for r in engine.records if r.region == "global"} == {"34.117.1.2", "34.120.55.66"}
    assert "34.90.0.10" not in {r.ip for r in engine.records}  # a project pending deletion
    assert all(r.observed_at is None for r in per_project.records)


def test_observed_at_is_the_asset_update_time(fake: FakeGcp, make_collector: MakeCollector) -> None:
    seed_org(fake)
    link = "https://www.googleapis.com/compute/v1/projects/sys-logs/regions/us-east1/addresses/ip"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    fake.asset_update_times[link] = when.timestamp()
    found = run_collectors([make_collector(mode="asset_inventory", scope=ORG, asset_endpoint=fake.endpoint)])
    by_ip = {r.ip: r for r in found.records}
    assert by_ip["34.90.0.9"].observed_at == when
    others = [r.observed_at for ip, r in by_ip.items() if ip != "34.90.0.9"]
    assert all(t is not None and abs(datetime.now(UTC) - t) < timedelta(minutes=5) for t in others)


def test_pages_with_page_tokens_and_scopes_to_a_folder(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """folders/5 (and folders/6 below it) hold 3 compute assets in ACTIVE projects: 3 pages of 1."""
    seed_org(fake)
    collector = make_collector(
        mode="asset_inventory", scope="folders/5", asset_page_size=1, asset_endpoint=fake.endpoint
    )
    found = run_collectors([collector])
    assert found.errors == []
    assert {r.account for r in found.records} == {"data-prod", "sys-logs", "deep-proj"}
    calls = asset_calls(fake)
    assert len(calls) == 3 and sum("pageToken=" in c for c in calls) == 2
    assert all("contentType=1" in c and "pageSize=1" in c for c in calls)


def test_page_count_is_records_over_page_size(fake: FakeGcp, make_collector: MakeCollector) -> None:
    seed_org(fake)
    collector = make_collector(mode="asset_inventory", scope=ORG, asset_page_size=4, asset_endpoint=fake.endpoint)
    run_collectors([collector])
    assets = sum(len(p.addresses) + len(p.instances) + len(p.forwarding_rules) for p in fake.projects.values())
    assets -= 1  # gone-proj's address is not served
    assert len(asset_calls(fake)) == math.ceil(assets / 4)


def test_exclude_projects_applies(fake: FakeGcp, make_collector: MakeCollector) -> None:
    seed_org(fake)
    collector = make_collector(
        mode="asset_inventory", scope=ORG, exclude_projects=["web-*", "sys-*"], asset_endpoint=fake.endpoint
    )
    found = run_collectors([collector])
    assert {r.account for r in found.records} == {"data-prod", "deep-proj"}


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda f: f.asset_denied.add(ORG), "PERMISSION_DENIED"),
        (lambda f: setattr(f, "asset_rate_limited", True), "429"),
        (lambda f: setattr(f, "asset_fail_page", 1), "503"),
    ],
    ids=["permission-denied", "quota", "partial-answer"],
)
def test_errors_are_scope_errors_and_yield_nothing(
    fake: FakeGcp, make_collector: MakeCollector, setup: object, code: str
) -> None:
    """A refused, throttled or cut-short answer is one scope error and contributes no record (run incomplete)."""
    seed_org(fake)
    setup(fake)  # type: ignore[operator]
    collector = make_collector(mode="asset_inventory", scope=ORG, asset_page_size=2, asset_endpoint=fake.endpoint)
    found = run_collectors([collector])
    assert found.records == []
    assert [e.scope for e in found.errors] == [f"gcp:asset_inventory/{ORG}"]
    assert code in f"{found.errors[0].code} {found.errors[0].message}"


def test_unknown_scope_is_permission_denied(fake: FakeGcp, make_collector: MakeCollector) -> None:
    seed_org(fake)
    found = run_collectors([make_collector(mode="asset_inventory", scope="folders/999", asset_endpoint=fake.endpoint)])
    assert found.records == [] and len(found.errors) == 1 and "403" in found.errors[0].message


def test_config_names_the_field() -> None:
    with pytest.raises(ValidationError, match="scope"):
        GcpConfig(mode="asset_inventory")
    with pytest.raises(ValidationError, match="'orgs/1' is not an asset scope"):
        GcpConfig(mode="asset_inventory", scope="orgs/1")
    with pytest.raises(ValidationError, match="asset_page_size"):
        GcpConfig(mode="asset_inventory", scope=ORG, asset_page_size=1001)
    assert GcpConfig().mode == "projects"


def test_fake_enforces_list_assets_rules(fake: FakeGcp) -> None:
    """Without a token: 401; page size above 1000 and unknown parameters: 400; no contentType: names only."""
    seed_org(fake)
    fake.require_auth = False
    url = f"{fake.endpoint}/v1/{ORG}/assets"
    assert httpx.get(url, params={"pageSize": 1001}).status_code == 400
    assert httpx.get(url, params={"bogus": 1}).status_code == 400
    names_only = httpx.get(url, params={"assetTypes": "compute.googleapis.com/Address"}).json()
    assert names_only["assets"] and all("resource" not in a for a in names_only["assets"])
    typed = httpx.get(url, params={"assetTypes": "compute.googleapis.com/Global.*", "contentType": 1}).json()
    assert {a["assetType"] for a in typed["assets"]} == {
        "compute.googleapis.com/GlobalAddress",
        "compute.googleapis.com/GlobalForwardingRule",
    }
    fake.require_auth = True
    assert httpx.get(url).status_code == 401
