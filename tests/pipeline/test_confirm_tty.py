"""On a terminal, `sync` shows the plan and asks before writing; `--yes` skips the question."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from agent.sandbox.cloudflare import FakeCloudflare
from tests.pipeline.conftest import TOKEN, writes


def run_on_tty(args: list[str], answer: str | None, timeout: float = 60.0) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout; type `answer` when asked."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "CLOUDFLARE_API_TOKEN": TOKEN, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    output, answered, deadline = b"", False, time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if answer is not None and not answered and b"Apply these changes?" in output:
                os.write(controller, answer.encode() + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"no exit; output so far:\n{output.decode(errors='replace')}") from None
    finally:
        os.close(controller)
    return proc.returncode, output.decode(errors="replace")


@pytest.mark.parametrize(("answer", "applied"), [("n", False), ("y", True)])
def test_sync_asks_before_writing(cf: FakeCloudflare, zone: str, write_config, answer: str, applied: bool) -> None:
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    config = write_config([("192.0.2.1", "aws", "us-east-1")])
    code, output = run_on_tty(["sync", "--config", str(config)], answer)
    assert code == 0, output
    assert "+ create" in output and "Apply these changes?" in output
    assert "discovery: 1 scopes done" in output and "static:" in output  # per-scope progress on the terminal
    assert bool(writes(cf)) is applied
    assert (cf.mappings(zone) != {}) is applied


def test_yes_skips_the_question(cf: FakeCloudflare, zone: str, write_config) -> None:
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    config = write_config([("192.0.2.1", "aws", "us-east-1")])
    code, output = run_on_tty(["sync", "--yes", "--config", str(config)], None)
    assert code == 0 and "Apply these changes?" not in output
    assert cf.mappings(zone) == {"192.0.2.1": ("aws", "us-east-1")}
