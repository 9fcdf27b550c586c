"""The ARM + AAD fake itself: wire shapes checked against the real example response, and what it enforces."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from azure_testkit import CLIENT_ID, DATA, SECRET, SUB_A, SUB_B, TENANT

from agent.sandbox.azure import FakeAzure, PublicIpSpec

EXAMPLE = DATA / "PublicIpAddressListAll.2025-03-01.json"


def _shape(value: Any) -> Any:
    """Keys and value types, recursively (list items merged): what a client's deserializer depends on."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            shape = _shape(item)
            merged.update(shape if isinstance(shape, dict) else {"<item>": shape})
        return [merged]
    return type(value).__name__


def _client(ca_pem: Path) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=str(ca_pem)), trust_env=False)


def _token(fake: FakeAzure, http: httpx.Client, scope: str = "https://management.azure.com/.default") -> str:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET, "scope": scope}
    resp = http.post(f"{fake.url}/{TENANT}/oauth2/v2.0/token", data=form)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return str(body["access_token"])


def test_list_payload_has_the_shape_of_the_real_example(fake: FakeAzure, ca_pem: Path) -> None:
    """Seeded like the real ListAll example, the fake answers with the same keys and value types, item by item."""
    example = json.loads(EXAMPLE.read_text())["responses"]["200"]["body"]["value"]
    rg2 = "/subscriptions/{}/resourceGroups/rg2/providers/Microsoft.Network/loadBalancers/testLb"
    specs = [
        PublicIpSpec("testDNS-ip", "westus", None, allocation="Dynamic", attached_to="/nic/ipconfig1"),
        PublicIpSpec("ip01", "westus", "40.85.154.247", "IPv4", "Dynamic", resource_group="rg2", attached_to=rg2,
                     dns_label="testlbl"),
    ]  # fmt: skip
    for spec in specs:
        fake.add_public_ip(SUB_A, spec)
    fake.page_size = 10
    with _client(ca_pem) as http:
        token = _token(fake, http)
        url = f"{fake.url}/subscriptions/{SUB_A}/providers/Microsoft.Network/publicIPAddresses?api-version=2026-03-01"
        resp = http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    items = resp.json()["value"]
    assert [_shape(i) for i in items] == [_shape(example[0]), _shape(example[1])]


def test_next_link_is_absolute_on_the_fakes_own_origin(fake: FakeAzure, ca_pem: Path) -> None:
    """nextLink carries scheme, host and port of the fake, and following it verbatim yields the rest."""
    for i in range(5):
        fake.add_public_ip(SUB_A, PublicIpSpec(f"ip{i}", "eastus", f"20.0.0.{i}"))
    seen: list[str] = []
    with _client(ca_pem) as http:
        auth = {"Authorization": f"Bearer {_token(fake, http)}"}
        url: str | None = (
            f"{fake.url}/subscriptions/{SUB_A}/providers/Microsoft.Network/publicIPAddresses?api-version=2026-03-01"
        )
        while url:
            body = http.get(url, headers=auth).json()
            seen += [i["properties"]["ipAddress"] for i in body["value"]]
            url = body.get("nextLink")
            if url:
                parts = urlsplit(url)
                assert f"{parts.scheme}://{parts.netloc}" == fake.url
    assert seen == [f"20.0.0.{i}" for i in range(5)]


def test_arm_refuses_missing_or_unknown_tokens(fake: FakeAzure, ca_pem: Path) -> None:
    """401 in the ARM error shape without a token (with a Bearer challenge) and with a token AAD never issued."""
    url = f"{fake.url}/subscriptions?api-version=2022-12-01"
    with _client(ca_pem) as http:
        missing = http.get(url)
        forged = http.get(url, headers={"Authorization": "Bearer eyJ.forged.token"})
        ok = http.get(url, headers={"Authorization": f"Bearer {_token(fake, http)}"})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "AuthenticationFailed"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer ")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert ok.status_code == 200 and {s["subscriptionId"] for s in ok.json()["value"]} == {SUB_A, SUB_B}


@pytest.mark.parametrize(
    ("query", "code"),
    [("", "MissingApiVersionParameter"), ("?api-version=2026-03-01&$skiptoken=garbage", "InvalidSkipToken")],
    ids=["no-api-version", "bad-skiptoken"],
)
def test_arm_validates_the_query(fake: FakeAzure, ca_pem: Path, query: str, code: str) -> None:
    """Requests ARM would reject are rejected with ARM's 400 codes."""
    with _client(ca_pem) as http:
        auth = {"Authorization": f"Bearer {_token(fake, http)}"}
        resp = http.get(f"{fake.url}/subscriptions/{SUB_A}/providers/Microsoft.Network/publicIPAddresses{query}",
                        headers=auth)  # fmt: skip
    assert resp.status_code == 400 and resp.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("tenant", "form", "status", "error"),
    [
        ("unknown-tenant", {"client_secret": SECRET}, 400, "invalid_request"),
        (TENANT, {"client_secret": "nope"}, 401, "invalid_client"),
        (TENANT, {"client_secret": SECRET, "client_id": "someone-else"}, 400, "unauthorized_client"),
        (TENANT, {"client_secret": SECRET, "grant_type": "password"}, 400, "unsupported_grant_type"),
        (
            TENANT,
            {"client_secret": SECRET, "scope": "https://management.azure.com/user_impersonation"},
            400,
            "invalid_scope",
        ),
    ],
    ids=["unknown-tenant", "wrong-secret", "unknown-client", "wrong-grant", "no-default-scope"],
)
def test_aad_token_endpoint_errors(
    fake: FakeAzure, ca_pem: Path, tenant: str, form: dict[str, str], status: int, error: str
) -> None:
    """AAD errors use the OAuth2 shape with AADSTS codes, and never echo the secret."""
    data = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "scope": "https://management.azure.com/.default",
    }
    with _client(ca_pem) as http:
        resp = http.post(f"{fake.url}/{tenant}/oauth2/v2.0/token", data={**data, **form})
    assert resp.status_code == status
    body = resp.json()
    assert body["error"] == error and body["error_description"].startswith("AADSTS")
    assert SECRET not in resp.text


def test_openid_configuration_points_at_the_fake(fake: FakeAzure, ca_pem: Path) -> None:
    """MSAL's tenant discovery document names this fake's token endpoint."""
    with _client(ca_pem) as http:
        doc = http.get(f"{fake.url}/{TENANT}/v2.0/.well-known/openid-configuration").json()
    assert doc["token_endpoint"] == f"{fake.url}/{TENANT}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{fake.url}/{TENANT}/v2.0"
