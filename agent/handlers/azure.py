"""Azure Functions entry point: `run_timer(timer)`, called by the timer trigger in ``deploy/azure/function_app.py``.

The time budget is the function timeout: ``AzureFunctionsJobHost__functionTimeout`` (an app setting that overrides
host.json), else ``functionTimeout`` in the app's ``host.json``, else 5 minutes (the Consumption plan default), minus
the safety margin; ``ORIGIN_REGION_AGENT_TIME_BUDGET_S`` wins over all of them. A past-due timer (the host was down
at the scheduled time) still runs once and says so in the log.

Logs go through the handlers the Functions host installed (they ship to Application Insights); we only add the
redacting filter and our formatter. The token comes from an app setting, ideally a Key Vault reference
(``CLOUDFLARE_API_TOKEN=@Microsoft.KeyVault(SecretUri=...)``), which the platform resolves into the environment.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.handlers.common import BUDGET_ENV, budget_from_env, execute, safety_margin

__all__ = ["DEFAULT_TIMEOUT_S", "function_timeout", "run_timer"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0  # Consumption plan default functionTimeout
TIMEOUT_SETTING = "AzureFunctionsJobHost__functionTimeout"
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")


def _parse_timespan(value: str, where: str) -> float | None:
    """``hh:mm:ss`` or ``d.hh:mm:ss`` in seconds; ``-1`` (unbounded) gives None."""
    text = value.strip()
    if text == "-1":
        return None
    match = _TIMESPAN.match(text)
    if not match:
        raise ConfigError(f"{where}: functionTimeout must look like hh:mm:ss, got {value!r}")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def function_timeout(env: Mapping[str, str], script_root: Path | None = None) -> float | None:
    """The function timeout in seconds (None: unbounded), from the app setting, host.json, or the default."""
    if env.get(TIMEOUT_SETTING):
        return _parse_timespan(env[TIMEOUT_SETTING], TIMEOUT_SETTING)
    root = script_root or Path(env.get("AzureWebJobsScriptRoot") or Path.cwd())
    host_json = root / "host.json"
    if host_json.is_file():
        try:
            data = json.loads(host_json.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            raise ConfigError(f"{host_json}: not valid JSON") from None
        if isinstance(data, dict) and isinstance(data.get("functionTimeout"), str):
            return _parse_timespan(data["functionTimeout"], f"{host_json}: functionTimeout")
    return DEFAULT_TIMEOUT_S


def _budget(env: Mapping[str, str]) -> Any:
    margin = safety_margin(env)
    if env.get(BUDGET_ENV):
        return budget_from_env(env, default_s=None, margin=margin)
    return budget_from_env(env, default_s=function_timeout(env), margin=margin)


def run_timer(timer: Any, *, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run once for a timer tick and return the JSON summary. `timer` is an ``azure.functions.TimerRequest``."""
    if getattr(timer, "past_due", False):
        logger.warning("the timer is past due: running now, later than scheduled")
    return execute(env=env, budget=_budget, keep_log_handlers=True)
