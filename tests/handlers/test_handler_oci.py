"""OCI Functions: the fdk handler, called through the fdk's own request path and with a test context."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import io
import json
from pathlib import Path

from fdk import context, fixtures

from agent.handlers.oci import handler

FUNC_PY = Path(__file__).resolve().parents[2] / "deploy" / "oci" / "func.py"


def deadline_in(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


def invoke(body: bytes, *, deadline_s: float = 300) -> tuple[dict, int, dict]:
    """One invocation through fdk.runner.handle_request, as the Fn server would make it."""

    async def call():
        coro = await fixtures.setup_fn_call(handler, content=body, deadline=deadline_in(deadline_s))
        return await coro

    data, status, headers = asyncio.run(call())
    return json.loads(data), status, headers


def test_invocation_returns_the_summary(setup, cf, zone, expected_mappings):
    """A scheduled (empty-body) invocation runs the agent and answers 200 with the JSON summary."""
    summary, status, headers = invoke(b"")
    assert status == 200
    assert summary["exit_code"] == 0, summary
    assert cf.mappings(zone) == expected_mappings
    assert any(v == "application/json" for k, v in headers.items() if k.lower().endswith("content-type"))


def test_body_overrides(setup, cf, zone):
    """A JSON body carries overrides: a dry run writes nothing."""
    summary, status, _ = invoke(json.dumps({"dry_run": True}).encode())
    assert status == 200 and summary["dry_run"] is True
    assert cf.mappings(zone) == {}


def test_non_json_body_is_a_config_error(setup, cf, zone):
    """A body that is not JSON is reported (exit 2), nothing runs."""
    summary, _, _ = invoke(b"\xff\xfe not json")
    assert summary["exit_code"] == 2 and "not JSON" in summary["error"]
    assert cf.mappings(zone) == {}


def test_deadline_sets_the_budget(setup, cf, zone):
    """A call whose deadline is 10 s away (less than the 20 s margin) starts nothing and reports the skip."""
    summary, _, _ = invoke(b"", deadline_s=10)
    assert summary["exit_code"] == 1 and summary["skipped"]
    assert cf.mappings(zone) == {}


def test_budget_is_capped_at_the_synchronous_limit(setup, cf, zone, monkeypatch, expected_mappings):
    """A far deadline is capped at 300 s: with a 290 s margin, 10 s remain (enough for this small run)."""
    monkeypatch.setenv("ORIGIN_REGION_AGENT_SAFETY_MARGIN_S", "290")
    summary, _, _ = invoke(b"", deadline_s=3600)
    assert summary["exit_code"] == 0, summary
    assert cf.mappings(zone) == expected_mappings
    cf_zone_mappings = cf.mappings(zone)
    monkeypatch.setenv("ORIGIN_REGION_AGENT_SAFETY_MARGIN_S", "301")
    summary, _, _ = invoke(b"", deadline_s=3600)
    assert summary["exit_code"] == 1 and summary["skipped"]  # 300 - 301 < 0 even though the deadline is an hour out
    assert cf.mappings(zone) == cf_zone_mappings


def test_direct_call_with_a_test_context(setup, cf, zone, expected_mappings):
    """`handler(ctx, data)` with an InvokeContext built by hand returns an fdk Response with the summary."""
    ctx = context.InvokeContext(
        app_id="ocid1.fnapp.oc1..a",
        app_name="agent",
        fn_id="ocid1.fnfunc.oc1..b",
        fn_name="origin-region-agent",
        call_id="c1",
        deadline=deadline_in(120),
    )
    response = handler(ctx, io.BytesIO(b"{}"))
    assert response.status() == 200
    summary = json.loads(response.body())
    assert summary["exit_code"] == 0, summary
    assert cf.mappings(zone) == expected_mappings


def test_deploy_func_py_exposes_the_handler():
    """deploy/oci/func.py (the file func.yaml points at) exposes the same handler."""
    spec = importlib.util.spec_from_file_location("oci_func_under_test", FUNC_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.handler is handler
