"""Kubernetes manifests: rendered with kustomize, schema-validated offline, hardened, scanned by checkov."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from agent.config import load_config
from agent.errors import ConfigError

KUBERNETES_VERSIONS = ("1.29.0", "1.32.0", kubernetes_validate.latest_version())
TOKEN_PATH = "/var/run/secrets/cloudflare/token"


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return by_kind(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("overlay", ["kubernetes/base", "kubernetes/overlays/large-org"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_against_the_schema(render, overlay, version):
    """Every rendered object validates strictly (unknown fields are errors) against the bundled schemas."""
    for doc in render(overlay):
        kubernetes_validate.validate(doc, version, strict=True)


def test_cronjob_schedule_and_job_limits(render):
    """Forbid concurrency, deadlines, backoff, history limits, TTL, restartPolicy Never; config errors not retried."""
    cron = by_kind(render("kubernetes/base"), "CronJob")["spec"]
    job = cron["jobTemplate"]["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["startingDeadlineSeconds"] > 0
    assert cron["successfulJobsHistoryLimit"] >= 1 and cron["failedJobsHistoryLimit"] >= 1
    assert job["backoffLimit"] <= 2
    assert 0 < job["activeDeadlineSeconds"] < 30 * 60  # below the 30-minute schedule
    assert job["ttlSecondsAfterFinished"] > 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    fail_rule = job["podFailurePolicy"]["rules"][0]
    assert fail_rule["action"] == "FailJob" and set(fail_rule["onExitCodes"]["values"]) == {2, 3}


def test_pod_is_hardened(render):
    """Non-root 65532, read-only root FS, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp."""
    spec = pod_spec(render("kubernetes/base"))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65532
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["runAsNonRoot"] is True
    resources = container["resources"]
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[part])


def test_token_is_a_file_from_a_secret_and_writable_dirs_are_empty_dirs(render):
    """The token is mounted from a Secret as a file (never an env value); /tmp and the feed cache are emptyDirs."""
    spec = pod_spec(render("kubernetes/base"))
    (container,) = spec["containers"]
    env = env_of(container)
    assert env["CLOUDFLARE_API_TOKEN_FILE"] == TOKEN_PATH
    assert "CLOUDFLARE_API_TOKEN" not in env
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    token_mount = mounts[str(Path(TOKEN_PATH).parent)]
    assert token_mount["readOnly"] is True
    secret = volumes[token_mount["name"]]["secret"]
    assert [i["path"] for i in secret["items"]] == [Path(TOKEN_PATH).name]
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    cache_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == env["XDG_CACHE_HOME"])
    assert "emptyDir" in volumes[cache_mount["name"]]


def test_config_comes_from_a_generated_configmap(render):
    """The ConfigMap is generated from config.yaml (hash-suffixed name) and mounted where --config points."""
    docs = render("kubernetes/base")
    configmap = by_kind(docs, "ConfigMap")
    assert configmap["metadata"]["name"].startswith("origin-region-agent-config-")
    spec = pod_spec(docs)
    volumes = {v["name"]: v for v in spec["volumes"]}
    config_volume = next(v for v in volumes.values() if "configMap" in v)
    assert config_volume["configMap"]["name"] == configmap["metadata"]["name"]
    (container,) = spec["containers"]
    assert "--config=/etc/origin-region-agent/config.yaml" in container["args"]


def test_service_account_carries_the_workload_identity_annotations(render):
    """IRSA, GKE and Azure Workload Identity annotations, and the Azure pod label."""
    docs = render("kubernetes/base")
    annotations = by_kind(docs, "ServiceAccount")["metadata"]["annotations"]
    assert {"eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account", "azure.workload.identity/client-id"} <= set(
        annotations
    )
    labels = by_kind(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["azure.workload.identity/use"] == "true"
    assert pod_spec(docs)["serviceAccountName"] == by_kind(docs, "ServiceAccount")["metadata"]["name"]


def test_large_org_overlay_is_an_indexed_job_of_shards(render):
    """Indexed, completions == parallelism == ORIGIN_REGION_AGENT_SHARDS, per-index retries, `sync --shard=auto`."""
    docs = render("kubernetes/overlays/large-org")
    job = by_kind(docs, "CronJob")["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    assert "backoffLimitPerIndex" in job and "backoffLimit" not in job
    (container,) = job["template"]["spec"]["containers"]
    shards = int(env_of(container)["ORIGIN_REGION_AGENT_SHARDS"])
    assert job["completions"] == job["parallelism"] == shards > 1
    assert "--shard=auto" in container["args"] and container["args"][0] == "sync"
    assert job["podFailurePolicy"]["rules"][0]["action"] == "FailIndex"


@pytest.mark.parametrize("overlay", ["kubernetes/base", "kubernetes/overlays/large-org"])
def test_shipped_configs_load(render, overlay, tmp_path):
    """The config in each ConfigMap is valid for load_config, as each pod of the job would load it."""
    docs = render(overlay)
    (container,) = pod_spec(docs)["containers"]
    env = {"CLOUDFLARE_API_TOKEN_FILE": str(tmp_path / "token"), "JOB_COMPLETION_INDEX": "1"}
    env.update({k: v for k, v in env_of(container).items() if isinstance(v, str) and k.startswith("ORIGIN_")})
    path = tmp_path / "config.yaml"
    path.write_text(by_kind(docs, "ConfigMap")["data"]["config.yaml"])
    overrides = {"shard": "auto"} if "--shard=auto" in container["args"] else None
    cfg = load_config(str(path), env=env, overrides=overrides)
    assert cfg.policy != "sync" or cfg.shard is None
    if overrides:
        assert cfg.shard == (1, int(env["ORIGIN_REGION_AGENT_SHARDS"]))


def test_large_org_config_with_policy_sync_is_refused(render, tmp_path):
    """The overlay relies on the agent refusing `sync` when sharded: check that it does."""
    docs = render("kubernetes/overlays/large-org")
    path = tmp_path / "config.yaml"
    path.write_text(by_kind(docs, "ConfigMap")["data"]["config.yaml"].replace("policy: upsert", "policy: sync"))
    env = {"JOB_COMPLETION_INDEX": "0", "ORIGIN_REGION_AGENT_SHARDS": "4", "CLOUDFLARE_API_TOKEN": "x" * 40}
    with pytest.raises(ConfigError, match="sync"):
        load_config(str(path), env=env, overrides={"shard": "auto"})


def _checkov(checkov: str, *args: str) -> tuple[int, list[tuple[str, str]]]:
    """(number of passed checks, [(check id, resource)] of failed ones)."""
    out = subprocess.run(
        [checkov, *args, "--framework", "kubernetes", "--output", "json", "--quiet", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.stdout.strip(), out.stderr[-2000:]
    reports = json.loads(out.stdout)
    reports = [r for r in (reports if isinstance(reports, list) else [reports]) if isinstance(r, dict)]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    failed = [(f["check_id"], f["resource"]) for r in reports for f in r.get("results", {}).get("failed_checks", [])]
    return passed, failed


def test_checkov_finds_nothing_in_the_sources(checkov, deploy_dir):
    """`checkov -d deploy/kubernetes --framework kubernetes`: no failed check (skips are annotated with a reason)."""
    passed, failed = _checkov(checkov, "-d", str(deploy_dir / "kubernetes"))
    assert failed == []
    assert passed > 50  # it did scan the CronJob and the ServiceAccount


def test_checkov_finds_nothing_in_the_rendered_output(checkov, render, tmp_path):
    """The rendered manifests (what is applied, overlay patches included) pass checkov too."""
    import yaml

    for overlay in ("kubernetes/base", "kubernetes/overlays/large-org"):
        (tmp_path / (overlay.replace("/", "-") + ".yaml")).write_text(yaml.safe_dump_all(render(overlay)))
    passed, failed = _checkov(checkov, "-d", str(tmp_path))
    assert failed == []
    assert passed > 100
