"""agent/permissions.py's AWS grants cover exactly the operations the collector performs against the sandbox fake.

Every configuration branch that calls a different API is run in full (organization with and without OUs, regions
discovered and listed); the fake records every signed request's (service, action).
"""

from __future__ import annotations

from typing import Any

from agent.collectors.aws.collector import AwsCollector
from agent.collectors.runner import run_collectors
from agent.permissions import AWS
from agent.sandbox.aws import AwsFake

from .conftest import MGMT, fake_config

ROLE = "OrganizationAccountAccessRole"


def seed_organization(fake: AwsFake) -> None:
    fake.create_organization(MGMT)
    prod = fake.add_ou(fake.root_id, "ou-f4k3-prod0001")
    web = fake.add_ou(prod, "ou-f4k3-web00001")
    for account, parent in [("222222222222", None), ("333333333333", prod), ("555555555555", web)]:
        fake.add_account(account)
        fake.join_organization(account, parent)
        fake.add_role(account, ROLE, trusted_accounts=[MGMT])
        fake.add_address(account, "eu-west-1", f"54.247.{account[0]}.1")
        fake.add_interface(account, "us-east-1", public_ips=[f"52.4.{account[0]}.2"], ipv6=[f"2600:1f18::{account[0]}"])
    fake.add_address(MGMT, "eu-west-1", "54.247.1.1")


def performed(fake: AwsFake, config: dict[str, Any]) -> set[str]:
    """The operations of one full discovery run (the fake's record is cleared first)."""
    fake.calls.clear()
    discovery = run_collectors([AwsCollector.from_config(config)], concurrency=4)
    assert not discovery.errors, discovery.errors
    assert discovery.records
    return {f"{service}:{action}" for service, action in fake.calls}


def test_grants_cover_exactly_the_operations_of_a_full_run(fake: AwsFake) -> None:
    seed_organization(fake)
    every_ou = fake_config(
        fake, organization={"member_role_name": ROLE, "organizational_units": [fake.root_id]}
    )  # regions discovered per account: DescribeRegions
    whole_org = fake_config(fake, regions=["eu-west-1", "us-east-1"], organization={"member_role_name": ROLE})
    fake.add_aggregator("org-agg", MGMT, "us-east-1")
    engine = fake_config(
        fake, mode="config_aggregator", aggregator_name="org-agg", config_endpoint_url=fake.url
    )  # AWS Config advanced queries instead of the per-account walk
    operations = performed(fake, every_ou) | performed(fake, whole_org) | performed(fake, engine)
    granted = AWS.operations | set(AWS.free_operations)
    assert operations - granted == set(), "operations performed without a grant"
    assert granted - operations == set(), "grants (or free operations) nobody performs"


def test_a_single_account_needs_only_the_ec2_reads(fake: AwsFake) -> None:
    """The default credential chain, one account: the ec2 grants marked "always" plus DescribeRegions."""
    fake.add_address(MGMT, "eu-west-1", "54.247.1.1")
    operations = performed(fake, fake_config(fake))
    assert operations == {"ec2:DescribeRegions", "ec2:DescribeAddresses", "ec2:DescribeNetworkInterfaces"} | set(
        AWS.free_operations
    )
    always = {op for g in AWS.grants if g.when == "always" for op in g.operations}
    assert always <= operations
