"""Failure envelopes become typed exceptions carrying status, codes, messages and the request path."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cf_support import ACCOUNT_ID, EMAIL, GLOBAL_KEY, ipv4

from agent.cloudflare import (
    ApiFamily,
    CloudflareAPIError,
    CloudflareAuthError,
    CloudflareClient,
    CloudflareCredentials,
    CloudflareError,
    InvalidOriginIP,
    MappingExists,
    MappingNotFound,
    RateLimited,
    TieredCacheDisabled,
    UnsupportedRegion,
    ZoneMappingLimit,
    ZoneNotFound,
)
from agent.cloudflare.errors import error_from_envelope
from agent.errors import AgentError
from agent.models import RegionMapping, Vendor
from agent.sandbox.cloudflare import FakeCloudflare


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, 1142, MappingNotFound),
        (404, 1163, MappingNotFound),
        (400, 1145, MappingExists),
        (400, 1146, InvalidOriginIP),
        (400, 1157, UnsupportedRegion),
        (403, 1164, ZoneMappingLimit),
        (400, 6003, CloudflareAuthError),
        (400, 6111, CloudflareAuthError),
        (403, 10000, CloudflareAuthError),
        (401, 1000, CloudflareAuthError),
        (404, 7003, ZoneNotFound),
        (429, 1015, RateLimited),  # not 971 (seen in a public log): the spec says codes are >= 1000
        (400, 1001, CloudflareAPIError),
        (500, 1140, CloudflareAPIError),
        (502, 1156, CloudflareAPIError),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else v.__name__,
)
def test_error_codes_map_to_exception_classes(
    make_client: Callable[..., CloudflareClient],
    fake: FakeCloudflare,
    zone_id: str,
    status: int,
    code: int,
    expected: type[CloudflareError],
) -> None:
    """Each documented code (and status) raises its class, with status, codes, the message and the path on it."""
    client = make_client(ApiFamily.V2, max_retries=0)
    fake.fail_next(status, code=code)
    with pytest.raises(CloudflareError) as info:
        client.get_mapping(zone_id, "192.0.2.1")
    exc = info.value
    assert type(exc) is expected
    assert isinstance(exc, AgentError)
    assert exc.status == status
    assert exc.codes == (code,)
    assert exc.path == f"zones/{zone_id}/origin/cloud_regions/192.0.2.1"
    assert f"HTTP {status}" in str(exc) and str(code) in str(exc) and exc.path in str(exc)
    assert exc.messages and exc.messages[0] in str(exc)
    assert len(fake.requests) == 1


def test_real_not_found_exists_region_and_limit_errors(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str, family: ApiFamily
) -> None:
    """The fake's own answers (not injected): unknown IP, bad region, and the zone cap (set to 3 here)."""
    client = make_client(family)
    with pytest.raises(MappingNotFound) as not_found:
        client.get_mapping(zone_id, "192.0.2.1")
    assert not_found.value.status == 404
    with pytest.raises(UnsupportedRegion):
        client.upsert_mapping(zone_id, "192.0.2.1", "aws", "atlantis-1")
    fake.max_mappings = 3
    for i in range(3):
        client.upsert_mapping(zone_id, ipv4(i), "aws", "us-east-1")
    with pytest.raises(ZoneMappingLimit) as limit:
        client.upsert_mapping(zone_id, ipv4(3), "aws", "us-east-1")
    assert limit.value.status == 403
    assert client.upsert_mapping(zone_id, ipv4(0), "aws", "us-west-2").region == "us-west-2"  # overwrite is fine
    with pytest.raises(ZoneMappingLimit):
        client.batch_upsert(zone_id, [RegionMapping(ipv4(9), Vendor.AWS, "us-east-1")])


def test_unknown_zone_is_zone_not_found(client: CloudflareClient, fake: FakeCloudflare) -> None:
    """A zone id the API cannot route (7003) is ZoneNotFound naming the zone id."""
    missing = "0" * 32
    with pytest.raises(ZoneNotFound) as info:
        client.list_mappings(missing)
    assert info.value.zone == missing
    assert 7003 in info.value.codes


def test_bad_credentials_are_auth_errors(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """An unknown token (403/10000), a failed verify (401) and a wrong global key are CloudflareAuthError."""
    client = make_client(credentials=CloudflareCredentials("unknown-token"))
    with pytest.raises(CloudflareAuthError) as info:
        client.list_mappings(zone_id)
    assert info.value.status == 403 and info.value.codes == (10000,)
    with pytest.raises(CloudflareAuthError) as verify:
        client.verify_token()
    assert verify.value.status == 401
    wrong_key = make_client(credentials=CloudflareCredentials(email=EMAIL, api_key="wrongkey123"))
    with pytest.raises(CloudflareAuthError):
        wrong_key.list_mappings(zone_id)


def test_global_key_credentials_are_accepted(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """Email + global key work; the fake sees the key scheme."""
    client = make_client(credentials=CloudflareCredentials(email=EMAIL, api_key=GLOBAL_KEY))
    client.upsert_mapping(zone_id, "192.0.2.1", "aws", "us-east-1")
    assert [m.ip for m in client.list_mappings(zone_id)] == ["192.0.2.1"]
    assert {r.auth for r in fake.requests} == {"key"}


def test_tiered_cache_disabled(client: CloudflareClient, fake: FakeCloudflare, zone_id: str) -> None:
    """supported_regions on a zone without Tiered Cache raises TieredCacheDisabled with the API's code."""
    fake.set_tiered_cache(zone_id, False)
    with pytest.raises(TieredCacheDisabled) as info:
        client.supported_regions(zone_id)
    assert info.value.status == 400
    assert info.value.codes == (fake.tiered_cache_error[1],)
    assert "Tiered Cache" in str(info.value)


def test_supported_regions_keeps_specific_errors(client: CloudflareClient, fake: FakeCloudflare) -> None:
    """Only unexplained 4xx answers read as TieredCacheDisabled: an unknown zone stays ZoneNotFound."""
    with pytest.raises(ZoneNotFound):
        client.supported_regions("f" * 32)


@pytest.mark.parametrize("kind", ["html", "json"])
def test_unreadable_body_is_api_error_with_excerpt(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str, kind: str
) -> None:
    """A 200 whose body is HTML or truncated JSON is a CloudflareAPIError quoting a short excerpt (not retried)."""
    client = make_client()
    fake.malformed_next(kind=kind)  # type: ignore[arg-type]
    with pytest.raises(CloudflareAPIError) as info:
        client.list_mappings(zone_id)
    message = str(info.value)
    assert type(info.value) is CloudflareAPIError
    assert info.value.status == 200
    assert ("502 Bad Gateway" if kind == "html" else '{"success": true') in message
    assert len(message) < 450
    assert len(fake.requests) == 1


def test_html_edge_error_page_is_retried(
    make_client: Callable[..., CloudflareClient], fake: FakeCloudflare, zone_id: str
) -> None:
    """An HTML 502 from the edge is transient: retried, then the real answer is used."""
    client = make_client()
    fake.malformed_next(kind="html", status=502)
    assert client.list_mappings(zone_id) == []
    assert [r.status for r in fake.requests] == [502, 200]


def test_error_chain_codes_and_specific_codes_win_over_status() -> None:
    """Codes inside error_chain count; 1164 with HTTP 403 is ZoneMappingLimit, not an auth error."""
    header_error = {
        "success": False,
        "errors": [
            {"code": 6003, "message": "Invalid request headers", "error_chain": [{"code": 6111, "message": "x"}]}
        ],
    }
    exc = error_from_envelope(400, header_error, path="zones")
    assert type(exc) is CloudflareAuthError and exc.codes == (6003, 6111)
    limit = {"success": False, "errors": [{"code": 1164, "message": "Maximum number of IP mappings"}]}
    assert type(error_from_envelope(403, limit, path="zones/x")) is ZoneMappingLimit
    assert type(error_from_envelope(403, {"success": False, "errors": []}, path="p")) is CloudflareAuthError
    assert type(error_from_envelope(418, {"errors": "garbage"}, path="p")) is CloudflareAPIError


def test_zone_id_with_duplicate_names_prefers_the_active_zone(
    client: CloudflareClient, fake: FakeCloudflare, zone_id: str, zone_name: str
) -> None:
    """Two zones of one name: an account filter picks one; the error names the ambiguity otherwise."""
    other_account = "f" * 32
    other = fake.add_zone(zone_name, account_id=other_account)
    assert client.zone_id(zone_name, account_id=other_account) == other
    assert client.zone_id(zone_name, account_id=ACCOUNT_ID) == zone_id
    try:
        chosen = client.zone_id(zone_name)
    except CloudflareAPIError as exc:
        assert "account_id" in str(exc)
    else:
        assert chosen in {zone_id, other}
