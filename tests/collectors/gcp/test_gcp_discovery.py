"""Project discovery through the real Resource Manager v3 client: organizations, folder trees, search, exclusions."""

from __future__ import annotations

from gcp_testkit import SA_EMAIL, MakeCollector

from agent.collectors.runner import run_collectors
from agent.models import Scope
from agent.sandbox.gcp import FakeGcp

ORG = "organizations/1234567890"


def seed_tree(fake: FakeGcp) -> None:
    """org ─┬─ app-root (project)
            ├─ folders/10 ─┬─ team-a-prod, team-a-dev, sys-logging, old-proj (DELETE_REQUESTED)
            │              └─ folders/11 ─── deep-proj
            ├─ folders/20 (denied) ─── hidden-proj
            └─ folders/30 (DELETE_REQUESTED, empty: only empty folders can be deleted)
    Every project has one external address in its own region, so the records tell which projects were scanned.
    """
    fake.add_organization(ORG)
    fake.add_folder("folders/10", ORG)
    fake.add_folder("folders/11", "folders/10")
    fake.add_folder("folders/20", ORG, denied=True)
    fake.add_folder("folders/30", ORG, state="DELETE_REQUESTED")
    layout = {
        "app-root": (ORG, "us-east1"),
        "team-a-prod": ("folders/10", "europe-west1"),
        "team-a-dev": ("folders/10", "europe-west1"),
        "sys-logging": ("folders/10", "us-central1"),
        "old-proj": ("folders/10", "us-central1"),
        "deep-proj": ("folders/11", "asia-east1"),
        "hidden-proj": ("folders/20", "asia-east1"),
    }
    for i, (project, (parent, region)) in enumerate(layout.items()):
        fake.add_project(project, parent=parent, state="DELETE_REQUESTED" if project == "old-proj" else "ACTIVE")
        fake.add_address(project, "ip", f"34.90.0.{i}", region=region)


def test_organization_walks_folders_recursively(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """Every ACTIVE project under the org is a leaf scope; sub-folders are non-leaf scopes; a denied folder fails
    alone with PERMISSION_DENIED; deleted projects and folders are skipped."""
    seed_tree(fake)
    found = run_collectors([make_collector(organizations=["1234567890"], page_size=1)], concurrency=4)
    assert {r.account for r in found.records} == {"app-root", "team-a-prod", "team-a-dev", "sys-logging", "deep-proj"}
    assert [(e.scope, e.code) for e in found.errors] == [("gcp:folders/20", "PERMISSION_DENIED")]
    # org + folders/10, 11, 20 (non-leaf) + 5 projects
    assert found.scopes_done == 9
    assert any("pageToken=" in c.path for c in fake.calls if c.path.startswith("/v3/projects"))


def test_exclude_patterns(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """exclude_projects are fnmatch patterns on the project id."""
    seed_tree(fake)
    collector = make_collector(folders=["folders/10"], exclude_projects=["sys-*", "*-dev"])
    found = run_collectors([collector], concurrency=2)
    assert {r.account for r in found.records} == {"team-a-prod", "deep-proj"}
    assert found.errors == []


def test_overlapping_roots_collect_each_project_once(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """An organization, one of its folders and an explicit project of it: each project is scanned exactly once."""
    seed_tree(fake)
    collector = make_collector(organizations=[ORG], folders=["folders/11", "10"], projects=["deep-proj"])
    found = run_collectors([collector], concurrency=4)
    accounts = [r.account for r in found.records]
    assert sorted(accounts) == sorted({"app-root", "team-a-prod", "team-a-dev", "sys-logging", "deep-proj"})
    compute_lists = [c.path for c in fake.calls if c.path.endswith("/aggregated/addresses?maxResults=500")]
    assert len(compute_lists) == 5


def test_root_scopes_are_cheap(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """scopes() makes no API call: explicit projects are leaves, folders and organizations are non-leaf roots."""
    collector = make_collector(projects=["proj-one", "proj-two"], folders=["7"], organizations=["8"])
    scopes = list(collector.scopes())
    assert [(s.label, s.leaf) for s in scopes] == [
        ("gcp:proj-one", True),
        ("gcp:proj-two", True),
        ("gcp:organizations/8", False),
        ("gcp:folders/7", False),
    ]
    assert fake.calls == []


def test_all_visible_projects_by_search(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """Nothing configured: projects.search lists the ACTIVE projects this credential can see, and only those."""
    seed_tree(fake)
    fake.projects["team-a-dev"].readers = {"someone-else@example.com"}
    fake.projects["deep-proj"].readers = {SA_EMAIL}
    collector = make_collector(exclude_projects=["sys-*"])
    assert [s.label for s in collector.scopes()] == ["gcp:all-projects"]
    found = run_collectors([collector], concurrency=4)
    assert found.errors == []
    assert {r.account for r in found.records} == {"app-root", "team-a-prod", "deep-proj", "hidden-proj"}
    search = [c for c in fake.calls if c.path.startswith("/v3/projects:search")]
    assert len(search) == 1 and "query=state%3AACTIVE" in search[0].path


def test_unknown_organization_fails_its_scope(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """An organization the credential cannot list is one PERMISSION_DENIED error, nothing else."""
    found = run_collectors([make_collector(organizations=["999"])], concurrency=1)
    assert [(e.scope, e.code) for e in found.errors] == [("gcp:organizations/999", "PERMISSION_DENIED")]
    assert found.records == []


def test_children_of_a_folder_scope(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """Collecting a folder yields its projects as leaves and its sub-folders as non-leaf scopes, no records."""
    seed_tree(fake)
    collector = make_collector(folders=["folders/10"])
    root = next(iter(collector.scopes()))
    children = list(collector.collect(root))
    assert all(isinstance(c, Scope) for c in children)
    assert sorted((c.label, c.leaf) for c in children if isinstance(c, Scope)) == [
        ("gcp:folders/11", False),
        ("gcp:sys-logging", True),
        ("gcp:team-a-dev", True),
        ("gcp:team-a-prod", True),
    ]
