"""The OCI collector through the real oci SDK, over loopback, against the signature-checking `OciFake`."""

from __future__ import annotations

import logging
from typing import Any

import circuitbreaker
import pytest

from agent.collectors.base import load_collector
from agent.collectors.oci.collector import OciCollector
from agent.errors import CollectorError
from agent.models import Confidence, Vendor

ASH = "us-ashburn-1"
FRA = "eu-frankfurt-1"


def seed_two_regions(t: Any) -> dict[str, str]:
    """prod (+ prod/web) and a DELETED compartment, in Ashburn and Frankfurt. Returns the compartment OCIDs."""
    fake = t.fake
    fake.subscribe(FRA, ads=1)
    fake.subscribe("uk-london-1", status="IN_PROGRESS")
    prod = fake.add_compartment("prod")
    web = fake.add_compartment("web", parent=prod)
    gone = fake.add_compartment("old", lifecycle_state="DELETED")
    ads = fake.availability_domains(ASH)
    fake.add_public_ip(ASH, fake.tenancy_id, "129.80.0.1", lifetime="RESERVED")
    fake.add_public_ip(ASH, prod, "129.80.0.2", lifetime="EPHEMERAL", assigned_entity_type="NAT_GATEWAY")
    fake.add_public_ip(ASH, prod, "129.80.0.3", lifetime="RESERVED", assigned_entity_type=None)
    for n, ad in enumerate(ads):  # one ephemeral VNIC IP per AD, in the nested compartment
        fake.add_public_ip(ASH, web, f"129.80.1.{n}", scope="AVAILABILITY_DOMAIN", lifetime="EPHEMERAL",
                           availability_domain=ad)  # fmt: skip
    fake.add_public_ip(FRA, web, "92.5.0.1", scope="AVAILABILITY_DOMAIN", lifetime="EPHEMERAL")
    fake.add_public_ip(FRA, gone, "92.5.0.99")  # in a DELETED compartment: not scanned
    fake.add_public_ip("uk-london-1", prod, "79.72.64.1")  # subscription IN_PROGRESS: not scanned
    return {"prod": prod, "web": web, "gone": gone}


def test_collects_region_and_ad_scoped_ips_of_every_compartment_and_ready_region(tenancy: Any, walk: Any) -> None:
    """Each READY region x ACTIVE compartment (and the root): REGION and per-AD scopes; region = endpoint's."""
    comps = seed_two_regions(tenancy)
    result = walk(tenancy.collector())
    assert result.errors == {}
    assert result.regions == {
        "129.80.0.1": ASH, "129.80.0.2": ASH, "129.80.0.3": ASH,
        "129.80.1.0": ASH, "129.80.1.1": ASH, "129.80.1.2": ASH,
        "92.5.0.1": FRA,
    }  # fmt: skip
    assert len(result.records) == 7  # no duplicates across scopes
    leaves = {(s.path[1], s.path[2]) for s in result.leaves}
    expected = {(c, r) for c in (tenancy.fake.tenancy_id, comps["prod"], comps["web"]) for r in (ASH, FRA)}
    assert leaves == expected
    by_ip = {r.ip: r for r in result.records}
    nat = by_ip["129.80.0.2"]
    assert (nat.vendor, nat.account, nat.kind, nat.source, nat.confidence) == (
        Vendor.OCI, comps["prod"], "nat-gateway", "oci", Confidence.ACCOUNT
    )  # fmt: skip
    assert nat.resource_id.startswith("ocid1.publicip.oc1.")
    assert dict(nat.details)["lifetime"] == "EPHEMERAL"
    assert dict(nat.details)["compartment_name"] == "prod"
    assert by_ip["129.80.0.3"].kind == "unassigned"
    assert by_ip["129.80.0.1"].kind == "private-ip"
    assert by_ip["129.80.0.1"].account == tenancy.fake.tenancy_id
    vnic = dict(by_ip["129.80.1.2"].details)
    assert (vnic["scope"], vnic["availability_domain"]) == ("AVAILABILITY_DOMAIN", "Uocm:US-ASHBURN-1-AD-3")


def test_pages_are_followed_with_opc_next_page(tenancy: Any, walk: Any) -> None:
    """Five IPs with a page size of 2 take three requests, and all five are collected."""
    for n in range(5):
        tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, f"129.80.2.{n}")
    result = walk(tenancy.collector(ipv6=False))
    assert sorted(result.regions) == [f"129.80.2.{n}" for n in range(5)]
    assert tenancy.fake.count("/publicIps", scope="REGION") == 3


def test_page_size_is_sent_as_limit(tenancy: Any, walk: Any) -> None:
    """`page_size` becomes the `limit` of every list call."""
    for n in range(5):
        tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, f"129.80.2.{n}")
    result = walk(tenancy.collector(page_size=4, ipv6=False))
    assert len(result.records) == 5
    assert tenancy.fake.count("/publicIps", scope="REGION", limit="4") == 2


def test_availability_domains_are_listed_once_per_region(tenancy: Any, walk: Any) -> None:
    """AD names are the same for every compartment: one ListAvailabilityDomains per region, not per leaf."""
    for name in ("a", "b", "c"):
        tenancy.fake.add_compartment(name)
    result = walk(tenancy.collector(ipv6=False), concurrency=1)
    assert len(result.leaves) == 4
    assert tenancy.fake.count("/availabilityDomains") == 1
    assert tenancy.fake.count("/publicIps", scope="AVAILABILITY_DOMAIN") == 4 * 3


def test_ipv6_of_public_subnets_only(tenancy: Any, walk: Any) -> None:
    """IPv6s of public subnets are collected; private subnets are not even listed; ULA / private prefixes skipped."""
    fake = tenancy.fake
    comp = fake.add_compartment("net")
    vcn = fake.add_vcn(ASH, comp, ipv6_cidr_blocks=["2603:c020:4000:8a00::/56"],
                       ipv6_private_cidr_blocks=["fd00:aa::/56"])  # fmt: skip
    public = fake.add_subnet(ASH, comp, vcn, public=True, ipv6_cidr_blocks=["2603:c020:4000:8a00::/64", "fd00:aa::/64"])
    private = fake.add_subnet(ASH, comp, vcn, public=False, ipv6_cidr_blocks=["2603:c020:4000:8a01::/64"])
    no_v6 = fake.add_subnet(ASH, comp, vcn, public=True)
    fake.add_ipv6(public, "2603:C020:4000:8A00:0:0:0:10")  # the collector canonicalises
    fake.add_ipv6(public, "fd00:aa::10")  # private prefix of the VCN
    fake.add_ipv6(private, "2603:c020:4000:8a01::20")
    result = walk(tenancy.collector())
    assert result.errors == {}
    assert result.regions == {"2603:c020:4000:8a00::10": ASH}
    record = result.records[0]
    assert (record.kind, record.account) == ("ipv6", comp)
    assert record.resource_id.startswith("ocid1.ipv6.")
    assert dict(record.details)["subnet_id"] == public
    assert fake.count("/ipv6", subnetId=public) == 1
    assert fake.count("/ipv6", subnetId=private) == 0
    assert fake.count("/ipv6", subnetId=no_v6) == 0


def test_ipv6_switch_off_skips_network_enumeration(tenancy: Any, walk: Any) -> None:
    """`ipv6: false` makes no VCN, subnet or IPv6 call."""
    comp = tenancy.fake.add_compartment("net")
    vcn = tenancy.fake.add_vcn(ASH, comp, ipv6_cidr_blocks=["2603:c020::/56"])
    subnet = tenancy.fake.add_subnet(ASH, comp, vcn, ipv6_cidr_blocks=["2603:c020::/64"])
    tenancy.fake.add_ipv6(subnet, "2603:c020::1")
    result = walk(tenancy.collector(ipv6=False))
    assert result.records == []
    assert tenancy.fake.count("/vcns") + tenancy.fake.count("/subnets") + tenancy.fake.count("/ipv6") == 0


def test_bad_ip_text_is_skipped_with_a_warning(tenancy: Any, walk: Any, caplog: pytest.LogCaptureFixture) -> None:
    """An unparseable address from the API is logged by resource id and skipped; the rest is kept."""
    bad = tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, "129.080.0.1")
    tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, "129.80.0.5")
    with caplog.at_level(logging.WARNING, logger="agent.collectors.oci.collector"):
        result = walk(tenancy.collector(ipv6=False))
    assert result.regions == {"129.80.0.5": ASH}
    assert bad in caplog.text and "129.080.0.1" in caplog.text


def test_denied_compartment_fails_only_its_scopes(tenancy: Any, walk: Any) -> None:
    """NotAuthorizedOrNotFound in one compartment x region is a CollectorError of that leaf only."""
    fake = tenancy.fake
    fake.subscribe(FRA, ads=1)
    secret = fake.add_compartment("secret")
    open_ = fake.add_compartment("open")
    fake.add_public_ip(ASH, secret, "129.80.9.1")
    fake.add_public_ip(FRA, secret, "92.5.9.1")
    fake.add_public_ip(ASH, open_, "129.80.9.2")
    fake.deny(secret, region=FRA)
    result = walk(tenancy.collector())
    assert list(result.errors) == [f"oci:{fake.tenancy_id}/{secret}/{FRA}"]
    error = result.errors[f"oci:{fake.tenancy_id}/{secret}/{FRA}"]
    assert isinstance(error, CollectorError)
    assert (error.vendor, error.code) == ("oci", "NotAuthorizedOrNotFound")
    assert "404" in str(error) and FRA in str(error)
    assert result.regions == {"129.80.9.1": ASH, "129.80.9.2": ASH}


def test_wrong_signing_key_is_not_authenticated(tenancy: Any, other_key_pem: str, walk: Any) -> None:
    """Signing with a key the service does not know: 401 NotAuthenticated on the root scope, no leaves."""
    tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, "129.80.0.1")
    result = walk(OciCollector.from_config(tenancy.config(key_pem=other_key_pem)))
    assert result.leaves == [] and result.records == []
    (error,) = result.errors.values()
    assert isinstance(error, CollectorError) and error.code == "NotAuthenticated"
    assert tenancy.fake.requests == []  # refused before anything was served


def test_configured_region_that_is_not_subscribed_fails_its_scopes(tenancy: Any, walk: Any) -> None:
    """A region named in `regions` without a READY subscription is still tried; the service's 401 is per leaf."""
    tenancy.fake.subscribe("uk-london-1", status="IN_PROGRESS")
    tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, "129.80.0.1")
    result = walk(tenancy.collector(regions=[ASH, "uk-london-1", "ap-tokyo-1"]))
    assert result.regions == {"129.80.0.1": ASH}
    assert sorted(label.rsplit("/", 1)[1] for label in result.errors) == ["ap-tokyo-1", "uk-london-1"]
    assert {e.code for e in result.errors.values()} == {"NotAuthenticated"}


def test_regions_and_compartment_filters(tenancy: Any, walk: Any) -> None:
    """`regions`, `compartments`, `exclude_compartments` and `include_root` narrow the leaves."""
    comps = seed_two_regions(tenancy)
    root = tenancy.fake.tenancy_id
    narrowed = walk(tenancy.collector(regions=[ASH], exclude_compartments=[comps["web"]], include_root=False))
    assert {(s.path[1], s.path[2]) for s in narrowed.leaves} == {(comps["prod"], ASH)}
    assert sorted(narrowed.regions) == ["129.80.0.2", "129.80.0.3"]
    explicit = walk(tenancy.collector(compartments=[comps["web"], root]))
    assert {s.path[1] for s in explicit.leaves} == {comps["web"], root}
    assert tenancy.fake.count("/compartments") == 1  # only the first run listed compartments


def test_throttling_is_retried_then_reported(tenancy: Any, walk: Any) -> None:
    """429s are retried by the SDK's strategy (max_attempts); when they persist the leaf fails with TooManyRequests."""
    comp = tenancy.fake.add_compartment("busy")
    tenancy.fake.add_public_ip(ASH, comp, "129.80.3.1")
    tenancy.fake.throttle(compartment_id=comp)
    retry = {"max_attempts": 3, "base_sleep_seconds": 0, "max_sleep_seconds": 0}
    result = walk(tenancy.collector(retry=retry, ipv6=False, compartments=[comp]))
    (error,) = result.errors.values()
    assert isinstance(error, CollectorError) and error.code == "TooManyRequests"
    assert tenancy.fake.count("/publicIps", scope="REGION") == 3


def test_a_transient_throttle_is_absorbed_by_retries(tenancy: Any, walk: Any) -> None:
    """Two 429s then success: the addresses are collected, no error."""
    comp = tenancy.fake.add_compartment("busy")
    tenancy.fake.add_public_ip(ASH, comp, "129.80.3.1")
    tenancy.fake.throttle(compartment_id=comp, times=2)
    retry = {"max_attempts": 3, "base_sleep_seconds": 0, "max_sleep_seconds": 0}
    result = walk(tenancy.collector(retry=retry, ipv6=False, compartments=[comp]))
    assert result.errors == {}
    assert result.regions == {"129.80.3.1": ASH}


def test_no_retry_strategy_fails_on_the_first_429(tenancy: Any, walk: Any) -> None:
    """`max_attempts: 1` (NoneRetryStrategy) sends exactly one request before failing."""
    comp = tenancy.fake.add_compartment("busy")
    tenancy.fake.throttle(compartment_id=comp)
    result = walk(tenancy.collector(ipv6=False, compartments=[comp]))
    assert [e.code for e in result.errors.values()] == ["TooManyRequests"]
    assert tenancy.fake.count("/publicIps") == 1


def test_circuit_breaker_does_not_stick_across_scopes(tenancy: Any, walk: Any) -> None:
    """A breaker opened by one throttled leaf does not fail the other leaves of the region; none is left behind."""
    busy = tenancy.fake.add_compartment("busy")
    calm = [tenancy.fake.add_compartment(f"calm{n}") for n in range(3)]
    for n, comp in enumerate(calm):
        tenancy.fake.add_public_ip(ASH, comp, f"129.80.4.{n}")
    tenancy.fake.throttle(compartment_id=busy)
    before = set(circuitbreaker.CircuitBreakerMonitor.circuit_breakers)
    breaker = {"enabled": True, "failure_threshold": 1, "recovery_timeout_seconds": 60}
    result = walk(tenancy.collector(circuit_breaker=breaker, ipv6=False, compartments=[busy, *calm]), concurrency=1)
    assert [e.code for e in result.errors.values()] == ["TooManyRequests"]
    assert sorted(result.regions) == ["129.80.4.0", "129.80.4.1", "129.80.4.2"]
    assert set(circuitbreaker.CircuitBreakerMonitor.circuit_breakers) == before


def test_open_circuit_fails_the_rest_of_its_scope_fast(tenancy: Any, walk: Any) -> None:
    """Within one scope, once the breaker opens, later calls fail without reaching the service."""
    comp = tenancy.fake.add_compartment("busy")
    tenancy.fake.throttle(compartment_id=comp)
    breaker = {"enabled": True, "failure_threshold": 1, "recovery_timeout_seconds": 60}
    retry = {"max_attempts": 4, "base_sleep_seconds": 0, "max_sleep_seconds": 0}
    result = walk(tenancy.collector(circuit_breaker=breaker, retry=retry, ipv6=False, compartments=[comp]))
    (error,) = result.errors.values()
    assert isinstance(error, CollectorError) and error.code in {"TooManyRequests", "CircuitOpen"}
    assert tenancy.fake.count("/publicIps") < 4  # the breaker cut the retries short


def test_concurrent_leaves_match_a_serial_run(tenancy: Any, walk: Any) -> None:
    """Sixteen threads collecting leaves at once produce what one thread does (clients are per scope)."""
    fake = tenancy.fake
    fake.subscribe(FRA, ads=2)
    for c in range(6):
        comp = fake.add_compartment(f"c{c}")
        for n in range(3):
            fake.add_public_ip(ASH, comp, f"129.80.{10 + c}.{n}")
            fake.add_public_ip(FRA, comp, f"92.5.{10 + c}.{n}", scope="AVAILABILITY_DOMAIN")
    serial = walk(tenancy.collector())
    parallel = walk(tenancy.collector(), concurrency=16)
    assert parallel.errors == {} and len(parallel.records) == 36
    assert sorted(parallel.records, key=lambda r: r.ip) == sorted(serial.records, key=lambda r: r.ip)


def test_separate_endpoint_templates_per_service(tenancy: Any, walk: Any) -> None:
    """identity_/network_endpoint_template override `endpoint_template` per service."""
    tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, "129.80.0.1")
    broken = "http://127.0.0.1:9/{region}"  # nothing listens on port 9
    good = tenancy.fake.endpoint_template
    result = walk(tenancy.collector(endpoint_template=broken, identity_endpoint_template=good,
                                    network_endpoint_template=good))  # fmt: skip
    assert result.regions == {"129.80.0.1": ASH}
    failed = walk(tenancy.collector(endpoint_template=good, network_endpoint_template=broken))
    assert failed.leaves and len(failed.errors) == len(failed.leaves)
    assert {e.code for e in failed.errors.values()} <= {"ConnectionError", "RequestException"}


def test_load_collector_builds_it_from_the_config_section(tenancy: Any) -> None:
    """The base registry imports this module and calls `from_config`."""
    collector = load_collector("oci", tenancy.config())
    assert isinstance(collector, OciCollector)
    (root,) = collector.scopes()
    assert (root.label, root.leaf) == (f"oci:{tenancy.fake.tenancy_id}", False)


def test_runner_shards_leaves_and_records_scope_errors(tenancy: Any) -> None:
    """Through the lead's runner: two shards together collect everything once; a denied leaf is one ScopeError."""
    from agent.collectors.runner import run_collectors

    fake = tenancy.fake
    fake.subscribe(FRA, ads=1)
    comps = [fake.add_compartment(f"c{n}") for n in range(4)]
    for n, comp in enumerate(comps):
        fake.add_public_ip(ASH, comp, f"129.80.20.{n}")
        fake.add_public_ip(FRA, comp, f"92.5.20.{n}")
    fake.deny(comps[0], region=FRA)
    full = run_collectors([tenancy.collector()], concurrency=8)
    assert [(e.scope, e.error, e.code) for e in full.errors] == [
        (f"oci:{fake.tenancy_id}/{comps[0]}/{FRA}", "CollectorError", "NotAuthorizedOrNotFound")
    ]
    assert len(full.records) == 7
    shards = [run_collectors([tenancy.collector()], concurrency=8, shard=(i, 2)) for i in range(2)]
    # 10 leaves, each left out by exactly one of the two shards (crc32 of random OCIDs: either may get none).
    assert sum(s.sharded_out for s in shards) == 10
    assert sorted(r.ip for s in shards for r in s.records) == sorted(r.ip for r in full.records)
    assert sum(len(s.errors) for s in shards) == 1
