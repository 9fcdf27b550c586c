"""Logging set-up: JSON lines, extras, redaction backstop, summary last."""

from __future__ import annotations

import io
import json
import logging

import pytest

from agent.logs import REDACTED, configure_logging, log_summary, register_secret


@pytest.fixture
def stream():
    """A fresh text stream as the log sink; the root logger is restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buf = io.StringIO()
    yield buf
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def lines(buf: io.StringIO) -> list[str]:
    return [line for line in buf.getvalue().splitlines() if line]


def test_json_lines_have_the_fields_and_extras(stream):
    """JSON mode writes one object per line with ts, level, logger, msg and the extra fields."""
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("agent.test").info("zone %s planned", "example.com", extra={"zone": "example.com", "n": 3})
    logging.getLogger("agent.test").debug("not shown at INFO")
    out = lines(stream)
    assert len(out) == 1
    entry = json.loads(out[0])
    assert entry["level"] == "INFO"
    assert entry["logger"] == "agent.test"
    assert entry["msg"] == "zone example.com planned"
    assert entry["zone"] == "example.com" and entry["n"] == 3
    assert entry["ts"].endswith("Z") and "T" in entry["ts"]


def test_text_mode_shows_extras(stream):
    """Text mode keeps extras visible as key=value."""
    configure_logging("text", "DEBUG", stream=stream)
    logging.getLogger("agent.x").debug("hello", extra={"zone": "a.example"})
    (line,) = lines(stream)
    assert "DEBUG agent.x: hello" in line and 'zone="a.example"' in line


def test_configure_twice_does_not_duplicate_lines(stream):
    """A second call replaces the handler the first one installed."""
    configure_logging("json", "INFO", stream=stream)
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("agent.x").info("once")
    assert len(lines(stream)) == 1


def test_replaces_platform_handlers_unless_kept(stream):
    """By default a platform's handler is removed; keep_existing keeps it and adds the redaction filter."""
    other = io.StringIO()
    platform = logging.StreamHandler(other)
    logging.getLogger().addHandler(platform)
    configure_logging("json", "INFO", stream=stream, keep_existing=True)
    logging.getLogger("agent.x").info("Authorization: Bearer abcdefghijklmnop")
    assert lines(stream) == []  # no second handler when one exists
    (line,) = lines(other)
    assert json.loads(line)["msg"] == f"Authorization: {REDACTED}"
    configure_logging("json", "INFO", stream=stream)
    assert platform not in logging.getLogger().handlers


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("request headers {'Authorization': 'Bearer sekrit-token-123456'}", "sekrit-token-123456"),
        ("retrying with Bearer abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"),
        ("CLOUDFLARE_API_TOKEN=zzzzzzzzzzzzzzzzzzzz in env", "zzzzzzzzzzzzzzzzzzzz"),
        ('body {"api_token": "qqqqqqqqqqqqqqqq"}', "qqqqqqqqqqqqqqqq"),
        ("X-Auth-Key: 0123456789abcdef0123", "0123456789abcdef0123"),
        ("client_secret=verysecretvalue&grant_type=x", "verysecretvalue"),
    ],
    ids=["auth-header-dict", "bare-bearer", "env-pair", "json-pair", "x-auth-key", "form-pair"],
)
def test_secret_looking_values_are_redacted(stream, message, secret):
    """The backstop filter removes token-looking values from messages."""
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("third.party").warning(message)
    (line,) = lines(stream)
    assert secret not in line
    assert REDACTED in line


def test_registered_secret_is_redacted_everywhere(stream):
    """A registered value is removed from messages, args and extras, even without a telltale key."""
    register_secret("plain-value-that-is-the-token")
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("agent.x").error(
        "failed: %s", "echo plain-value-that-is-the-token", extra={"detail": ["x plain-value-that-is-the-token"]}
    )
    (line,) = lines(stream)
    assert "plain-value-that-is-the-token" not in line
    assert line.count(REDACTED) == 3  # message, msg (its earlier name) and the extra


def test_secret_named_extra_is_redacted(stream):
    """An extra field named like a secret is replaced whatever its value."""
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("agent.x").info("auth", extra={"token": "short"})
    assert json.loads(lines(stream)[0])["token"] == REDACTED


def test_exceptions_are_one_json_line(stream):
    """A logged exception stays on one line (the traceback is a JSON string field)."""
    configure_logging("json", "INFO", stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("agent.x").exception("failed")
    (line,) = lines(stream)
    assert "RuntimeError: boom" in json.loads(line)["exc"]


def test_summary_is_the_last_line_with_level_by_exit_code(stream):
    """log_summary writes the summary object last; a failed run logs at WARNING/ERROR."""
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("agent.x").info("work")
    log_summary({"version": 1, "exit_code": 1, "totals": {"created": 2}})
    last = json.loads(lines(stream)[-1])
    assert last["msg"] == "run summary"
    assert last["level"] == "WARNING"
    assert last["summary"]["totals"] == {"created": 2}
    log_summary({"version": 1, "exit_code": 2})
    assert json.loads(lines(stream)[-1])["level"] == "ERROR"
    log_summary({"version": 1, "exit_code": 0})
    assert json.loads(lines(stream)[-1])["level"] == "INFO"


@pytest.mark.parametrize(("fmt", "level"), [("xml", "INFO"), ("json", "LOUD")])
def test_bad_format_or_level_names_the_value(fmt, level):
    """Unknown format or level: ValueError naming the value."""
    with pytest.raises(ValueError, match=r"xml|LOUD"):
        configure_logging(fmt, level)  # type: ignore[arg-type]


def test_json_lines_carry_severity_message_and_rfc3339_time(stream):
    """Cloud Logging's field names (severity, message) and an RFC 3339 time; extras stay as fields."""
    from datetime import datetime

    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("agent.test").warning("zone %s slow", "a.example", extra={"zone": "a.example"})
    entry = json.loads(lines(stream)[0])
    assert entry["severity"] == "WARNING" and entry["message"] == "zone a.example slow"
    assert entry["zone"] == "a.example"
    assert entry["time"].endswith("Z") and datetime.fromisoformat(entry["time"]).utcoffset().total_seconds() == 0


def test_summary_log_line_is_bounded(stream):
    """The summary line keeps the first 100 changes over all zones, with counts of what was cut."""
    configure_logging("json", "INFO", stream=stream)
    change = {"action": "create", "ip": "192.0.2.1", "vendor": "aws", "region": "us-east-1", "status": "pending"}
    zones = [
        {"zone": "a.example", "changes": [change] * 80, "unmatched": ["198.51.100.1"] * 150, "origins": {}},
        {"zone": "b.example", "changes": [change] * 5000, "unmatched": [], "origins": {}},
    ]
    log_summary({"version": 1, "exit_code": 0, "zones": zones})
    line = lines(stream)[-1]
    logged = json.loads(line)["summary"]
    assert logged["truncated"] is True
    assert len(logged["zones"][0]["changes"]) == 80 and "changes_total" not in logged["zones"][0]
    assert len(logged["zones"][1]["changes"]) == 20 and logged["zones"][1]["changes_total"] == 5000
    assert len(logged["zones"][0]["unmatched"]) == 100 and logged["zones"][0]["unmatched_total"] == 150
    assert len(line) < 64 * 1024
