"""The AWS collector against moto in server mode: regions, Elastic IPs, instance public IPs, IPv6, Organizations."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from agent.collectors.aws.collector import AwsCollector
from agent.collectors.runner import run_collectors

from .conftest import walk

MOTO_ACCOUNT = "123456789012"  # moto's default account


def config(moto: str, **overrides: Any) -> dict[str, Any]:
    return {"endpoint_url": moto, "sts_endpoint_url": moto, "organizations_endpoint_url": moto, "max_attempts": 1,
            **overrides}  # fmt: skip


def client(moto: str, service: str, region: str = "us-east-1", **credentials: str) -> Any:
    return boto3.Session().client(service, region_name=region, endpoint_url=moto, **credentials)


def seed_region(moto: str, region: str, **credentials: str) -> dict[str, Any]:
    """A dual-stack VPC, a public subnet, two instances (one behind an EIP), an ENI with two IPv6, a free EIP."""
    ec2 = client(moto, "ec2", region, **credentials)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    v6 = ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.1.0/24", Ipv6CidrBlock=v6.replace("/56", "/64"))
    subnet_id = subnet["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    instances = ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2, SubnetId=subnet_id)["Instances"]
    ids = [i["InstanceId"] for i in instances]
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=ids[1])
    free = ec2.allocate_address(Domain="vpc")
    eni = ec2.create_network_interface(SubnetId=subnet_id, Ipv6AddressCount=2)["NetworkInterface"]
    described = ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"][0]["Instances"][0]
    return {
        "instance": (described["PublicIpAddress"], ids[0]),
        "eip": (eip["PublicIp"], eip["AllocationId"]),
        "free": (free["PublicIp"], free["AllocationId"]),
        "ipv6": [a["Ipv6Address"] for a in eni["Ipv6Addresses"]],
        "eni": eni["NetworkInterfaceId"],
    }


def test_regions_eips_instances_and_ipv6(moto: str) -> None:
    """moto's 127.x Elastic IPs are kept; instance IPs, IPv6 on interfaces and each region's own addresses come back."""
    east = seed_region(moto, "us-east-1")
    west = seed_region(moto, "eu-west-1")
    result = walk(AwsCollector.from_config(config(moto, regions=["us-east-1", "eu-west-1"])))
    assert result.errors == []
    records = result.by_ip()
    for region, seeded in (("us-east-1", east), ("eu-west-1", west)):
        ip, instance = seeded["instance"]
        assert (records[ip].region, records[ip].kind, records[ip].resource_id) == (region, "instance", instance)
        for key in ("eip", "free"):
            ip, allocation = seeded[key]
            assert ip.startswith("127.")  # moto's EIP pool: a collector filtering non-global IPs would lose them
            assert (records[ip].region, records[ip].kind, records[ip].resource_id) == (region, "elastic-ip", allocation)
        assert len(seeded["ipv6"]) == 2
        for ip in seeded["ipv6"]:
            assert (records[ip].region, records[ip].resource_id) == (region, seeded["eni"])
    assert {r.account for r in result.records} == {MOTO_ACCOUNT}
    # The associated EIP shows up on the instance's interface too, but is reported once, as the EIP.
    eip_ip = east["eip"][0]
    assert sum(1 for r in result.records if r.ip == eip_ip) == 1
    assert dict(records[eip_ip].details)["instance_id"]


def test_every_enabled_region_despite_moto_ignoring_the_opt_in_filter(moto: str) -> None:
    """moto returns not-opted-in regions too: the client-side filter drops them."""
    everything = client(moto, "ec2").describe_regions(AllRegions=True)["Regions"]
    enabled = sorted(r["RegionName"] for r in everything if r["OptInStatus"] != "not-opted-in")
    assert len(enabled) < len(everything)  # the premise: moto lists disabled regions
    collector = AwsCollector.from_config(config(moto))
    (root,) = collector.scopes()
    leaves = list(collector.collect(root))
    assert sorted(s.path[1] for s in leaves) == enabled
    assert {s.path[0] for s in leaves} == {MOTO_ACCOUNT}
    collector.close()


def test_organization_accounts_through_assume_role(moto: str) -> None:
    """Organizations lists the member accounts; each is read through the member role, with its own EC2 state."""
    org = client(moto, "organizations")
    org.create_organization(FeatureSet="ALL")
    children = []
    for n in range(2):
        status = org.create_account(Email=f"member{n}@example.com", AccountName=f"member{n}")["CreateAccountStatus"]
        children.append(status["AccountId"])
    sts = client(moto, "sts")
    expected: dict[str, tuple[str, str]] = {}
    for child in children:
        role = f"arn:aws:iam::{child}:role/OrganizationAccountAccessRole"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="seed")["Credentials"]
        keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"]}  # fmt: skip
        ip = client(moto, "ec2", "eu-west-1", **keys).allocate_address(Domain="vpc")["PublicIp"]
        expected[ip] = (child, "eu-west-1")
    own = client(moto, "ec2", "us-east-1").allocate_address(Domain="vpc")["PublicIp"]
    expected[own] = (MOTO_ACCOUNT, "us-east-1")
    collector = AwsCollector.from_config(
        config(
            moto, regions=["eu-west-1", "us-east-1"], organization={"member_role_name": "OrganizationAccountAccessRole"}
        )
    )
    discovery = run_collectors([collector], concurrency=8)
    collector.close()
    assert discovery.errors == []
    assert {r.ip: (r.account, r.region) for r in discovery.records} == expected
    assert discovery.scopes_done == 1 + 3 + 3 * 2  # organization, accounts, account x region


@pytest.mark.parametrize("env_name", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2"])
def test_endpoint_environment_variables(moto: str, monkeypatch: pytest.MonkeyPatch, env_name: str) -> None:
    """boto3's own endpoint variables reach every client the collector builds."""
    ip = client(moto, "ec2", "eu-west-1").allocate_address(Domain="vpc")["PublicIp"]
    monkeypatch.setenv(env_name, moto)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto)
    result = walk(AwsCollector.from_config({"max_attempts": 1, "regions": ["eu-west-1"]}))
    assert result.errors == []
    assert result.regions() == {ip: "eu-west-1"}
