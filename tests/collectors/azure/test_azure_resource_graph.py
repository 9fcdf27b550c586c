"""Resource Graph mode (`mode: resource_graph`) through the real azure-mgmt-resourcegraph SDK against the HTTPS fake,
seeded from the same scenario as per-subscription mode."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions
from azure_testkit import CLIENT_ID, SECRET, SUB_A, SUB_B, SUB_C, TENANT, run_all

from agent.clock import FakeClock
from agent.collectors.azure.collector import AzureCollector
from agent.collectors.azure.resource_graph import PUBLIC_IP_QUERY, parse_resets_after
from agent.collectors.runner import run_collectors
from agent.models import GLOBAL_REGION, CloudAddress
from agent.sandbox.azure import READER, FakeAzure, PublicIpSpec

SUB_D = "00000000-0000-4000-8000-00000000000d"
SUB_E = "00000000-0000-4000-8000-00000000000e"
NIC = "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n/ipConfigurations/c"


def _engine(config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**config, "mode": "resource_graph", **extra}


def _seed(fake: FakeAzure) -> None:
    """Every kind of record per-subscription mode handles, over five subscriptions with different fates."""
    fake.add_subscription(SUB_C, tenant_id=TENANT, display_name="old", readers={CLIENT_ID: READER})
    fake.set_state(SUB_C, "Disabled")
    fake.add_subscription(SUB_D, tenant_id=TENANT, display_name="sandbox", readers={CLIENT_ID: READER})
    fake.add_subscription(SUB_E, tenant_id=TENANT, display_name="no-access", readers={})
    specs = {
        SUB_A: [
            PublicIpSpec("a1", "eastus", "20.1.0.1", attached_to=NIC.format(SUB_A)),
            PublicIpSpec("a2", "westeurope", "20.1.0.2", sku="Standard", zones=("1", "2")),
            PublicIpSpec("a3", "eastus", None, allocation="Dynamic"),
            PublicIpSpec("a4", "japaneast", "2603:1040:400:0:0:0:0:0AB", version="IPv6"),
            PublicIpSpec("a5", "East US 2", "20.1.0.5"),
            PublicIpSpec("a6", "eastus2", "20.1.0.6", sku="Standard", tier="Global"),
            PublicIpSpec("a7", "westus", "20.1.0.7", sku="Standard", edge_zone="microsoftlosangeles1"),
        ],
        SUB_B: [PublicIpSpec(f"b{i}", "westus2", f"20.2.0.{i}") for i in range(5)],
        SUB_C: [PublicIpSpec("c1", "eastus", "20.3.0.1")],
        SUB_D: [PublicIpSpec("d1", "eastus", "20.4.0.1")],
        SUB_E: [PublicIpSpec("e1", "eastus", "20.5.0.1")],
    }
    for sub, items in specs.items():
        for spec in items:
            fake.add_public_ip(sub, spec)


def _timeless(records: list[CloudAddress]) -> set[CloudAddress]:
    return {dataclasses.replace(r, observed_at=None) for r in records}


def _arg_requests(fake: FakeAzure) -> list[str]:
    return [r.path for r in fake.requests if "Microsoft.ResourceGraph" in r.path]


def test_both_modes_yield_the_same_inventory(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """Same scenario, same records (IP, region, subscription, resource id, kind, details), states and exclusions
    applied alike; engine mode pages with $skipToken and makes ceil(rows / page) + 1 calls."""
    _seed(fake)
    config = {**sp_config, "exclude_subscriptions": ["sandbox"]}
    per_subscription = run_all(AzureCollector.from_config(config))
    before = len(fake.requests)
    engine_collector = AzureCollector.from_config(_engine(config, resource_graph_page_size=3))
    engine = run_all(engine_collector)

    assert per_subscription.errors == {} and engine.errors == {}
    assert _timeless(engine.records) == _timeless(per_subscription.records)
    assert len(engine.records) == len(per_subscription.records) == 11
    regions = engine.regions()
    assert regions["20.1.0.6"] == GLOBAL_REGION and regions["20.1.0.5"] == "eastus2"
    assert not {"20.3.0.1", "20.4.0.1", "20.5.0.1"} & set(regions)  # disabled, excluded, no access
    assert [s.label for s in engine.leaves] == ["azure:resource-graph/tenant"]
    # 4 readable subscriptions (1 page of 3 + 1) and 13 readable allocated rows (5 pages of 3).
    assert engine_collector.engine_calls == len(_arg_requests(fake)) == 2 + 5
    assert not any(r.path.startswith("/subscriptions") for r in fake.requests[before:])  # no per-subscription call


def test_engine_records_carry_the_query_time_minus_the_assumed_lag(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    fake.add_public_ip(SUB_A, PublicIpSpec("a1", "eastus", "20.1.0.1"))
    clock = FakeClock(start=1_800_000_000.0)
    collector = AzureCollector.from_config(_engine(sp_config, resource_graph_lag_seconds=120), clock=clock)
    (record,) = run_all(collector).records
    assert record.observed_at == datetime.fromtimestamp(1_800_000_000.0 - 120, UTC)


def test_explicit_subscriptions_are_one_query_and_a_missing_one_makes_it_partial(
    fake: FakeAzure, sp_config: dict[str, Any]
) -> None:
    """A named subscription the answer does not cover (no role) fails the scope after the others' records: the
    runner then reports discovery incomplete."""
    _seed(fake)
    config = _engine(sp_config, subscriptions=[SUB_A, SUB_B, SUB_E])
    collector = AzureCollector.from_config(config)
    assert [s.label for s in collector.scopes()] == ["azure:resource-graph/subscriptions"]
    discovery = run_collectors([collector], concurrency=2)
    assert not discovery.complete
    (error,) = discovery.errors
    assert (error.scope, error.code) == ("azure:resource-graph/subscriptions", "PartialResult")
    assert SUB_E in error.message
    assert {r.account for r in discovery.records} == {SUB_A, SUB_B}


@pytest.mark.parametrize("fault", ["arg_truncate", "arg_subscription_limit_hit"])
def test_a_partial_answer_makes_discovery_incomplete(fake: FakeAzure, sp_config: dict[str, Any], fault: str) -> None:
    _seed(fake)
    setattr(fake, fault, True)
    discovery = run_collectors([AzureCollector.from_config(_engine(sp_config, resource_graph_page_size=2))])
    assert not discovery.complete
    assert [(e.scope, e.code) for e in discovery.errors] == [("azure:resource-graph/tenant", "PartialResult")]
    assert "partial answer" in discovery.errors[0].message


def test_management_groups_inherit_roles_and_fail_alone(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """One leaf per management group; a role on a group reaches its subscriptions (nested groups too); a group the
    principal cannot read is an AuthorizationFailed scope error while the other group is collected; shards split
    the group leaves."""
    other = "99999999-0000-4000-8000-000000000001"
    fake.add_service_principal(TENANT, other, secret="x")
    fake.add_subscription(SUB_C, tenant_id=TENANT, display_name="mg-only", readers={})
    fake.add_management_group("child", (SUB_C,))
    fake.add_management_group("platform", (SUB_A,), children=("child",), readers={CLIENT_ID: READER})
    fake.add_management_group("secret", (SUB_B,), readers={other: READER})
    fake.add_public_ip(SUB_A, PublicIpSpec("a1", "eastus", "20.1.0.1"))
    fake.add_public_ip(SUB_B, PublicIpSpec("b1", "eastus", "20.2.0.1"))
    fake.add_public_ip(SUB_C, PublicIpSpec("c1", "uksouth", "20.3.0.1"))
    config = _engine(sp_config, management_groups=["platform", "secret"])

    discovery = run_collectors([AzureCollector.from_config(config)], concurrency=2)
    assert {r.ip: r.region for r in discovery.records} == {"20.1.0.1": "eastus", "20.3.0.1": "uksouth"}
    assert [(e.scope, e.code) for e in discovery.errors] == [
        ("azure:resource-graph/managementGroups/secret", "AuthorizationFailed")
    ]
    shards = [run_collectors([AzureCollector.from_config(config)], shard=(i, 2)) for i in range(2)]
    assert sum(d.sharded_out for d in shards) == 2  # each group leaf runs on exactly one shard
    assert sorted(r.ip for d in shards for r in d.records) == ["20.1.0.1", "20.3.0.1"]


def test_quota_headers_pace_the_queries_on_the_injected_clock(server_ctx: Any, sp_config: dict[str, Any]) -> None:
    """With 2 queries per 5 s, the collector waits for the reset instead of drawing 429s: exactly one request per
    page, and the waits are on the injected clock."""
    clock = FakeClock()
    with FakeAzure(server_ctx, arg_quota=(2, 5.0), clock=clock) as fake:
        fake.add_service_principal(TENANT, CLIENT_ID, secret=SECRET)
        fake.add_subscription(SUB_A, tenant_id=TENANT, readers={CLIENT_ID: READER})
        for i in range(10):
            fake.add_public_ip(SUB_A, PublicIpSpec(f"a{i}", "eastus", f"20.1.0.{i}"))
        config = _engine({**sp_config, "arm_endpoint": fake.url, "authority_host": fake.url, "retry_total": 0})
        run = run_all(AzureCollector.from_config({**config, "resource_graph_page_size": 2}, clock=clock))
        assert run.errors == {} and len(run.records) == 10
        assert len(_arg_requests(fake)) == 1 + 5  # no 429 answered, none retried
        assert clock.sleeps == [5.0, 5.0]  # 6 queries at 2 per window: two waits for the reset


def test_throttled_query_is_retried_after_the_quota_reset(server_ctx: Any, sp_config: dict[str, Any]) -> None:
    """Someone else spent the shared per-user quota: the 429 carries no Retry-After, only the quota headers; the
    retry waits until the reset on the injected clock, then succeeds. With no retries left it is a scope error."""
    clock = FakeClock()
    with FakeAzure(server_ctx, arg_quota=(1, 5.0), clock=clock) as fake:
        fake.add_service_principal(TENANT, CLIENT_ID, secret=SECRET)
        fake.add_subscription(SUB_A, tenant_id=TENANT, readers={CLIENT_ID: READER})
        fake.add_public_ip(SUB_A, PublicIpSpec("a1", "eastus", "20.1.0.1"))
        config = _engine({**sp_config, "arm_endpoint": fake.url, "authority_host": fake.url})
        _spend_quota(fake, sp_config)

        failed = run_collectors([AzureCollector.from_config({**config, "retry_total": 0}, clock=clock)])
        assert [(e.code, "RateLimiting" in e.message) for e in failed.errors] == [("RateLimiting", True)]

        clock.sleeps.clear()
        run = run_all(AzureCollector.from_config({**config, "retry_total": 3}, clock=clock))
        assert run.errors == {} and run.regions() == {"20.1.0.1": "eastus"}
        assert clock.sleeps and clock.sleeps[0] == 5.0


def _spend_quota(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    with _client(fake, sp_config) as client:
        client.resources(QueryRequest(query=PUBLIC_IP_QUERY))


def _client(fake: FakeAzure, sp_config: dict[str, Any]) -> ResourceGraphClient:
    credential = ClientSecretCredential(
        TENANT,
        CLIENT_ID,
        SECRET,
        authority=fake.url,
        disable_instance_discovery=True,
        connection_verify=sp_config["ca_bundle"],
    )
    return ResourceGraphClient(
        credential,
        base_url=fake.url,
        credential_scopes=[f"{fake.url}/.default"],
        connection_verify=sp_config["ca_bundle"],
        retry_total=0,
    )


def test_the_fake_enforces_the_request_contract(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """$top outside 1-1000, a query it does not know, a skip token reused for another scope: 400 BadRequest with
    the detail code; the table format and quota headers come back as the real service sends them."""
    _seed(fake)
    with _client(fake, sp_config) as client:
        for options, detail in [
            (QueryRequestOptions(top=5000), "InvalidParameter"),
            (QueryRequestOptions(top=0), "InvalidParameter"),
        ]:
            with pytest.raises(HttpResponseError) as err:
                client.resources(QueryRequest(query=PUBLIC_IP_QUERY, options=options))
            assert err.value.status_code == 400 and err.value.error.details[0].code == detail
        with pytest.raises(HttpResponseError) as err:
            client.resources(QueryRequest(query="Resources | take 5"))
        assert err.value.error.details[0].code == "InvalidQuery"

        first = client.resources(QueryRequest(query=PUBLIC_IP_QUERY, options=QueryRequestOptions(top=2)))
        assert first.count == 2 and first.result_truncated == "false" and first.skip_token
        with pytest.raises(HttpResponseError) as err:
            client.resources(
                QueryRequest(
                    subscriptions=[SUB_A],
                    query=PUBLIC_IP_QUERY,
                    options=QueryRequestOptions(skip_token=first.skip_token),
                )
            )
        assert err.value.error.details[0].code == "InvalidSkipToken"

        table = client.resources(
            QueryRequest(
                subscriptions=[SUB_B], query=PUBLIC_IP_QUERY, options=QueryRequestOptions(result_format="table")
            ),
            cls=lambda pipeline, body, _: (body, pipeline.http_response.headers),
        )
        body, headers = table
        assert body.total_records == 5 and body.data["columns"][0] == {"name": "id", "type": "string"}
        assert int(headers["x-ms-user-quota-remaining"]) >= 0
        assert parse_resets_after(headers["x-ms-user-quota-resets-after"]) is not None


def test_resets_after_header_parsing() -> None:
    assert parse_resets_after("00:00:05") == 5.0
    assert parse_resets_after("01:02:03.5") == 3723.5
    assert parse_resets_after("5 seconds") is None and parse_resets_after(None) is None


def test_config_rejects_bad_engine_settings() -> None:
    from agent.errors import ConfigError

    with pytest.raises(ConfigError, match=r"inventory\.azure\.mode"):
        AzureCollector.from_config({"mode": "graph"})
    with pytest.raises(ConfigError, match="management_groups"):
        AzureCollector.from_config({"mode": "resource_graph", "management_groups": ["bad/group"]})
    with pytest.raises(ConfigError, match="resource_graph_page_size"):
        AzureCollector.from_config({"mode": "resource_graph", "resource_graph_page_size": 5000})


def test_wrong_secret_fails_the_engine_scope_with_the_aad_code_and_never_leaks(
    fake: FakeAzure, sp_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong-" + SECRET)
    discovery = run_collectors([AzureCollector.from_config(_engine(sp_config))])
    (error,) = discovery.errors
    assert (error.scope, error.code) == ("azure:resource-graph/tenant", "AADSTS7000215")
    assert SECRET not in error.message and SECRET not in caplog.text


def test_engine_scope_in_a_forked_discovery_worker(fake: FakeAzure, sp_config: dict[str, Any]) -> None:
    """With discovery_processes 2 the engine leaf runs in one worker; its records (observation times included)
    come back through the pipe."""
    _seed(fake)
    discovery = run_collectors([AzureCollector.from_config(_engine(sp_config))], processes=2, concurrency=2)
    assert discovery.complete and len(discovery.records) == 12
    assert all(r.observed_at is not None for r in discovery.records)
