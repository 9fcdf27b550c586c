"""Feeds are bounded (issue 12, part 3): a gzip bomb and a FIFO fail clearly through `lookup`, never hang or OOM."""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

from click.testing import CliRunner

from agent.cli import cli
from agent.feeds.fetch import MAX_INFLATED_BYTES


def _gzip_bomb(path: Path, inflated: int) -> None:
    """A gzip of `inflated` zero bytes, written in chunks (a few hundred KB on disk)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"0" * (1 << 20)
    with path.open("wb") as handle:
        for _ in range(inflated // len(block)):
            handle.write(packer.compress(block))
        handle.write(packer.flush())


def test_gzip_bomb_feed_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    bomb = tmp_path / "ip-ranges.json.gz"
    _gzip_bomb(bomb, MAX_INFLATED_BYTES + (8 << 20))
    assert bomb.stat().st_size < 3_000_000
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["lookup", "--aws-url", str(bomb), "--offline", "192.0.2.1"])
    assert time.monotonic() - started < 20
    assert result.exit_code == 1, result.output
    assert "inflates to more than" in result.output + (result.stderr or "")
    assert "MemoryError" not in result.output + (result.stderr or "")


def test_fifo_feed_is_refused_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "ip-ranges.json"
    os.mkfifo(fifo)
    result = CliRunner().invoke(cli, ["lookup", "--aws-url", str(fifo), "--offline", "192.0.2.1"])
    assert result.exit_code == 1
    assert "not a regular file" in result.output + (result.stderr or "")
