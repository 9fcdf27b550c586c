"""No secret is ever printed (issue 12, part 2): every error path, CLI and handler, grepped for a sentinel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.handlers.common import execute
from agent.sandbox.cloudflare import FakeCloudflare

SENTINEL = "SENTINEL-7f3a9c2e1b5d4f60-cf-token"
KEY_SENTINEL = "keysentinel0123456789abcdef0123456789"


def _all_output(result: Any, *files: Path) -> str:
    return result.stdout + result.stderr + "".join(f.read_text() for f in files if f.exists())


def _cfg(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


CASES = [
    pytest.param("zones: [{name: a.com}]\npolicy: sync\n", ("--shard", "0/2"), id="sharded-sync"),
    pytest.param("all_zones: true\n", (), id="all-zones-without-account"),
    pytest.param("zones: [{name: a.com}]\ncloudflare: {timeout_s: '${CLOUDFLARE_API_TOKEN}'}\n", (), id="timeout_s"),
    pytest.param("zones: [{id: '${CLOUDFLARE_API_TOKEN}'}]\n", (), id="zone-id"),
    pytest.param("zones: [{name: a.com}]\n'${CLOUDFLARE_API_TOKEN}': 1\n", (), id="unknown-key-name"),
    pytest.param("zones: [{name: a.com}]\nmystery: '${CLOUDFLARE_API_TOKEN}'\n", (), id="unknown-key-value"),
    pytest.param("zones: [{name: a.com}]\norigins: {static: ['${CLOUDFLARE_API_TOKEN}']}\n", (), id="origins.static"),
    pytest.param("zones: [{name: a.com}]\nshard: '${CLOUDFLARE_API_TOKEN}'\n", (), id="shard"),
    pytest.param("zones: [{name: a.com}]\npolicy: '${CLOUDFLARE_API_TOKEN}'\n", (), id="policy"),
    pytest.param("zones: [{name: a.com}]\nlog_level: '${CLOUDFLARE_API_KEY}'\n", (), id="global-key-in-log_level"),
]


@pytest.mark.parametrize(("text", "flags"), CASES)
def test_config_errors_never_print_a_secret(
    text: str, flags: tuple[str, ...], tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token (or global key) from the environment never appears in any output of a configuration error."""
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", SENTINEL)
    if "API_KEY" in text:
        monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
        monkeypatch.setenv("CLOUDFLARE_EMAIL", "ops@example.com")
        monkeypatch.setenv("CLOUDFLARE_API_KEY", KEY_SENTINEL)
    summary = tmp_path / "summary.json"
    for fmt in ("text", "json"):
        result = run_cli(
            "sync", "--config", _cfg(tmp_path, text), *flags, "--summary-file", str(summary), "--log-format", fmt
        )
        assert result.exit_code == 2, result.stderr
        out = _all_output(result, summary)
        assert "error" in out
        assert SENTINEL not in out and KEY_SENTINEL not in out
        assert "Traceback" not in out


@pytest.mark.parametrize(("text", "flags"), CASES)
def test_handler_answers_never_carry_a_secret(
    text: str, flags: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """The serverless handlers' returned summary and their log lines never carry the secret either."""
    env = {"CLOUDFLARE_API_TOKEN": SENTINEL, "CLOUDFLARE_EMAIL": "ops@example.com"}
    if "API_KEY" in text:
        env = {"CLOUDFLARE_EMAIL": "ops@example.com", "CLOUDFLARE_API_KEY": KEY_SENTINEL}
    config = yaml.safe_load(
        text.replace("${CLOUDFLARE_API_TOKEN}", SENTINEL).replace("${CLOUDFLARE_API_KEY}", KEY_SENTINEL)
    )
    overrides = {"shard": flags[1]} if flags else {}
    summary = execute(payload={"config": config, **overrides}, env=env)
    assert summary["exit_code"] == 2
    dumped = json.dumps(summary) + capsys.readouterr().err + capsys.readouterr().out
    assert SENTINEL not in dumped and KEY_SENTINEL not in dumped


def test_api_errors_and_run_summary_never_print_a_secret(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused token, an API error echoing the token, and the JSON log: the sentinel appears nowhere."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    config = str(write_config([("192.0.2.1", "aws", "us-east-1")]))
    summary = tmp_path / "s.json"
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", SENTINEL)  # not a token the fake knows: 403 on every call
    result = run_cli("sync", "--config", config, "--summary-file", str(summary), "--log-format", "json")
    assert result.exit_code == 2
    assert SENTINEL not in _all_output(result, summary)
