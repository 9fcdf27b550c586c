"""The sandbox fake speaks EC2's real XML; `start_demo` + the collector yield exactly the demo's expected regions."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.parsers import create_parser

from agent.collectors.aws.collector import AwsCollector
from agent.sandbox.aws import AwsFake, start_demo

from .conftest import MGMT, walk

DATA = Path(__file__).resolve().parents[2] / "data" / "aws"


def shape_keys(value: Any) -> set[str]:
    """Every key path in a parsed response (list items merged), e.g. ``NetworkInterfaces.Attachment.InstanceId``."""
    keys: set[str] = set()

    def visit(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                if key != "ResponseMetadata":
                    keys.add(prefix + key)
                    visit(child, prefix + key + ".")
        elif isinstance(node, list):
            for child in node:
                visit(child, prefix)

    visit(value, "")
    return keys


@pytest.mark.parametrize(
    ("operation", "example"),
    [
        ("DescribeNetworkInterfaces", "ec2-describe-network-interfaces"),
        ("DescribeAddresses", "ec2-describe-addresses"),
        ("DescribeRegions", "ec2-describe-regions"),
    ],
)
def test_fake_answers_have_the_fields_of_real_ec2_answers(fake: AwsFake, operation: str, example: str) -> None:
    """botocore parses the fake's XML into at least the fields it parses out of AWS's own example response."""
    ec2 = boto3.Session().client("ec2", region_name="ap-southeast-1", endpoint_url=fake.url)  # today's env keys
    model = ec2.meta.service_model.operation_model(operation)
    parser = create_parser("ec2")
    real_xml = (DATA / f"{example}.xml").read_bytes()
    real = parser.parse({"body": real_xml, "headers": {}, "status_code": 200}, model.output_shape)
    expected = json.loads((DATA / f"{example}.json").read_text())
    assert shape_keys(real) == shape_keys(expected)  # the example pair agrees with this botocore
    fake.add_address(MGMT, "ap-southeast-1", "54.245.81.77", network_interface_id="eni-1", instance_id="i-1",
                     private_ip="10.0.0.146")  # fmt: skip
    fake.add_interface(MGMT, "ap-southeast-1", id="eni-1", instance_id="i-1", public_ips=["54.245.81.77", None],
                       private_ips=["10.0.0.146", "10.0.0.148"])  # fmt: skip
    ours = getattr(ec2, ec2.meta.method_to_api_mapping and _snake(operation))()
    # Real optional fields the fake does not model, and EC2-Classic leftovers.
    not_modelled = {"NetworkInterfaces.Groups.GroupId", "NetworkInterfaces.Groups.GroupName",
                    "NetworkInterfaces.Attachment.AttachTime", "Addresses.InstanceId"}  # fmt: skip
    assert shape_keys(real) - not_modelled <= shape_keys(ours)


def _snake(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def test_demo_yields_exactly_the_expected_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    """`start_demo`'s config and environment, through the collector: every expected IP in its region, nothing else."""
    with contextlib.ExitStack() as stack:
        demo = start_demo(stack)
        for key, value in demo.env.items():
            monkeypatch.setenv(key, value)
        result = walk(AwsCollector.from_config(demo.config))
    assert result.errors == []
    assert result.regions() == demo.expected_regions
    assert set(demo.expected_regions) < set(demo.origin_ips)  # one origin IP must stay unmapped
    assert demo.source == "aws"
