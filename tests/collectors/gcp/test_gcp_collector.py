"""The GCP collector through the real google-cloud-compute / resource-manager SDKs against the loopback fake."""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path

import pytest
from gcp_testkit import SA_EMAIL, MakeCollector

from agent.clock import FakeClock
from agent.collectors.gcp.collector import GcpCollector
from agent.collectors.runner import run_collectors
from agent.errors import CollectorError
from agent.models import GLOBAL_REGION, CloudAddress, Scope
from agent.sandbox.gcp import FakeGcp, generate_service_account_key

U = "projects"  # resource ids are partial URLs: the selfLink without host and API version


def seed_web(fake: FakeGcp, project: str = "web-prod") -> None:
    fake.add_project(project)
    fake.add_address(project, "web-ip", "34.123.45.67", region="us-central1")
    fake.add_address(project, "v6-ip", "2600:1901:0:1234::", region="europe-west1", prefix_length=96)
    fake.add_address(project, "reserved", "35.10.0.1", region="asia-east1", status="RESERVED")
    fake.add_address(project, "internal", "10.0.0.7", region="us-central1", address_type="INTERNAL")
    fake.add_address(project, "anycast", "34.117.1.2")  # global
    fake.add_instance(project, "vm-1", zone="us-east1-b", nat_ips=("34.75.1.1", "34.75.1.2"))
    fake.add_instance(project, "vm-2", zone="europe-west1-c", external_ipv6=("2600:1900:4010:9::",))
    fake.add_instance(project, "vm-private", zone="us-central1-a")
    fake.add_forwarding_rule(project, "nlb", "34.76.10.20", region="europe-west1")
    fake.add_forwarding_rule(project, "alb", "34.76.10.21", region="europe-west1", scheme="EXTERNAL_MANAGED")
    fake.add_forwarding_rule(project, "ilb", "10.1.2.3", region="europe-west1", scheme="INTERNAL")
    fake.add_forwarding_rule(project, "glb", "34.120.55.66", scheme="EXTERNAL_MANAGED")  # global


EXPECTED_WEB = {
    ("34.123.45.67", "us-central1", "address", f"{U}/web-prod/regions/us-central1/addresses/web-ip"),
    ("2600:1901:0:1234::", "europe-west1", "address", f"{U}/web-prod/regions/europe-west1/addresses/v6-ip"),
    ("35.10.0.1", "asia-east1", "address", f"{U}/web-prod/regions/asia-east1/addresses/reserved"),
    ("34.117.1.2", GLOBAL_REGION, "global-address", f"{U}/web-prod/global/addresses/anycast"),
    ("34.75.1.1", "us-east1", "instance", f"{U}/web-prod/zones/us-east1-b/instances/vm-1"),
    ("34.75.1.2", "us-east1", "instance", f"{U}/web-prod/zones/us-east1-b/instances/vm-1"),
    ("2600:1900:4010:9::", "europe-west1", "instance", f"{U}/web-prod/zones/europe-west1-c/instances/vm-2"),
    ("34.76.10.20", "europe-west1", "forwarding-rule", f"{U}/web-prod/regions/europe-west1/forwardingRules/nlb"),
    ("34.76.10.21", "europe-west1", "forwarding-rule", f"{U}/web-prod/regions/europe-west1/forwardingRules/alb"),
    ("34.120.55.66", GLOBAL_REGION, "global-forwarding-rule", f"{U}/web-prod/global/forwardingRules/glb"),
}


def summary(records: list[CloudAddress]) -> set[tuple[str, str, str, str]]:
    return {(r.ip, r.region, r.kind, r.resource_id) for r in records}


def collect_scope(collector: GcpCollector, scope: Scope) -> list[CloudAddress | Scope]:
    return list(collector.collect(scope))


def test_collects_every_external_ip_with_its_region(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """Regional/global addresses, instance NAT IPv4 + IPv6, external forwarding rules; internal ones are skipped."""
    seed_web(fake)
    found = run_collectors([make_collector(projects=["web-prod"])], concurrency=2)
    assert found.errors == []
    assert summary(found.records) == EXPECTED_WEB
    assert len(found.records) == len(EXPECTED_WEB)  # global items come twice on the wire, once in the output
    record = next(r for r in found.records if r.ip == "34.123.45.67")
    assert (record.vendor, record.account, record.source, record.confidence) == ("gcp", "web-prod", "gcp", "account")
    assert ("name", "web-ip") in record.details
    v6 = next(r for r in found.records if r.ip == "2600:1900:4010:9::")
    assert ("prefix_length", "96") in v6.details


def test_pages_through_every_list(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """maxResults=2 forces nextPageToken paging on every call; nothing is lost or duplicated."""
    fake.add_project("big-proj")
    expected = set()
    for i in range(7):
        region = ("us-central1", "europe-west1", "asia-east1")[i % 3]
        fake.add_address("big-proj", f"a{i}", f"34.1.0.{i}", region=region)
        fake.add_instance("big-proj", f"vm{i}", zone=f"{region}-b", nat_ips=(f"34.2.0.{i}",))
        fake.add_forwarding_rule("big-proj", f"fr{i}", f"34.3.0.{i}", region=region)
        fake.add_address("big-proj", f"g{i}", f"34.4.0.{i}")
        expected |= {(f"34.{n}.0.{i}", region) for n in (1, 2, 3)} | {(f"34.4.0.{i}", GLOBAL_REGION)}
    found = run_collectors([make_collector(projects=["big-proj"], page_size=2)], concurrency=1)
    assert found.errors == []
    assert {(r.ip, r.region) for r in found.records} == expected
    assert len(found.records) == len(expected)
    paged = [c.path for c in fake.calls if "pageToken=" in c.path]
    assert any("/aggregated/addresses" in p for p in paged)
    assert any("/aggregated/instances" in p for p in paged)
    assert any("/global/addresses" in p for p in paged)
    assert all("maxResults=2" in c.path for c in fake.calls if c.path.startswith("/compute/"))


def test_empty_scopes_come_as_warnings(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """A project with nothing in it: every scope is a NO_RESULTS_ON_PAGE warning, and the collector yields nothing."""
    fake.add_project("empty-proj")
    found = run_collectors([make_collector(projects=["empty-proj"])], concurrency=1)
    assert (found.records, found.errors, found.scopes_done) == ([], [], 1)
    aggregated = [body for method, body in fake.emitted if method.endswith("aggregatedList")]
    assert len(aggregated) == 3
    for body in aggregated:
        assert all(v["warning"]["code"] == "NO_RESULTS_ON_PAGE" for v in body["items"].values())


def test_service_account_key_signs_its_own_jwt(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """With a key file the SDK sends a self-signed JWT the fake verifies; the token endpoint is never called."""
    seed_web(fake)
    run_collectors([make_collector(projects=["web-prod"])], concurrency=1)
    api_calls = [c for c in fake.calls if c.path.startswith("/compute/")]
    assert len(api_calls) == 5
    assert {(c.principal, c.status) for c in api_calls} == {(SA_EMAIL, 200)}
    assert not [c for c in fake.calls if c.path == "/token"]


def test_adc_from_google_application_credentials(
    fake: FakeGcp, make_collector: MakeCollector, key_file: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without credentials_file, Application Default Credentials are used (here: GOOGLE_APPLICATION_CREDENTIALS)."""
    seed_web(fake)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    found = run_collectors([make_collector(projects=["web-prod"], credentials_file=None)], concurrency=1)
    assert found.errors == []
    assert summary(found.records) == EXPECTED_WEB


def test_no_credentials_anywhere_fails_every_scope_once(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """No ADC and a dead metadata server: each scope fails with DefaultCredentialsError; the lookup runs once."""
    seed_web(fake)
    fake.add_project("other-proj")
    collector = make_collector(projects=["web-prod", "other-proj"], credentials_file=None)
    found = run_collectors([collector], concurrency=2)
    assert found.records == []
    assert sorted((e.scope, e.code) for e in found.errors) == [
        ("gcp:other-proj", "DefaultCredentialsError"),
        ("gcp:web-prod", "DefaultCredentialsError"),
    ]
    assert fake.calls == []


def test_static_token_credentials(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """An explicit google-auth credentials object (a static bearer token) is used as given."""
    from google.oauth2.credentials import Credentials

    seed_web(fake)
    fake.add_token("static-token-1", "user:ops@example.com")
    collector = make_collector(projects=["web-prod"], credentials=Credentials(token="static-token-1"))
    found = run_collectors([collector], concurrency=1)
    assert summary(found.records) == EXPECTED_WEB
    assert {c.principal for c in fake.calls} == {"user:ops@example.com"}


def test_rejected_token_is_a_collector_error(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """A token the API rejects (401) fails the scope with a CollectorError, and the token is not in the message."""
    from google.oauth2.credentials import Credentials

    seed_web(fake)
    collector = make_collector(projects=["web-prod"], credentials=Credentials(token="expired-secret-token"))
    with pytest.raises(CollectorError) as caught:
        collect_scope(collector, Scope("gcp", ("web-prod",)))
    assert caught.value.vendor == "gcp"
    assert caught.value.code == "RefreshError"  # a bare token cannot be refreshed after the 401
    assert "expired-secret-token" not in str(caught.value)


def test_impersonation(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """The key's account gets a token at /token, trades it for the target's token, and lists as the target."""
    target = "inventory@sec-proj.iam.gserviceaccount.com"
    seed_web(fake)
    fake.projects["web-prod"].readers = {target}
    fake.allow_impersonation(target, SA_EMAIL)
    found = run_collectors([make_collector(projects=["web-prod"], impersonate_service_account=target)])
    assert found.errors == []
    assert summary(found.records) == EXPECTED_WEB
    token_calls = [c for c in fake.calls if c.path == "/token"]
    generate = [c for c in fake.calls if c.path.endswith(":generateAccessToken")]
    assert len(token_calls) == 1
    assert [(c.principal, c.status) for c in generate] == [(SA_EMAIL, 200)]
    assert {c.principal for c in fake.calls if c.path.startswith("/compute/")} == {target}


def test_impersonation_denied(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """Without Token Creator on the target, the scope fails with the credentials error."""
    seed_web(fake)
    collector = make_collector(projects=["web-prod"], impersonate_service_account="x@y.iam.gserviceaccount.com")
    found = run_collectors([collector], concurrency=1)
    assert [(e.scope, e.code) for e in found.errors] == [("gcp:web-prod", "RefreshError")]
    assert "getAccessToken" in found.errors[0].message


@pytest.mark.parametrize(
    ("setup", "code", "in_message"),
    [
        pytest.param(lambda p: setattr(p, "compute_enabled", False), "SERVICE_DISABLED", "accessNotConfigured",
                     id="api-disabled"),
        pytest.param(lambda p: setattr(p, "readers", {"someone-else"}), "forbidden", "compute.addresses.list",
                     id="forbidden"),
        pytest.param(lambda p: setattr(p, "rate_limited", True), "RATE_LIMIT_EXCEEDED", "rateLimitExceeded",
                     id="rate-limited"),
    ],
)  # fmt: skip
def test_project_errors_are_isolated(
    fake: FakeGcp, make_collector: MakeCollector, setup: object, code: str, in_message: str
) -> None:
    """A failing project is one ScopeError with Google's reason code; the other project is still collected."""
    seed_web(fake, "good-proj")
    fake.add_project("bad-proj")
    fake.add_address("bad-proj", "x", "34.9.9.9", region="us-east1")
    setup(fake.projects["bad-proj"])  # type: ignore[operator]
    found = run_collectors([make_collector(projects=["good-proj", "bad-proj"])], concurrency=2)
    assert [(e.scope, e.error, e.code) for e in found.errors] == [("gcp:bad-proj", "CollectorError", code)]
    assert in_message in found.errors[0].message
    assert {r.account for r in found.records} == {"good-proj"}
    assert len(found.records) == len(EXPECTED_WEB)


def test_unknown_project(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """A project id that does not exist is a 404 notFound for that scope."""
    found = run_collectors([make_collector(projects=["no-such-proj"])], concurrency=1)
    assert [(e.scope, e.code) for e in found.errors] == [("gcp:no-such-proj", "notFound")]


def test_429_is_retried_with_backoff_then_reported(
    fake: FakeGcp, make_collector: MakeCollector, clock: FakeClock
) -> None:
    """429 is retried max_attempts times on the injected clock (capped, jittered backoff), then reported."""
    fake.add_project("busy-proj", rate_limited=True)
    retry = {"max_attempts": 4, "initial_backoff_seconds": 1.0, "max_backoff_seconds": 3.0}
    found = run_collectors([make_collector(projects=["busy-proj"], retry=retry)], concurrency=1)
    assert [(e.scope, e.code) for e in found.errors] == [("gcp:busy-proj", "RATE_LIMIT_EXCEEDED")]
    assert len([c for c in fake.calls if c.status == 429]) == 4
    assert len(clock.sleeps) == 3
    for sleep, cap in zip(clock.sleeps, (1.0, 2.0, 3.0), strict=True):
        assert cap / 2 <= sleep <= cap


def test_transient_503_recovers(fake: FakeGcp, make_collector: MakeCollector, clock: FakeClock) -> None:
    """Two 503s then success: the project is collected completely, after two sleeps."""
    seed_web(fake)
    fake.projects["web-prod"].transient_failures = 2
    retry = {"max_attempts": 3, "initial_backoff_seconds": 0.5}
    found = run_collectors([make_collector(projects=["web-prod"], retry=retry)], concurrency=1)
    assert found.errors == []
    assert summary(found.records) == EXPECTED_WEB
    assert len(clock.sleeps) == 2


def test_forbidden_is_not_retried(fake: FakeGcp, make_collector: MakeCollector, clock: FakeClock) -> None:
    """A permission 403 fails at once: retrying cannot help."""
    fake.add_project("locked-proj", readers={"nobody"})
    found = run_collectors([make_collector(projects=["locked-proj"], retry={"max_attempts": 5})], concurrency=1)
    assert [e.code for e in found.errors] == ["forbidden"]
    assert clock.sleeps == []
    assert len(fake.calls) == 1


def test_dead_endpoint_is_a_collector_error(make_collector: MakeCollector) -> None:
    """Nothing listening: a ConnectionError for the scope, not a crash."""
    collector = make_collector(projects=["web-prod"], compute_endpoint="http://127.0.0.1:9")
    with pytest.raises(CollectorError) as caught:
        collect_scope(collector, Scope("gcp", ("web-prod",)))
    assert caught.value.code == "ConnectionError"


def test_bad_ip_text_is_skipped_with_a_warning(
    fake: FakeGcp, make_collector: MakeCollector, caplog: pytest.LogCaptureFixture
) -> None:
    """An address the API reports in a shape canonical_ip refuses is skipped, and the log names it."""
    fake.add_project("odd-proj")
    fake.add_address("odd-proj", "bad", "034.1.1.1", region="us-east1")
    fake.add_address("odd-proj", "good", "34.1.1.1", region="us-east1")
    with caplog.at_level(logging.WARNING, logger="agent.collectors.gcp"):
        found = run_collectors([make_collector(projects=["odd-proj"])], concurrency=1)
    assert [r.ip for r in found.records] == ["34.1.1.1"]
    assert "034.1.1.1" in caplog.text


def test_concurrent_projects(fake: FakeGcp, make_collector: MakeCollector) -> None:
    """Many projects on many threads at once: every record lands in the right project and region."""
    for i in range(24):
        fake.add_project(f"proj-{i:03d}")
        fake.add_address(f"proj-{i:03d}", "ip", f"34.50.0.{i}", region=("us-east1", "asia-east1")[i % 2])
        fake.add_instance(f"proj-{i:03d}", "vm", zone="europe-west1-b", nat_ips=(f"34.60.0.{i}",))
    collector = make_collector(projects=[f"proj-{i:03d}" for i in range(24)])
    scopes = list(collector.scopes())
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda s: collect_scope(collector, s), scopes))
    records = [r for batch in results for r in batch if isinstance(r, CloudAddress)]
    assert {(r.ip, r.region, r.account) for r in records} == {
        (f"34.50.0.{i}", ("us-east1", "asia-east1")[i % 2], f"proj-{i:03d}") for i in range(24)
    } | {(f"34.60.0.{i}", "europe-west1", f"proj-{i:03d}") for i in range(24)}


def test_fake_rejects_a_jwt_signed_by_an_unknown_key(
    fake: FakeGcp, make_collector: MakeCollector, tmp_path: Path
) -> None:
    """The fake checks the JWT signature: a key it does not trust gets 401 authError, even for a known email."""
    rogue = generate_service_account_key(SA_EMAIL, project_id="ops-proj", token_uri=fake.token_uri)
    path = rogue.write(tmp_path / "rogue.json")
    seed_web(fake)
    found = run_collectors([make_collector(projects=["web-prod"], credentials_file=str(path))], concurrency=1)
    assert [(e.scope, e.code) for e in found.errors] == [("gcp:web-prod", "authError")]
    assert {c.status for c in fake.calls} == {401}
