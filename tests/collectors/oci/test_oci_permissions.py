"""agent/permissions.py's OCI policy grants cover exactly the API operations the collector performs against the fake.

A full run over a tenancy with compartments, regional and AD-scoped public IPs and an IPv6 subnet; the fake records
every signed request (region, resource path).
"""

from __future__ import annotations

import re
from typing import Any

from agent.collectors.runner import run_collectors
from agent.permissions import OCI

# resource path (after /<region>/20160918) → OCI API operation
ROUTES = [
    (r"/tenancies/[^/]+/regionSubscriptions", "ListRegionSubscriptions"),
    (r"/compartments", "ListCompartments"),
    (r"/availabilityDomains", "ListAvailabilityDomains"),
    (r"/publicIps", "ListPublicIps"),
    (r"/vcns", "ListVcns"),
    (r"/subnets", "ListSubnets"),
    (r"/ipv6", "ListIpv6s"),
]


def operation(resource: str) -> str:
    for pattern, name in ROUTES:
        if re.fullmatch(pattern, resource):
            return name
    raise AssertionError(f"unmapped request {resource}: add it to ROUTES and to the grants")


def seed(tenancy: Any) -> None:
    fake = tenancy.fake
    prod = fake.add_compartment("prod")
    web = fake.add_compartment("web", parent=prod)
    fake.add_public_ip("us-ashburn-1", fake.tenancy_id, "129.80.1.1", lifetime="RESERVED")
    fake.add_public_ip(
        "us-ashburn-1", web, "129.80.1.2", scope="AVAILABILITY_DOMAIN", lifetime="EPHEMERAL",
        availability_domain=fake.availability_domains("us-ashburn-1")[1],
    )  # fmt: skip
    vcn = fake.add_vcn("us-ashburn-1", prod, ipv6_cidr_blocks=["2603:c020:4000:aa00::/56"])
    subnet = fake.add_subnet("us-ashburn-1", prod, vcn, public=True, ipv6_cidr_blocks=["2603:c020:4000:aa00::/64"])
    fake.add_ipv6(subnet, "2603:c020:4000:aa00::10")


def performed(tenancy: Any, **config: object) -> set[str]:
    tenancy.fake.requests.clear()
    found = run_collectors([tenancy.collector(**config)], concurrency=4)
    assert found.errors == [] and found.records
    return {operation(r.resource) for r in tenancy.fake.requests}


def test_grants_cover_exactly_the_operations_of_a_full_run(tenancy: Any) -> None:
    seed(tenancy)
    operations = performed(tenancy)
    assert operations - OCI.operations == set(), "operations performed without a policy grant"
    assert OCI.operations - operations == set(), "policy grants nobody needs"


def test_without_ipv6_the_network_reads_are_not_needed(tenancy: Any) -> None:
    seed(tenancy)
    operations = performed(tenancy, ipv6=False)
    ipv6_only = {op for g in OCI.grants if g.when != "always" for op in g.operations}
    assert operations == OCI.operations - ipv6_only
