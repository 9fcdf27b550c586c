"""A zone's origin IPs through the real client over HTTP: DNS records, load-balancer pools, resolved names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.cloudflare import CloudflareClient, CloudflareCredentials, RateLimiter
from agent.config import OriginSettings
from agent.origins import zone_origins
from agent.sandbox.cloudflare import FakeCloudflare
from agent.sandbox.dns import FakeDns

TOKEN = "origins-token-123456"
ACCOUNT = "0" * 31 + "a"


@pytest.fixture
def cf() -> Iterator[FakeCloudflare]:
    with FakeCloudflare(tokens=(TOKEN,)) as fake:
        yield fake


@pytest.fixture
def client(cf: FakeCloudflare) -> Iterator[CloudflareClient]:
    with CloudflareClient(
        CloudflareCredentials(TOKEN),
        base_url=cf.base_url,
        max_retries=0,
        rate_limiter=RateLimiter(100000, 1, burst_requests=None),
    ) as c:
        yield c


@pytest.fixture
def dns() -> Iterator[FakeDns]:
    with FakeDns(
        {
            "lb.aws.example": ["192.0.2.50", "2001:db8::50"],
            "app.example.net": "lb.aws.example",
            "pool-host.example": ["192.0.2.60"],
        }
    ) as server:
        yield server


def test_proxied_records_by_default_all_on_request(cf: FakeCloudflare, client: CloudflareClient) -> None:
    zone = cf.add_zone("example.com", account_id=ACCOUNT)
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    cf.add_dns_record(zone, "A", "www.example.com", "192.0.2.1")
    cf.add_dns_record(zone, "A", "grey.example.com", "192.0.2.2", proxied=False)
    cf.add_dns_record(zone, "TXT", "example.com", "hello", proxied=False)
    origins = zone_origins(client, zone, "example.com", OriginSettings())
    assert origins.ips == {"192.0.2.1": ["A a.example.com", "A www.example.com"]}
    everything = zone_origins(client, zone, "example.com", OriginSettings(dns="all"))
    assert set(everything.ips) == {"192.0.2.1", "192.0.2.2"}
    assert origins.complete


def test_cnames_and_hostnames_resolve_through_dns(cf: FakeCloudflare, client: CloudflareClient, dns: FakeDns) -> None:
    zone = cf.add_zone("example.com", account_id=ACCOUNT)
    cf.add_dns_record(zone, "CNAME", "shop.example.com", "app.example.net")
    settings = OriginSettings(
        resolve_cnames=True,
        hostnames=("pool-host.example",),
        static=("203.0.113.9",),
        nameservers=("127.0.0.1",),
        resolver_port=dns.port,
    )
    origins = zone_origins(client, zone, "example.com", settings)
    assert origins.ips == {
        "192.0.2.50": ["CNAME shop.example.com -> app.example.net"],
        "2001:db8::50": ["CNAME shop.example.com -> app.example.net"],
        "192.0.2.60": ["hostname -> pool-host.example"],
        "203.0.113.9": ["static"],
    }
    assert origins.complete


def test_unresolvable_cname_makes_origins_incomplete(
    cf: FakeCloudflare, client: CloudflareClient, dns: FakeDns
) -> None:
    zone = cf.add_zone("example.com", account_id=ACCOUNT)
    cf.add_dns_record(zone, "CNAME", "gone.example.com", "missing.example.net")
    settings = OriginSettings(resolve_cnames=True, nameservers=("127.0.0.1",), resolver_port=dns.port)
    origins = zone_origins(client, zone, "example.com", settings)
    assert not origins.complete and "gone.example.com" in origins.warnings[0]


def test_load_balancer_pools(cf: FakeCloudflare, client: CloudflareClient, dns: FakeDns) -> None:
    """Every pool a zone's load balancers use (default, fallback, region pools) contributes its enabled origins."""
    zone = cf.add_zone("example.com", account_id=ACCOUNT)
    eu = cf.add_pool(
        ACCOUNT,
        "eu",
        origins=[{"address": "192.0.2.10", "name": "eu1"}, {"address": "192.0.2.11", "name": "eu2", "enabled": False}],
    )
    us = cf.add_pool(ACCOUNT, "us", origins=[{"address": "pool-host.example", "name": "us1"}])
    spare = cf.add_pool(ACCOUNT, "spare", origins=[{"address": "2001:db8::99", "name": "s1"}])
    cf.add_pool(ACCOUNT, "unused", origins=[{"address": "192.0.2.77", "name": "u1"}])
    cf.add_load_balancer(zone, "lb.example.com", default_pools=[eu], fallback_pool=spare, region_pools={"WNAM": [us]})
    settings = OriginSettings(dns="off", load_balancers=True, nameservers=("127.0.0.1",), resolver_port=dns.port)
    origins = zone_origins(client, zone, "example.com", settings, account_pools=lambda: client.pools(ACCOUNT))
    assert origins.ips == {
        "192.0.2.10": ["pool eu/eu1"],
        "192.0.2.60": ["pool us/us1 -> pool-host.example"],
        "2001:db8::99": ["pool spare/s1"],
    }
