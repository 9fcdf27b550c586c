"""Engine mode (`mode: config_aggregator`): AWS Config advanced queries over an aggregator, with the real boto3
against the sandbox fake's Config service, seeded from the same scenario as the per-account EC2 view."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from agent.collectors.aws.collector import AwsCollector
from agent.collectors.runner import run_collectors
from agent.errors import ConfigError
from agent.models import CloudAddress
from agent.sandbox.aws import DEFAULT_REGIONS, AwsFake

from .conftest import MGMT, fake_config, walk
from .test_aws_fake import OTHER, org_tree, seed_mixed

AGG = "org-agg"
CAPTURED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ROLE = "OrganizationAccountAccessRole"
SELECT = "SelectAggregateResourceConfig"


def engine_config(fake: AwsFake, **overrides: object) -> dict[str, object]:
    engine = {"mode": "config_aggregator", "aggregator_name": AGG, "config_endpoint_url": fake.url}
    return fake_config(fake, **{**engine, **overrides})


def organization(fake: AwsFake) -> None:
    """The organization of test_aws_fake (one SUSPENDED account), mixed kinds in a member account, a few IPs
    in every default region, one in a region nobody enabled, and an org aggregator in the management account."""
    org_tree(fake)
    seed_mixed(fake, OTHER)
    for n, region in enumerate(DEFAULT_REGIONS):
        fake.add_interface("555555555555", region, public_ips=[f"3.5.{n}.9"], ipv6=[f"2600:1f18:5:{n:x}::9"])
        fake.add_interface("555555555555", region, id=f"eni-private-{n}")
    fake.accounts[MGMT].regions["ap-east-1"].interfaces.clear()  # not opted in: invisible to both modes
    fake.add_interface(MGMT, "ap-east-1", public_ips=["198.51.100.7"])
    fake.add_aggregator(AGG, MGMT, "us-east-1", capture_time=CAPTURED.timestamp())


def inventory(records: list[CloudAddress]) -> set[tuple[str, str, str, str, str, str]]:
    return {(r.ip, r.vendor.value, r.region, r.account, r.resource_id, r.kind) for r in records}


def test_both_modes_yield_the_same_inventory(fake: AwsFake) -> None:
    """Same scenario, per-account walk vs aggregator: identical (ip, vendor, region, account, resource id, kind)."""
    organization(fake)
    per_account = walk(AwsCollector.from_config(fake_config(fake, organization={"member_role_name": ROLE})))
    engine = walk(AwsCollector.from_config(engine_config(fake)))
    assert per_account.errors == [] and engine.errors == []
    assert inventory(engine.records) == inventory(per_account.records)
    assert len(engine.records) == len(per_account.records) == 9 + 5 + 2 * len(DEFAULT_REGIONS)
    assert "198.51.100.7" not in {r.ip for r in engine.records}
    assert {r.observed_at for r in engine.records} == {CAPTURED}
    assert {r.observed_at for r in per_account.records} == {None}
    # No EC2, STS or Organizations call in engine mode: only the aggregator's own account is used.
    services = {s for s, *_ in fake.requests[len(fake.requests) - fake.calls[("config", SELECT)] - 1 :]}
    assert services == {"config"}


def test_engine_mode_honours_ipv6_and_region_filters(fake: AwsFake) -> None:
    organization(fake)
    config = engine_config(fake, include_ipv6=False, regions=["eu-*", "us-east-1"], skip_regions=["eu-west-2"])
    engine = walk(AwsCollector.from_config(config))
    per_account = walk(
        AwsCollector.from_config(
            fake_config(
                fake,
                include_ipv6=False,
                regions=["eu-*", "us-east-1"],
                skip_regions=["eu-west-2"],
                organization={"member_role_name": ROLE},
            )
        )
    )
    assert inventory(engine.records) == inventory(per_account.records)
    assert all(":" not in r.ip for r in engine.records)
    assert {r.region for r in engine.records} == {"eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3", "us-east-1"}


def test_queries_page_by_100_and_split_by_region(fake: AwsFake) -> None:
    """Four parts page in parallel; calls stay within ceil(rows / 100) + parts + 1 (the sources-status call)."""
    fake.create_organization(MGMT)
    for n in range(430):
        fake.add_interface(MGMT, DEFAULT_REGIONS[n % 5], public_ips=[f"3.1.{n // 250}.{n % 250}"])
    fake.add_aggregator(AGG, MGMT)
    collector = AwsCollector.from_config(engine_config(fake))
    discovery = run_collectors([collector], concurrency=8)
    collector.close()
    assert discovery.errors == [] and len(discovery.records) == 430
    selects = fake.calls[("config", SELECT)]
    assert selects <= math.ceil(430 / 100) + 4
    assert fake.calls[("config", "DescribeConfigurationAggregatorSourcesStatus")] == 1
    assert discovery_leaves(collector) == [f"aws:aggregator/{AGG}/part-{n}-of-4" for n in range(1, 5)]


def discovery_leaves(collector: AwsCollector) -> list[str]:
    (root,) = collector.scopes()
    return [s.label for s in collector.collect(root)]  # type: ignore[union-attr]


def test_discovery_processes_give_the_same_inventory(fake: AwsFake) -> None:
    """Forked workers share the parts; the partial-source error is reported once, not once per worker."""
    organization(fake)
    fake.aggregators[0].failed["eu-west-1"] = ("AccessDeniedException", "denied")
    whole = walk(AwsCollector.from_config(engine_config(fake)))
    collector = AwsCollector.from_config(engine_config(fake))
    forked = run_collectors([collector], processes=2, concurrency=4)
    collector.close()
    assert sorted(inventory(forked.records)) == sorted(inventory(whole.records)) and len(forked.records) == 48
    assert [e.scope for e in forked.errors] == [f"aws:aggregator/{AGG}/source/{fake.org_id}/eu-west-1"]


def test_listed_regions_are_the_only_ones_queried(fake: AwsFake) -> None:
    organization(fake)
    config = engine_config(fake, regions=["us-east-1", "eu-west-1", "eu-west-2"], skip_regions=["eu-west-2"])
    engine = walk(AwsCollector.from_config(config))
    assert engine.leaves == [f"aws:aggregator/{AGG}/part-{n}-of-2" for n in (1, 2)] and engine.errors == []
    assert {r.region for r in engine.records} == {"us-east-1", "eu-west-1"}
    assert fake.calls[("config", SELECT)] == 2  # one page per region, nothing else read


def test_one_query_when_asked(fake: AwsFake) -> None:
    organization(fake)
    engine = walk(AwsCollector.from_config(engine_config(fake, aggregator_queries=1)))
    assert engine.leaves == [f"aws:aggregator/{AGG}/part-1-of-1"] and engine.errors == []
    assert fake.calls[("config", SELECT)] == 1  # 48 addresses in 57 rows: one page of 100


def test_sharded_parts_partition_the_inventory(fake: AwsFake) -> None:
    """Every shard computes the same parts (no API answer decides the split): the shards' union is the whole."""
    organization(fake)
    whole = walk(AwsCollector.from_config(engine_config(fake))).records
    shares = []
    for index in range(3):
        collector = AwsCollector.from_config(engine_config(fake))
        shares.append(run_collectors([collector], shard=(index, 3)))
        collector.close()
    assert sum(s.sharded_out for s in shares) == 2 * 4
    union = [r for s in shares for r in s.records]
    assert sorted(inventory(union)) == sorted(inventory(whole)) and len(union) == len(whole)


@pytest.mark.parametrize(
    ("inject", "scope", "code"),
    [
        pytest.param(None, "aws:aggregator/nope", "NoSuchConfigurationAggregatorException", id="unknown-aggregator"),
        pytest.param(
            ("AccessDeniedException", "DescribeConfigurationAggregatorSourcesStatus"),
            "aws:aggregator/org-agg",
            "AccessDeniedException",
            id="denied-on-the-aggregator",
        ),
        pytest.param(
            ("AccessDeniedException", SELECT), "aws:aggregator/org-agg/part-", "AccessDeniedException", id="denied"
        ),
        pytest.param(
            ("ThrottlingException", SELECT), "aws:aggregator/org-agg/part-", "ThrottlingException", id="throttled"
        ),
    ],
)
def test_engine_errors_are_scope_errors(fake: AwsFake, inject: tuple[str, str] | None, scope: str, code: str) -> None:
    organization(fake)
    name = AGG
    if inject is None:
        name = "nope"
    else:
        fake.fail(inject[0], action=inject[1], status=400)
    collector = AwsCollector.from_config(engine_config(fake, aggregator_name=name, max_attempts=2))
    discovery = run_collectors([collector])
    collector.close()
    assert not discovery.complete and discovery.errors
    for error in discovery.errors:
        assert error.scope.startswith(scope) and error.code == code and "secret" not in error.message


def test_throttling_is_retried_by_the_sdk(fake: AwsFake) -> None:
    organization(fake)
    fake.fail("ThrottlingException", action=SELECT, times=2, status=400)
    engine = walk(AwsCollector.from_config(engine_config(fake, max_attempts=3)))
    assert engine.errors == [] and len(engine.records) == 48


def test_partial_aggregator_is_incomplete_discovery(fake: AwsFake) -> None:
    """A FAILED or OUTDATED source is an error scope: the records still count, but nothing may be deleted."""
    organization(fake)
    aggregator = fake.aggregators[0]
    aggregator.failed["eu-west-1"] = ("OrganizationAccessDeniedException", "Config cannot read the organization")
    aggregator.outdated.add("us-west-2")
    collector = AwsCollector.from_config(engine_config(fake))
    discovery = run_collectors([collector], shard=(0, 2))  # error scopes are not leaves: every shard reports them
    collector.close()
    assert not discovery.complete
    failed = {(e.scope, e.code) for e in discovery.errors}
    assert failed == {
        (f"aws:aggregator/{AGG}/source/{fake.org_id}/eu-west-1", "AggregatorSourceFailed"),
        (f"aws:aggregator/{AGG}/source/{fake.org_id}/us-west-2", "AggregatorSourceOutdated"),
    }
    assert any("OrganizationAccessDeniedException" in e.message for e in discovery.errors)


def test_role_in_the_delegated_administrator_account(fake: AwsFake) -> None:
    """The aggregator lives in a delegated administrator account, reached through a role; only that account works."""
    organization(fake)
    fake.aggregators.clear()
    fake.add_aggregator(AGG, "333333333333", "eu-central-1", capture_time=CAPTURED.timestamp())
    base = walk(AwsCollector.from_config(engine_config(fake, aggregator_region="eu-central-1")))
    assert [e.code for e in base.errors] == ["NoSuchConfigurationAggregatorException"]  # not in the caller's account
    config = engine_config(
        fake, aggregator_region="eu-central-1", aggregator_role_arn=f"arn:aws:iam::333333333333:role/{ROLE}"
    )
    engine = walk(AwsCollector.from_config(config))
    assert engine.errors == [] and len(engine.records) == 48


def test_bad_engine_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="aggregator_name: mode 'config_aggregator' needs"):
        AwsCollector.from_config({"mode": "config_aggregator"})
    with pytest.raises(ConfigError, match=r"aggregator_queries"):
        AwsCollector.from_config({"mode": "config_aggregator", "aggregator_name": "a", "aggregator_queries": 0})
    with pytest.raises(ConfigError, match=r"inventory.aws.mode"):
        AwsCollector.from_config({"mode": "engine"})


# ---------------------------------------------------------------------- the fake's Config service, raw boto3


@pytest.fixture
def config_client(fake: AwsFake):  # type: ignore[no-untyped-def]
    organization(fake)
    client = boto3.session.Session().client("config", region_name="us-east-1", endpoint_url=fake.url)
    yield client
    client.close()


def test_fake_answers_json_strings_with_query_info(config_client) -> None:  # type: ignore[no-untyped-def]
    answer = config_client.select_aggregate_resource_config(
        Expression="SELECT resourceId, configuration.publicIp WHERE resourceType = 'AWS::EC2::EIP' "
        "AND accountId = '222222222222' ORDER BY resourceId",
        ConfigurationAggregatorName=AGG,
    )
    assert [f["Name"] for f in answer["QueryInfo"]["SelectFields"]] == ["resourceId", "configuration.publicIp"]
    assert answer["Results"] == [
        '{"resourceId":"eipalloc-00000000000000001","configuration":{"publicIp":"54.247.2.1"}}',
        '{"resourceId":"eipalloc-1","configuration":{"publicIp":"54.247.1.1"}}',
        '{"resourceId":"eipalloc-free","configuration":{"publicIp":"52.4.5.5"}}',
    ]


def test_fake_counts_and_pages_25_by_default(config_client) -> None:  # type: ignore[no-untyped-def]
    counted = config_client.select_aggregate_resource_config(
        Expression="SELECT awsRegion, COUNT(*) WHERE resourceType = 'AWS::EC2::NetworkInterface' "
        "AND NOT awsRegion IN ('eu-west-1', 'us-east-1') GROUP BY awsRegion",
        ConfigurationAggregatorName=AGG,
    )
    assert len(counted["Results"]) == len(DEFAULT_REGIONS) - 2
    assert '{"awsRegion":"ap-northeast-1","COUNT(*)":2}' in counted["Results"]
    first = config_client.select_aggregate_resource_config(
        Expression="SELECT resourceId WHERE resourceType = 'AWS::EC2::NetworkInterface'",
        ConfigurationAggregatorName=AGG,
    )
    assert len(first["Results"]) == 25 and "NextToken" in first


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"Limit": 101}, "InvalidLimitException"),
        ({"Expression": "SELECT resourceId FROM resources"}, "InvalidExpressionException"),
        ({"Expression": "SELECT configuration.no WHERE resourceType = 'AWS::EC2::EIP'"}, "InvalidExpressionException"),
        ({"Expression": "SELECT resourceId WHERE configuration.publicIp IS NULL"}, "InvalidExpressionException"),
        ({"Expression": "SELECT resourceId WHERE resourceId LIKE 'ab%'"}, "InvalidExpressionException"),
        ({"NextToken": "bm90LWEtdG9rZW4="}, "InvalidNextTokenException"),
        ({"ConfigurationAggregatorName": "other"}, "NoSuchConfigurationAggregatorException"),
    ],
)
def test_fake_refuses_what_aws_refuses(config_client, kwargs: dict, code: str) -> None:  # type: ignore[no-untyped-def]
    params = {"Expression": "SELECT resourceId WHERE resourceType = 'AWS::EC2::EIP'"}
    params["ConfigurationAggregatorName"] = AGG
    with pytest.raises(ClientError) as raised:
        config_client.select_aggregate_resource_config(**{**params, **kwargs})
    assert raised.value.response["Error"]["Code"] == code


def test_fake_checks_the_signature(fake: AwsFake, monkeypatch: pytest.MonkeyPatch) -> None:
    organization(fake)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    client = boto3.session.Session().client("config", region_name="us-east-1", endpoint_url=fake.url)
    with pytest.raises(ClientError) as raised:
        client.select_aggregate_resource_config(Expression="SELECT resourceId", ConfigurationAggregatorName=AGG)
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
