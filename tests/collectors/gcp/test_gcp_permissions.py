"""agent/permissions.py's GCP grants cover exactly the REST methods the collector calls against the sandbox fake.

Full runs over an organization (folders walked), over every visible project (projects.search), and of one project
through an impersonated service account; the fake records every request (method, path).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from gcp_testkit import SA_EMAIL, MakeCollector

from agent.collectors.runner import run_collectors
from agent.permissions import GCP
from agent.sandbox.gcp import FakeGcp

ORG = "organizations/4242"
TARGET = "inventory@sec-proj.iam.gserviceaccount.com"
# (HTTP method, path pattern) → Google's REST method id, as in the APIs' discovery documents.
ROUTES = [
    ("POST", r"/token", "oauth2.token"),
    ("POST", r"/v1/projects/-/serviceAccounts/[^/]+:generateAccessToken",
     "iamcredentials.serviceAccounts.generateAccessToken"),
    ("GET", r"/compute/v1/projects/[^/]+/aggregated/(addresses|instances|forwardingRules)",
     "compute.{0}.aggregatedList"),
    ("GET", r"/compute/v1/projects/[^/]+/global/addresses", "compute.globalAddresses.list"),
    ("GET", r"/compute/v1/projects/[^/]+/global/forwardingRules", "compute.globalForwardingRules.list"),
    ("GET", r"/v3/projects", "cloudresourcemanager.projects.list"),
    ("GET", r"/v3/projects:search", "cloudresourcemanager.projects.search"),
    ("GET", r"/v3/folders", "cloudresourcemanager.folders.list"),
]  # fmt: skip


def method_id(method: str, raw_path: str) -> str:
    path = urlsplit(raw_path).path
    for verb, pattern, name in ROUTES:
        match = re.fullmatch(pattern, path)
        if verb == method and match:
            return name.format(*match.groups())
    raise AssertionError(f"unmapped request {method} {path}: add it to ROUTES and, if it needs one, to the grants")


def seed(fake: FakeGcp) -> None:
    fake.add_organization(ORG)
    fake.add_folder("folders/1", ORG)
    fake.add_project("ops-proj", parent=ORG)
    fake.add_project("web-prod", parent="folders/1")
    fake.add_address("web-prod", "web-ip", "34.123.45.67", region="us-central1")
    fake.add_address("web-prod", "anycast-ip", "34.120.1.1")  # global address
    fake.add_forwarding_rule("web-prod", "web-lb", "34.76.10.20", region="europe-west1")
    fake.add_forwarding_rule("web-prod", "global-lb", "34.120.55.66")
    fake.add_instance("ops-proj", "vm-1", zone="asia-east1-b", nat_ips=("35.201.88.99",))
    fake.allow_impersonation(TARGET, SA_EMAIL)


def performed(fake: FakeGcp, make_collector: MakeCollector, **config: object) -> set[str]:
    fake.calls.clear()
    found = run_collectors([make_collector(**config)], concurrency=4)
    assert found.errors == [] and found.records
    assert all(c.status == 200 for c in fake.calls), [c for c in fake.calls if c.status != 200]
    return {method_id(c.method, c.path) for c in fake.calls}


def test_grants_cover_exactly_the_methods_of_a_full_run(fake: FakeGcp, make_collector: MakeCollector) -> None:
    seed(fake)
    operations = (
        performed(fake, make_collector, organizations=[ORG])
        | performed(fake, make_collector)  # nothing listed: projects.search
        | performed(fake, make_collector, projects=["web-prod"], impersonate_service_account=TARGET)
    )
    granted = GCP.operations | set(GCP.free_operations)
    assert operations - granted == set(), "methods called without a grant"
    assert granted - operations == set(), "grants (or free methods) nobody calls"


def test_one_project_needs_only_the_compute_lists(fake: FakeGcp, make_collector: MakeCollector) -> None:
    seed(fake)
    operations = performed(fake, make_collector, projects=["web-prod"])
    compute = {op for g in GCP.grants if g.permission.startswith("compute.") for op in g.operations}
    assert operations - set(GCP.free_operations) == compute  # google-auth may sign its own JWT: no /token call
