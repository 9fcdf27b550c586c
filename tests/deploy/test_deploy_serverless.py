"""Serverless templates: SAM (cfn-lint), Cloud Run job + Scheduler, Azure host.json, OCI func.yaml."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import load_config
from agent.permissions import aws_actions

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags (!Ref, !Sub, !GetAtt) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return yaml.load((DEPLOY / "aws" / "template.yaml").read_text(), Loader=_CfnLoader)


def test_sam_template_passes_cfn_lint():
    """cfn-lint (with the SAM transform) reports nothing."""
    cfn_lint = shutil.which("cfn-lint")
    if cfn_lint is None:
        pytest.skip("cfn-lint is not installed")
    out = subprocess.run([cfn_lint, str(DEPLOY / "aws" / "template.yaml")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_sam_function_schedule_and_limits(sam):
    """The handler path resolves, the timeout is Lambda's max, one run at a time, EventBridge Scheduler (ScheduleV2)."""
    fn = sam["Resources"]["AgentFunction"]["Properties"]
    module, _, attr = fn["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), attr))
    assert fn["Timeout"] <= 900
    assert fn["ReservedConcurrentExecutions"] == 1
    (event,) = fn["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] <= 2
    env = fn["Environment"]["Variables"]
    assert "CLOUDFLARE_API_TOKEN" not in env  # the token is fetched from Secrets Manager at cold start
    assert "CLOUDFLARE_API_TOKEN_SECRET_ARN" in env
    assert float(env["ORIGIN_REGION_AGENT_SAFETY_MARGIN_S"]) < fn["Timeout"]


def test_sam_role_is_least_privilege(sam):
    """agent/permissions.py's AWS actions exactly, GetSecretValue on the one secret, AssumeRole on the member role."""
    (policy,) = sam["Resources"]["AgentFunction"]["Properties"]["Policies"]
    actions: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        actions.update(listed)
        if "secretsmanager:GetSecretValue" in listed:
            assert statement["Resource"] == {"Ref": "CloudflareTokenSecretArn"}
        if "sts:AssumeRole" in listed:
            assert "MemberRoleName" in json.dumps(statement["Resource"])
    assert sorted(actions - {"secretsmanager:GetSecretValue"}) == sorted(aws_actions())
    for action in actions:
        _service, _, verb = action.partition(":")
        assert "*" not in action
        assert verb.startswith(("Describe", "List", "Get")) or action == "sts:AssumeRole", action


@pytest.mark.parametrize("path", ["aws/config.yaml", "azure/config.yaml", "oci/config.yaml"])
def test_shipped_serverless_configs_load(path):
    """The config files shipped with the templates are valid."""
    cfg = load_config(str(DEPLOY / path), env={"CLOUDFLARE_API_TOKEN": "x" * 40})
    assert cfg.policy in ("create-only", "upsert")
    assert not cfg.metrics.pushgateway_url  # ${PUSHGATEWAY_URL:-} is empty unless set


def test_cloud_run_job_definition():
    """The job runs `python -m agent.handlers.gcp`, the budget is under the task timeout, the token is a secret."""
    job = yaml.safe_load((DEPLOY / "gcp" / "job.yaml").read_text())
    task = job["spec"]["template"]["spec"]["template"]["spec"]
    (container,) = task["containers"]
    assert container["command"][-2:] == ["-m", "agent.handlers.gcp"]
    importlib.import_module(container["command"][-1])
    env = {e["name"]: e for e in container["env"]}
    assert float(env["ORIGIN_REGION_AGENT_TIME_BUDGET_S"]["value"]) < task["timeoutSeconds"]
    assert "secretKeyRef" in env["CLOUDFLARE_API_TOKEN"]["valueFrom"]


def test_cloud_scheduler_targets_the_job_run_endpoint():
    """Scheduler (KRM and script) POSTs to the Cloud Run Admin API jobs :run with an OAuth token."""
    scheduler = yaml.safe_load((DEPLOY / "gcp" / "scheduler.yaml").read_text())["spec"]
    assert scheduler["httpTarget"]["uri"].endswith("/jobs/origin-region-agent:run")
    assert scheduler["httpTarget"]["httpMethod"] == "POST"
    assert "oauthToken" in scheduler["httpTarget"]
    script = DEPLOY / "gcp" / "deploy.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    assert "--oauth-service-account-email" in text and ":run" in text
    if shutil.which("shellcheck"):
        out = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout


def test_azure_host_json_and_requirements():
    """host.json sets a functionTimeout the handler understands; the app requires the azure extra."""
    host = json.loads((DEPLOY / "azure" / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["functionTimeout"] == "00:10:00"
    assert "_agent-" in (DEPLOY / "azure" / "requirements.txt").read_text()  # the local wheel (test_install_*)


def test_oci_func_yaml():
    """func.yaml: python runtime, entrypoint = func.py's handler, timeout within the 300 s synchronous limit."""
    func = yaml.safe_load((DEPLOY / "oci" / "func.yaml").read_text())
    assert func["runtime"] == "python"
    assert func["entrypoint"].endswith("func.py handler")
    assert func["timeout"] <= 300
    assert "_agent-" in (DEPLOY / "oci" / "requirements.txt").read_text()  # the local wheel (test_install_*)
