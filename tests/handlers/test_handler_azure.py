"""Azure Functions: the v2 timer trigger in deploy/azure/function_app.py and `run_timer`'s time budget."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import sys
from pathlib import Path

import azure.functions as func
import pytest

from agent.handlers.azure import DEFAULT_TIMEOUT_S, function_timeout, run_timer

FUNCTION_APP = Path(__file__).resolve().parents[2] / "deploy" / "azure" / "function_app.py"


def timer_from_host(past_due: bool) -> func.TimerRequest:
    """A TimerRequest decoded the way the Functions worker decodes the host's timer payload."""
    payload = {
        "Schedule": {"AdjustForDST": True},
        "ScheduleStatus": {"Last": "2026-07-29T10:00:00"},
        "IsPastDue": past_due,
    }
    datum = func.meta.Datum(value=json.dumps(payload), type="json")
    return func.timer.TimerRequestConverter.decode(datum, trigger_metadata={})


def load_function_app():
    spec = importlib.util.spec_from_file_location("azure_function_app_under_test", FUNCTION_APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("azure_function_app_under_test", None)
    return module


def test_function_app_declares_the_timer_trigger():
    """The app registers one timer trigger, every 15 minutes, not on start-up, with the schedule monitor."""
    app = load_function_app().app
    (function,) = app.get_functions()
    (binding,) = function.get_bindings()
    data = binding.get_dict_repr()
    assert data["type"] == "timerTrigger" and data["name"] == "timer"
    assert data["schedule"] == "0 */15 * * * *"
    assert data["runOnStartup"] is False and data["useMonitor"] is True


def test_timer_function_runs_against_the_sandbox(setup, cf, zone, expected_mappings, monkeypatch):
    """Calling the registered function with a host-decoded timer runs the agent end to end."""
    monkeypatch.chdir(FUNCTION_APP.parent)  # the worker's cwd is the app root: host.json's 10 min applies
    (function,) = load_function_app().app.get_functions()
    assert function.get_user_function()(timer_from_host(past_due=False)) is None
    assert cf.mappings(zone) == expected_mappings


def test_run_timer_returns_the_summary_and_keeps_platform_handlers(setup, cf, zone, expected_mappings):
    """The host's log handler is kept (it ships to App Insights), gets JSON lines, and sees the past-due warning."""
    sink = io.StringIO()
    host_handler = logging.StreamHandler(sink)
    logging.getLogger().addHandler(host_handler)
    summary = run_timer(timer_from_host(past_due=True))
    assert summary["exit_code"] == 0, summary
    assert cf.mappings(zone) == expected_mappings
    assert host_handler in logging.getLogger().handlers
    lines = [json.loads(line) for line in sink.getvalue().splitlines() if line.startswith("{")]
    assert lines[-1]["msg"] == "run summary" and lines[-1]["summary"]["exit_code"] == 0
    assert "past due" in sink.getvalue()


def test_config_error_returns_exit_2(setup):
    """A broken config is reported, not raised (the host would retry a raising function)."""
    setup.write(zones="not-a-list")
    summary = run_timer(timer_from_host(past_due=False))
    assert summary["exit_code"] == 2 and "zones" in summary["error"]


@pytest.mark.parametrize(
    ("setting", "host_json", "expected"),
    [
        (None, None, DEFAULT_TIMEOUT_S),
        (None, {"version": "2.0", "functionTimeout": "00:10:00"}, 600.0),
        (None, {"version": "2.0", "functionTimeout": "1.02:00:00"}, 93600.0),
        (None, {"version": "2.0", "functionTimeout": "-1"}, None),
        ("00:03:30", {"version": "2.0", "functionTimeout": "00:10:00"}, 210.0),
    ],
    ids=["default-consumption", "host-json", "days", "unbounded", "app-setting-wins"],
)
def test_function_timeout(tmp_path, setting, host_json, expected):
    """The budget is the app setting, else host.json's functionTimeout, else 5 minutes."""
    if host_json is not None:
        (tmp_path / "host.json").write_text(json.dumps(host_json))
    env = {"AzureFunctionsJobHost__functionTimeout": setting} if setting else {}
    assert function_timeout(env, tmp_path) == expected


def test_shipped_host_json_timeout():
    """deploy/azure/host.json sets 10 minutes (the Consumption maximum)."""
    assert function_timeout({}, FUNCTION_APP.parent) == 600.0


def test_short_function_timeout_skips_work(setup, cf, zone, monkeypatch):
    """A 10 s function timeout with the 20 s margin: nothing starts, the skip is reported (exit 1)."""
    monkeypatch.setenv("AzureFunctionsJobHost__functionTimeout", "00:00:10")
    summary = run_timer(timer_from_host(past_due=False))
    assert summary["exit_code"] == 1 and summary["skipped"]
    assert cf.mappings(zone) == {}


def test_bad_timeout_setting_is_named(setup, monkeypatch):
    """An unreadable functionTimeout is a config error naming the setting and value."""
    monkeypatch.setenv("AzureFunctionsJobHost__functionTimeout", "ten")
    summary = run_timer(timer_from_host(past_due=False))
    assert summary["exit_code"] == 2
    assert "AzureFunctionsJobHost__functionTimeout" in summary["error"] and "'ten'" in summary["error"]
