"""Progress on a terminal (through a pseudo-terminal): a live status line, never glued to log lines; none in pipes."""

from __future__ import annotations

import re
from pathlib import Path

from agent.sandbox.cloudflare import FakeCloudflare
from tests.pipeline.test_confirm_tty import run_on_tty

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def screen_lines(output: str) -> list[str]:
    """What a terminal shows line by line, roughly: escape sequences dropped, carriage returns start a new line."""
    return [line for line in re.split(r"[\r\n]+", ANSI.sub("", output)) if line.strip()]


def test_progress_and_log_lines_do_not_interleave(cf: FakeCloudflare, zone: str, write_config, tmp_path: Path) -> None:
    """A scope failing during discovery logs a WARNING line that starts its own line; the status line is rich's."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    cf.add_dns_record(zone, "A", "b.example.com", "3.5.140.2")
    ranges = {"feeds": ["aws"], "offline": True, "cache_dir": str(tmp_path / "empty-cache")}
    config = write_config([("192.0.2.1", "aws", "us-east-1")], inventory={"ranges": ranges})
    code, output = run_on_tty(["plan", "--config", str(config), "--output", "none"], None)  # logs only
    assert code == 1, output
    lines = screen_lines(output)
    warnings = [line for line in lines if "scope ranges:aws failed" in line]
    assert warnings, output
    for line in warnings:  # each log line begins at column 0 with its timestamp: nothing of the status before it
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING ", line), line
        assert "discovery:" not in line
    assert any("discovery:" in line and "scopes done" in line for line in lines)  # the live line was drawn
    assert "\x1b[2K" in output or "\x1b[1A" in output  # drawn and erased by rich, not a bare \r
    # With the table output the summary lists the failed scope with its hint, so its log line is not printed too.
    code, output = run_on_tty(["plan", "--config", str(config)], None)
    assert code == 1 and "Failed scopes (1)" in output and "feeds fetch --dir" in output
    assert "scope ranges:aws failed" not in output


def test_no_progress_when_stderr_is_not_a_terminal(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """Into a pipe: no status line at all, only log lines and the summary."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    result = run_cli("plan", "--config", str(write_config([("192.0.2.1", "aws", "us-east-1")])))
    assert result.exit_code == 0
    assert "discovery:" not in result.stderr and "\x1b" not in result.stderr + result.stdout
