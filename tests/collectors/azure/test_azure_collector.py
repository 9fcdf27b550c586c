"""The Azure collector through the real SDK (azure-mgmt-network, azure-identity) against the HTTPS ARM + AAD fake."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from azure_testkit import CLIENT_ID, SECRET, SUB_A, SUB_B, SUB_C, TENANT, run_all

from agent.clock import FakeClock
from agent.collectors.azure.collector import AzureCollector
from agent.collectors.base import load_collector
from agent.models import GLOBAL_REGION, Confidence, Scope, Vendor
from agent.sandbox.azure import READER, FakeAzure, PublicIpSpec


def _ips(fake: FakeAzure, sub: str, *specs: PublicIpSpec) -> None:
    for spec in specs:
        fake.add_public_ip(sub, spec)


def _token_requests(fake: FakeAzure) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith("/oauth2/v2.0/token"))


def test_discovers_subscriptions_and_pages_through_every_public_ip(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """Every allocated IP of every visible subscription is collected across nextLink pages, with its region."""
    _ips(
        fake,
        SUB_A,
        PublicIpSpec("a1", "eastus", "20.1.0.1"),
        PublicIpSpec("a2", "westeurope", "20.1.0.2", sku="Standard", zones=("1",)),
        PublicIpSpec("a3", "eastus", None, allocation="Dynamic"),  # unallocated: no ipAddress
        PublicIpSpec("a4", "japaneast", "2603:1040:400:0:0:0:0:0AB", version="IPv6"),
        PublicIpSpec("a5", "East US 2", "20.1.0.5"),  # display-name spelling of a location
    )
    _ips(fake, SUB_B, PublicIpSpec("b1", "westus2", "20.2.0.1"))
    collector = AzureCollector.from_config(sp_config)

    run = run_all(collector)
    collector.close()

    assert run.errors == {}
    assert run.regions() == {
        "20.1.0.1": "eastus",
        "20.1.0.2": "westeurope",
        "2603:1040:400::ab": "japaneast",
        "20.1.0.5": "eastus2",
        "20.2.0.1": "westus2",
    }
    by_ip = {r.ip: r for r in run.records}
    a4 = by_ip["2603:1040:400::ab"]
    assert (a4.vendor, a4.account, a4.source, a4.kind, a4.confidence) == (
        Vendor.AZURE,
        SUB_A,
        "azure",
        "public-ip",
        Confidence.ACCOUNT,
    )
    assert a4.resource_id.endswith("/providers/Microsoft.Network/publicIPAddresses/a4")
    assert dict(a4.details)["ip_version"] == "IPv6"
    assert dict(by_ip["20.1.0.2"].details)["zones"] == "1"
    assert dict(by_ip["20.1.0.5"].details)["location"] == "East US 2"
    assert sorted(s.label for s in run.leaves) == [f"azure:{SUB_A}", f"azure:{SUB_B}"]
    # Paging really happened (5 items, 2 per page), every ARM call carried the AAD token.
    assert sum(1 for r in fake.requests if "$skiptoken=" in r.path) == 2
    assert all(r.bearer for r in fake.requests if r.path.startswith("/subscriptions"))
    assert _token_requests(fake) == 1  # one credential, token cached across scopes


def test_discovery_is_a_non_leaf_root_and_keeps_active_states_only(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """Listing happens in collect() of the root; Disabled subscriptions are skipped, Warned ones scanned."""
    fake.add_subscription(SUB_C, tenant_id=TENANT, display_name="warned", state="Warned", readers={CLIENT_ID: ("*",)})
    fake.set_state(SUB_B, "Disabled")
    _ips(fake, SUB_C, PublicIpSpec("c1", "uksouth", "51.1.0.1"))
    collector = AzureCollector.from_config(sp_config)

    (root,) = collector.scopes()
    assert not root.leaf and root.label == "azure:subscriptions"
    assert fake.requests == []  # scopes() is cheap: no API call
    children = list(collector.collect(root))

    assert [c.path for c in children] == [(SUB_A,), (SUB_C,)]
    assert all(isinstance(c, Scope) and c.leaf for c in children)
    assert run_all(collector).regions() == {"51.1.0.1": "uksouth"}


def test_only_enabled_when_configured(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """`subscription_states: [Enabled]` drops Warned subscriptions too."""
    fake.set_state(SUB_B, "Warned")
    collector = AzureCollector.from_config({**sp_config, "subscription_states": ["Enabled"]})
    assert [s.path for s in run_all(collector).leaves] == [(SUB_A,)]


def test_exclude_by_id_or_display_name(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """Excluded subscriptions (id in any case, or display name) are never scanned."""
    fake.add_subscription(SUB_C, tenant_id=TENANT, display_name="sandbox", readers={CLIENT_ID: ("*/read",)})
    collector = AzureCollector.from_config({**sp_config, "exclude_subscriptions": [SUB_A.upper(), "sandbox"]})
    run = run_all(collector)
    assert [s.path for s in run.leaves] == [(SUB_B,)]
    assert not any(SUB_A in r.path or SUB_C in r.path for r in fake.requests if "publicIPAddresses" in r.path)


def test_explicit_subscriptions_are_leaf_roots_without_listing(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """With an explicit list, scopes() yields leaves directly and the subscription list is never requested."""
    _ips(fake, SUB_B, PublicIpSpec("b1", "centralindia", "20.2.0.9"))
    config = {**sp_config, "subscriptions": [SUB_B.upper(), SUB_A], "exclude_subscriptions": [SUB_A]}
    collector = AzureCollector.from_config(config)
    assert [(s.path, s.leaf) for s in collector.scopes()] == [((SUB_B,), True)]
    assert run_all(collector).regions() == {"20.2.0.9": "centralindia"}
    assert not any(r.path.split("?")[0] == "/subscriptions" for r in fake.requests)


def test_global_tier_address_is_not_given_its_home_region(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """A Global-tier (cross-region LB) address is anycast: region GLOBAL_REGION, home location kept as a detail."""
    _ips(fake, SUB_A, PublicIpSpec("xlb", "eastus2", "20.3.0.1", sku="Standard", tier="Global"))
    _ips(fake, SUB_A, PublicIpSpec("edge", "westus", "20.3.0.2", sku="Standard", edge_zone="microsoftlosangeles1"))
    run = run_all(AzureCollector.from_config(sp_config))
    by_ip = {r.ip: r for r in run.records}
    assert by_ip["20.3.0.1"].region == GLOBAL_REGION
    assert dict(by_ip["20.3.0.1"].details)["home_location"] == "eastus2"
    assert by_ip["20.3.0.2"].region == "westus"
    assert dict(by_ip["20.3.0.2"].details)["edge_zone"] == "microsoftlosangeles1"


def test_bad_ip_text_is_skipped_with_a_warning(
    fake: FakeAzure, sp_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """An address the API returns in a form we cannot canonicalise is skipped and named in a warning."""
    item = fake.add_public_ip(SUB_A, PublicIpSpec("odd", "eastus", "20.4.0.1"))
    item["properties"]["ipAddress"] = "020.4.0.1"
    _ips(fake, SUB_A, PublicIpSpec("ok", "eastus", "20.4.0.2"))
    with caplog.at_level(logging.WARNING, logger="agent.collectors.azure"):
        run = run_all(AzureCollector.from_config(sp_config))
    assert run.regions() == {"20.4.0.2": "eastus"}
    assert "'020.4.0.1'" in caplog.text and "publicIPAddresses/odd" in caplog.text


def test_authorization_failed_is_isolated_to_its_subscription(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """A principal that can see a subscription but not read its network gets AuthorizationFailed there only."""
    fake.grant(SUB_A, CLIENT_ID, ("Microsoft.Resources/subscriptions/read",))
    _ips(fake, SUB_A, PublicIpSpec("a1", "eastus", "20.5.0.1"))
    _ips(fake, SUB_B, PublicIpSpec("b1", "eastus", "20.5.0.2"))
    run = run_all(AzureCollector.from_config(sp_config))
    assert run.regions() == {"20.5.0.2": "eastus"}
    err = run.errors[f"azure:{SUB_A}"]
    assert (err.vendor, err.code) == ("azure", "AuthorizationFailed")
    assert "Microsoft.Network/publicIPAddresses/read" in str(err) and SUB_A in str(err)


@pytest.mark.parametrize(
    ("state", "code"),
    [("Disabled", "ReadOnlyDisabledSubscription"), ("Deleted", "SubscriptionNotFound")],
    ids=["disabled-subscription", "deleted-subscription"],
)
def test_unusable_explicit_subscription_fails_with_its_arm_code(
    fake: FakeAzure, sp_config: dict[str, Any], state: str, code: str
) -> None:
    """An explicitly listed subscription that is disabled or gone fails alone, with ARM's error code."""
    fake.set_state(SUB_A, state)
    _ips(fake, SUB_B, PublicIpSpec("b1", "eastus", "20.6.0.1"))
    run = run_all(AzureCollector.from_config({**sp_config, "subscriptions": [SUB_A, SUB_B]}))
    assert run.regions() == {"20.6.0.1": "eastus"}
    assert run.errors[f"azure:{SUB_A}"].code == code


def test_subscription_in_another_tenant_fails_with_token_tenant_error(
    fake: FakeAzure, sp_config: dict[str, Any]
) -> None:
    """A subscription of a different tenant rejects our token (InvalidAuthenticationTokenTenant)."""
    fake.add_subscription(SUB_C, tenant_id="99999999-0000-4000-8000-000000000000", readers={CLIENT_ID: ("*",)})
    run = run_all(AzureCollector.from_config({**sp_config, "subscriptions": [SUB_C]}))
    assert run.errors[f"azure:{SUB_C}"].code == "InvalidAuthenticationTokenTenant"


def test_throttling_retries_after_retry_after_then_gives_up(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """429s are retried after Retry-After (on the injected clock); once retries run out the scope fails."""
    _ips(fake, SUB_A, PublicIpSpec("a1", "eastus", "20.7.0.1"))
    _ips(fake, SUB_B, PublicIpSpec("b1", "eastus", "20.7.0.2"))
    fake.throttle(SUB_A, 1, retry_after=7)  # one 429, then fine
    fake.throttle(SUB_B, 5, retry_after=3)  # more 429s than retries
    clock = FakeClock()
    collector = AzureCollector.from_config({**sp_config, "retry_total": 1}, clock=clock)

    run = run_all(collector)

    assert run.regions() == {"20.7.0.1": "eastus"}
    err = run.errors[f"azure:{SUB_B}"]
    assert err.code == "SubscriptionRequestsThrottled" and "Retry-After: 3" in str(err)
    assert clock.sleeps == [7.0, 3.0]
    assert sum(1 for r in fake.requests if SUB_B in r.path) == 2  # first try + one retry


def test_retry_after_is_capped_by_backoff_max(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """A huge Retry-After never parks a runner thread longer than retry_backoff_max."""
    _ips(fake, SUB_A, PublicIpSpec("a1", "eastus", "20.8.0.1"))
    fake.throttle(SUB_A, 1, retry_after=3600)
    clock = FakeClock()
    config = {**sp_config, "subscriptions": [SUB_A], "retry_total": 2, "retry_backoff_max": 30}
    run = run_all(AzureCollector.from_config(config, clock=clock))
    assert run.regions() == {"20.8.0.1": "eastus"}
    assert clock.sleeps == [30.0]


def test_wrong_client_secret_fails_the_discovery_scope_with_the_aad_code(
    fake: FakeAzure, sp_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """AAD's refusal surfaces as a CollectorError with the AADSTS code; the secret appears nowhere."""
    wrong = "definitely-the-wrong-secret-123"
    monkeypatch.setenv("AZURE_CLIENT_SECRET", wrong)
    with caplog.at_level(logging.DEBUG):
        run = run_all(AzureCollector.from_config(sp_config))
    err = run.errors["azure:subscriptions"]
    assert err.code == "AADSTS7000215"
    assert run.records == []
    for text in (str(err), repr(err), caplog.text):
        assert wrong not in text and SECRET not in text


def test_token_for_the_wrong_audience_is_rejected_by_arm(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """`credential_scope` is what the token is minted for; ARM refuses a token for another resource."""
    config = {**sp_config, "credential_scope": "https://graph.microsoft.com/.default"}
    run = run_all(AzureCollector.from_config(config))
    assert run.errors["azure:subscriptions"].code == "InvalidAuthenticationToken"


def test_secret_never_logged_or_printed(
    fake: FakeAzure, sp_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """With every logger at DEBUG (SDK HTTP logging included) a full run never shows the client secret or token."""
    _ips(fake, SUB_A, PublicIpSpec("a1", "eastus", "20.9.0.1"))
    with caplog.at_level(logging.DEBUG):
        collector = AzureCollector.from_config(sp_config)
        run = run_all(collector)
    assert run.regions() == {"20.9.0.1": "eastus"}
    assert SECRET not in caplog.text
    assert SECRET not in repr(collector.__dict__)
    assert all(SECRET not in repr(s) for s in run.leaves)


def test_default_credential_from_environment_variables(
    fake: FakeAzure, sp_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auth: default` → DefaultAzureCredential → EnvironmentCredential, token from the fake's AAD."""
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    _ips(fake, SUB_B, PublicIpSpec("b1", "norwayeast", "20.10.0.1"))
    config = {k: v for k, v in sp_config.items() if k not in ("auth", "tenant_id", "client_id")}
    collector = AzureCollector.from_config({**config, "exclude_credentials": ["managed_identity", "cli"]})
    assert run_all(collector).regions() == {"20.10.0.1": "norwayeast"}
    assert _token_requests(fake) == 1
    collector.close()


def test_default_credential_with_workload_identity(
    fake: FakeAzure, sp_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """AKS workload identity: the projected token file is exchanged as a client assertion (no secret at all)."""
    federated = "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig"
    fake.add_service_principal(TENANT, "wi-client", federated_token=federated)
    fake.grant(SUB_A, "wi-client")
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(federated)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", "wi-client")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", fake.url)
    _ips(fake, SUB_A, PublicIpSpec("a1", "swedencentral", "20.11.0.1"))
    config = {k: v for k, v in sp_config.items() if k not in ("auth", "tenant_id", "client_id")}
    collector = AzureCollector.from_config({**config, "exclude_credentials": ["environment", "managed_identity"]})
    run = run_all(collector)
    assert run.regions() == {"20.11.0.1": "swedencentral"}
    assert [s.path for s in run.leaves] == [(SUB_A,)]  # the workload identity only has a role on SUB_A


def test_concurrent_scopes_from_many_threads(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """collect() for different subscriptions runs safely in parallel threads and yields the same records."""
    subs = [f"00000000-0000-4000-8000-0000000001{i:02d}" for i in range(12)]
    expected = {}
    for i, sub in enumerate(subs):
        fake.add_subscription(sub, tenant_id=TENANT, readers={CLIENT_ID: ("*/read",)})
        for j in range(3):
            ip = f"20.12.{i}.{j}"
            _ips(fake, sub, PublicIpSpec(f"ip{j}", ("eastus", "westeurope", "japaneast")[j], ip))
            expected[ip] = ("eastus", "westeurope", "japaneast")[j]
    collector = AzureCollector.from_config({**sp_config, "subscriptions": subs})
    leaves = list(collector.scopes())

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda s: list(collector.collect(s)), leaves))

    records = [r for batch in results for r in batch]
    assert {r.ip: r.region for r in records} == expected
    assert len(records) == len(expected)
    assert {r.account for r in records} == set(subs)
    collector.close()


def test_load_collector_builds_it_from_the_config_section(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """The runner's entry point (`load_collector("azure", section)`) works with the validated model."""
    from agent.collectors.azure.config import AzureConfig

    _ips(fake, SUB_A, PublicIpSpec("a1", "koreacentral", "20.13.0.1"))
    collector = load_collector("azure", AzureConfig.model_validate(sp_config))
    assert isinstance(collector, AzureCollector) and collector.source == "azure"
    assert run_all(collector).regions() == {"20.13.0.1": "koreacentral"}


def test_secret_from_file(fake: FakeAzure, sp_config: dict[str, Any], tmp_path: Path, monkeypatch) -> None:
    """`client_secret_file` (a mounted Kubernetes/Docker secret) wins over the environment variable."""
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "stale-value")
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    _ips(fake, SUB_A, PublicIpSpec("a1", "eastus", "20.14.0.1"))
    run = run_all(AzureCollector.from_config({**sp_config, "client_secret_file": str(secret_file)}))
    assert run.regions() == {"20.14.0.1": "eastus"}


def test_through_the_runner_with_shards(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """With the real runner, two shards split the subscriptions between them and together see every address once;
    a failing subscription is recorded as a ScopeError with its ARM code."""
    from agent.collectors.runner import run_collectors

    subs = [f"00000000-0000-4000-8000-0000000002{i:02d}" for i in range(6)]
    for i, sub in enumerate(subs):
        fake.add_subscription(sub, tenant_id=TENANT, readers={CLIENT_ID: READER})
        _ips(fake, sub, PublicIpSpec("ip", "francecentral", f"20.15.0.{i}"))
    fake.set_state(subs[0], "Disabled")
    config = {**sp_config, "subscriptions": subs}

    shards = [run_collectors([AzureCollector.from_config(config)], concurrency=4, shard=(i, 2)) for i in range(2)]

    ips = [r.ip for d in shards for r in d.records]
    assert sorted(ips) == sorted(f"20.15.0.{i}" for i in range(1, 6))
    assert all(d.records or d.errors for d in shards)  # both shards got work
    errors = [e for d in shards for e in d.errors]
    assert [(e.scope, e.error, e.code) for e in errors] == [
        (f"azure:{subs[0]}", "CollectorError", "ReadOnlyDisabledSubscription")
    ]


def test_no_usable_credential_fails_discovery_with_a_clear_code(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """DefaultAzureCredential with nothing configured fails the discovery scope (code AuthenticationFailed) and
    says which credentials it tried."""
    config = {k: v for k, v in sp_config.items() if k not in ("auth", "tenant_id", "client_id")}
    others = ["workload_identity", "managed_identity", "cli", "developer_cli", "powershell", "visual_studio_code",
              "shared_token_cache", "broker"]  # fmt: skip
    run = run_all(AzureCollector.from_config({**config, "exclude_credentials": others}))
    err = run.errors["azure:subscriptions"]
    assert err.code == "AuthenticationFailed" and "EnvironmentCredential" in str(err)
    assert "\n" not in str(err)
    assert not any(r.path.startswith("/subscriptions") for r in fake.requests)
