"""Every CloudflareClient operation, on both endpoint families, over real HTTP against the sandbox fake."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from urllib.parse import unquote

import pytest
from cf_support import ACCOUNT_ID, ipv4

from agent.cloudflare import (
    ApiFamily,
    BatchResult,
    CloudflareClient,
    MappingExists,
    MappingNotFound,
    PaginationError,
    ZoneNotFound,
)
from agent.ip import InvalidIPError
from agent.models import RegionMapping, Vendor
from agent.sandbox.cloudflare import FakeCloudflare


def _paths(fake: FakeCloudflare, method: str | None = None) -> list[str]:
    return [r.path for r in fake.requests if method is None or r.method == method]


# -- discovery ----------------------------------------------------------------------------------------------------


def test_verify_token_returns_active_status(client: CloudflareClient) -> None:
    """verify_token answers the token's status."""
    assert client.verify_token()["status"] == "active"


def test_zone_id_resolves_a_name_and_raises_zone_not_found(
    client: CloudflareClient, fake: FakeCloudflare, zone_id: str, zone_name: str
) -> None:
    """zone_id finds the exact name (case and trailing dot ignored); an absent name is ZoneNotFound naming it."""
    fake.add_zone("sub." + zone_name, account_id=ACCOUNT_ID)
    assert client.zone_id(zone_name.upper() + ".") == zone_id
    with pytest.raises(ZoneNotFound) as info:
        client.zone_id("missing.example")
    assert info.value.zone == "missing.example"
    assert "missing.example" in str(info.value)


def test_zones_pages_through_all_zones(make_client: Callable[..., CloudflareClient], fake: FakeCloudflare) -> None:
    """zones() reads every page (50 per page, the /zones maximum) and filters by account and name."""
    account = secrets.token_hex(16)
    names = [f"{account[:8]}-{i:03d}.example" for i in range(120)]
    for name in names:
        fake.add_zone(name, account_id=account)
    fake.add_zone(f"{account[:8]}.example", account_id=ACCOUNT_ID)
    client = make_client()
    fake.clear_requests()
    assert sorted(z["name"] for z in client.zones(account_id=account)) == names
    assert len(_paths(fake, "GET")) == 3
    assert all(r.query["per_page"] == ["50"] for r in fake.requests)
    assert [z["name"] for z in client.zones(name=f"{account[:8]}.example")] == [f"{account[:8]}.example"]


def test_dns_records_filters_and_pages(client: CloudflareClient, fake: FakeCloudflare, zone_id: str) -> None:
    """dns_records reads all pages (100 per page) and passes type and proxied filters."""
    for i in range(150):
        fake.add_dns_record(zone_id, "A", f"h{i}.example.com", ipv4(i), proxied=i % 2 == 0)
    fake.add_dns_record(zone_id, "AAAA", "v6.example.com", "2001:db8::1", proxied=True)
    fake.clear_requests()
    records = client.dns_records(zone_id)
    assert len(records) == 151
    assert len(fake.requests) == 2
    proxied_a = client.dns_records(zone_id, type="A", proxied=True)
    assert {r["content"] for r in proxied_a} == {ipv4(i) for i in range(0, 150, 2)}
    assert [r["content"] for r in client.dns_records(zone_id, type="AAAA")] == ["2001:db8::1"]


def test_pools_and_load_balancers(client: CloudflareClient, fake: FakeCloudflare) -> None:
    """pools() lists account pools with their origins; load_balancers() the zone's load balancers."""
    account = secrets.token_hex(16)
    zone_id = fake.add_zone(f"lb{account[:8]}.example", account_id=account)
    pool = fake.add_pool(account, "primary", origins=[{"address": "192.0.2.10"}, {"address": "origin.example"}])
    fake.add_load_balancer(zone_id, f"www.lb{account[:8]}.example", default_pools=[pool])
    pools = client.pools(account)
    assert [p["name"] for p in pools] == ["primary"]
    assert [o["address"] for o in pools[0]["origins"]] == ["192.0.2.10", "origin.example"]
    balancers = client.load_balancers(zone_id)
    assert [lb["name"] for lb in balancers] == [f"www.lb{account[:8]}.example"]
    assert balancers[0]["default_pools"] == [pools[0]["id"]]


# -- single mappings, both families ----------------------------------------------------------------------------


def test_upsert_get_delete_round_trip(
    client: CloudflareClient, fake: FakeCloudflare, zone_id: str, family: ApiFamily
) -> None:
    """upsert creates then replaces; get reads it back normalised; delete removes it; get then is MappingNotFound."""
    created = client.upsert_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    assert created == RegionMapping("192.0.2.1", Vendor.AWS, "us-east-1")
    assert created.modified_on
    replaced = client.upsert_mapping(zone_id, "192.0.2.1", "aws", "us-west-2")
    assert replaced.region == "us-west-2"
    assert fake.mappings(zone_id) == {"192.0.2.1": ("aws", "us-west-2")}
    got = client.get_mapping(zone_id, "192.0.2.1")
    assert isinstance(got, RegionMapping) and got.modified_on
    assert (got.ip, got.vendor, got.region) == ("192.0.2.1", Vendor.AWS, "us-west-2")
    assert client.delete_mapping(zone_id, "192.0.2.1") == "192.0.2.1"
    assert fake.mappings(zone_id) == {}
    with pytest.raises(MappingNotFound):
        client.get_mapping(zone_id, "192.0.2.1")
    with pytest.raises(MappingNotFound):
        client.delete_mapping(zone_id, "192.0.2.1")
    expected_write = ("PUT", "origin/cloud_regions/192.0.2.1") if family is ApiFamily.V2 else ("PATCH", "cache/")
    writes = [r for r in fake.requests if r.method == expected_write[0]]
    assert writes and expected_write[1] in writes[0].path


def test_upsert_v1_returns_only_the_entry(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """v1 PATCH answers the whole list; the client returns just the upserted entry."""
    fake.set_mapping(zone_id, "192.0.2.7", "gcp", "us-central1")
    client = make_client(ApiFamily.V1)
    entry = client.upsert_mapping(zone_id, "2001:db8::5", "aws", "us-east-1")
    assert entry == RegionMapping("2001:db8::5", Vendor.AWS, "us-east-1")
    body = fake.requests[-1].body
    assert body == {"ip": "2001:db8::5", "vendor": "aws", "region": "us-east-1"}


def test_create_mapping_v1_and_conflict(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """v1 create POSTs {ip, vendor, region}; creating the same IP again is MappingExists."""
    client = make_client(ApiFamily.V1)
    entry = client.create_mapping(zone_id, "192.0.2.1", "gcp", "europe-west1")
    assert entry == RegionMapping("192.0.2.1", Vendor.GCP, "europe-west1")
    assert fake.requests[-1].method == "POST"
    with pytest.raises(MappingExists) as info:
        client.create_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    assert info.value.codes[0] == 1145
    assert fake.mappings(zone_id) == {"192.0.2.1": ("gcp", "europe-west1")}


def test_create_mapping_is_not_available_on_v2(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """v2 has no create-only call: ValueError, and nothing is sent."""
    client = make_client(ApiFamily.V2)
    fake.clear_requests()
    with pytest.raises(ValueError, match="V1"):
        client.create_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    assert fake.requests == []


def test_supported_regions_lists_vendor_regions(client: CloudflareClient, zone_id: str) -> None:
    """supported_regions maps each vendor to the set of region names the zone accepts."""
    regions = client.supported_regions(zone_id)
    assert {"aws", "gcp", "azure", "oci"} <= set(regions)
    assert {"us-east-1", "us-west-2"} <= regions["aws"]
    assert "us-central1" in regions["gcp"]
    assert all(isinstance(names, set) for names in regions.values())


# -- batches ------------------------------------------------------------------------------------------------------


def test_batch_upsert_merges_and_reports_failures(
    client: CloudflareClient, fake: FakeCloudflare, zone_id: str, family: ApiFamily
) -> None:
    """A batch upsert applies the valid items, reports the invalid one in `failed`, and leaves other IPs alone."""
    fake.set_mapping(zone_id, "203.0.113.9", "oci", "us-ashburn-1")
    items = [
        RegionMapping("192.0.2.1", Vendor.AWS, "us-east-1"),
        RegionMapping(ip="2001:db8::1", vendor=Vendor.GCP, region="us-central1"),
        RegionMapping("192.0.2.2", Vendor.AWS, "atlantis-1"),
    ]
    result = client.batch_upsert(zone_id, items)
    assert isinstance(result, BatchResult)
    assert sorted(result.succeeded) == ["192.0.2.1", "2001:db8::1"]
    assert [i.ip for i in result.failed] == ["192.0.2.2"]
    assert result.failed[0].message
    assert not result.ok
    assert fake.mappings(zone_id) == {
        "203.0.113.9": ("oci", "us-ashburn-1"),
        "192.0.2.1": ("aws", "us-east-1"),
        "2001:db8::1": ("gcp", "us-central1"),
    }
    request = fake.requests[-1]
    assert request.method == ("PUT" if family is ApiFamily.V2 else "PATCH")
    assert request.path.endswith("/batch")
    ip_key = "origin_ip" if family is ApiFamily.V2 else "ip"
    assert [item[ip_key] for item in request.body] == ["192.0.2.1", "2001:db8::1", "192.0.2.2"]


def test_batch_delete_sends_the_ip_array(
    client: CloudflareClient, fake: FakeCloudflare, zone_id: str, family: ApiFamily
) -> None:
    """batch_delete sends a JSON array of canonical IPs; unknown IPs come back failed, known ones succeeded."""
    fake.set_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    fake.set_mapping(zone_id, "2001:db8::1", "gcp", "us-central1")
    result = client.batch_delete(zone_id, ["192.0.2.1", "2001:db8::1", "192.0.2.99"])
    assert sorted(result.succeeded) == ["192.0.2.1", "2001:db8::1"]
    assert [i.ip for i in result.failed] == ["192.0.2.99"]
    assert fake.mappings(zone_id) == {}
    assert fake.requests[-1].method == "DELETE"
    assert fake.requests[-1].body == ["192.0.2.1", "2001:db8::1", "192.0.2.99"]


def test_batch_limits_are_checked_client_side(client: CloudflareClient, fake: FakeCloudflare, zone_id: str) -> None:
    """More than 100 items, or one IP twice, is a ValueError before any request; an empty batch sends nothing."""
    fake.clear_requests()
    items = [RegionMapping(ipv4(i), Vendor.AWS, "us-east-1") for i in range(101)]
    with pytest.raises(ValueError, match="at most 100"):
        client.batch_upsert(zone_id, items)
    with pytest.raises(ValueError, match="at most 100"):
        client.batch_delete(zone_id, [ipv4(i) for i in range(101)])
    with pytest.raises(ValueError, match="twice"):
        client.batch_upsert(zone_id, [items[0], RegionMapping(items[0].ip, Vendor.GCP, "us-central1")])
    with pytest.raises(ValueError, match="twice"):
        client.batch_delete(zone_id, ["2001:db8::1", "2001:db8::1"])
    with pytest.raises(InvalidIPError, match="canonical"):  # IPs are made canonical where they enter, not here
        client.batch_delete(zone_id, ["2001:db8::1", "2001:DB8:0::1"])
    assert client.batch_upsert(zone_id, []) == BatchResult()
    assert client.batch_delete(zone_id, []) == BatchResult()
    assert fake.requests == []


def test_batch_of_exactly_100(client: CloudflareClient, fake: FakeCloudflare, zone_id: str) -> None:
    """100 items (the documented maximum) go out in one request."""
    items = [RegionMapping(ipv4(i), Vendor.AWS, "us-east-1") for i in range(100)]
    fake.clear_requests()
    result = client.batch_upsert(zone_id, items)
    assert len(result.succeeded) == 100
    assert result.failed == ()
    assert len(fake.requests) == 1
    assert len(fake.mappings(zone_id)) == 100


# -- pagination ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 100, 101, 3500], ids=lambda n: f"{n}-mappings")
def test_list_mappings_reads_every_page(
    client: CloudflareClient, fake: FakeCloudflare, zone_id: str, family: ApiFamily, count: int
) -> None:
    """list_mappings returns every mapping, normalised; v2 pages at 100 per page, v1 reads one response."""
    for i in range(count):
        fake.set_mapping(zone_id, ipv4(i), "aws", "us-east-1")
    fake.clear_requests()
    mappings = client.list_mappings(zone_id)
    assert sorted(m.ip for m in mappings) == sorted(ipv4(i) for i in range(count))
    assert all(isinstance(m, RegionMapping) and m.modified_on for m in mappings)
    assert all(m.placement == ("aws", "us-east-1") for m in mappings)
    expected_requests = max(1, -(-count // 100)) if family is ApiFamily.V2 else 1
    assert len(fake.requests) == expected_requests
    if family is ApiFamily.V2:
        pages = [int(r.query["page"][0]) for r in fake.requests]
        assert pages == list(range(1, expected_requests + 1))


def test_repeated_page_is_an_error_when_items_are_missing(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """A server that answers page 1 for every page number stops the loop at page 2 with PaginationError."""
    for i in range(250):
        fake.set_mapping(zone_id, ipv4(i), "aws", "us-east-1")
    fake.repeat_first_page = True
    client = make_client(ApiFamily.V2)
    fake.clear_requests()
    with pytest.raises(PaginationError, match="repeats"):
        client.list_mappings(zone_id)
    assert len(fake.requests) == 2


def test_ipv6_and_ipv4_are_canonical_in_paths_and_bodies(
    client: CloudflareClient, fake: FakeCloudflare, zone_id: str, family: ApiFamily
) -> None:
    """Upper case, leading zeros and embedded IPv4 are canonicalised before they reach the wire."""
    spellings = {
        "2001:DB8:0:0:0:0:0:1": "2001:db8::1",
        "2001:0db8:0000:0000:0000:0000:0000:0a01": "2001:db8::a01",
        "::FFFF:C000:0201": "::ffff:192.0.2.1",
        "::ffff:192.0.2.2": "::ffff:192.0.2.2",
    }
    for raw, canonical in spellings.items():
        entry = client.upsert_mapping(zone_id, raw, "aws", "us-east-1")
        assert entry.ip == canonical
        body = fake.requests[-1].body
        assert body["origin_ip" if family is ApiFamily.V2 else "ip"] == canonical
        fake.clear_requests()
        client.get_mapping(zone_id, raw.upper())
        assert unquote(fake.requests[-1].path).endswith("/" + canonical)
    assert set(fake.mappings(zone_id)) == set(spellings.values())
    result = client.batch_upsert(zone_id, [RegionMapping("2001:db8::ff", Vendor.GCP, "us-central1")])
    assert result.succeeded == ("2001:db8::ff",)
    assert json.dumps(fake.requests[-1].body).count("2001:db8::ff") == 1


@pytest.mark.parametrize("bad", ["fe80::1%eth0", "192.0.2.0/24", "2001:db8::/32", " 192.0.2.1", "010.0.0.1", "host"])
def test_invalid_ips_are_rejected_before_any_request(
    client: CloudflareClient, fake: FakeCloudflare, zone_id: str, family: ApiFamily, bad: str
) -> None:
    """Zone ids, CIDRs, white space, leading zeros and names raise InvalidIPError; nothing is sent."""
    fake.clear_requests()
    calls: list[Callable[[], object]] = [
        lambda: client.get_mapping(zone_id, bad),
        lambda: client.upsert_mapping(zone_id, bad, "aws", "us-east-1"),
        lambda: client.delete_mapping(zone_id, bad),
        lambda: client.batch_upsert(zone_id, [RegionMapping(bad, Vendor.AWS, "us-east-1")]),
        lambda: client.batch_delete(zone_id, ["192.0.2.1", bad]),
    ]
    if family is ApiFamily.V1:
        calls.append(lambda: client.create_mapping(zone_id, bad, "aws", "us-east-1"))
    for call in calls:
        with pytest.raises(InvalidIPError):
            call()
    assert fake.requests == []


def test_zone_ids_are_checked_client_side(client: CloudflareClient, fake: FakeCloudflare) -> None:
    """A zone id that is not a Cloudflare identifier (path tricks included) is a ValueError before any request."""
    fake.clear_requests()
    for bad in ["", "../zones", "a" * 33, "abc/def"]:
        with pytest.raises(ValueError, match="zone_id"):
            client.list_mappings(bad)
    assert fake.requests == []
