"""Bad input gets a clear error, quickly (issue 12, part 3), through the CLI."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

LAUGHS = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8", id="binary"),
        pytest.param("policy: sync\nzones: [{name: caf\xe9.com}]\n".encode("latin-1"), "not UTF-8", id="latin-1"),
    ],
)
def test_non_utf8_config_is_a_clear_error(content: bytes, expected: str, tmp_path: Path, run_cli: Any) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    result = run_cli("plan", "--config", str(path))
    assert result.exit_code == 2
    assert expected in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_billion_laughs_is_refused_within_a_second(tmp_path: Path, run_cli: Any) -> None:
    """Nested YAML aliases (9^9 values once expanded) are refused before interpolation walks them."""
    path = tmp_path / "c.yaml"
    path.write_text(LAUGHS + "zones: [{name: example.com}]\n")
    started = time.monotonic()
    result = run_cli("plan", "--config", str(path))
    assert time.monotonic() - started < 1.0
    assert result.exit_code == 2
    assert "aliases" in result.stderr and "Traceback" not in result.stderr


def test_fifo_config_is_refused_instead_of_hanging(tmp_path: Path, run_cli: Any) -> None:
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    result = run_cli("plan", "--config", str(fifo))
    assert result.exit_code == 2 and "not a regular file" in result.stderr


def test_small_aliases_still_work(tmp_path: Path, run_cli: Any, write_config: Any) -> None:
    """Ordinary anchors (shared origin settings) stay allowed."""
    base = write_config([]).read_text()
    path = tmp_path / "anchors.yaml"
    path.write_text(base + "x-origins: &o {dns: proxied}\norigins: *o\n")
    result = run_cli("plan", "--config", str(path))
    assert result.exit_code == 2 and "x-origins: unknown key" in result.stderr  # the alias itself was accepted
