"""Origin cloud region semantics of the fake, both families, over real HTTP (reference section 9)."""

from __future__ import annotations

import ssl

import httpx
import pytest

from agent.clock import FakeClock
from agent.sandbox.cloudflare import FakeCloudflare

V2 = "/zones/{zone}/origin/cloud_regions"
V1 = "/zones/{zone}/cache/origin_cloud_regions"
SET_MESSAGE_1142 = "Unable to retrieve origin_public_cloud_region setting value. The zone setting does not exist."


def v2(zone: str, suffix: str = "") -> str:
    return V2.format(zone=zone) + suffix


def v1(zone: str, suffix: str = "") -> str:
    return V1.format(zone=zone) + suffix


def error_codes(response: httpx.Response) -> list[int]:
    body = response.json()
    assert body["success"] is False and body["result"] is None and body["messages"] == []
    return [e["code"] for e in body["errors"]]


def test_v2_put_get_list_delete_round_trip(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """PUT creates, GET reads, list shows it, DELETE answers only {origin_ip} and empties the zone."""
    put = api.put(v2(zone_id, "/192.0.2.1"), json={"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"})
    assert put.status_code == 200
    assert put.json() == {
        "success": True,
        "errors": [],
        "messages": [],
        "result": {
            "origin_ip": "192.0.2.1",
            "vendor": "aws",
            "region": "us-east-1",
            "modified_on": "2026-05-28T20:26:40Z",
        },
    }
    assert api.get(v2(zone_id, "/192.0.2.1")).json()["result"]["region"] == "us-east-1"
    listed = api.get(v2(zone_id)).json()
    assert [e["origin_ip"] for e in listed["result"]] == ["192.0.2.1"]
    deleted = api.delete(v2(zone_id, "/192.0.2.1"))
    assert deleted.status_code == 200 and deleted.json()["result"] == {"origin_ip": "192.0.2.1"}
    assert fake.mappings(zone_id) == {}


def test_ipv6_path_is_canonicalised_before_lookup(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """GET/DELETE of 2001:DB8:0::1 (also %3A-encoded) find 2001:db8::1; responses show the canonical form."""
    fake.set_mapping(zone_id, "2001:db8::1", "gcp", "us-central1")
    assert api.get(v2(zone_id, "/2001:DB8:0::1")).json()["result"]["origin_ip"] == "2001:db8::1"
    assert api.get(v1(zone_id, "/2001%3Adb8%3A0%3A0%3A0%3A0%3A0%3A1")).json()["result"]["value"]["origin-ip"] == (
        "2001:db8::1"
    )
    assert api.delete(v2(zone_id, "/2001%3ADB8%3A%3A1")).json()["result"] == {"origin_ip": "2001:db8::1"}


def test_put_stores_canonical_ip_and_compares_canonical_forms(
    api: httpx.Client, fake: FakeCloudflare, zone_id: str
) -> None:
    """Path and body spell the same IPv6 differently: accepted, stored once in RFC 5952 form."""
    body = {"origin_ip": "2001:0DB8::0001", "vendor": "gcp", "region": "us-central1"}
    response = api.put(v2(zone_id, "/2001:db8:0:0::1"), json=body)
    assert response.status_code == 200 and response.json()["result"]["origin_ip"] == "2001:db8::1"
    assert fake.mappings(zone_id) == {"2001:db8::1": ("gcp", "us-central1")}


def test_ipv4_mapped_ipv6_uses_mixed_notation(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """The pinned form of IPv4-mapped addresses is ::ffff:192.0.2.1 (agent.ip.canonical_ip)."""
    response = api.put(
        v2(zone_id, "/::ffff:c000:201"), json={"origin_ip": "::ffff:c000:201", "vendor": "aws", "region": "us-east-1"}
    )
    assert response.json()["result"]["origin_ip"] == "::ffff:192.0.2.1"
    assert list(fake.mappings(zone_id)) == ["::ffff:192.0.2.1"]


def test_put_body_ip_mismatch_is_1146(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    response = api.put(
        v2(zone_id, "/192.0.2.1"), json={"origin_ip": "192.0.2.2", "vendor": "aws", "region": "us-east-1"}
    )
    assert response.status_code == 400 and error_codes(response) == [1146]
    assert response.json()["errors"][0]["message"] == "body origin_ip does not match URL"
    assert fake.mappings(zone_id) == {}


@pytest.mark.parametrize(
    "bad_ip",
    ["192.0.2.0/24", " 192.0.2.1", "010.0.0.1", "fe80::1%eth0", "not-an-ip", "256.1.1.1"],
    ids=["cidr", "whitespace", "leading-zero", "zone-id", "text", "octet-range"],
)
def test_invalid_ips_are_1146_on_v1_post(api: httpx.Client, fake: FakeCloudflare, zone_id: str, bad_ip: str) -> None:
    response = api.post(v1(zone_id), json={"ip": bad_ip, "vendor": "aws", "region": "us-east-1"})
    assert response.status_code == 400 and error_codes(response) == [1146]
    assert response.json()["errors"][0]["message"] == "Invalid or missing origin IP address."
    assert fake.mappings(zone_id) == {}


def test_invalid_path_ip_is_1146(api: httpx.Client, zone_id: str) -> None:
    assert error_codes(api.get(v2(zone_id, "/192.0.2.1%2F32"))) == [1146]


@pytest.mark.parametrize(
    ("vendor", "region"),
    [("alibaba", "us-east-1"), ("aws", "us-central1"), ("AWS", "us-east-1"), ("aws", None), (None, "us-east-1")],
    ids=["unknown-vendor", "region-of-other-vendor", "upper-case-vendor", "missing-region", "missing-vendor"],
)
def test_vendor_and_region_are_validated_1157(
    api: httpx.Client, fake: FakeCloudflare, zone_id: str, vendor: str | None, region: str | None
) -> None:
    body = {"origin_ip": "192.0.2.1", "vendor": vendor, "region": region}
    response = api.put(v2(zone_id, "/192.0.2.1"), json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 400 and error_codes(response) == [1157]
    assert fake.mappings(zone_id) == {}


def test_every_default_region_is_accepted(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """The default fixture is agent/data/regions.json: azure and oci native names included."""
    items = [
        {"origin_ip": "192.0.2.1", "vendor": "azure", "region": "eastus"},
        {"origin_ip": "192.0.2.2", "vendor": "oci", "region": "us-ashburn-1"},
        {"origin_ip": "192.0.2.3", "vendor": "gcp", "region": "europe-west1"},
        {"origin_ip": "192.0.2.4", "vendor": "aws", "region": "us-west-2"},
    ]
    result = api.put(v2(zone_id, "/batch"), json=items).json()["result"]
    assert result["failed"] == [] and len(result["succeeded"]) == 4


def test_custom_supported_regions_fixture(clock: FakeClock, tls: ssl.SSLContext) -> None:
    """A configured fixture replaces the default: only its regions validate, and supported_regions lists them."""
    with FakeCloudflare(clock=clock, supported_regions={"aws": ["us-east-1"]}) as fake:
        zone = fake.add_zone("example.com")
        with httpx.Client(verify=tls, base_url=fake.base_url, headers={"Authorization": "Bearer test-token"}) as api:
            ok = api.put(
                v2(zone, "/192.0.2.1"), json={"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"}
            )
            bad = api.put(
                v2(zone, "/192.0.2.2"), json={"origin_ip": "192.0.2.2", "vendor": "aws", "region": "us-west-2"}
            )
            regions = api.get(v2(zone, "/supported_regions")).json()["result"]
    assert ok.status_code == 200 and error_codes(bad) == [1157]
    assert regions == {
        "obtained_codes": True,
        "vendors": {"aws": [{"name": "us-east-1", "upper_tier_colos": ["IAD", "EWR"]}]},
    }


def test_v1_post_is_create_only_1145(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """v1 POST refuses an IP already mapped (in any spelling) and leaves the mapping alone."""
    first = api.post(v1(zone_id), json={"ip": "2001:db8::1", "vendor": "gcp", "region": "us-central1"})
    assert first.status_code == 200
    assert first.json()["result"] == {
        "id": "origin_public_cloud_region",
        "editable": True,
        "modified_on": "2026-05-28T20:26:40Z",
        "value": {
            "origin-ip": "2001:db8::1",
            "vendor": "gcp",
            "region": "us-central1",
            "modified_on": "2026-05-28T20:26:40Z",
        },
    }
    again = api.post(v1(zone_id), json={"ip": "2001:DB8:0::1", "vendor": "aws", "region": "us-east-1"})
    assert again.status_code == 400 and error_codes(again) == [1145]
    assert fake.mappings(zone_id) == {"2001:db8::1": ("gcp", "us-central1")}


def test_v1_patch_upserts_and_returns_whole_list(
    api: httpx.Client, fake: FakeCloudflare, zone_id: str, clock: FakeClock
) -> None:
    """PATCH overwrites in place and bumps both the entry's and the set's modified_on."""
    fake.set_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    fake.set_mapping(zone_id, "192.0.2.2", "aws", "us-east-1")
    clock.advance(3600)
    result = api.patch(v1(zone_id), json={"ip": "192.0.2.1", "vendor": "aws", "region": "us-west-2"}).json()["result"]
    assert result["modified_on"] == "2026-05-28T21:26:40Z"
    assert [(e["origin-ip"], e["region"], e["modified_on"]) for e in result["value"]] == [
        ("192.0.2.1", "us-west-2", "2026-05-28T21:26:40Z"),
        ("192.0.2.2", "us-east-1", "2026-05-28T20:26:40Z"),
    ]


def test_v1_list_of_empty_zone_has_null_modified_on(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """Removing the last mapping deletes the setting: modified_on goes back to null."""
    empty = {"id": "origin_public_cloud_region", "editable": True, "value": [], "modified_on": None}
    assert api.get(v1(zone_id)).json()["result"] == empty
    fake.set_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    assert api.get(v1(zone_id)).json()["result"]["modified_on"] is not None
    deleted = api.delete(v1(zone_id, "/192.0.2.1")).json()["result"]
    assert deleted["value"]["origin-ip"] == "192.0.2.1" and deleted["value"]["region"] == "us-east-1"
    assert api.get(v1(zone_id)).json()["result"] == empty


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("family", ["v1", "v2"])
def test_unknown_ip_is_404_1142(
    api: httpx.Client, fake: FakeCloudflare, zone_id: str, method: str, family: str
) -> None:
    """Both with no setting at all and with other IPs mapped."""
    path = (v1 if family == "v1" else v2)(zone_id, "/192.0.2.9")
    for _ in range(2):
        response = api.request(method, path)
        assert response.status_code == 404 and error_codes(response) == [1142]
        assert response.json()["errors"][0]["message"] == SET_MESSAGE_1142
        fake.set_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")


def test_v1_delete_not_found_code_is_configurable(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    fake.v1_delete_not_found_code = 1163
    assert error_codes(api.delete(v1(zone_id, "/192.0.2.9"))) == [1163]


def test_batch_upsert_merges_and_reports_per_item(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """Valid items apply, invalid ones fail alone, IPs absent from the body stay."""
    fake.set_mapping(zone_id, "203.0.113.5", "oci", "us-ashburn-1")
    items = [
        {"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"},
        {"origin_ip": "192.0.2.0/24", "vendor": "aws", "region": "us-east-1"},
        {"origin_ip": "2001:DB8::1", "vendor": "gcp", "region": "us-central1"},
        {"origin_ip": "192.0.2.3", "vendor": "aws", "region": "mars-1"},
        "not-an-object",
    ]
    result = api.put(v2(zone_id, "/batch"), json=items).json()["result"]
    assert result["succeeded"] == [
        {"origin_ip": "192.0.2.1", "region": "us-east-1", "vendor": "aws"},
        {"origin_ip": "2001:db8::1", "region": "us-central1", "vendor": "gcp"},
    ]
    assert [(f["origin_ip"], f["error"]) for f in result["failed"]] == [
        ("192.0.2.0/24", "Invalid or missing origin IP address."),
        (
            "192.0.2.3",
            "The vendor provided doesn't exist or the region provided does not exist for the specified cloud vendor",
        ),
        ("", "Invalid or missing origin IP address."),
    ]
    assert fake.mappings(zone_id) == {
        "203.0.113.5": ("oci", "us-ashburn-1"),
        "192.0.2.1": ("aws", "us-east-1"),
        "2001:db8::1": ("gcp", "us-central1"),
    }


def test_batch_duplicates_last_write_wins(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """The documented duplicate rule: in order, every occurrence reported, the last one stored."""
    items = [
        {"origin_ip": "2001:db8::1", "vendor": "gcp", "region": "us-central1"},
        {"origin_ip": "2001:DB8:0::1", "vendor": "gcp", "region": "europe-west1"},
    ]
    result = api.put(v2(zone_id, "/batch"), json=items).json()["result"]
    assert [(s["origin_ip"], s["region"]) for s in result["succeeded"]] == [
        ("2001:db8::1", "us-central1"),
        ("2001:db8::1", "europe-west1"),
    ]
    assert fake.mappings(zone_id) == {"2001:db8::1": ("gcp", "europe-west1")}
    deleted = api.request("DELETE", v2(zone_id, "/batch"), json=["2001:db8::1", "2001:db8:0::1"]).json()["result"]
    assert len(deleted["succeeded"]) == 1 and [f["origin_ip"] for f in deleted["failed"]] == ["2001:db8::1"]


def test_v1_batch_shapes_and_null_modified_on(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """v1 batch wraps {succeeded, failed} in the setting; modified_on is null when nothing applied."""
    nothing = api.patch(v1(zone_id, "/batch"), json=[{"ip": "x", "vendor": "aws", "region": "us-east-1"}]).json()
    assert nothing["result"]["id"] == "origin_public_cloud_region" and nothing["result"]["modified_on"] is None
    assert nothing["result"]["value"]["failed"] == [
        {"origin-ip": "x", "error": "Invalid or missing origin IP address."}
    ]
    applied = api.patch(v1(zone_id, "/batch"), json=[{"ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"}])
    assert applied.json()["result"]["modified_on"] == "2026-05-28T20:26:40Z"
    assert applied.json()["result"]["value"]["succeeded"] == [
        {"origin-ip": "192.0.2.1", "region": "us-east-1", "vendor": "aws"}
    ]


def test_batch_delete_reports_previous_values(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    fake.set_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    fake.set_mapping(zone_id, "2001:db8::1", "gcp", "us-central1")
    result = api.request("DELETE", v2(zone_id, "/batch"), json=["192.0.2.1", "2001:DB8::1", "192.0.2.99", "bad"]).json()
    assert result["result"]["succeeded"] == [
        {"origin_ip": "192.0.2.1", "region": "us-east-1", "vendor": "aws"},
        {"origin_ip": "2001:db8::1", "region": "us-central1", "vendor": "gcp"},
    ]
    assert [f["origin_ip"] for f in result["result"]["failed"]] == ["192.0.2.99", "bad"]
    assert fake.mappings(zone_id) == {}


def test_bodyless_batch_delete_is_empty_list_or_400(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """What the SDKs send (no body) deletes nothing by default; behind the flag it is a 400."""
    fake.set_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    response = api.delete(v2(zone_id, "/batch"))
    assert response.status_code == 200 and response.json()["result"] == {"succeeded": [], "failed": []}
    assert api.delete(v1(zone_id, "/batch")).json()["result"]["modified_on"] is None
    fake.batch_delete_requires_body = True
    assert api.delete(v2(zone_id, "/batch")).status_code == 400
    assert fake.mappings(zone_id) == {"192.0.2.1": ("aws", "us-east-1")}


def test_batch_over_100_items_is_rejected_whole(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    items = [{"origin_ip": f"10.0.0.{i}", "vendor": "aws", "region": "us-east-1"} for i in range(101)]
    response = api.put(v2(zone_id, "/batch"), json=items)
    assert response.status_code == 400 and error_codes(response) == [1146]
    assert fake.mappings(zone_id) == {}
    assert api.put(v2(zone_id, "/batch"), json=items[:100]).status_code == 200
    assert len(fake.mappings(zone_id)) == 100


def test_batch_body_must_be_an_array(api: httpx.Client, zone_id: str) -> None:
    response = api.put(v2(zone_id, "/batch"), json={"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"})
    assert response.status_code == 400 and error_codes(response) == [1146]


def test_malformed_json_body_is_6007(api: httpx.Client, zone_id: str) -> None:
    response = api.put(v2(zone_id, "/batch"), content=b"[{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_codes(response) == [6007]


def test_zone_cap_1164_allows_overwrite_at_cap(clock: FakeClock, tls: ssl.SSLContext) -> None:
    """At max_mappings a new IP is refused (single and batch), overwriting an existing one still works."""
    with FakeCloudflare(clock=clock, max_mappings=3) as fake:
        zone = fake.add_zone("example.com")
        with httpx.Client(verify=tls, base_url=fake.base_url, headers={"Authorization": "Bearer test-token"}) as api:
            for i in range(3):
                api.put(
                    v2(zone, f"/10.0.0.{i}"), json={"origin_ip": f"10.0.0.{i}", "vendor": "aws", "region": "us-east-1"}
                )
            new = {"origin_ip": "10.0.0.9", "vendor": "aws", "region": "us-east-1"}
            single = api.put(v2(zone, "/10.0.0.9"), json=new)
            v1_post = api.post(v1(zone), json={"ip": "10.0.0.9", "vendor": "aws", "region": "us-east-1"})
            v1_patch = api.patch(v1(zone), json={"ip": "10.0.0.9", "vendor": "aws", "region": "us-east-1"})
            overwrite_item = {"origin_ip": "10.0.0.0", "vendor": "aws", "region": "us-west-2"}
            batch = api.put(v2(zone, "/batch"), json=[overwrite_item, new])
            overwrite = api.put(v2(zone, "/10.0.0.1"), json={**new, "origin_ip": "10.0.0.1", "region": "us-west-2"})
            fake.batch_over_cap = "partial"
            partial = api.put(v2(zone, "/batch"), json=[overwrite_item, new]).json()["result"]
    assert [r.status_code for r in (single, v1_post, v1_patch, batch)] == [403, 403, 403, 403]
    assert error_codes(single) == error_codes(batch) == [1164]
    assert single.json()["errors"][0]["message"] == "Maximum number of IP mappings configured for zone."
    assert overwrite.status_code == 200
    assert [s["origin_ip"] for s in partial["succeeded"]] == ["10.0.0.0"]
    assert partial["failed"] == [
        {"origin_ip": "10.0.0.9", "error": "Maximum number of IP mappings configured for zone."}
    ]
    assert fake.mappings(zone) == {
        "10.0.0.0": ("aws", "us-west-2"),
        "10.0.0.1": ("aws", "us-west-2"),
        "10.0.0.2": ("aws", "us-east-1"),
    }


def test_3500_mappings_in_35_batches_is_fast(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """The real cap, reached through 35 full batches, then one more new IP is refused."""
    import time

    started = time.perf_counter()
    for b in range(35):
        items = [{"origin_ip": f"10.{b}.0.{i}", "vendor": "aws", "region": "us-east-1"} for i in range(100)]
        assert api.put(v2(zone_id, "/batch"), json=items).status_code == 200
    elapsed = time.perf_counter() - started
    assert len(fake.mappings(zone_id)) == 3500
    extra = api.put(v2(zone_id, "/batch"), json=[{"origin_ip": "10.99.0.1", "vendor": "aws", "region": "us-east-1"}])
    assert error_codes(extra) == [1164]
    assert elapsed < 1.0, f"35 batches took {elapsed:.2f}s"


def test_supported_regions_shape_and_tiered_cache_switch(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """Both families return {obtained_codes, vendors} unwrapped; Tiered Cache off fails with the configured error."""
    for path in (v2(zone_id, "/supported_regions"), v1(zone_id, "/supported_regions")):
        result = api.get(path).json()["result"]
        assert set(result) == {"obtained_codes", "vendors"} and set(result["vendors"]) == {"aws", "gcp", "azure", "oci"}
        assert {"name": "us-east-1", "upper_tier_colos": ["IAD", "EWR"]} in result["vendors"]["aws"]
        assert all(region["upper_tier_colos"] for items in result["vendors"].values() for region in items)
    fake.set_tiered_cache(zone_id, False)
    off = api.get(v2(zone_id, "/supported_regions"))
    assert off.status_code == 400 and error_codes(off) == [1155]
    fake.tiered_cache_error = (403, 1135, "this zone setting is not available for your plan type")
    assert error_codes(api.get(v1(zone_id, "/supported_regions"))) == [1135]
    body = {"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"}
    assert api.put(v2(zone_id, "/192.0.2.1"), json=body).status_code == 200  # writes unaffected by default
    fake.tiered_cache_blocks_writes = True
    assert api.put(v2(zone_id, "/192.0.2.1"), json=body).status_code == 403


def test_tiered_cache_off_at_creation(api: httpx.Client, fake: FakeCloudflare) -> None:
    zone = fake.add_zone("cold.example", tiered_cache=False)
    assert api.get(v2(zone, "/supported_regions")).status_code == 400


def test_timestamps_follow_the_injected_clock(
    api: httpx.Client, fake: FakeCloudflare, zone_id: str, clock: FakeClock
) -> None:
    body = {"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"}
    first = api.put(v2(zone_id, "/192.0.2.1"), json=body).json()["result"]["modified_on"]
    clock.advance(86_400 + 61)
    second = api.put(v2(zone_id, "/192.0.2.1"), json=body).json()["result"]["modified_on"]
    assert (first, second) == ("2026-05-28T20:26:40Z", "2026-05-29T20:27:41Z")


def test_zones_are_isolated(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    other = fake.add_zone("example.org")
    api.put(v2(zone_id, "/192.0.2.1"), json={"origin_ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1"})
    assert fake.mappings(other) == {} and api.get(v2(other, "/192.0.2.1")).status_code == 404
