"""On a terminal, `sync` shows the plan and asks before writing; `--yes` skips the question."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from agent.sandbox.cloudflare import FakeCloudflare
from tests.pipeline.conftest import TOKEN, writes


def run_on_tty(args: list[str], answer: str | Callable[[], str] | None, timeout: float = 60.0) -> tuple[int, str]:
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
                text = answer() if callable(answer) else answer
                os.write(controller, text.encode() + b"\n")
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
    assert code == (0 if applied else 5), output  # 5: declined, documented in --help and the README
    assert ("Declined: nothing was written" in output) is not applied
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


class CountingInventory:
    """A static inventory served through a named pipe: every open by the collector (one per scope run) is counted."""

    def __init__(self, path: Path, rows: str) -> None:
        self.path, self.rows, self.opened = path, rows.encode(), 0
        self._stop = threading.Event()
        os.mkfifo(path)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            fd = os.open(self.path, os.O_WRONLY)  # blocks until a reader opens the pipe
            if self._stop.is_set():
                os.close(fd)
                return
            self.opened += 1
            os.write(fd, self.rows)
            os.close(fd)
            self._wait_for_reader_to_close()

    def _wait_for_reader_to_close(self) -> None:
        """Until this reader closes, a new blocking open would return at once and feed it the rows twice."""
        while not self._stop.is_set():
            try:
                probe = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody has the pipe open for reading
                return
            os.close(probe)
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # unblocks the writer's open
        self._thread.join(timeout=5)
        os.close(reader)


@pytest.fixture
def counting_config(cf: FakeCloudflare, zone: str, tmp_path: Path) -> Iterator[tuple[Path, CountingInventory]]:
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    inventory = CountingInventory(tmp_path / "inventory.csv", "ip,vendor,region\n192.0.2.1,aws,us-east-1\n")
    config = {
        "cloudflare": {"base_url": cf.base_url, "max_retries": 0},
        "zones": [{"name": "example.com"}],
        "inventory": {"static": {"path": str(inventory.path), "format": "csv"}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    yield path, inventory
    inventory.close()


def test_terminal_sync_discovers_once(cf: FakeCloudflare, zone: str, counting_config) -> None:
    """Plan, show, ask, apply: the inventory's one scope runs once per `sync`, not once for the preview and again."""
    config, inventory = counting_config
    code, output = run_on_tty(["sync", "--config", str(config)], "y")
    assert code == 0, output
    assert "Apply these changes?" in output and cf.mappings(zone) == {"192.0.2.1": ("aws", "us-east-1")}
    assert inventory.opened == 1


def test_terminal_sync_applies_the_plan_it_showed_or_refuses_when_stale(
    cf: FakeCloudflare, zone: str, counting_config
) -> None:
    """A mapping made while the question waits makes the shown plan stale: nothing is written, exit 3."""
    config, _ = counting_config

    def answer_after_a_concurrent_write() -> str:
        cf.set_mapping(zone, "192.0.2.1", "gcp", "europe-west1")  # another agent, or a person
        return "y"

    code, output = run_on_tty(["sync", "--config", str(config)], answer_after_a_concurrent_write)
    assert code == 3, output
    assert "stale" in output and "192.0.2.1" in output
    assert cf.mappings(zone) == {"192.0.2.1": ("gcp", "europe-west1")}
