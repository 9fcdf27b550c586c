"""The AWS collector against the sandbox fake: what moto does not model (pagination, interface types, opt-in regions,
Local Zones, throttling and denials per scope, STS refresh, partitions, Organizations OUs)."""

from __future__ import annotations

import logging
import time

import pytest

from agent.clock import FakeClock
from agent.collectors.aws.collector import AwsCollector
from agent.collectors.runner import run_collectors
from agent.errors import ConfigError
from agent.models import Confidence, Vendor
from agent.sandbox.aws import DEFAULT_REGIONS, AwsFake

from .conftest import MGMT, fake_config, walk

OTHER = "222222222222"


def seed_mixed(fake: AwsFake, account: str = MGMT) -> None:
    """An EIP on an instance, a NAT gateway, an NLB, a classic ELB, an unattached EIP, an ENI with IPv6 only."""
    fake.add_address(account, "eu-west-1", "54.247.1.1", allocation_id="eipalloc-1", network_interface_id="eni-1",
                     instance_id="i-1", private_ip="10.0.0.1")  # fmt: skip
    fake.add_interface(account, "eu-west-1", id="eni-1", instance_id="i-1", public_ips=["54.247.1.1", "54.247.1.2"],
                       allocation_ids={"54.247.1.1": "eipalloc-1"}, ipv6=["2A05:D018::1"])  # fmt: skip
    fake.add_interface(account, "eu-west-1", id="eni-nat", interface_type="nat_gateway", public_ips=["54.247.2.2"],
                       description="Interface for NAT Gateway nat-0abc", requester_id="AIDANAT")  # fmt: skip
    fake.add_interface(account, "us-east-1", id="eni-nlb", interface_type="network_load_balancer",
                       public_ips=["52.4.3.3"], description="ELB net/web/50dc6c495c0c9188")  # fmt: skip
    fake.add_interface(account, "us-east-1", id="eni-elb", public_ips=["52.4.4.4"], description="ELB classic-web",
                       requester_id="amazon-elb")  # fmt: skip
    fake.add_interface(account, "us-east-1", id="eni-v6", ipv6=["2600:1f18::5", "2600:1f18::6"])
    fake.add_interface(account, "us-east-1", id="eni-private")
    fake.add_address(account, "us-east-1", "52.4.5.5", allocation_id="eipalloc-free")


def test_collects_every_kind_with_its_region(fake: AwsFake) -> None:
    """EIPs, NAT gateway / load balancer / instance interface IPs and IPv6 each come with region, account and kind."""
    seed_mixed(fake)
    result = walk(AwsCollector.from_config(fake_config(fake, regions=["eu-west-1", "us-east-1"])))
    assert result.errors == []
    got = {r.ip: (r.region, r.kind, r.resource_id) for r in result.records}
    assert got == {
        "54.247.1.1": ("eu-west-1", "elastic-ip", "eipalloc-1"),
        "54.247.1.2": ("eu-west-1", "instance", "i-1"),
        "2a05:d018::1": ("eu-west-1", "instance", "i-1"),
        "54.247.2.2": ("eu-west-1", "nat-gateway", "eni-nat"),
        "52.4.3.3": ("us-east-1", "network-load-balancer", "eni-nlb"),
        "52.4.4.4": ("us-east-1", "classic-load-balancer", "eni-elb"),
        "2600:1f18::5": ("us-east-1", "network-interface", "eni-v6"),
        "2600:1f18::6": ("us-east-1", "network-interface", "eni-v6"),
        "52.4.5.5": ("us-east-1", "elastic-ip", "eipalloc-free"),
    }
    for record in result.records:
        assert (record.vendor, record.account, record.source) == (Vendor.AWS, MGMT, "aws")
        assert record.confidence is Confidence.ACCOUNT
    assert sorted(result.leaves) == [f"aws:{MGMT}/eu-west-1", f"aws:{MGMT}/us-east-1"]


def test_elastic_ip_seen_twice_is_one_richer_record(fake: AwsFake) -> None:
    """An EIP listed by DescribeAddresses and on its interface is one record: the EIP's plus the interface's details."""
    seed_mixed(fake)
    record = walk(AwsCollector.from_config(fake_config(fake, regions=["eu-west-1"]))).by_ip()["54.247.1.1"]
    details = dict(record.details)
    assert record.kind == "elastic-ip"
    assert details["allocation_id"] == "eipalloc-1"
    assert details["interface_type"] == "interface"  # from the interface
    assert details["availability_zone"] == "eu-west-1a"
    assert details["network_border_group"] == "eu-west-1"
    assert details["instance_id"] == "i-1"


def test_ipv6_can_be_turned_off(fake: AwsFake) -> None:
    seed_mixed(fake)
    records = walk(AwsCollector.from_config(fake_config(fake, regions=["us-east-1"], include_ipv6=False))).records
    assert {r.ip for r in records} == {"52.4.3.3", "52.4.4.4", "52.4.5.5"}


def test_network_interfaces_are_paginated(fake: AwsFake) -> None:
    """Every page of DescribeNetworkInterfaces is read; MaxResults comes from `page_size`."""
    fake.max_page_size = 3
    for n in range(10):
        fake.add_interface(MGMT, "eu-west-1", public_ips=[f"54.247.9.{n}"])
    result = walk(AwsCollector.from_config(fake_config(fake, regions=["eu-west-1"], page_size=5)))
    assert {r.ip for r in result.records} == {f"54.247.9.{n}" for n in range(10)}
    assert fake.calls[("ec2", "DescribeNetworkInterfaces")] == 4  # 3 + 3 + 3 + 1


def test_only_enabled_regions_are_scanned(fake: AwsFake) -> None:
    """DescribeRegions decides: default regions and opted-in ones; a not-opted-in region is never called."""
    account = fake.accounts[MGMT]
    account.regions["af-south-1"].opt_in_status = "opted-in"
    fake.add_address(MGMT, "af-south-1", "13.244.1.1")
    account.regions["ap-east-1"].addresses.append(
        type(account.regions["af-south-1"].addresses[0])("18.162.1.1", "eipalloc-x", "ap-east-1")
    )
    result = walk(AwsCollector.from_config(fake_config(fake)))
    assert result.errors == []
    assert sorted(result.leaves) == sorted(f"aws:{MGMT}/{r}" for r in (*DEFAULT_REGIONS, "af-south-1"))
    assert result.regions() == {"13.244.1.1": "af-south-1"}
    assert not any(region == "ap-east-1" for _, action, _, region in fake.requests if action != "DescribeRegions")


def test_region_patterns_and_skips(fake: AwsFake) -> None:
    result = walk(
        AwsCollector.from_config(fake_config(fake, regions=["eu-*", "us-?ast-1"], skip_regions=["eu-west-3"]))
    )
    regions = sorted(label.rpartition("/")[2] for label in result.leaves)
    assert regions == ["eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "us-east-1"]


def test_literal_regions_need_no_describe_regions(fake: AwsFake) -> None:
    walk(AwsCollector.from_config(fake_config(fake, regions=["eu-west-1", "us-west-2"])))
    assert fake.calls[("ec2", "DescribeRegions")] == 0
    assert fake.calls[("ec2", "DescribeAddresses")] == 2


def test_local_zone_maps_to_its_parent_region(fake: AwsFake) -> None:
    """A Local Zone address keeps its border group in details; its region is the parent region."""
    fake.add_address(MGMT, "us-west-2", "15.253.0.1", network_border_group="us-west-2-lax-1")
    fake.add_interface(MGMT, "us-west-2", availability_zone="us-west-2-lax-1a", public_ips=["15.253.0.2"])
    fake.add_interface(MGMT, "us-east-1", availability_zone="us-east-1-wl1-bos-wlz-1", public_ips=["155.146.0.3"])
    result = walk(AwsCollector.from_config(fake_config(fake, regions=["us-west-2", "us-east-1"])))
    records = result.by_ip()
    assert result.regions() == {"15.253.0.1": "us-west-2", "15.253.0.2": "us-west-2", "155.146.0.3": "us-east-1"}
    assert dict(records["15.253.0.1"].details)["network_border_group"] == "us-west-2-lax-1"
    assert dict(records["15.253.0.2"].details)["network_border_group"] == "us-west-2-lax-1"
    assert dict(records["155.146.0.3"].details)["network_border_group"] == "us-east-1-wl1-bos-wlz-1"


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("RequestLimitExceeded", "DescribeAddresses"),
        ("UnauthorizedOperation", "DescribeNetworkInterfaces"),
        ("AuthFailure", "DescribeAddresses"),
        ("OptInRequired", None),
    ],
)
def test_errors_stay_in_their_region_scope(fake: AwsFake, code: str, action: str | None) -> None:
    """One failing region is a CollectorError with the AWS code in that account x region; the others are collected."""
    fake.add_address(MGMT, "eu-west-1", "54.247.1.1")
    fake.add_address(MGMT, "us-east-1", "52.4.1.1")
    fake.fail(code, account=MGMT, region="eu-west-1", action=action)
    result = walk(AwsCollector.from_config(fake_config(fake, regions=["eu-west-1", "us-east-1"])))
    assert result.regions() == {"52.4.1.1": "us-east-1"}
    assert [(e.scope, e.error, e.code) for e in result.errors] == [(f"aws:{MGMT}/eu-west-1", "CollectorError", code)]
    assert "eu-west-1" in result.errors[0].message and MGMT in result.errors[0].message


def test_throttling_is_retried_by_the_sdk(fake: AwsFake) -> None:
    """A throttled answer then success: with 2 attempts the region is collected (standard retry mode)."""
    fake.add_address(MGMT, "eu-west-1", "54.247.1.1")
    fake.fail("RequestLimitExceeded", region="eu-west-1", action="DescribeAddresses", times=1)
    started = time.monotonic()
    result = walk(AwsCollector.from_config(fake_config(fake, regions=["eu-west-1"], max_attempts=2)))
    assert result.errors == []
    assert result.regions() == {"54.247.1.1": "eu-west-1"}
    assert fake.calls[("ec2", "DescribeAddresses")] == 2
    assert time.monotonic() - started < 10


def test_throttling_after_retries_is_reported(fake: AwsFake) -> None:
    fake.fail("RequestLimitExceeded", region="eu-west-1", action="DescribeAddresses")
    result = walk(AwsCollector.from_config(fake_config(fake, regions=["eu-west-1"], max_attempts=2)))
    assert [e.code for e in result.errors] == ["RequestLimitExceeded"]
    assert fake.calls[("ec2", "DescribeAddresses")] == 2


def test_describe_regions_denied_fails_the_account_scope(fake: AwsFake) -> None:
    fake.fail("UnauthorizedOperation", action="DescribeRegions")
    result = walk(AwsCollector.from_config(fake_config(fake)))
    assert [(e.scope, e.code) for e in result.errors] == [("aws:default", "UnauthorizedOperation")]
    assert result.leaves == []


def test_bad_ip_text_is_skipped_with_a_warning(fake: AwsFake, caplog: pytest.LogCaptureFixture) -> None:
    fake.add_interface(MGMT, "eu-west-1", id="eni-bad", public_ips=["054.247.1.1"])
    fake.add_interface(MGMT, "eu-west-1", id="eni-good", public_ips=["54.247.1.2"])
    with caplog.at_level(logging.WARNING, logger="agent.collectors.aws.collector"):
        result = walk(AwsCollector.from_config(fake_config(fake, regions=["eu-west-1"])))
    assert result.regions() == {"54.247.1.2": "eu-west-1"}
    assert "054.247.1.1" in caplog.text and "eni-bad" in caplog.text


# ---------------------------------------------------------------------- accounts, roles, organizations


def test_role_accounts_and_external_id(fake: AwsFake) -> None:
    """Listed role ARNs are assumed from the base credentials, with the external id; a refusal stays in its account."""
    fake.add_account(OTHER)
    fake.add_account("333333333333")
    fake.add_role(OTHER, "Reader", trusted_accounts=[MGMT], external_id="s3cr3t-ext")
    fake.add_role("333333333333", "Reader", trusted_accounts=["999999999999"])  # does not trust us
    fake.add_address(OTHER, "eu-west-1", "54.247.7.7")
    config = fake_config(
        fake,
        regions=["eu-west-1"],
        accounts=[
            {"role_arn": f"arn:aws:iam::{OTHER}:role/Reader", "external_id": "s3cr3t-ext", "session_name": "agent-x"},
            {"role_arn": "arn:aws:iam::333333333333:role/Reader"},
        ],
    )
    result = walk(AwsCollector.from_config(config))
    assert result.regions() == {"54.247.7.7": "eu-west-1"}
    assert result.by_ip()["54.247.7.7"].account == OTHER
    assert [(e.scope, e.code) for e in result.errors] == [("aws:333333333333", "AccessDenied")]
    assert "sts:AssumeRole" in result.errors[0].message
    assert "s3cr3t-ext" not in repr(AwsCollector.from_config(config)._config)


def test_wrong_external_id_is_refused(fake: AwsFake) -> None:
    fake.add_account(OTHER)
    fake.add_role(OTHER, "Reader", external_id="right")
    config = fake_config(fake, accounts=[{"role_arn": f"arn:aws:iam::{OTHER}:role/Reader", "external_id": "wrong"}])
    result = walk(AwsCollector.from_config(config))
    assert [(e.scope, e.code) for e in result.errors] == [(f"aws:{OTHER}", "AccessDenied")]
    assert "wrong" not in result.errors[0].message


def org_tree(fake: AwsFake) -> dict[str, str]:
    """Root: mgmt, 2222; ou-prod: 3333, 4444 (suspended); ou-prod/ou-web: 5555; ou-sandbox: 6666."""
    ids = {}
    fake.create_organization(MGMT)
    prod = fake.add_ou(fake.root_id, "ou-f4k3-prod0001")
    web = fake.add_ou(prod, "ou-f4k3-web00001")
    sandbox = fake.add_ou(fake.root_id, "ou-f4k3-sandbox1")
    for account, parent, status in [(OTHER, None, "ACTIVE"), ("333333333333", prod, "ACTIVE"),
                                    ("444444444444", prod, "SUSPENDED"), ("555555555555", web, "ACTIVE"),
                                    ("666666666666", sandbox, "ACTIVE")]:  # fmt: skip
        fake.add_account(account)
        fake.join_organization(account, parent, status=status)
        fake.add_role(account, "OrganizationAccountAccessRole", trusted_accounts=[MGMT])
        fake.add_address(account, "eu-west-1", f"54.247.{account[0]}.1")
        ids[account] = parent or fake.root_id
    fake.add_address(MGMT, "eu-west-1", "54.247.1.1")
    return ids


def test_organization_lists_active_accounts_and_assumes_the_member_role(fake: AwsFake) -> None:
    """Every ACTIVE account is scanned through the member role; the caller's own account directly; skips apply."""
    org_tree(fake)
    config = fake_config(
        fake,
        regions=["eu-west-1"],
        organization={"member_role_name": "OrganizationAccountAccessRole", "skip_member_accounts": ["666666666666"]},
    )
    result = walk(AwsCollector.from_config(config))
    assert result.errors == []
    assert {r.account for r in result.records} == {MGMT, OTHER, "333333333333", "555555555555"}
    assert result.regions() == {f"54.247.{n}.1": "eu-west-1" for n in (1, 2, 3, 5)}
    roles = [a for s, a, acct, _ in fake.requests if a == "AssumeRole"]
    assert len(roles) == 3  # not for the management account itself


def test_organization_units_walk_and_skip(fake: AwsFake) -> None:
    """Only the named OUs (and their sub-OUs) are walked, minus skipped OUs."""
    org_tree(fake)
    config = fake_config(
        fake,
        regions=["eu-west-1"],
        organization={
            "member_role_name": "OrganizationAccountAccessRole",
            "organizational_units": ["ou-f4k3-prod0001", "ou-f4k3-sandbox1"],
            "skip_organizational_units": ["ou-f4k3-sandbox1"],
        },
    )
    result = walk(AwsCollector.from_config(config))
    assert result.errors == []
    assert {r.account for r in result.records} == {"333333333333", "555555555555"}
    assert fake.calls[("organizations", "ListAccounts")] == 0
    assert fake.calls[("organizations", "ListChildren")] == 2  # prod, web


def test_organization_listing_denied_is_the_organization_scope_error(fake: AwsFake) -> None:
    org_tree(fake)
    fake.fail("AccessDeniedException", action="ListAccounts")
    config = fake_config(fake, organization={"member_role_name": "OrganizationAccountAccessRole"})
    result = walk(AwsCollector.from_config(config))
    assert [(e.scope, e.code) for e in result.errors] == [("aws:organization", "AccessDeniedException")]


def test_member_role_refused_in_one_account(fake: AwsFake) -> None:
    org_tree(fake)
    del fake.accounts["555555555555"].roles["OrganizationAccountAccessRole"]
    config = fake_config(
        fake, regions=["eu-west-1"], organization={"member_role_name": "OrganizationAccountAccessRole"}
    )
    result = walk(AwsCollector.from_config(config))
    assert [(e.scope, e.code) for e in result.errors] == [("aws:555555555555", "AccessDenied")]
    assert {r.account for r in result.records} == {MGMT, OTHER, "333333333333", "666666666666"}


def test_partition_follows_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """In aws-cn, member role ARNs are arn:aws-cn:… and calls go to the partition's home region."""
    with AwsFake() as fake:
        cn_regions = ("cn-north-1", "cn-northwest-1")
        fake.add_account(MGMT, partition="aws-cn", regions=cn_regions, opt_in_regions=())
        fake.add_account(OTHER, partition="aws-cn", regions=cn_regions, opt_in_regions=())
        fake.create_organization(MGMT)
        fake.join_organization(OTHER)
        fake.add_role(OTHER, "Reader", trusted_accounts=[MGMT])
        fake.add_address(OTHER, "cn-northwest-1", "52.82.1.1")
        for key, value in fake.credentials(MGMT).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "cn-north-1")
        result = walk(AwsCollector.from_config(fake_config(fake, organization={"member_role_name": "Reader"})))
    assert result.errors == []
    assert result.regions() == {"52.82.1.1": "cn-northwest-1"}
    assert sorted(result.leaves) == sorted(f"aws:{a}/{r}" for a in (MGMT, OTHER) for r in cn_regions)


def test_assumed_credentials_refresh_before_they_expire(fake: AwsFake) -> None:
    """An hour later the assumed role is assumed again before signing (the fake rejects expired keys)."""
    clock = FakeClock(start=time.time())
    fake.clock = clock
    fake.add_account(OTHER)
    fake.add_role(OTHER, "Reader")
    fake.add_address(OTHER, "eu-west-1", "54.247.7.7")
    config = fake_config(fake, regions=["eu-west-1"], accounts=[{"role_arn": f"arn:aws:iam::{OTHER}:role/Reader"}])
    collector = AwsCollector.from_config(config, clock=clock)
    (root,) = collector.scopes()
    (leaf,) = collector.collect(root)
    assert fake.calls[("sts", "AssumeRole")] == 1
    assert [r.ip for r in collector.collect(leaf)] == ["54.247.7.7"]
    assert fake.calls[("sts", "AssumeRole")] == 1  # still fresh: no refresh
    clock.advance(3600 - 14 * 60)  # inside botocore's 15-minute advisory window
    assert [r.ip for r in collector.collect(leaf)] == ["54.247.7.7"]
    assert fake.calls[("sts", "AssumeRole")] == 2
    clock.advance(3700)  # the refreshed key has expired too: the fake would answer RequestExpired
    assert [r.ip for r in collector.collect(leaf)] == ["54.247.7.7"]
    assert fake.calls[("sts", "AssumeRole")] == 3
    collector.close()


def test_endpoint_from_the_environment(fake: AwsFake, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_ENDPOINT_URL (boto3's own setting) is enough: no endpoint key in the config."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", fake.url)
    fake.add_address(MGMT, "eu-west-1", "54.247.1.1")
    result = walk(AwsCollector.from_config({"max_attempts": 1, "regions": ["eu-*"]}))
    assert result.errors == []
    assert result.regions() == {"54.247.1.1": "eu-west-1"}


def test_no_credentials_is_a_scope_error(fake: AwsFake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = walk(AwsCollector.from_config(fake_config(fake)))
    assert [(e.scope, e.code) for e in result.errors] == [("aws:default", "NoCredentialsError")]


def test_account_id_must_match_the_credentials(fake: AwsFake) -> None:
    result = walk(AwsCollector.from_config(fake_config(fake, accounts=[{"id": OTHER}])))
    assert [(e.scope, e.code) for e in result.errors] == [(f"aws:{OTHER}", "AccountMismatch")]


def test_bad_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"regions.*'EU west'"):
        AwsCollector.from_config({"regions": ["EU west"]})
    with pytest.raises(ConfigError, match="endpoint_url"):
        AwsCollector.from_config({"endpoint_url": "127.0.0.1:4566"})
    with pytest.raises(ConfigError, match="max_attempts"):
        AwsCollector.from_config({"max_attempts": 0})


def test_concurrent_run_matches_the_sequential_walk(fake: AwsFake) -> None:
    """Through the runner with 16 threads over an organization: same records, one client per account x region."""
    org_tree(fake)
    for account in fake.accounts:
        for n, region in enumerate(DEFAULT_REGIONS):
            fake.add_interface(account, region, public_ips=[f"3.{int(account[0])}.{n}.9"])
    config = fake_config(fake, organization={"member_role_name": "OrganizationAccountAccessRole"})
    sequential = walk(AwsCollector.from_config(config))
    collector = AwsCollector.from_config(config)
    discovery = run_collectors([collector], concurrency=16)
    collector.close()
    assert discovery.errors == []
    assert sorted(discovery.records, key=lambda r: r.ip) == sorted(sequential.records, key=lambda r: r.ip)
    assert len(discovery.records) == 5 * len(DEFAULT_REGIONS) + 5
