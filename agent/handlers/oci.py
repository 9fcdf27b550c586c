"""OCI Functions entry point: ``agent.handlers.oci.handler(ctx, data)`` for the fdk (see ``deploy/oci/func.py``).

OCI Functions run at most 300 s when invoked synchronously (Resource Scheduler, ``fn invoke``), so the time budget
is the call's deadline (``ctx.Deadline()``, from the ``Fn-Deadline`` header) capped at 300 s, minus the safety margin
(``ORIGIN_REGION_AGENT_SAFETY_MARGIN_S``, default 20 s). Detached invocations may run up to 3,600 s: set
``ORIGIN_REGION_AGENT_TIME_BUDGET_S`` for those.

The body may carry overrides as JSON (``{"dry_run": true}``); the response is the JSON summary. The OCI inventory
authenticates with the function's resource principal: set ``inventory.oci.auth: resource_principal`` in the config
and grant the function's dynamic group read access (see the deployment notes). The Cloudflare token comes from the
function's configuration (``CLOUDFLARE_API_TOKEN``) or a file.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from agent.handlers.common import (
    BUDGET_ENV,
    InvalidPayload,
    budget_from_deadline,
    budget_from_env,
    execute,
    safety_margin,
)

__all__ = ["SYNC_LIMIT_S", "handler"]

SYNC_LIMIT_S = 300.0


def _deadline_budget(ctx: Any, env: Mapping[str, str]) -> Callable[[], float] | None:
    margin = safety_margin(env)
    if env.get(BUDGET_ENV):
        return budget_from_env(env, default_s=None, margin=margin)
    seconds = SYNC_LIMIT_S
    deadline = getattr(ctx, "Deadline", None)
    if callable(deadline):
        try:
            when = datetime.fromisoformat(str(deadline()).replace("Z", "+00:00"))
            seconds = min(SYNC_LIMIT_S, max(0.0, when.timestamp() - time.time()))
        except ValueError:
            pass  # an unreadable deadline: fall back to the synchronous limit
    return budget_from_deadline(time.monotonic() + seconds, margin=margin)


def _read_body(data: Any) -> Any:
    if data is None:
        return {}
    raw = data.getvalue() if isinstance(data, io.BytesIO) else data
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode("utf-8")
    if isinstance(raw, str):
        return json.loads(raw) if raw.strip() else {}
    return raw


def handler(ctx: Any, data: Any = None) -> Any:
    """Run once; return an ``fdk.response.Response`` with the JSON summary (or the dict when fdk is absent)."""
    try:
        payload = _read_body(data)
    except (ValueError, UnicodeDecodeError):
        payload = InvalidPayload("the request body is not JSON")  # reported as a config error by `execute`
    if isinstance(payload, dict):
        payload = {k: v for k, v in payload.items() if k != "config"}  # overrides only, no file paths from callers
    summary = execute(payload=payload, budget=lambda env: _deadline_budget(ctx, env))
    try:
        from fdk import response
    except ImportError:  # called outside the fdk (tests, local runs)
        return summary
    return response.Response(
        ctx,
        response_data=json.dumps(summary, default=str),
        headers={"Content-Type": "application/json"},
        status_code=200,
    )
