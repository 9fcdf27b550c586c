"""On a terminal `init` asks whether to use the public IP-range feeds (they need egress); through a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROMPT = b"Also use the clouds' public IP-range feeds?"


def run_init_on_tty(home: Path, path: Path, answer: str) -> tuple[int, str]:
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_", "OCI_"))}
    env.update({"HOME": str(home), "COLUMNS": "120"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "init", "--path", str(path)],
        stdin=terminal, stdout=terminal, stderr=terminal, env=env, close_fds=True,
    )  # fmt: skip
    os.close(terminal)
    output, answered, deadline = b"", False, time.monotonic() + 30
    try:
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
                if not answered and PROMPT in output:
                    os.write(controller, answer.encode() + b"\n")
                    answered = True
            elif proc.poll() is not None:
                break
        proc.wait(timeout=10)
    finally:
        os.close(controller)
    return proc.returncode, output.decode(errors="replace")


@pytest.mark.parametrize(("answer", "enabled"), [("y", True), ("n", False)])
def test_init_asks_about_the_feeds(tmp_path: Path, answer: str, enabled: bool) -> None:
    """Yes enables `ranges`; no leaves it commented out with the reason."""
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n")
    path = tmp_path / "agent.yaml"
    code, output = run_init_on_tty(tmp_path, path, answer)
    assert code == 0, output
    assert "IP-range feeds?" in output
    text = path.read_text()
    assert ("\n  ranges: {}" in text) is enabled
    assert ("# ranges: {}" in text and "egress-restricted" in text) is not enabled
