"""Pagination and the neighbouring read APIs of the fake: v2 list, /zones, /dns_records, pools, load balancers."""

from __future__ import annotations

import httpx
import pytest

from agent.sandbox.cloudflare import DEFAULT_ACCOUNT_ID, FakeCloudflare

OTHER_ACCOUNT = "ffffffffffffffffffffffffffffffff"


def seed(fake: FakeCloudflare, zone_id: str, count: int) -> list[str]:
    ips = [f"198.18.{i // 256}.{i % 256}" for i in range(count)]
    for ip in ips:
        fake.set_mapping(zone_id, ip, "aws", "us-east-1")
    return ips


@pytest.mark.parametrize(
    ("count", "per_page", "pages"),
    [(0, 20, 0), (1, 20, 1), (100, 100, 1), (101, 100, 2), (45, None, 3)],
    ids=["empty", "one", "full-page", "one-over", "default-per-page"],
)
def test_v2_list_pages_cover_everything_once(
    api: httpx.Client, fake: FakeCloudflare, zone_id: str, count: int, per_page: int | None, pages: int
) -> None:
    """result_info is exact on every page (total_pages = ceil(total/per_page), 0 when empty); order is stable."""
    ips = seed(fake, zone_id, count)
    params = {} if per_page is None else {"per_page": per_page}
    seen: list[str] = []
    for page in range(1, pages + 2):  # one past the end
        body = api.get(f"/zones/{zone_id}/origin/cloud_regions", params=params | {"page": page}).json()
        info = body["result_info"]
        expected_per_page = per_page or 20
        assert info == {
            "page": page,
            "per_page": expected_per_page,
            "count": len(body["result"]),
            "total_count": count,
            "total_pages": pages,
        }
        seen += [e["origin_ip"] for e in body["result"]]
    assert seen == ips


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"per_page": 0}, "invalid per_page parameter, must be between 1 and 100"),
        ({"per_page": 101}, "invalid per_page parameter, must be between 1 and 100"),
        ({"per_page": "x"}, "invalid per_page parameter, must be between 1 and 100"),
        ({"page": 0}, "invalid page parameter, must be a positive integer"),
        ({"page": "1.5"}, "invalid page parameter, must be a positive integer"),
    ],
    ids=["per-page-0", "per-page-101", "per-page-text", "page-0", "page-fraction"],
)
def test_v2_list_bad_pagination_is_1146(api: httpx.Client, zone_id: str, params: dict, message: str) -> None:
    response = api.get(f"/zones/{zone_id}/origin/cloud_regions", params=params)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"code": 1146, "message": message}]


def test_repeat_first_page_quirk(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """With the switch on, page 2 is byte-identical to page 1 (the /accounts bug clients must survive)."""
    seed(fake, zone_id, 30)
    fake.repeat_first_page = True
    first = api.get(f"/zones/{zone_id}/origin/cloud_regions", params={"page": 1}).content
    assert api.get(f"/zones/{zone_id}/origin/cloud_regions", params={"page": 2}).content == first
    fake.repeat_first_page = False
    assert api.get(f"/zones/{zone_id}/origin/cloud_regions", params={"page": 2}).content != first


def test_zones_filter_by_name_and_account(api: httpx.Client, fake: FakeCloudflare) -> None:
    wanted = fake.add_zone("example.com")
    fake.add_zone("example.org")
    elsewhere = fake.add_zone("other.example", account_id=OTHER_ACCOUNT, account_name="Other")
    by_name = api.get("/zones", params={"name": "EXAMPLE.com"}).json()
    assert [z["id"] for z in by_name["result"]] == [wanted]
    assert by_name["result"][0]["account"] == {"id": DEFAULT_ACCOUNT_ID, "name": "Demo Account"}
    assert api.get("/zones", params={"name": "nothing.example"}).json()["result"] == []
    by_account = api.get("/zones", params={"account.id": OTHER_ACCOUNT}).json()["result"]
    assert [z["id"] for z in by_account] == [elsewhere]
    contains = api.get("/zones", params={"name": "contains:example.o"}).json()["result"]
    assert [z["name"] for z in contains] == ["example.org"]


def test_zones_pagination_bounds(api: httpx.Client, fake: FakeCloudflare) -> None:
    """per_page 5..50, default 20."""
    for i in range(23):
        fake.add_zone(f"z{i:02d}.example")
    default = api.get("/zones").json()
    assert default["result_info"] == {"page": 1, "per_page": 20, "count": 20, "total_count": 23, "total_pages": 2}
    assert len(api.get("/zones", params={"per_page": 5, "page": 5}).json()["result"]) == 3
    assert api.get("/zones", params={"per_page": 4}).status_code == 400
    assert api.get("/zones", params={"per_page": 51}).status_code == 400


def test_dns_records_filters(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    a = fake.add_dns_record(zone_id, "A", "www", "192.0.2.1")
    fake.add_dns_record(zone_id, "A", "direct.example.com", "192.0.2.2", proxied=False)
    aaaa = fake.add_dns_record(zone_id, "AAAA", "@", "2001:db8::1")
    cname = fake.add_dns_record(zone_id, "CNAME", "alias", "www.example.com")
    path = f"/zones/{zone_id}/dns_records"

    def ids(**params: str) -> list[str]:
        return [r["id"] for r in api.get(path, params=params).json()["result"]]

    assert ids(type="A", proxied="true") == [a]
    assert ids(type="AAAA") == [aaaa]
    assert ids(**{"name.exact": "example.com"}) == [aaaa]
    assert ids(name="www.example.com") == [a]
    assert ids(**{"content.exact": "www.example.com"}) == [cname]
    assert len(ids(proxied="false")) == 1
    record = api.get(path, params={"type": "A", "name": "www.example.com"}).json()["result"][0]
    assert record["name"] == "www.example.com" and record["content"] == "192.0.2.1"
    assert record["proxied"] is True and record["proxiable"] is True and record["ttl"] == 1


def test_dns_records_pagination(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    for i in range(7):
        fake.add_dns_record(zone_id, "A", f"h{i}", f"192.0.2.{i + 1}")
    body = api.get(f"/zones/{zone_id}/dns_records", params={"per_page": 5, "page": 2}).json()
    assert body["result_info"] == {"page": 2, "per_page": 5, "count": 2, "total_count": 7, "total_pages": 2}
    assert api.get(f"/zones/{zone_id}/dns_records").json()["result_info"]["per_page"] == 100


def test_dns_content_validation_can_be_switched_off(fake: FakeCloudflare, zone_id: str, api: httpx.Client) -> None:
    """Real Cloudflare validates A content; our malformed-DNS tests need junk, so it is opt-out per record."""
    with pytest.raises(ValueError, match="not an IP"):
        fake.add_dns_record(zone_id, "A", "bad", "not-an-ip")
    with pytest.raises(ValueError, match="wrong IP version"):
        fake.add_dns_record(zone_id, "A", "bad", "2001:db8::1")
    fake.add_dns_record(zone_id, "A", "bad", " 192.0.2.1/24", validate_content=False)
    assert api.get(f"/zones/{zone_id}/dns_records").json()["result"][0]["content"] == " 192.0.2.1/24"


def test_pools_and_load_balancers(api: httpx.Client, fake: FakeCloudflare, zone_id: str) -> None:
    """Pools are per account with no pagination; LBs reference pools by id."""
    primary = fake.add_pool(DEFAULT_ACCOUNT_ID, "primary", [{"address": "192.0.2.10", "name": "o1"}])
    backup = fake.add_pool(DEFAULT_ACCOUNT_ID, "backup", [{"address": "origin.example.net", "enabled": False}])
    fake.add_pool(OTHER_ACCOUNT, "theirs", [{"address": "192.0.2.99"}])
    lb = fake.add_load_balancer(
        zone_id, "lb", default_pools=[primary], region_pools={"WNAM": [backup]}, pop_pools={"LAX": [backup]}
    )
    pools = api.get(f"/accounts/{DEFAULT_ACCOUNT_ID}/load_balancers/pools").json()
    assert "result_info" not in pools
    assert [p["name"] for p in pools["result"]] == ["primary", "backup"]
    assert pools["result"][0]["origins"] == [
        {"address": "192.0.2.10", "name": "o1", "enabled": True, "weight": 1.0, "header": {}}
    ]
    assert pools["result"][1]["origins"][0]["enabled"] is False
    [balancer] = api.get(f"/zones/{zone_id}/load_balancers").json()["result"]
    assert balancer["id"] == lb and balancer["name"] == "lb.example.com"
    assert balancer["default_pools"] == [primary] and balancer["fallback_pool"] == primary
    assert balancer["region_pools"] == {"WNAM": [backup]} and balancer["pop_pools"] == {"LAX": [backup]}
    assert balancer["country_pools"] == {} and balancer["enabled"] is True and balancer["proxied"] is True
    with pytest.raises(ValueError, match="unknown pool"):
        fake.add_load_balancer(zone_id, "broken", default_pools=["0" * 32])
