"""Authentication, routing and the request log of the fake Cloudflare (reference 1.1 and section 9)."""

from __future__ import annotations

import ssl

import httpx
import pytest
from fake_support import EMAIL, GLOBAL_KEY, TOKEN

from agent.sandbox.cloudflare import FakeCloudflare


def errors(response: httpx.Response) -> list[dict]:
    body = response.json()
    assert body["success"] is False and body["result"] is None
    return body["errors"]


@pytest.mark.parametrize(
    ("headers", "chain_code"),
    [
        ({}, 6111),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 6111),
        ({"Authorization": "Bearer"}, 6111),
        ({"Authorization": "Bearer has spaces"}, 6111),
        ({"X-Auth-Email": EMAIL}, 6103),
        ({"X-Auth-Email": EMAIL, "X-Auth-Key": "bad key!"}, 6103),
        ({"X-Auth-Key": GLOBAL_KEY}, 6102),
    ],
    ids=["missing", "basic", "empty-token", "spaces", "email-without-key", "malformed-key", "key-without-email"],
)
def test_malformed_credentials_are_400_6003(
    fake: FakeCloudflare, zone_id: str, headers: dict[str, str], chain_code: int, http: httpx.Client
) -> None:
    response = http.get(f"{fake.base_url}/zones/{zone_id}/origin/cloud_regions", headers=headers)
    assert response.status_code == 400
    [error] = errors(response)
    assert error["code"] == 6003 and error["message"] == "Invalid request headers"
    assert [c["code"] for c in error["error_chain"]] == [chain_code]


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer unknown-token"}, {"X-Auth-Email": EMAIL, "X-Auth-Key": "0" * 37}],
    ids=["unknown-token", "wrong-key"],
)
def test_unknown_credentials_are_403_10000(
    fake: FakeCloudflare, zone_id: str, headers: dict[str, str], http: httpx.Client
) -> None:
    response = http.get(f"{fake.base_url}/zones/{zone_id}/origin/cloud_regions", headers=headers)
    assert response.status_code == 403
    assert errors(response) == [{"code": 10000, "message": "Authentication error"}]


def test_both_schemes_are_accepted_and_extra_headers_ignored(
    fake: FakeCloudflare, zone_id: str, http: httpx.Client
) -> None:
    """Bearer and the email+key pair both work; api-version and X-Stainless-* change nothing."""
    extra = {"api-version": "2026-05-28", "X-Stainless-Lang": "python", "x-stainless-retry-count": "1"}
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"X-Auth-Email": EMAIL, "X-Auth-Key": GLOBAL_KEY}):
        response = http.get(f"{fake.base_url}/zones/{zone_id}/origin/cloud_regions", headers=headers | extra)
        assert response.status_code == 200, response.text
    assert [r.auth for r in fake.requests] == ["token", "key"]


def test_key_pair_wins_when_both_schemes_are_sent(fake: FakeCloudflare, zone_id: str, http: httpx.Client) -> None:
    """cloudflare-python sends the key pair (not the token) when both are configured; the fake checks that pair."""
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Auth-Email": EMAIL, "X-Auth-Key": "0" * 37}
    assert http.get(f"{fake.base_url}/zones", headers=headers).status_code == 403


def test_token_verify(fake: FakeCloudflare, http: httpx.Client) -> None:
    ok = http.get(f"{fake.base_url}/user/tokens/verify", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    body = ok.json()
    assert body["result"]["status"] == "active" and len(body["result"]["id"]) == 32
    assert TOKEN not in ok.text
    assert body["messages"] == [{"code": 10000, "message": "This API Token is valid and active", "type": None}]
    bad = http.get(f"{fake.base_url}/user/tokens/verify", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and errors(bad)[0]["code"] == 1000
    key = http.get(f"{fake.base_url}/user/tokens/verify", headers={"X-Auth-Email": EMAIL, "X-Auth-Key": GLOBAL_KEY})
    assert key.status_code == 401


@pytest.mark.parametrize(
    "zone",
    ["0123456789abcdef0123456789abcdef", "not-a-zone", "0123456789abcdef0123456789abcdef00"],
    ids=["unknown", "malformed", "too-long"],
)
def test_unknown_or_malformed_zone_is_7003(api: httpx.Client, zone: str) -> None:
    for path in (f"/zones/{zone}/origin/cloud_regions", f"/zones/{zone}/cache/origin_cloud_regions/192.0.2.1"):
        response = api.get(path)
        assert response.status_code == 404
        [error] = errors(response)
        assert error["code"] == 7003
        assert error["message"] == f"Could not route to /client/v4{path}, perhaps your object identifier is invalid?"


def test_7003_status_is_configurable(clock, http: httpx.Client) -> None:
    with FakeCloudflare(clock=clock, zone_not_found_status=400) as fake:
        response = http.get(
            f"{fake.base_url}/zones/{'a' * 32}/dns_records", headers={"Authorization": "Bearer test-token"}
        )
    assert response.status_code == 400 and errors(response)[0]["code"] == 7003


def test_unknown_account_is_7003(api: httpx.Client) -> None:
    assert errors(api.get(f"/accounts/{'b' * 32}/load_balancers/pools"))[0]["code"] == 7003


def test_unknown_route_and_method(api: httpx.Client, zone_id: str, http: httpx.Client) -> None:
    assert api.get("/nothing/here").status_code == 404
    assert errors(api.get("/nothing/here"))[0]["code"] == 7000
    assert api.post(f"/zones/{zone_id}/origin/cloud_regions", json={}).status_code == 405
    assert http.get(fake_root(api) + "/other/prefix").status_code == 404


def fake_root(api: httpx.Client) -> str:
    return str(api.base_url).split("/client/v4")[0]


def test_requests_are_recorded_without_secrets(fake: FakeCloudflare, zone_id: str, tls: ssl.SSLContext) -> None:
    """Method, raw path, query, parsed body and status are kept; no credential value appears anywhere."""
    with httpx.Client(
        verify=tls, base_url=fake.base_url, headers={"X-Auth-Email": EMAIL, "X-Auth-Key": GLOBAL_KEY}
    ) as api:
        api.get(f"/zones/{zone_id}/origin/cloud_regions", params={"page": "2", "per_page": "5"})
        api.put(
            f"/zones/{zone_id}/origin/cloud_regions/2001%3Adb8%3A%3A1",
            json={"origin_ip": "2001:db8::1", "vendor": "gcp", "region": "us-central1"},
        )
        api.request("DELETE", f"/zones/{zone_id}/origin/cloud_regions/batch", content=b"not json")
    with httpx.Client(verify=tls, base_url=fake.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        api.get("/zones")
    listed, put, bad, zones = fake.requests
    assert (listed.method, listed.query, listed.body, listed.status) == (
        "GET",
        {"page": ["2"], "per_page": ["5"]},
        None,
        200,
    )
    assert listed.path == f"/client/v4/zones/{zone_id}/origin/cloud_regions"
    assert put.path.endswith("/2001%3Adb8%3A%3A1") and put.body["origin_ip"] == "2001:db8::1" and put.mutating
    assert bad.body == b"not json" and bad.status == 400
    assert not zones.mutating
    dump = repr(fake) + repr(fake.requests) + "".join(str(r.headers) for r in fake.requests)
    for secret in (TOKEN, GLOBAL_KEY, EMAIL):
        assert secret not in dump
    fake.clear_requests()
    assert fake.requests == []
