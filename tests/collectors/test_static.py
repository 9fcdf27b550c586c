"""The static inventory source: CSV, JSON and YAML files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.collectors.runner import run_collectors
from agent.collectors.static.collector import StaticCollector
from agent.collectors.static.config import StaticConfig


def collect(*paths: Path):
    return run_collectors([StaticCollector.from_config(StaticConfig(paths=paths))])


def test_csv_json_yaml(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "ip,vendor,region,account,resource_id,kind\n"
        "192.0.2.1,aws,us-east-1,111,i-1,instance\n2001:DB8::1,GCP,us-central1,,,\n"
    )
    (tmp_path / "b.json").write_text(
        json.dumps({"addresses": [{"ip": "192.0.2.2", "vendor": "azure", "region": "eastus"}]})
    )
    (tmp_path / "c.yaml").write_text("- {ip: 192.0.2.3, vendor: oci, region: us-ashburn-1}\n")
    d = collect(tmp_path / "a.csv", tmp_path / "b.json", tmp_path / "c.yaml")
    assert d.errors == []
    got = {(r.ip, r.vendor.value, r.region, r.account, r.kind, r.confidence.value) for r in d.records}
    assert got == {
        ("192.0.2.1", "aws", "us-east-1", "111", "instance", "static"),
        ("2001:db8::1", "gcp", "us-central1", "", "static", "static"),
        ("192.0.2.2", "azure", "eastus", "", "static", "static"),
        ("192.0.2.3", "oci", "us-ashburn-1", "", "static", "static"),
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("10.0.0.0/8,aws,us-east-1", "row 3: field 'ip': invalid IP address '10.0.0.0/8': a CIDR prefix"),
        ("192.0.2.9,alibaba,cn-1", "row 3: field 'vendor': 'alibaba' is not one of aws, azure, gcp, oci"),
        ("192.0.2.9,aws,", "row 3: field 'region': missing or empty"),
    ],
)
def test_bad_rows_are_named_and_fail_the_scope_but_keep_good_rows(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "inv.csv"
    path.write_text(f"ip,vendor,region\n192.0.2.1,aws,us-east-1\n{row}\n")
    d = collect(path)
    assert [r.ip for r in d.records] == ["192.0.2.1"]
    (error,) = d.errors
    assert error.code == "BadInventory" and message in error.message


def test_unreadable_file(tmp_path: Path) -> None:
    d = collect(tmp_path / "missing.csv")
    assert d.errors[0].code == "BadInventory" and "cannot read" in d.errors[0].message
