"""Every documented operation of the OpenAPI subset, as answered by the sandbox fake, validates against the subset.

Raw httpx requests (no client code) so the fake's wire format is what is judged. Each exchange is checked twice:
here with `check_response` and inside the fake (`openapi_spec=`), whose findings are asserted at teardown.
Error cases whose REQUEST is deliberately outside the contract (no credentials, per_page=500, vendor "alibaba",
a 34-character zone id) assert that the request is flagged and the response still validates.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_check import check_exchange, check_response, load_spec

from agent.clock import FakeClock
from agent.sandbox.cloudflare import FakeCloudflare

CONF_TOKEN = "conformance-token_Zx81"
SPEC = load_spec()
ZONE_PATHS = {
    "v2": "/zones/{zone}/origin/cloud_regions",
    "v1": "/zones/{zone}/cache/origin_cloud_regions",
}


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    return ssl.create_default_context()


@pytest.fixture
def cf() -> Iterator[FakeCloudflare]:
    """A fake validating its own traffic; no response it sends may violate the subset."""
    with FakeCloudflare(tokens=(CONF_TOKEN,), clock=FakeClock(), openapi_spec=SPEC) as server:
        yield server
        response_findings = [v for v in server.contract_violations if ": response:" in v]
        assert response_findings == []


@pytest.fixture
def zone(cf: FakeCloudflare) -> str:
    return cf.add_zone("example.com")


@pytest.fixture
def wire(cf: FakeCloudflare, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cf.base_url, headers={"Authorization": f"Bearer {CONF_TOKEN}"}, verify=tls) as client:
        yield client


def call(
    client: httpx.Client,
    method: str,
    path: str,
    status: int,
    *,
    code: int | None = None,
    request_valid: bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """Send, check the status (and error code), and check the exchange against the subset."""
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    if code is not None:
        assert [e["code"] for e in response.json()["errors"]][:1] == [code]
    findings = check_response(response)
    assert [f for f in findings if f.startswith("response:")] == []
    requests_flagged = [f for f in findings if f.startswith("request:")]
    assert bool(requests_flagged) is not request_valid, requests_flagged
    return response


def seed(cf: FakeCloudflare, zone: str, count: int) -> None:
    for i in range(count):
        cf.set_mapping(zone, f"198.18.{i // 256}.{i % 256}", "aws", "us-east-1")


def entry(ip: str, key: str = "origin_ip", vendor: str = "aws", region: str = "us-east-1") -> dict[str, str]:
    return {key: ip, "vendor": vendor, "region": region}


# ---------------------------------------------------------------------- success paths


@pytest.mark.parametrize("count", [0, 1, 100, 101])
def test_v2_list_validates(wire: httpx.Client, cf: FakeCloudflare, zone: str, count: int) -> None:
    seed(cf, zone, count)
    path = ZONE_PATHS["v2"].format(zone=zone)
    first = call(wire, "GET", path, 200, params={"per_page": 100})
    assert first.json()["result_info"]["total_count"] == count
    second = call(wire, "GET", path, 200, params={"per_page": 100, "page": 2})
    assert len(first.json()["result"]) + len(second.json()["result"]) == count
    call(wire, "GET", path, 200)  # defaults


@pytest.mark.parametrize("count", [0, 1, 100, 101])
def test_v1_list_validates(wire: httpx.Client, cf: FakeCloudflare, zone: str, count: int) -> None:
    seed(cf, zone, count)
    response = call(wire, "GET", ZONE_PATHS["v1"].format(zone=zone), 200)
    assert len(response.json()["result"]["value"]) == count


def test_v2_single_operations_validate(wire: httpx.Client, zone: str) -> None:
    base = ZONE_PATHS["v2"].format(zone=zone)
    call(wire, "PUT", f"{base}/2001:db8::1", 200, json=entry("2001:db8::1", vendor="gcp", region="us-central1"))
    call(wire, "PUT", f"{base}/192.0.2.1", 200, json=entry("192.0.2.1"))
    call(wire, "PUT", f"{base}/192.0.2.1", 200, json=entry("192.0.2.1", region="us-west-2"))  # overwrite
    assert call(wire, "GET", f"{base}/192.0.2.1", 200).json()["result"]["region"] == "us-west-2"
    call(wire, "DELETE", f"{base}/2001:db8::1", 200)
    call(wire, "GET", f"{base}/supported_regions", 200)


def test_v1_single_operations_validate(wire: httpx.Client, zone: str) -> None:
    base = ZONE_PATHS["v1"].format(zone=zone)
    call(wire, "POST", base, 200, json=entry("192.0.2.1", key="ip"))
    call(wire, "PATCH", base, 200, json=entry("2001:db8::1", key="ip", vendor="gcp", region="us-central1"))
    call(wire, "GET", f"{base}/192.0.2.1", 200)
    call(wire, "DELETE", f"{base}/192.0.2.1", 200)
    call(wire, "DELETE", f"{base}/2001:db8::1", 200)
    assert call(wire, "GET", base, 200).json()["result"]["modified_on"] is None
    call(wire, "GET", f"{base}/supported_regions", 200)


@pytest.mark.parametrize("family", ["v1", "v2"])
def test_batches_with_failed_items_validate(wire: httpx.Client, zone: str, family: str) -> None:
    base = ZONE_PATHS[family].format(zone=zone)
    key = "ip" if family == "v1" else "origin_ip"
    method = "PATCH" if family == "v1" else "PUT"
    items = [entry("192.0.2.1", key), entry("2001:db8::1", key, "gcp", "us-central1"), entry("192.0.2.0/24", key)]
    upserted = call(wire, method, f"{base}/batch", 200, json=items).json()["result"]
    value = upserted["value"] if family == "v1" else upserted
    assert len(value["succeeded"]) == 2 and len(value["failed"]) == 1
    nothing = call(wire, method, f"{base}/batch", 200, json=[entry("bad", key)])  # v1: modified_on null
    assert nothing.json()["result"]
    deleted = call(wire, "DELETE", f"{base}/batch", 200, json=["192.0.2.1", "2001:db8::1", "192.0.2.77"])
    value = deleted.json()["result"]["value"] if family == "v1" else deleted.json()["result"]
    assert len(value["succeeded"]) == 2 and len(value["failed"]) == 1


def test_zones_and_dns_records_validate(wire: httpx.Client, cf: FakeCloudflare, zone: str) -> None:
    cf.add_zone("example.org", status="pending")
    cf.add_dns_record(zone, "A", "www", "192.0.2.1")
    cf.add_dns_record(zone, "AAAA", "@", "2001:db8::1", proxied=False, ttl=300)
    cf.add_dns_record(zone, "CNAME", "alias", "www.example.com", comment="points at www")
    cf.add_dns_record(zone, "TXT", "_verify", "token=abc", proxied=False)
    call(wire, "GET", "/zones", 200)
    call(wire, "GET", "/zones", 200, params={"name": "example.com", "per_page": 5})
    records = call(wire, "GET", f"/zones/{zone}/dns_records", 200).json()["result"]
    assert len(records) == 4
    call(wire, "GET", f"/zones/{zone}/dns_records", 200, params={"type": "A", "proxied": "true", "per_page": 5})


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("family", ["v1", "v2"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_1142_validates(wire: httpx.Client, cf: FakeCloudflare, zone: str, family: str, method: str) -> None:
    base = ZONE_PATHS[family].format(zone=zone)
    call(wire, method, f"{base}/192.0.2.1", 404, code=1142)
    cf.set_mapping(zone, "192.0.2.2", "aws", "us-east-1")
    call(wire, method, f"{base}/192.0.2.1", 404, code=1142)


def test_1145_validates(wire: httpx.Client, cf: FakeCloudflare, zone: str) -> None:
    cf.set_mapping(zone, "192.0.2.1", "aws", "us-east-1")
    call(wire, "POST", ZONE_PATHS["v1"].format(zone=zone), 400, code=1145, json=entry("192.0.2.1", "ip"))


def test_1146_validates(wire: httpx.Client, zone: str) -> None:
    v1, v2 = ZONE_PATHS["v1"].format(zone=zone), ZONE_PATHS["v2"].format(zone=zone)
    call(wire, "POST", v1, 400, code=1146, json=entry("192.0.2.1/32", "ip"))
    call(wire, "PUT", f"{v2}/192.0.2.1", 400, code=1146, json=entry("192.0.2.2"))
    call(wire, "GET", v2, 400, code=1146, request_valid=False, params={"per_page": 500})
    too_many = [entry(f"10.0.0.{i}") for i in range(101)]
    call(wire, "PUT", f"{v2}/batch", 400, code=1146, request_valid=False, json=too_many)


def test_1157_validates(wire: httpx.Client, zone: str) -> None:
    v1, v2 = ZONE_PATHS["v1"].format(zone=zone), ZONE_PATHS["v2"].format(zone=zone)
    call(wire, "POST", v1, 400, code=1157, json=entry("192.0.2.1", "ip", region="mars-north-1"))
    call(wire, "PATCH", v1, 400, code=1157, json=entry("192.0.2.1", "ip", region="mars-north-1"))
    call(wire, "PUT", f"{v2}/192.0.2.1", 400, code=1157, json=entry("192.0.2.1", region="mars-north-1"))
    bad_vendor = entry("192.0.2.1", vendor="alibaba")
    call(wire, "PUT", f"{v2}/192.0.2.1", 400, code=1157, request_valid=False, json=bad_vendor)


def test_1164_validates(tls: ssl.SSLContext) -> None:
    with FakeCloudflare(tokens=(CONF_TOKEN,), clock=FakeClock(), openapi_spec=SPEC, max_mappings=1) as cf:
        zone = cf.add_zone("example.com")
        cf.set_mapping(zone, "192.0.2.1", "aws", "us-east-1")
        v1, v2 = ZONE_PATHS["v1"].format(zone=zone), ZONE_PATHS["v2"].format(zone=zone)
        headers = {"Authorization": f"Bearer {CONF_TOKEN}"}
        with httpx.Client(base_url=cf.base_url, headers=headers, verify=tls) as client:
            call(client, "PUT", f"{v2}/192.0.2.2", 403, code=1164, json=entry("192.0.2.2"))
            call(client, "PUT", f"{v2}/batch", 403, code=1164, json=[entry("192.0.2.2")])
            call(client, "PATCH", v1, 403, code=1164, json=entry("192.0.2.2", "ip"))
            call(client, "PATCH", f"{v1}/batch", 403, code=1164, json=[entry("192.0.2.2", "ip")])
        assert [v for v in cf.contract_violations if ": response:" in v] == []


@pytest.mark.parametrize("family", ["v1", "v2"])
def test_6003_and_10000_validate(cf: FakeCloudflare, zone: str, tls: ssl.SSLContext, family: str) -> None:
    path = ZONE_PATHS[family].format(zone=zone)
    with httpx.Client(base_url=cf.base_url, verify=tls) as anonymous:
        call(anonymous, "GET", path, 400, code=6003, request_valid=False)
        call(anonymous, "GET", path, 403, code=10000, headers={"Authorization": "Bearer someone-else"})
        call(anonymous, "GET", "/zones", 403, code=10000, headers={"X-Auth-Email": "a@example.com", "X-Auth-Key": "k"})


def test_7003_validates(wire: httpx.Client) -> None:
    call(wire, "GET", ZONE_PATHS["v2"].format(zone="0" * 32), 404, code=7003)
    call(wire, "GET", ZONE_PATHS["v1"].format(zone="0" * 32) + "/192.0.2.1", 404, code=7003)
    call(wire, "GET", f"/zones/{'0' * 32}/dns_records", 404, code=7003)
    call(wire, "GET", ZONE_PATHS["v2"].format(zone="0" * 34), 404, code=7003, request_valid=False)


def test_429_validates(wire: httpx.Client, cf: FakeCloudflare, zone: str) -> None:
    cf.set_rate_limit(1, window_s=300)
    call(wire, "GET", ZONE_PATHS["v2"].format(zone=zone), 200)
    limited = call(wire, "GET", ZONE_PATHS["v2"].format(zone=zone), 429, code=971)
    assert int(limited.headers["retry-after"]) == 300
    call(wire, "PATCH", ZONE_PATHS["v1"].format(zone=zone) + "/batch", 429, code=971, json=[])
    cf.set_rate_limit(None)
    cf.fail_next(429, retry_after="1", code=971)
    call(wire, "GET", "/zones", 429, code=971)


def test_tiered_cache_error_validates(wire: httpx.Client, cf: FakeCloudflare, zone: str) -> None:
    cf.set_tiered_cache(zone, False)
    for family in ("v1", "v2"):
        call(wire, "GET", ZONE_PATHS[family].format(zone=zone) + "/supported_regions", 400, code=1155)


def test_documented_5xx_validates_and_undocumented_is_reported(
    wire: httpx.Client, cf: FakeCloudflare, zone: str
) -> None:
    """v1 batch documents 5XX (1140): it validates. v2 PUT documents none: check_exchange says so, the fake does not
    count its own injected faults as violations."""
    cf.fail_next(500, code=1140)
    call(wire, "PATCH", ZONE_PATHS["v1"].format(zone=zone) + "/batch", 500, code=1140, json=[])
    cf.fail_next(503)
    response = wire.put(ZONE_PATHS["v2"].format(zone=zone) + "/192.0.2.1", json=entry("192.0.2.1"))
    assert response.status_code == 503
    findings = check_response(response)
    assert len(findings) == 1 and "ResponseNotFound" in findings[0]
    assert cf.contract_violations == []


# ---------------------------------------------------------------------- the checker itself is not vacuous


def test_checker_flags_a_wrong_response_shape(cf: FakeCloudflare, zone: str) -> None:
    url = f"{cf.base_url}{ZONE_PATHS['v2'].format(zone=zone)}"
    headers = {"Authorization": "Bearer t"}
    no_info = {"success": True, "errors": [], "messages": [], "result": []}
    v1_key = {"success": True, "errors": [], "messages": [], "result": {"origin-ip": "192.0.2.1"}}
    assert check_exchange(SPEC, "GET", url, headers, None, 200, no_info) != []
    assert check_exchange(SPEC, "GET", f"{url}/192.0.2.1", headers, None, 200, v1_key) != []
    assert check_exchange(SPEC, "GET", f"{cf.base_url}/user/tokens/verify", headers, None, 200, {}) == []
