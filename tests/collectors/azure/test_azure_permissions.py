"""agent/permissions.py's Azure grants cover exactly the operations the collector performs against the sandbox fake.

Full runs with subscriptions discovered and with subscriptions listed; the fake records every request (method, path).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from azure_testkit import SUB_A, SUB_B

from agent.collectors.azure.collector import AzureCollector
from agent.collectors.runner import run_collectors
from agent.permissions import AZURE
from agent.sandbox.azure import FakeAzure, PublicIpSpec

# (HTTP method, path pattern, case-insensitive) → the operation (ARM REST operation or Entra ID endpoint).
ROUTES = [
    ("POST", r"/[^/]+/oauth2/v2\.0/token", "aad.token"),
    ("GET", r"/[^/]+/v2\.0/\.well-known/openid-configuration", "aad.openid-configuration"),
    ("GET", r"/common/discovery/instance", "aad.instance-discovery"),
    ("GET", r"/subscriptions", "Microsoft.Resources/subscriptions/list"),
    ("POST", r"/providers/Microsoft\.ResourceGraph/resources", "Microsoft.ResourceGraph/resources"),
    ("GET", r"/subscriptions/[^/]+/providers/Microsoft\.Network/publicIPAddresses",
     "Microsoft.Network/publicIPAddresses/listAll"),
]  # fmt: skip


def operation(method: str, raw_path: str) -> str:
    path = urlsplit(raw_path).path
    for verb, pattern, name in ROUTES:
        if verb == method and re.fullmatch(pattern, path, flags=re.IGNORECASE):
            return name
    raise AssertionError(f"unmapped request {method} {path}: add it to ROUTES and, if it needs one, to the grants")


def performed(fake: FakeAzure, config: dict[str, Any]) -> set[str]:
    fake.requests.clear()
    collector = AzureCollector.from_config(config)
    try:
        found = run_collectors([collector], concurrency=4)
    finally:
        collector.close()
    assert found.errors == [] and found.records
    return {operation(r.method, r.path) for r in fake.requests}


def test_grants_cover_exactly_the_operations_of_a_full_run(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    fake.add_public_ip(SUB_A, PublicIpSpec("a1", "eastus", "20.1.0.1"))
    fake.add_public_ip(SUB_B, PublicIpSpec("b1", "westus2", "20.2.0.1"))
    operations = (
        performed(fake, sp_config)
        | performed(fake, {**sp_config, "subscriptions": [SUB_A]})
        | performed(fake, {**sp_config, "mode": "resource_graph"})
    )
    grants = AZURE.operations
    assert operations - grants - set(AZURE.free_operations) == set(), "operations performed without a grant"
    assert grants - operations == set(), "grants nobody needs"
    assert operations & set(AZURE.free_operations), "the token exchange was seen"


def test_listed_subscriptions_need_only_the_public_ip_read(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    fake.add_public_ip(SUB_A, PublicIpSpec("a1", "eastus", "20.1.0.1"))
    operations = performed(fake, {**sp_config, "subscriptions": [SUB_A]}) - set(AZURE.free_operations)
    assert operations == {"Microsoft.Network/publicIPAddresses/listAll"}
