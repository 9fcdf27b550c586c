"""The Grafana dashboard and the alert rules use only metric names (and label values) the agent really pushes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.metrics import OUTCOMES, PREFIX, build_registry

OBS = Path(__file__).resolve().parents[2] / "deploy" / "observability"
SUMMARY: dict[str, Any] = {
    "schema_version": 1,
    "exit_code": 0,
    "dry_run": False,
    "duration_s": 12.5,
    "finished_at": "2026-01-01T00:00:00Z",
    "zones": [{"zone": "example.com", "created": 1, "over_cap": []}],
    "discovery": {"complete": True, "sources": {"aws": {"addresses": 3, "scope_errors": 0}}, "vendors": {"aws": 2}},
}


def pushed() -> set[str]:
    """Every metric name a successful run pushes (a success pushes the most names)."""
    return {metric.name for metric in build_registry(SUMMARY).collect()}


def rule_exprs() -> list[str]:
    plain = yaml.safe_load((OBS / "prometheus-rules.yaml").read_text())
    return [rule["expr"] for group in plain["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((OBS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"]]
    return exprs


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_name_is_one_the_agent_pushes(source):
    exprs = rule_exprs() if source == "rules" else dashboard_exprs()
    names = {name for expr in exprs for name in re.findall(rf"\b{PREFIX}_[a-z_]+\b", expr)}
    assert names, "no agent metric found"
    assert names - pushed() == set()


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_outcome_label_value_exists(source):
    exprs = rule_exprs() if source == "rules" else dashboard_exprs()
    outcomes = {value for expr in exprs for value in re.findall(r'outcome="([a-z_]+)"', expr)}
    assert outcomes and outcomes <= set(OUTCOMES)


def test_the_alerts_the_readme_suggests_exist():
    """Run failed or partial, no success in N hours, origins unmapped, over cap, failed writes, incomplete discovery."""
    exprs = " ".join(rule_exprs())
    for fragment in (
        "origin_region_agent_exit_code) >= 2",
        "origin_region_agent_exit_code) == 1",
        "time() - max by (job) (origin_region_agent_last_success_timestamp_seconds)",
        'outcome="unmatched"',
        'outcome="failed"',
        "origin_region_agent_over_cap",
        "origin_region_agent_scope_errors",
    ):
        assert fragment in exprs


def test_prometheus_rule_carries_the_same_groups_as_the_plain_rules():
    plain = yaml.safe_load((OBS / "prometheus-rules.yaml").read_text())
    operator = yaml.safe_load((OBS / "prometheusrule.yaml").read_text())
    assert operator["apiVersion"] == "monitoring.coreos.com/v1" and operator["kind"] == "PrometheusRule"
    assert operator["spec"] == plain


def test_rules_are_well_formed():
    """Each rule: a unique alert name, a severity, a summary; `for` is a Prometheus duration."""
    plain = yaml.safe_load((OBS / "prometheus-rules.yaml").read_text())
    rules = [rule for group in plain["groups"] for rule in group["rules"]]
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smhd]", rule.get("for", "0s"))
        assert rule["expr"].count("(") == rule["expr"].count(")")


def test_dashboard_is_importable():
    """A datasource input to pick at import, a unique uid, panels that do not overlap."""
    dashboard = json.loads((OBS / "grafana-dashboard.json").read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    assert dashboard["uid"] and dashboard["panels"]
    cells = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))
