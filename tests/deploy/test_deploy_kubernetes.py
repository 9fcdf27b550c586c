"""Kubernetes manifests: rendered with kustomize, schema-validated offline, hardened, scanned by checkov."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from agent import __version__
from agent.config import load_config
from agent.errors import ConfigError

KUBERNETES_VERSIONS = ("1.29.0", "1.32.0", kubernetes_validate.latest_version())
TOKEN_PATH = "/var/run/secrets/cloudflare/token"
# overlay → (ServiceAccount annotations it must carry, pod labels it must carry, inventory source of its config)
IDENTITY_OVERLAYS: dict[str, tuple[set[str], set[str], str]] = {
    "kubernetes/overlays/aws-irsa": (
        {"eks.amazonaws.com/role-arn", "eks.amazonaws.com/sts-regional-endpoints"},
        set(),
        "aws",
    ),
    "kubernetes/overlays/aws-pod-identity": (set(), {"origin-region-agent/identity"}, "aws"),
    "kubernetes/overlays/gke": ({"iam.gke.io/gcp-service-account"}, set(), "gcp"),
    "kubernetes/overlays/azure": ({"azure.workload.identity/client-id"}, {"azure.workload.identity/use"}, "azure"),
    "kubernetes/overlays/oci": (set(), set(), "oci"),
}
OVERLAYS = ["kubernetes/base", "kubernetes/overlays/large-org", *IDENTITY_OVERLAYS]
IDENTITY_ANNOTATION_PREFIXES = ("eks.amazonaws.com/", "iam.gke.io/", "azure.workload.identity/")


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return by_kind(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
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
    assert no_retry_exit_codes(job, "FailJob") == {1, 2, 3}


def no_retry_exit_codes(job: dict[str, Any], action: str) -> set[int]:
    """Exit codes of the agent container that end the Job (or index) at once instead of counting against backoff."""
    codes: set[int] = set()
    for rule in job["podFailurePolicy"]["rules"]:
        on = rule.get("onExitCodes")
        if on:
            assert on["containerName"] == "agent" and on["operator"] == "In"
            assert rule["action"] == action, rule
            codes |= set(on["values"])
    return codes


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_partial_failure_waits_for_the_next_schedule(render, overlay):
    """Exit 1 (partial), 2 (config) and 3 (guard) are never retried by backoff; only a killed pod is retried once."""
    job = by_kind(render(overlay), "CronJob")["spec"]["jobTemplate"]["spec"]
    action = "FailIndex" if job.get("completionMode") == "Indexed" else "FailJob"
    assert no_retry_exit_codes(job, action) == {1, 2, 3}
    assert job.get("backoffLimit", job.get("backoffLimitPerIndex")) == 1


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


def identity_of(docs: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(identity annotations of the ServiceAccount, labels of the pod template)."""
    annotations = by_kind(docs, "ServiceAccount")["metadata"].get("annotations") or {}
    template = by_kind(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]
    labels = (template.get("metadata") or {}).get("labels") or {}
    return {a for a in annotations if a.startswith(IDENTITY_ANNOTATION_PREFIXES)}, {
        label for label in labels if not label.startswith("app.kubernetes.io/")
    }


def test_base_carries_no_cloud_identity(render):
    """No workload identity annotation, no Azure webhook label, no SA token: applied as is, nothing is injected."""
    docs = render("kubernetes/base")
    assert identity_of(docs) == (set(), set())
    assert pod_spec(docs)["automountServiceAccountToken"] is False
    assert pod_spec(docs)["serviceAccountName"] == by_kind(docs, "ServiceAccount")["metadata"]["name"]
    assert "nodeSelector" not in pod_spec(docs)


@pytest.mark.parametrize("overlay", sorted(IDENTITY_OVERLAYS))
def test_each_overlay_carries_exactly_its_clouds_identity(render, overlay, tmp_path):
    """One component per cloud: its annotations and labels only, its image, and a config that scans that cloud."""
    docs = render(overlay)
    annotations, labels, source = IDENTITY_OVERLAYS[overlay]
    assert identity_of(docs) == (annotations, labels)
    sa_annotations = by_kind(docs, "ServiceAccount")["metadata"].get("annotations") or {}
    assert not any(
        placeholder in value
        for value in sa_annotations.values()
        for placeholder in ("ACCOUNT_ID", "PROJECT_ID", "CLIENT_ID")
    )  # the overlay filled in the component's placeholders
    spec = pod_spec(docs)
    (container,) = spec["containers"]
    assert container["image"].rsplit(":", 1)[1] == f"{__version__}-{source}"
    assert not container["image"].startswith("ghcr.io/example/")  # the cloud's own registry
    env = env_of(container)
    # OKE workload identity is the only one that reads the pod's own service-account token.
    assert spec["automountServiceAccountToken"] is (source == "oci")
    if source == "oci":
        assert env["OCI_RESOURCE_PRINCIPAL_VERSION"] == "2.2" and env["OCI_RESOURCE_PRINCIPAL_REGION"] != "REGION"
    if overlay.endswith("gke"):
        assert spec["nodeSelector"] == {"iam.gke.io/gke-metadata-server-enabled": "true"}
    path = tmp_path / "config.yaml"
    path.write_text(by_kind(docs, "ConfigMap")["data"]["config.yaml"])
    cfg = load_config(str(path), env={"CLOUDFLARE_API_TOKEN": "x" * 40})
    assert getattr(cfg.inventory, source) is not None
    if source == "oci":
        assert cfg.inventory.oci is not None and cfg.inventory.oci.auth == "oke_workload_identity"


def test_every_identity_component_has_an_overlay(deploy_dir):
    """Each component under deploy/kubernetes/components is used by an example overlay."""
    components = {p.name for p in (deploy_dir / "kubernetes" / "components").iterdir() if p.is_dir()}
    used = {
        Path(c).name
        for overlay in (deploy_dir / "kubernetes" / "overlays").iterdir()
        for c in yaml.safe_load((overlay / "kustomization.yaml").read_text()).get("components", [])
    }
    assert components == used and len(components) == 5


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


@pytest.mark.parametrize("overlay", OVERLAYS)
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
        [checkov, *args, "--output", "json", "--quiet", "--skip-download"],
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


def test_checkov_finds_nothing_in_all_of_deploy(checkov, deploy_dir):
    """`checkov -d deploy/` (every framework: Kubernetes, Dockerfile, SAM/CloudFormation): no failed check.

    Every skip is inline and carries its reason (annotations, `# checkov:skip=` comments, SAM Metadata).
    """
    passed, failed = _checkov(checkov, "-d", str(deploy_dir))
    assert failed == []
    assert passed > 200  # it did scan the manifests, the Dockerfile and the SAM template


def test_every_checkov_skip_gives_a_reason(deploy_dir):
    """A suppression without its reason would hide a finding nobody judged."""
    import re

    skips = 0
    for path in deploy_dir.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text()
        for match in re.finditer(r"checkov\.io/skip\d+: (CKV\w+)=(.*)|checkov:skip=(CKV\w+):(.*)", text):
            reason = match.group(2) or match.group(4)
            assert len(reason.strip()) > 20, (path, match.group(0))
            skips += 1
        for match in re.finditer(r"- id: (CKV\w+)\n\s+comment: >-\n\s+(\S.*)", text):
            assert len(match.group(2)) > 20
            skips += 1
    assert skips >= 10


def test_checkov_finds_nothing_in_the_rendered_output(checkov, render, tmp_path):
    """The rendered manifests of every overlay (what is applied, components and patches included) pass checkov."""
    for overlay in OVERLAYS:
        (tmp_path / (overlay.replace("/", "-") + ".yaml")).write_text(yaml.safe_dump_all(render(overlay)))
    passed, failed = _checkov(checkov, "-d", str(tmp_path), "--framework", "kubernetes")
    assert failed == []
    assert passed > 50 * len(OVERLAYS)
