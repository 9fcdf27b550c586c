"""The OCI fake enforces what the real service does: signatures, clock skew, subscriptions, parameters, paging."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import oci
import pytest

from agent.clock import FakeClock
from agent.sandbox.oci import OciFake, fingerprint_of, generate_key_pem, public_key_of

ASH = "us-ashburn-1"


def sdk_clients(fake: OciFake, key_pem: str, user_id: str, fingerprint: str, region: str = ASH) -> tuple[Any, Any]:
    config = {"user": user_id, "tenancy": fake.tenancy_id, "fingerprint": fingerprint, "key_content": key_pem,
              "region": region}  # fmt: skip
    common: dict[str, Any] = {
        "retry_strategy": oci.retry.NoneRetryStrategy(),
        "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
        "timeout": (2, 5),
        "service_endpoint": f"{fake.url}/{region}",
    }
    return oci.identity.IdentityClient(config, **common), oci.core.VirtualNetworkClient(config, **common)


def raw_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_signed_sdk_requests_get_real_json_shapes(tenancy: Any) -> None:
    """Region subscriptions, compartments, ADs and public IPs deserialize into the SDK's models."""
    fake = tenancy.fake
    child = fake.add_compartment("child")
    fake.add_public_ip(ASH, child, "129.80.0.1", lifetime="RESERVED")
    identity, network = sdk_clients(fake, tenancy.key_pem, tenancy.user_id, tenancy.fingerprint)
    (subscription,) = identity.list_region_subscriptions(fake.tenancy_id).data
    assert (subscription.region_name, subscription.status, subscription.is_home_region) == (ASH, "READY", True)
    compartments = identity.list_compartments(
        fake.tenancy_id, compartment_id_in_subtree=True, access_level="ACCESSIBLE", lifecycle_state="ACTIVE"
    ).data
    assert [(c.id, c.name, c.lifecycle_state) for c in compartments] == [(child, "child", "ACTIVE")]
    assert [ad.name for ad in identity.list_availability_domains(fake.tenancy_id).data] == [
        "Uocm:US-ASHBURN-1-AD-1", "Uocm:US-ASHBURN-1-AD-2", "Uocm:US-ASHBURN-1-AD-3",
    ]  # fmt: skip
    (ip,) = network.list_public_ips(scope="REGION", compartment_id=child).data
    assert (ip.ip_address, ip.lifetime, ip.scope, ip.assigned_entity_type) == (
        "129.80.0.1", "RESERVED", "REGION", "PRIVATE_IP"
    )  # fmt: skip
    assert ip.time_created.year == 2024


def test_wrong_key_is_401_not_authenticated(tenancy: Any, other_key_pem: str) -> None:
    """A request signed with another key (same keyId) fails verification: ServiceError 401 NotAuthenticated."""
    identity, _ = sdk_clients(tenancy.fake, other_key_pem, tenancy.user_id, tenancy.fingerprint)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        identity.list_region_subscriptions(tenancy.fake.tenancy_id)
    assert (info.value.status, info.value.code) == (401, "NotAuthenticated")


def test_unsigned_or_tampered_requests_are_refused(tenancy: Any) -> None:
    """No Authorization header, or a valid signature replayed on another path: 401."""
    fake = tenancy.fake
    status, body = raw_get(f"{fake.url}/{ASH}/20160918/tenancies/{fake.tenancy_id}/regionSubscriptions")
    assert (status, body["code"]) == (401, "NotAuthenticated")
    # Sign a request for one path with the SDK's signer, then send its headers to another path.
    signer = oci.signer.Signer(fake.tenancy_id, tenancy.user_id, tenancy.fingerprint, None,
                               private_key_content=tenancy.key_pem)  # fmt: skip
    prepared = oci._vendor.requests.Request(
        "GET", f"{fake.url}/{ASH}/20160918/availabilityDomains?compartmentId={fake.tenancy_id}"
    ).prepare()
    signer(prepared)
    good = dict(prepared.headers)
    assert raw_get(prepared.url, good)[0] == 200
    status, body = raw_get(f"{fake.url}/{ASH}/20160918/compartments?compartmentId={fake.tenancy_id}", good)
    assert (status, body["code"]) == (401, "NotAuthenticated")


def test_stale_date_is_refused(key_pem: str) -> None:
    """A Date header more than 5 minutes off the service's clock: 401."""
    clock = FakeClock(start=1_000_000_000.0)  # 2001: the SDK stamps today's date
    fake = OciFake(clock=clock)
    user_id, fingerprint = fake.add_api_key(public_key_of(key_pem))
    fake.subscribe(ASH)
    with fake:
        identity, _ = sdk_clients(fake, key_pem, user_id, fingerprint)
        with pytest.raises(oci.exceptions.ServiceError) as info:
            identity.list_region_subscriptions(fake.tenancy_id)
    assert info.value.status == 401


def test_unsubscribed_region_is_not_authenticated(tenancy: Any) -> None:
    """Identity data is not replicated to regions the tenancy is not subscribed to."""
    identity, _ = sdk_clients(tenancy.fake, tenancy.key_pem, tenancy.user_id, tenancy.fingerprint, "ap-tokyo-1")
    with pytest.raises(oci.exceptions.ServiceError) as info:
        identity.list_availability_domains(tenancy.fake.tenancy_id)
    assert (info.value.status, info.value.code) == (401, "NotAuthenticated")


def test_required_parameters_and_page_tokens_are_checked(tenancy: Any) -> None:
    """AD scope needs availabilityDomain; IPv6 listing needs subnetId or vnicId; forged page tokens are refused."""
    fake = tenancy.fake
    _, network = sdk_clients(fake, tenancy.key_pem, tenancy.user_id, tenancy.fingerprint)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        network.list_public_ips(scope="AVAILABILITY_DOMAIN", compartment_id=fake.tenancy_id)
    assert (info.value.status, info.value.code) == (400, "InvalidParameter")
    with pytest.raises(oci.exceptions.ServiceError) as info:
        network.list_ipv6s()
    assert (info.value.status, info.value.code) == (400, "MissingParameter")
    with pytest.raises(oci.exceptions.ServiceError) as info:
        network.list_public_ips(scope="REGION", compartment_id=fake.tenancy_id, page="not-a-token")
    assert info.value.status == 400


def test_paging_uses_opc_next_page(tenancy: Any) -> None:
    """Pages of `page_size` items; the last page has no opc-next-page header."""
    fake = tenancy.fake
    for n in range(3):
        fake.add_public_ip(ASH, fake.tenancy_id, f"129.80.0.{n}")
    _, network = sdk_clients(fake, tenancy.key_pem, tenancy.user_id, tenancy.fingerprint)
    first = network.list_public_ips(scope="REGION", compartment_id=fake.tenancy_id)
    assert len(first.data) == 2 and first.has_next_page and first.headers["opc-next-page"] == first.next_page
    second = network.list_public_ips(scope="REGION", compartment_id=fake.tenancy_id, page=first.next_page)
    assert [ip.ip_address for ip in second.data] == ["129.80.0.2"] and not second.has_next_page


def test_fingerprint_is_md5_of_the_public_key_der() -> None:
    """The fingerprint format the SDK validates: 16 colon-separated hex bytes."""
    fingerprint = fingerprint_of(public_key_of(generate_key_pem()))
    assert oci.config.PATTERNS["fingerprint"].match(fingerprint)
