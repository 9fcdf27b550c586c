"""What every entry point does around one run: config, logging, time budget, metrics push, summary last.

`execute` never raises for a bad config or an agent error: platforms turn an exception into a retry storm (Lambda
retries async invocations twice, Cloud Scheduler and EventBridge retry too), and a traceback is useless to the
operator. It returns the JSON summary instead, with ``exit_code`` 2 for a configuration or credential problem, and
logs the error on one line.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agent.errors import AgentError, ConfigError
from agent.logs import configure_logging, log_summary, register_secret
from agent.metrics import push_run_metrics
from agent.secrets import redact_obj

__all__ = [
    "BUDGET_ENV",
    "LOG_FORMAT_ENV",
    "MARGIN_ENV",
    "OVERRIDE_KEYS",
    "InvalidPayload",
    "budget_from_deadline",
    "error_summary",
    "execute",
    "pick_overrides",
]

logger = logging.getLogger(__name__)

OVERRIDE_KEYS = ("policy", "dry_run", "zones", "max_changes", "concurrency", "shard")
BUDGET_ENV = "ORIGIN_REGION_AGENT_TIME_BUDGET_S"  # wall-clock seconds the platform gives one run
MARGIN_ENV = "ORIGIN_REGION_AGENT_SAFETY_MARGIN_S"  # kept free at the end: apply in flight, summary, metrics push
LOG_FORMAT_ENV = "ORIGIN_REGION_AGENT_LOG_FORMAT"
DEFAULT_MARGIN_S = 20.0


def safety_margin(env: Mapping[str, str], default: float = DEFAULT_MARGIN_S) -> float:
    """Seconds to keep in reserve, from `MARGIN_ENV` (ConfigError naming the value when it is not a number >= 0)."""
    raw = env.get(MARGIN_ENV)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{MARGIN_ENV}: expected seconds (a number), got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{MARGIN_ENV}: expected seconds >= 0, got {raw!r}")
    return value


def budget_from_deadline(
    deadline_monotonic: float, *, margin: float, monotonic: Callable[[], float] = time.monotonic
) -> Callable[[], float]:
    """A `remaining_time` callable: seconds until `deadline_monotonic` minus `margin` (may go negative)."""
    return lambda: deadline_monotonic - monotonic() - margin


def budget_from_env(
    env: Mapping[str, str], *, default_s: float | None, margin: float, monotonic: Callable[[], float] = time.monotonic
) -> Callable[[], float] | None:
    """`BUDGET_ENV` (or `default_s`) seconds from now as a `remaining_time` callable; None when neither is set."""
    raw = env.get(BUDGET_ENV)
    if raw:
        try:
            seconds = float(raw)
        except ValueError:
            raise ConfigError(f"{BUDGET_ENV}: expected seconds (a number), got {raw!r}") from None
        if seconds <= 0:
            raise ConfigError(f"{BUDGET_ENV}: expected seconds > 0, got {raw!r}")
    elif default_s is not None:
        seconds = default_s
    else:
        return None
    return budget_from_deadline(monotonic() + seconds, margin=margin, monotonic=monotonic)


class InvalidPayload(str):
    """Marks an event/request body that could not be read; `execute` reports it as a config error (exit code 2)."""


def pick_overrides(payload: Any) -> dict[str, Any]:
    """Overrides from an event/request body: its ``overrides`` mapping, plus any top-level override key.

    Other top-level keys are ignored on purpose: scheduler events carry their own envelope (``id``, ``source``,
    ``detail-type``...). Keys inside ``overrides`` are passed on as they are, so a typo there is a ConfigError.
    """
    if isinstance(payload, InvalidPayload):
        raise ConfigError(f"event: {payload}")
    if payload is None:
        return {}
    if not isinstance(payload, Mapping):
        raise ConfigError(f"event: expected a JSON object, got {type(payload).__name__}")
    picked = {k: payload[k] for k in OVERRIDE_KEYS if k in payload}
    nested = payload.get("overrides")
    if isinstance(nested, Mapping):
        picked.update(nested)
    elif nested is not None:
        raise ConfigError(f"event: `overrides` must be a mapping, got {type(nested).__name__}")
    if isinstance(picked.get("zones"), str):
        picked["zones"] = [z.strip() for z in picked["zones"].split(",") if z.strip()]
    return picked


def _now_iso() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def error_summary(message: str, *, exit_code: int, started_at: str | None = None, duration_s: float = 0.0) -> dict:
    """A schema-1 summary for a run that never started (bad config, unreadable secret), by the one summary function."""
    from agent.report.summary import RunOutcome

    started = datetime.fromisoformat(started_at.replace("Z", "+00:00")) if started_at else None
    return RunOutcome.failed_before_start(
        message, exit_code=exit_code, started_at=started, duration_s=duration_s
    ).to_dict()


def _materialise_config(config: Any) -> tuple[str | None, Path | None]:
    """An event's ``config``: a path (str) is used as is; a mapping is written to a private temporary YAML file."""
    if config is None:
        return None, None
    if isinstance(config, str):
        return config, None
    if isinstance(config, Mapping):
        fd, name = tempfile.mkstemp(prefix="origin-region-agent-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(dict(config), fh)
        return name, Path(name)
    raise ConfigError(f"event: `config` must be a file path or a mapping, got {type(config).__name__}")


def execute(
    *,
    payload: Any = None,
    config: Any = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    budget: Callable[[Mapping[str, str]], Callable[[], float] | None] | None = None,
    grouping_key: Mapping[str, str] | None = None,
    keep_log_handlers: bool = False,
    default_log_format: str = "json",
) -> dict[str, Any]:
    """Run once and return the JSON summary (``report.to_dict()``), logged as the last line.

    `payload` is the platform's event or request body: its ``config`` (a path or an inline mapping) and overrides
    (see `pick_overrides`) apply. `config` wins over the payload's; None means `ORIGIN_REGION_AGENT_CONFIG`.
    `overrides` are the handler's defaults (e.g. ``shard: auto``); the payload's overrides win over them.
    `budget(env)` builds the `remaining_time` callable; a ConfigError from it or from the payload is reported like
    any other config error. Logs are JSON unless `LOG_FORMAT_ENV` says ``text``: every serverless log sink parses
    JSON lines. The metrics push (when ``metrics.pushgateway_url`` is set) happens before the summary is logged, so
    the summary stays the last line.
    """
    env = dict(os.environ if env is None else env)
    started = time.monotonic()
    started_at = _now_iso()
    log_format = env.get(LOG_FORMAT_ENV, default_log_format)
    if log_format not in ("text", "json"):
        log_format = default_log_format
    configure_logging(log_format, "INFO", keep_existing=keep_log_handlers)  # type: ignore[arg-type]
    temp: Path | None = None
    try:
        from agent.config import load_config  # deferred: a handler module stays cheap to import

        merged = dict(overrides or {})
        merged.update(pick_overrides(payload))
        if config is None and isinstance(payload, Mapping):
            config = payload.get("config")
        remaining_time = budget(env) if budget is not None else None
        path, temp = _materialise_config(config)
        cfg = load_config(path, env=env, overrides=merged)
    except ConfigError as exc:
        logger.error("configuration error: %s", exc, extra={"exit_code": 2})
        summary = redact_obj(
            error_summary(str(exc), exit_code=2, started_at=started_at, duration_s=time.monotonic() - started)
        )
        log_summary(summary)
        return summary
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)

    configure_logging(log_format, cfg.log_level, keep_existing=keep_log_handlers)  # type: ignore[arg-type]
    if cfg.cloudflare.api_token is not None:
        register_secret(cfg.cloudflare.api_token.get_secret_value())
    if cfg.cloudflare.api_key is not None:
        register_secret(cfg.cloudflare.api_key.get_secret_value())

    try:
        from agent.pipeline import run

        summary = run(cfg, remaining_time=remaining_time).to_dict()
    except ConfigError as exc:
        logger.error("configuration error: %s", exc, extra={"exit_code": 2})
        summary = error_summary(str(exc), exit_code=2, started_at=started_at, duration_s=time.monotonic() - started)
    except AgentError as exc:
        logger.error("run failed: %s", exc, extra={"exit_code": 1})
        summary = error_summary(str(exc), exit_code=1, started_at=started_at, duration_s=time.monotonic() - started)
    except Exception as exc:  # an unexpected bug: one line, then a summary the platform can record
        logger.error("run failed unexpectedly: %s: %s", type(exc).__name__, exc, extra={"exit_code": 1})
        summary = error_summary(
            f"{type(exc).__name__}: {exc}", exit_code=1, started_at=started_at, duration_s=time.monotonic() - started
        )

    if cfg.metrics.pushgateway_url:
        key = dict(cfg.metrics.grouping_key) | dict(grouping_key or {})  # the shard is added by push_run_metrics
        push_run_metrics(summary, gateway=cfg.metrics.pushgateway_url, job=cfg.metrics.job, grouping_key=key)
    summary = redact_obj(summary)
    log_summary(summary)
    return summary
