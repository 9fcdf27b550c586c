"""Every field the compute fake emits exists, with the right JSON type and enum value, in the real discovery doc."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from gcp_testkit import MakeCollector

from agent.collectors.runner import run_collectors
from agent.sandbox.gcp import FakeGcp

DISCOVERY = Path(__file__).parents[2] / "data" / "gcp-compute.v1.discovery.json.gz"  # compute v1, rev. 20261106


@pytest.fixture(scope="module")
def discovery() -> dict[str, Any]:
    with gzip.open(DISCOVERY) as handle:
        doc: dict[str, Any] = json.load(handle)
    return doc


def response_schema(discovery: dict[str, Any], method: str) -> str:
    """``addresses.aggregatedList`` → the ``$ref`` of that method's response in the discovery document."""
    resource, name = method.split(".")
    ref: str = discovery["resources"][resource]["methods"][name]["response"]["$ref"]
    return ref


def walk(value: Any, schema: dict[str, Any], schemas: dict[str, Any], path: str, problems: list[str]) -> None:
    """Check `value` against a discovery schema, following ``$ref``, ``items`` and ``additionalProperties``."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {value!r}")
            return
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                walk(item, properties[key], schemas, f"{path}.{key}", problems)
            elif "additionalProperties" in schema:
                walk(item, schema["additionalProperties"], schemas, f"{path}[{key!r}]", problems)
            else:
                problems.append(f"{path}.{key}: not in the schema")
    elif kind == "array":
        if not isinstance(value, list):
            problems.append(f"{path}: expected an array, got {value!r}")
            return
        for i, item in enumerate(value):
            walk(item, schema["items"], schemas, f"{path}[{i}]", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string (int64/uint64 are strings too), got {value!r}")
        elif "enum" in schema and value not in schema["enum"]:
            problems.append(f"{path}: {value!r} is not one of the enum values")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {value!r}")
    elif kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{path}: expected a number, got {value!r}")
    else:
        problems.append(f"{path}: schema without a type: {schema}")


def test_walker_catches_unknown_fields_and_bad_enums(discovery: dict[str, Any]) -> None:
    """The checker itself fails on a misspelt field, a wrong type and an unknown enum value."""
    problems: list[str] = []
    bad = {"items": [{"address": "1.2.3.4", "adressType": "EXTERNAL", "status": "USED", "prefixLength": "96"}]}
    walk(bad, {"$ref": "AddressList"}, discovery["schemas"], "$", problems)
    assert len(problems) == 3, problems


def test_every_emitted_field_is_in_the_discovery_document(
    fake: FakeGcp, make_collector: MakeCollector, discovery: dict[str, Any]
) -> None:
    """All five list calls, with every kind of item, warnings and paging: nothing the real API would not send."""
    fake.add_project("full-proj")
    fake.add_address("full-proj", "a", "34.1.1.1", region="us-central1")
    fake.add_address("full-proj", "b", "2600:1901:0:1::", region="europe-west1", prefix_length=96, status="RESERVED")
    fake.add_address("full-proj", "i", "10.0.0.2", region="europe-west1", address_type="INTERNAL")
    fake.add_address("full-proj", "g", "34.117.0.1")
    fake.add_instance("full-proj", "vm", zone="us-east1-c", nat_ips=("34.2.2.2", "34.2.2.3"), external_ipv6=("2600::",))
    fake.add_instance("full-proj", "bare", zone="asia-east1-a", status="TERMINATED")
    fake.add_forwarding_rule("full-proj", "fr", "34.3.3.3", region="us-east1", scheme="EXTERNAL_MANAGED")
    fake.add_forwarding_rule("full-proj", "ilb", "10.3.3.3", region="us-east1", scheme="INTERNAL")
    fake.add_forwarding_rule("full-proj", "gfr", "34.120.0.1")
    found = run_collectors([make_collector(projects=["full-proj"], page_size=2)], concurrency=1)
    assert found.errors == []
    methods = {method for method, _ in fake.emitted}
    assert methods == {
        "addresses.aggregatedList",
        "instances.aggregatedList",
        "forwardingRules.aggregatedList",
        "globalAddresses.list",
        "globalForwardingRules.list",
    }
    problems: list[str] = []
    for method, body in fake.emitted:
        walk(body, {"$ref": response_schema(discovery, method)}, discovery["schemas"], method, problems)
    assert problems == []
    assert any("nextPageToken" in body for _, body in fake.emitted)
