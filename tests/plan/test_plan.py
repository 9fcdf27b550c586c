"""The pure plan under each policy (decision table in agent/plan/plan.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.match import Desired
from agent.models import Action, Confidence, RegionMapping, Vendor
from agent.plan import POLICIES, calculate

SUPPORTED = {"aws": {"us-east-1", "eu-west-1"}, "gcp": {"us-central1"}}


def want(ip: str, vendor: str = "aws", region: str = "us-east-1") -> Desired:
    return Desired(ip, Vendor(vendor), region, ("test",), Confidence.ACCOUNT)


def mappings(current: dict[str, tuple[str, str]]) -> dict[str, RegionMapping]:
    return {ip: RegionMapping(ip, Vendor(v), r) for ip, (v, r) in current.items()}


def plan_for(
    policy: str,
    current: dict,
    desired: list[Desired],
    origins: set[str],
    *,
    complete: bool = True,
    supported: dict | None = SUPPORTED,
    cap: int = 3500,
):
    return calculate(
        mappings(current),
        {d.ip: d for d in desired},
        origin_ips=origins,
        supported=supported,
        policy=POLICIES[policy],
        complete=complete,
        cap=cap,
    )


CURRENT = {"192.0.2.2": ("aws", "eu-west-1"), "192.0.2.3": ("aws", "us-east-1"), "192.0.2.9": ("gcp", "us-central1")}
DESIRED = [want("192.0.2.1"), want("192.0.2.2"), want("192.0.2.3"), want("192.0.2.4", "aws", "mars-1")]
ORIGINS = {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}


@pytest.mark.parametrize(
    ("policy", "creates", "updates", "deletes", "drift"),
    [
        pytest.param("create-only", ["192.0.2.1"], [], [], ["192.0.2.2"], id="create-only-never-touches-existing"),
        pytest.param("upsert", ["192.0.2.1"], ["192.0.2.2"], [], [], id="upsert-corrects-drift"),
        pytest.param("sync", ["192.0.2.1"], ["192.0.2.2"], ["192.0.2.9"], [], id="sync-deletes-non-origins"),
    ],
)
def test_policies(policy: str, creates: list, updates: list, deletes: list, drift: list) -> None:
    plan = plan_for(policy, CURRENT, DESIRED, ORIGINS)
    assert [c.ip for c in plan.creates] == creates
    assert [c.ip for c in plan.updates] == updates
    assert [c.ip for c in plan.deletes] == deletes
    assert [c.ip for c in plan.drift] == drift
    assert plan.unchanged == ("192.0.2.3",)
    assert [d.ip for d in plan.unsupported] == ["192.0.2.4"]


def test_sync_never_deletes_when_incomplete() -> None:
    """A partial picture (failed scope, incomplete origins) keeps every mapping."""
    plan = plan_for("sync", CURRENT, DESIRED, ORIGINS, complete=False)
    assert plan.deletes == () and plan.stale == ("192.0.2.9",)


def test_sync_never_deletes_origins_that_are_unmatched() -> None:
    """A mapping of an IP that is still an origin (but not in the inventory) is left alone."""
    plan = plan_for("sync", {"192.0.2.5": ("aws", "us-east-1")}, [], ORIGINS)
    assert plan.deletes == () and plan.stale == ()


def test_update_records_old_values() -> None:
    plan = plan_for("upsert", CURRENT, DESIRED, ORIGINS)
    (update,) = plan.updates
    assert update.action is Action.UPDATE and update.confidence is Confidence.ACCOUNT
    assert update.old == RegionMapping("192.0.2.2", Vendor.AWS, "eu-west-1")
    assert update.new == RegionMapping("192.0.2.2", Vendor.AWS, "us-east-1")


def test_unknown_supported_regions_classifies_nothing_unsupported() -> None:
    plan = plan_for("create-only", {}, DESIRED, ORIGINS, supported=None)
    assert {c.ip for c in plan.creates} == {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}


def test_zone_cap_counts_deletes_first() -> None:
    """Creates beyond the cap are held back; this plan's deletes make room."""
    current = {f"198.51.100.{i}": ("aws", "us-east-1") for i in range(5)}
    desired = [want(f"192.0.2.{i}") for i in range(1, 5)]
    origins = {d.ip for d in desired}
    plan = plan_for("sync", current, desired, origins, cap=6)
    assert len(plan.deletes) == 5 and len(plan.creates) == 4 and plan.over_cap == ()
    plan = plan_for("upsert", current, desired, origins, cap=6)
    assert len(plan.creates) == 1 and len(plan.over_cap) == 3


def test_match_and_plan_import_no_io() -> None:
    """match and plan stay pure: no SDK, no httpx."""
    import subprocess
    import sys

    code = (
        "import sys, agent.match, agent.plan; bad = [m for m in ('httpx', 'boto3', 'oci', 'google.cloud.compute_v1', "
        "'azure.mgmt', 'agent.cloudflare') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


# ---------------------------------------------------------------------- engine freshness (issue 16)

ENGINE_SEEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def engine_want(ip: str, region: str, observed_at: datetime | None) -> Desired:
    return Desired(ip, Vendor.AWS, region, ("aws:config",), Confidence.ACCOUNT, observed_at=observed_at)


def dated(ip: str, region: str, modified_on: str | None) -> RegionMapping:
    return RegionMapping(ip, Vendor.AWS, region, modified_on)


@pytest.mark.parametrize(
    ("observed_at", "modified_on", "updated"),
    [
        pytest.param(ENGINE_SEEN, "2026-03-01T12:30:00Z", False, id="engine-older-than-mapping-withheld"),
        pytest.param(ENGINE_SEEN, "2026-03-01T11:30:00Z", True, id="engine-newer-than-mapping-corrects"),
        pytest.param(None, "2026-03-01T12:30:00Z", True, id="live-record-corrects"),
        pytest.param(ENGINE_SEEN, None, True, id="mapping-without-date-corrects"),
        pytest.param(ENGINE_SEEN, "yesterday", False, id="unreadable-date-withheld"),
    ],
)
def test_outdated_engine_evidence_never_corrects(observed_at, modified_on, updated) -> None:
    current = {"192.0.2.2": dated("192.0.2.2", "eu-west-1", modified_on)}
    desired = {"192.0.2.2": engine_want("192.0.2.2", "us-east-1", observed_at)}
    plan = calculate(
        current, desired, origin_ips={"192.0.2.2"}, supported=SUPPORTED, policy=POLICIES["sync"], complete=True
    )
    assert [c.ip for c in plan.updates] == (["192.0.2.2"] if updated else [])
    assert [c.ip for c in plan.outdated] == ([] if updated else ["192.0.2.2"])
    if not updated:
        assert plan.outdated[0].action is Action.UPDATE and plan.outdated[0].old.region == "eu-west-1"


def test_outdated_engine_evidence_never_deletes() -> None:
    current = {
        "192.0.2.8": dated("192.0.2.8", "us-east-1", "2026-03-01T12:30:00Z"),  # changed after the engine looked
        "192.0.2.9": dated("192.0.2.9", "us-east-1", "2026-03-01T11:00:00Z"),
    }
    plan = calculate(
        current,
        {},
        origin_ips=set(),
        supported=SUPPORTED,
        policy=POLICIES["sync"],
        complete=True,
        evidence_time=ENGINE_SEEN,
    )
    assert [c.ip for c in plan.deletes] == ["192.0.2.9"]
    assert [(c.action, c.ip) for c in plan.outdated] == [(Action.DELETE, "192.0.2.8")]
    live = calculate(current, {}, origin_ips=set(), supported=SUPPORTED, policy=POLICIES["sync"], complete=True)
    assert [c.ip for c in live.deletes] == ["192.0.2.8", "192.0.2.9"] and not live.outdated
