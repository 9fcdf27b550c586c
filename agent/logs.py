"""Logging set-up for the CLI and the serverless handlers: text or JSON lines, secrets redacted, summary last.

JSON logs are one object per line: ``time`` (RFC 3339, UTC), ``severity``, ``message``, ``logger`` plus any ``extra=``
fields. ``severity`` and ``message`` are the names Google Cloud Logging reads without configuration; CloudWatch,
Azure Monitor, OCI Logging and Loki parse any JSON line. The earlier names ``ts``, ``level`` and ``msg`` are still
written, so existing log queries keep working. The run summary is logged last (`log_summary`), so "the last line of the
run" is a stable place for a human or a log query to find the outcome; its per-change lists are capped
(`bounded_summary`) because log platforms drop entries over ~256 KB.

Secrets are kept out of log calls by design (tokens are `SecretStr`); `RedactingFilter` is only a backstop for a
message that quotes an ``Authorization`` header, a bearer token or a ``token=`` pair, e.g. from a third-party library.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any, Literal

from agent import secrets

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "RedactingFilter",
    "bounded_summary",
    "configure_logging",
    "log_summary",
    "register_secret",
]

REDACTED = secrets.REDACTED
SUMMARY_MSG = "run summary"

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else on a record came from `extra=` and is emitted as a JSON field.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)

# Backstop patterns. Group 1 is what is kept; the rest of the match is replaced by REDACTED.
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # "Authorization: Bearer abc", "authorization': 'Bearer abc", "X-Auth-Key: abc"
    re.compile(
        r"""(?i)((?:authorization|x-auth-key|x-auth-user-service-key)["']?\s*[:=]\s*["']?)"""
        r"""(?:bearer\s+|basic\s+)?[^\s"',}]+"""
    ),
    # a bare "Bearer abc" anywhere
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    # token=abc, "api_token": "abc", secret: abc, password=abc, pass_phrase=abc, client_secret=abc
    re.compile(
        r"""(?i)((?:api[_-]?token|access[_-]?token|token|secret|client[_-]?secret|password|pass[_-]?phrase|"""
        r"""api[_-]?key|secret[_-]?access[_-]?key|session[_-]?token)["']?\s*[:=]\s*["']?)[^\s"',}&]+"""
    ),
)


def register_secret(value: str | None) -> None:
    """Redact this exact value wherever it appears in a log line (e.g. the Cloudflare token read at start-up).

    The registry is `agent.secrets` (shared with the summary and the CLI's error output). Values shorter than 8
    characters are ignored: redacting them would mangle ordinary words.
    """
    secrets.register(value)


def redact(text: str) -> str:
    """Return `text` with known secret values and secret-looking pairs replaced by `REDACTED`."""
    text = secrets.redact(text)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if _is_secret_key(str(k)) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _is_secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return k in {"authorization", "token", "api_token", "password", "secret", "client_secret", "api_key", "pass_phrase"}


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and string extras so no secret-looking value leaves the process."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:  # tracebacks quote arguments and locals: redact them too
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRS:
                setattr(record, key, REDACTED if _is_secret_key(key) else _redact_value(value))
        return True


def _iso(created: float) -> str:
    return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (RFC 3339, UTC, ms), ``severity``, ``message``, ``logger``, extras, ``exc``.

    ``ts``, ``level`` and ``msg`` repeat the first three under their earlier names (kept for existing queries).
    """

    def format(self, record: logging.LogRecord) -> str:
        moment, message = _iso(record.created), record.getMessage()
        entry: dict[str, Any] = {
            "time": moment,
            "severity": record.levelname,
            "message": message,
            "logger": record.name,
            "ts": moment,
            "level": record.levelname,
            "msg": message,
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, separators=(",", ":"))


class _StderrStream:
    """Writes to whatever `sys.stderr` is at the time of the write.

    A progress display (rich) swaps `sys.stderr` for a proxy that prints above its live line; a handler holding the
    original stream would write through the display instead and the lines would interleave.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _TextFormatter(logging.Formatter):
    """``ts level logger: msg key=value ...``: extras stay visible in text mode too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}
        if extras:
            line += " " + " ".join(
                f"{k}={json.dumps(v, default=str, separators=(',', ':'))}" for k, v in sorted(extras.items())
            )
        return line


_OUR_HANDLER = "_origin_region_agent_handler"


def configure_logging(
    fmt: LogFormat = "text",
    level: str = "INFO",
    *,
    stream: IO[str] | None = None,
    keep_existing: bool = False,
) -> None:
    """Configure the root logger once per process (calling again replaces what an earlier call installed).

    `stream` defaults to stderr. With `keep_existing`, handlers a platform already installed (Azure Functions ships
    logs to its host through one) are kept and only get the redacting filter and our formatter; no handler is added
    when one exists. Otherwise every existing root handler is removed, so lines are not printed twice (AWS Lambda's
    runtime installs its own). Raises ValueError naming the value for an unknown `fmt` or `level`.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be 'text' or 'json', got {fmt!r}")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"log level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {level!r}")
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else _TextFormatter()
    root = logging.getLogger()
    root.setLevel(numeric)
    existing = [h for h in root.handlers if not getattr(h, _OUR_HANDLER, False)]
    for handler in list(root.handlers):
        if getattr(handler, _OUR_HANDLER, False) or not keep_existing:
            root.removeHandler(handler)
    if keep_existing and existing:
        for handler in existing:
            _install(handler, formatter)
        return
    ours: logging.StreamHandler[Any] = logging.StreamHandler(stream if stream is not None else _StderrStream())
    setattr(ours, _OUR_HANDLER, True)
    _install(ours, formatter)
    root.addHandler(ours)
    # Third-party chatter (request lines with URLs and headers) stays out of INFO logs.
    for noisy in ("httpx", "httpcore", "botocore", "urllib3", "azure", "oci", "google"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def _install(handler: logging.Handler, formatter: logging.Formatter) -> None:
    handler.setFormatter(formatter)
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


SUMMARY_LIST_LIMIT = 100
# Per-zone lists of the summary that grow with the zone; "changes" is capped over all zones together.
_ZONE_LISTS = ("unsupported", "ambiguous", "global", "unmatched", "failed", "conflicts", "drift", "stale", "over_cap")


def bounded_summary(report: Mapping[str, Any], *, limit: int = SUMMARY_LIST_LIMIT) -> dict[str, Any]:
    """The summary with its long lists cut for a log line: the first `limit` changes over all zones, and at most
    `limit` items in every other per-zone list and in ``origins``.

    Each cut list gets a ``<name>_total`` field next to it with the full count, and ``truncated: true`` is set at
    the top, so a reader knows the complete summary is in ``--summary-file`` / ``--output json``.
    """
    out = dict(report)
    zones = report.get("zones")
    if not isinstance(zones, list):
        return out
    changes_left = limit
    truncated = False
    bounded: list[Any] = []
    for zone in zones:
        if not isinstance(zone, Mapping):
            bounded.append(zone)
            continue
        copy = dict(zone)
        changes = copy.get("changes")
        if isinstance(changes, list) and len(changes) > changes_left:
            copy["changes"], copy["changes_total"] = changes[:changes_left], len(changes)
            truncated = True
        if isinstance(changes, list):
            changes_left = max(0, changes_left - len(changes))
        for key in _ZONE_LISTS:
            items = copy.get(key)
            if isinstance(items, list) and len(items) > limit:
                copy[key], copy[f"{key}_total"] = items[:limit], len(items)
                truncated = True
        origins = copy.get("origins")
        if isinstance(origins, Mapping) and len(origins) > limit:
            copy["origins"] = dict(list(origins.items())[:limit])
            copy["origins_total"] = len(origins)
            truncated = True
        bounded.append(copy)
    out["zones"] = bounded
    if truncated:
        out["truncated"] = True
    return out


def log_summary(report: Mapping[str, Any], *, logger: logging.Logger | None = None) -> None:
    """Log the run summary as the last line: JSON mode puts it under ``summary``; text mode appends it as JSON.

    The level follows the outcome (INFO for exit code 0, WARNING for 1, ERROR otherwise) so that alerting on
    ``level >= WARNING`` catches failed runs without parsing the summary. Long lists are capped (`bounded_summary`).
    """
    log = logger or logging.getLogger("agent.summary")
    exit_code = report.get("exit_code", 0)
    level = logging.INFO if exit_code == 0 else logging.WARNING if exit_code == 1 else logging.ERROR
    log.log(level, SUMMARY_MSG, extra={"summary": bounded_summary(report)})
    for handler in logging.getLogger().handlers:
        handler.flush()
