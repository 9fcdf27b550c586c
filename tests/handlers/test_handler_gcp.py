"""Google Cloud: the Cloud Run job entry (shard from the task index) and the functions-framework HTTP function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import functions_framework
import pytest

from agent.handlers import gcp

SOURCE = str(Path(gcp.__file__))


def test_run_job_single_task(setup, cf, zone, expected_mappings):
    """A one-task job runs unsharded and returns the summary."""
    summary = gcp.run_job({**setup.env, "CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "1"})
    assert summary["exit_code"] == 0, summary
    assert summary["shard"] is None
    assert cf.mappings(zone) == expected_mappings


def test_run_job_tasks_are_shards(setup, cf, zone, gateway, expected_mappings):
    """Each task of a 2-task job runs its shard; together they map everything; each pushes under its shard."""
    summaries = [
        gcp.run_job({**setup.env, "CLOUD_RUN_TASK_INDEX": str(i), "CLOUD_RUN_TASK_COUNT": "2"}) for i in range(2)
    ]
    assert [s["shard"] for s in summaries] == ["0/2", "1/2"]
    assert all(s["exit_code"] == 0 for s in summaries), summaries
    assert cf.mappings(zone) == expected_mappings
    assert sorted(p.path for p in gateway.pushes) == [
        "/metrics/job/origin_region_agent/shard/0",
        "/metrics/job/origin_region_agent/shard/1",
    ]


def test_run_job_refuses_sync_when_sharded(setup, cf, zone):
    """policy sync with several tasks is a config error (exit 2): a shard would delete what others own."""
    setup.write(policy="sync")
    summary = gcp.run_job({**setup.env, "CLOUD_RUN_TASK_INDEX": "1", "CLOUD_RUN_TASK_COUNT": "3"})
    assert summary["exit_code"] == 2
    assert "sync" in summary["error"] and "shard" in summary["error"]
    assert cf.mappings(zone) == {}


def test_time_budget_env(setup, cf, zone):
    """ORIGIN_REGION_AGENT_TIME_BUDGET_S below the safety margin: nothing is started, the skip is reported."""
    summary = gcp.run_job({**setup.env, "ORIGIN_REGION_AGENT_TIME_BUDGET_S": "5"})
    assert summary["exit_code"] == 1
    assert summary["skipped"]
    assert cf.mappings(zone) == {}


def test_bad_time_budget_is_named(setup):
    """A non-numeric budget is a config error naming the variable and value."""
    summary = gcp.run_job({**setup.env, "ORIGIN_REGION_AGENT_TIME_BUDGET_S": "ten minutes"})
    assert summary["exit_code"] == 2
    assert "ORIGIN_REGION_AGENT_TIME_BUDGET_S" in summary["error"] and "ten minutes" in summary["error"]


def test_module_entry_exits_with_the_run_exit_code(setup, tmp_path):
    """`python -m agent.handlers.gcp` exits with the summary's exit code (a Cloud Run task fails on config errors)."""
    env = {**os.environ, **setup.env, "CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "1"}
    done = subprocess.run([sys.executable, "-m", "agent.handlers.gcp"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr.splitlines()[-1])["summary"]["exit_code"] == 0
    setup.write(policy="nonsense")
    done = subprocess.run([sys.executable, "-m", "agent.handlers.gcp"], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


@pytest.fixture
def client():
    """The functions-framework test client serving `http_function` from the handler's source file."""
    app = functions_framework.create_app(target="http_function", source=SOURCE, signature_type="http")
    return app.test_client()


def test_http_function_runs_and_returns_json(setup, cf, zone, client, expected_mappings):
    """POST {} → 200 with the JSON summary; mappings are written."""
    response = client.post("/", json={})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.get_json()
    assert body["exit_code"] == 0 and body["version"] == 1
    assert cf.mappings(zone) == expected_mappings


def test_http_function_body_overrides(setup, cf, zone, client):
    """A body with dry_run writes nothing and says so."""
    response = client.post("/", json={"dry_run": True})
    assert response.status_code == 200
    assert response.get_json()["dry_run"] is True
    assert cf.mappings(zone) == {}


def test_http_function_ignores_a_config_path_from_the_caller(setup, cf, zone, client, tmp_path):
    """An HTTP caller cannot point the function at another config file: `config` in the body is dropped."""
    response = client.post("/", json={"config": str(tmp_path / "elsewhere.yaml"), "dry_run": True})
    assert response.status_code == 200
    assert response.get_json()["exit_code"] == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (json.dumps({"overrides": {"policy": "bad"}}).encode(), 400)],
    ids=["malformed", "not-an-object", "bad-override"],
)
def test_http_function_rejects_bad_bodies(setup, cf, zone, client, body, status):
    """Malformed or invalid bodies are 400 with a JSON error and exit_code 2; nothing runs."""
    response = client.post("/", data=body, content_type="application/json")
    assert response.status_code == status
    answer = response.get_json()
    assert answer["exit_code"] == 2 and answer["version"] == 1 and answer["errors"] == [answer["error"]]
    assert cf.mappings(zone) == {}


def test_http_function_partial_failure_is_500(setup, cf, zone, client, monkeypatch):
    """A run that skipped work (exit 1) answers 500, so Cloud Scheduler's retry policy applies."""
    monkeypatch.setenv("ORIGIN_REGION_AGENT_TIME_BUDGET_S", "1")
    response = client.post("/", json={})
    assert response.status_code == 500
    assert response.get_json()["exit_code"] == 1
