"""Google Cloud entry points: a Cloud Run job (`run_job`, ``python -m agent.handlers.gcp``) and an HTTP function.

Cloud Run job: each task runs ``shard: auto`` when the job has more than one task, so the index comes from
``CLOUD_RUN_TASK_INDEX`` and the count from ``CLOUD_RUN_TASK_COUNT``. Cloud Run does not tell a task its timeout, so the
time budget is ``ORIGIN_REGION_AGENT_TIME_BUDGET_S`` (set it a little below ``--task-timeout``); without it the run
is not time-boxed. The process exits with the run's exit code, so a failed task is retried up to ``--max-retries``.

HTTP function (functions-framework, target ``http_function``): the JSON body may carry overrides (``{"dry_run":
true, "zones": ["example.com"]}``); the response is the JSON summary with status 200 (exit 0), 500 (1: partial
failure, worth a Cloud Scheduler retry), 400 (2: config or credentials) or 409 (3: refused by a guard). Its budget is
``ORIGIN_REGION_AGENT_TIME_BUDGET_S``, default 540 s (the 1st-gen limit; 2nd gen allows up to 3,600 s).

The Cloudflare token reaches either through Secret Manager mounted as ``CLOUDFLARE_API_TOKEN`` (``--set-secrets``)
or as a file (``CLOUDFLARE_API_TOKEN_FILE``): no code here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from agent.handlers.common import budget_from_env, error_summary, execute, safety_margin

__all__ = ["HTTP_FUNCTION_BUDGET_S", "STATUS_BY_EXIT_CODE", "http_function", "main", "run_job"]

HTTP_FUNCTION_BUDGET_S = 540.0
STATUS_BY_EXIT_CODE = {0: 200, 1: 500, 2: 400, 3: 409}


def run_job(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One Cloud Run job task: the JSON summary of this task's shard."""
    env = dict(os.environ if env is None else env)
    overrides: dict[str, Any] = {}
    if int(env.get("CLOUD_RUN_TASK_COUNT", "1") or "1") > 1:
        overrides["shard"] = "auto"
    index = env.get("CLOUD_RUN_TASK_INDEX")
    grouping = {"shard": index} if index is not None and "shard" in overrides else None
    return execute(
        env=env,
        overrides=overrides,
        budget=lambda e: budget_from_env(e, default_s=None, margin=safety_margin(e)),
        grouping_key=grouping,
    )


def http_function(request: Any) -> tuple[str, int, dict[str, str]]:
    """functions-framework HTTP target: body overrides in, ``(JSON summary, status, headers)`` out."""
    payload: Any = {}
    if request.data:
        try:
            payload = request.get_json(force=True, silent=False)
        except Exception:
            body = json.dumps(error_summary("request body must be JSON", exit_code=2))
            return body, 400, {"Content-Type": "application/json"}
    if payload is not None and not isinstance(payload, dict):
        body = json.dumps(error_summary("request body must be a JSON object", exit_code=2))
        return body, 400, {"Content-Type": "application/json"}
    # An HTTP caller must not point the function at an arbitrary file or inline config: overrides only.
    payload = {k: v for k, v in (payload or {}).items() if k != "config"}
    summary = execute(
        payload=payload,
        budget=lambda e: budget_from_env(e, default_s=HTTP_FUNCTION_BUDGET_S, margin=safety_margin(e)),
    )
    status = STATUS_BY_EXIT_CODE.get(int(summary.get("exit_code", 1)), 500)
    return json.dumps(summary, default=str), status, {"Content-Type": "application/json"}


def main() -> int:
    """``python -m agent.handlers.gcp``: run one job task and return its exit code."""
    return int(run_job().get("exit_code", 1))


if __name__ == "__main__":
    sys.exit(main())
