"""deploy/gcp/deploy.sh, run for real with a stub `gcloud` on PATH that records every call and keeps the files given.

The stub answers `describe` with "not found" (exit 1) on a first deploy and with success on a second, so both the
create and the update paths run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import __version__

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "gcp" / "deploy.sh"
PROJECT = "acme-prod-1"
REGION = "europe-west1"

STUB = r"""#!/usr/bin/env python3
import json, os, shutil, sys
from pathlib import Path
record = Path(os.environ["GCLOUD_STUB_DIR"])
calls = record / "calls.jsonl"
n = sum(1 for _ in calls.open()) if calls.exists() else 0
kept = {}
for i, arg in enumerate(sys.argv[1:]):
    value = arg.split("=", 1)[1] if arg.startswith("--data-file=") else arg
    if os.path.isfile(value):
        copy = record / f"file-{n}-{i}"
        shutil.copyfile(value, copy)
        kept[value] = str(copy)
with calls.open("a") as out:
    out.write(json.dumps({"argv": sys.argv[1:], "files": kept}) + "\n")
if "describe" in sys.argv[1:]:
    sys.exit(0 if os.environ.get("GCLOUD_STUB_EXISTS") == "1" else 1)
"""


def run_deploy(tmp_path: Path, *, exists: bool = False, extra_env: dict[str, str] | None = None) -> Any:
    record = tmp_path / "record"
    record.mkdir(exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "gcloud"
    stub.write_text(STUB)
    stub.chmod(0o755)
    config = tmp_path / "config.yaml"
    config.write_text("zones:\n  - name: example.com\ninventory:\n  gcp: {}\n")
    token = tmp_path / "token.txt"
    token.write_text("cf-token-value\n")
    home = tmp_path / "home"  # a gcloud config write would land here
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "GCLOUD_STUB_DIR": str(record),
        "GCLOUD_STUB_EXISTS": "1" if exists else "0",
        "PROJECT": PROJECT,
        "REGION": REGION,
        **(extra_env or {}),
    }
    out = subprocess.run(
        ["bash", str(SCRIPT), str(config), str(token)], env=env, capture_output=True, text=True, timeout=60
    )
    calls = (
        [json.loads(line) for line in (record / "calls.jsonl").read_text().splitlines()]
        if (record / "calls.jsonl").exists()
        else []
    )
    return out, calls, tmp_path


def rendered_job(calls: list[dict[str, Any]]) -> dict[str, Any]:
    (call,) = [c for c in calls if c["argv"][2:5] == ["run", "jobs", "replace"]]
    (path,) = call["files"].values()
    return yaml.safe_load(Path(path).read_text())


def test_rendered_job_keeps_env_names_and_fills_every_placeholder(tmp_path):
    """gcloud receives a job with ORIGIN_REGION_AGENT_* names intact and project, region, image filled in."""
    out, calls, _ = run_deploy(tmp_path)
    assert out.returncode == 0, out.stderr
    job = rendered_job(calls)
    text = yaml.safe_dump(job)
    assert "${" not in text and "PROJECT" not in text.replace("ORIGIN_REGION_AGENT", "")
    assert REGION not in json.dumps([e["name"] for e in _container(job)["env"]])
    names = {e["name"] for e in _container(job)["env"]}
    assert {"ORIGIN_REGION_AGENT_CONFIG", "ORIGIN_REGION_AGENT_TIME_BUDGET_S", "CLOUDFLARE_API_TOKEN"} <= names
    assert job["metadata"]["namespace"] == PROJECT
    task = job["spec"]["template"]["spec"]["template"]["spec"]
    assert task["serviceAccountName"] == f"origin-region-agent@{PROJECT}.iam.gserviceaccount.com"
    assert _container(job)["image"] == (
        f"{REGION}-docker.pkg.dev/{PROJECT}/origin-region-agent/origin-region-agent:{__version__}-gcp"
    )


def test_the_rendered_config_loads_as_the_job_would_load_it(tmp_path):
    """The env the rendered job sets points load_config at the mounted file; the secret contents are the given files."""
    from agent.config import load_config

    out, calls, _ = run_deploy(tmp_path)
    assert out.returncode == 0, out.stderr
    env = {e["name"]: e.get("value") for e in _container(rendered_job(calls))["env"]}
    secrets = {c["argv"][5]: c for c in calls if c["argv"][2:5] == ["secrets", "versions", "add"]}
    config_copy = Path(next(iter(secrets["origin-region-agent-config"]["files"].values())))
    token_copy = Path(next(iter(secrets["cloudflare-api-token"]["files"].values())))
    assert token_copy.read_text() == "cf-token-value\n"
    assert env["ORIGIN_REGION_AGENT_CONFIG"].endswith("/config.yaml")
    cfg = load_config(str(config_copy), env={"CLOUDFLARE_API_TOKEN": "x" * 40})
    assert [z.name for z in cfg.zones] == ["example.com"]


def test_every_call_names_the_project_and_none_changes_gcloud_config(tmp_path):
    """--project on each call; no `gcloud config ...`; nothing written under $HOME; the temp render is removed."""
    out, calls, tmp = run_deploy(tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(calls) > 10
    for call in calls:
        assert call["argv"][0] == f"--project={PROJECT}", call
        assert "config" not in call["argv"][1:3], call
    assert not any((tmp / "home").iterdir())
    assert not list(tmp.glob("origin-region-agent-job.*"))  # trap removed the rendered file


def test_first_deploy_creates_and_second_updates(tmp_path):
    """describe fails → create service accounts, secrets, scheduler job; describe succeeds → update, no create."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, first, _ = run_deploy(tmp_path / "a")
    _, second, _ = run_deploy(tmp_path / "b", exists=True)
    verbs_first = [" ".join(c["argv"][2:5]) for c in first]
    verbs_second = [" ".join(c["argv"][2:5]) for c in second]
    assert verbs_first.count("iam service-accounts create") == 2
    assert sum(c["argv"][2:4] == ["secrets", "create"] for c in first) == 2
    assert "scheduler jobs create" in verbs_first
    assert not any("create" in c["argv"][2:5] for c in second)
    assert "scheduler jobs update" in verbs_second
    (sched,) = [c["argv"] for c in second if c["argv"][2:4] == ["scheduler", "jobs"] and "http" in c["argv"]]
    uri = f"https://run.googleapis.com/v2/projects/{PROJECT}/locations/{REGION}/jobs/origin-region-agent:run"
    assert f"--uri={uri}" in sched


def test_explicit_image_and_missing_inputs(tmp_path):
    """IMAGE (a digest) is used as given; an unreadable config file stops before any gcloud call, exit 2."""
    digest = "europe-docker.pkg.dev/acme/ora/origin-region-agent@sha256:" + "a" * 64
    out, calls, _ = run_deploy(tmp_path, extra_env={"IMAGE": digest})
    assert out.returncode == 0, out.stderr
    assert _container(rendered_job(calls))["image"] == digest
    other = tmp_path / "missing"
    other.mkdir()
    out = subprocess.run(
        ["bash", str(SCRIPT), str(other / "nope.yaml"), str(other / "nope.txt")],
        env={**os.environ, "PROJECT": PROJECT, "REGION": REGION, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "cannot read" in out.stderr


@pytest.mark.parametrize("missing", ["PROJECT", "REGION"])
def test_project_and_region_are_required(tmp_path, missing):
    env = {k: v for k, v in {**os.environ, "PROJECT": PROJECT, "REGION": REGION}.items() if k != missing}
    out = subprocess.run(["bash", str(SCRIPT), "a", "b"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and missing in out.stderr


def _container(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["template"]["spec"]["containers"]
    return container
