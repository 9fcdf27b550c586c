"""`agent.sandbox.openapi`: the OpenAPI exchange checker shared by the fake and the client tests."""

from __future__ import annotations

from typing import Any

import httpx

from agent.sandbox.cloudflare import FakeCloudflare
from agent.sandbox.openapi import check_exchange, load_checker

ZONE = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "http://127.0.0.1:8443/client/v4"
AUTH = {"Authorization": "Bearer t"}
OK_ENTRY = {"origin_ip": "192.0.2.1", "region": "us-east-1", "vendor": "aws", "modified_on": "2026-03-01T12:00:00Z"}


def ok(result: Any, **extra: Any) -> dict[str, Any]:
    return {"success": True, "errors": [], "messages": [], "result": result, **extra}


def test_documented_example_exchange_conforms(spec: dict) -> None:
    url = f"{BASE}/zones/{ZONE}/origin/cloud_regions/192.0.2.1"
    body = {"origin_ip": "192.0.2.1", "region": "us-east-1", "vendor": "aws"}
    assert check_exchange(spec, "PUT", url, AUTH, body, 200, ok(OK_ENTRY)) == []


def test_request_violations_are_reported(spec: dict) -> None:
    put_url = f"{BASE}/zones/{ZONE}/origin/cloud_regions/192.0.2.1"
    alibaba = {"origin_ip": "192.0.2.1", "region": "cn-hangzhou", "vendor": "alibaba"}
    failure = {"success": False, "errors": [{"code": 1157, "message": "x"}], "messages": [], "result": None}
    [finding] = check_exchange(spec, "PUT", put_url, AUTH, alibaba, 400, failure)
    assert finding.startswith("request: InvalidRequestBody") and "alibaba" in finding
    list_url = f"{BASE}/zones/{ZONE}/origin/cloud_regions?per_page=500"
    assert check_exchange(spec, "GET", list_url, AUTH, None, 400, failure)[0].startswith("request: InvalidParameter")
    no_auth = check_exchange(spec, "GET", f"{BASE}/zones/{ZONE}/origin/cloud_regions", {}, None, 400, failure)
    assert len(no_auth) == 1 and "Security" in no_auth[0]
    bodyless = check_exchange(
        spec, "DELETE", f"{BASE}/zones/{ZONE}/origin/cloud_regions/batch", AUTH, None, 400, failure
    )
    assert bodyless and "MissingRequiredRequestBody" in bodyless[0]


def test_response_violations_are_reported_briefly(spec: dict) -> None:
    list_url = f"{BASE}/zones/{ZONE}/origin/cloud_regions"
    missing_info = check_exchange(spec, "GET", list_url, AUTH, None, 200, ok([OK_ENTRY]))
    assert len(missing_info) == 1 and missing_info[0].startswith("response:") and "result_info" in missing_info[0]
    huge = ok([OK_ENTRY] * 500)  # the value is huge; the message must stay short
    wrong = check_exchange(spec, "GET", list_url, AUTH, None, 200, huge | {"result_info": {"page": "one"}})
    assert wrong and all(len(f) < 2000 for f in wrong)
    not_json = check_exchange(spec, "GET", list_url, AUTH, None, 200, b"<html>")
    assert not_json and not_json[0].startswith("response:")


def test_undocumented_operations_are_skipped(spec: dict) -> None:
    for path in ("/user/tokens/verify", f"/accounts/{ZONE}/load_balancers/pools", f"/zones/{ZONE}/load_balancers"):
        assert check_exchange(spec, "GET", BASE + path, AUTH, None, 200, {"anything": 1}) == []


def test_known_upstream_gaps_are_allowed(spec: dict) -> None:
    """The DNS 4XX schema is unsatisfiable upstream, and real 429s use code 971 (< the schema's 1000)."""
    failure = {"success": False, "errors": [{"code": 7003, "message": "x"}], "messages": [], "result": None}
    assert check_exchange(spec, "GET", f"{BASE}/zones/{ZONE}/dns_records", AUTH, None, 404, failure) == []
    throttled = failure | {"errors": [{"code": 971, "message": "Please wait"}]}
    assert check_exchange(spec, "GET", f"{BASE}/zones", AUTH, None, 429, throttled) == []
    low_code = failure | {"errors": [{"code": 971, "message": "Please wait"}]}
    assert check_exchange(spec, "GET", f"{BASE}/zones", AUTH, None, 400, low_code) != []


def test_checker_is_built_once_per_spec_content(spec: dict) -> None:
    assert load_checker(spec) is load_checker(dict(spec))
    assert load_checker(load_checker(spec)) is load_checker(spec)


def test_fake_records_client_contract_violations(clock, spec: dict, http: httpx.Client) -> None:
    """With `openapi_spec`, the fake flags what a client sends outside the contract, and stays silent otherwise."""
    with FakeCloudflare(clock=clock, openapi_spec=spec) as fake:
        zone = fake.add_zone("example.com")
        headers = {"Authorization": "Bearer test-token"}
        good = {"origin_ip": "192.0.2.1", "region": "us-east-1", "vendor": "aws"}
        http.put(f"{fake.base_url}/zones/{zone}/origin/cloud_regions/192.0.2.1", json=good, headers=headers)
        http.get(f"{fake.base_url}/zones/{zone}/origin/cloud_regions", headers=headers)
        http.get(f"{fake.base_url}/user/tokens/verify", headers=headers)
        assert fake.contract_violations == []
        http.delete(f"{fake.base_url}/zones/{zone}/origin/cloud_regions/batch", headers=headers)
        [finding] = fake.contract_violations
    assert finding.startswith(f"DELETE /client/v4/zones/{zone}/origin/cloud_regions/batch: request:")
