"""The command line says what is missing and why: failed scopes, unmatched origins, hints, errors once, vocabulary."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
import yaml

from agent.cli import ENV_PREFIX, cli
from agent.report.text import FOLD, render_text
from agent.sandbox.cloudflare import FakeCloudflare

COMMANDS = ("plan", "sync", "apply", "discover", "mappings", "regions", "demo", "doctor", "lookup", "init")


def all_commands() -> dict[str, click.Command]:
    ctx = click.Context(cli, **cli.context_settings)
    found = {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}
    feeds = found.pop("feeds")
    assert isinstance(feeds, click.Group)
    found["feeds fetch"] = feeds.commands["fetch"]
    return {name: command for name, command in found.items() if command is not None}


def test_every_option_has_help_and_a_prefixed_env_var() -> None:
    """Every option of every command: help text, and ORIGIN_REGION_AGENT_<NAME> shown in --help."""
    commands = all_commands()
    assert set(COMMANDS) <= set(commands)
    for name, command in commands.items():
        options = [p for p in command.params if isinstance(p, click.Option) and not p.is_eager]
        for option in options:
            assert option.help, f"{name} {option.opts}: no help text"
            assert isinstance(option.envvar, str) and option.envvar.startswith(ENV_PREFIX + "_"), (name, option.opts)
        names = {o for p in options for o in p.opts}
        assert {"--log-level", "--log-format"} <= names, name
        # A child of the group's context, as on the command line (click caches each command's --help option).
        parent = click.Context(cli, info_name="origin-region-agent", **cli.context_settings)
        text = " ".join(command.get_help(click.Context(command, info_name=name, parent=parent)).split())
        for option in options:
            assert f"env var: {option.envvar}" in text, (name, option.opts)


def test_one_output_vocabulary() -> None:
    """-o/--output everywhere, values from table|json|csv|yaml|none; none only where a command has side effects."""
    for name, command in all_commands().items():
        (output,) = [p for p in command.params if isinstance(p, click.Option) and "--output" in p.opts]
        assert "-o" in output.opts, name
        assert isinstance(output.type, click.Choice)
        values = set(output.type.choices) - {"text"}  # lookup keeps its one-line form under its old name
        assert values <= {"table", "json", "csv", "yaml", "none"}, (name, values)
        assert {"table", "json", "yaml"} <= values, name
        assert ("none" in values) == (name in ("plan", "sync", "apply", "demo", "init", "feeds fetch")), name


def test_env_var_sets_a_flag(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """ORIGIN_REGION_AGENT_POLICY and ORIGIN_REGION_AGENT_OUTPUT act like --policy and --output."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    config = str(write_config([("192.0.2.1", "aws", "us-east-1")]))
    result = run_cli(
        "plan", "--config", config, env={"ORIGIN_REGION_AGENT_POLICY": "upsert", "ORIGIN_REGION_AGENT_OUTPUT": "yaml"}
    )
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["policy"] == "upsert"


def test_all_scopes_failing_is_not_up_to_date(
    cf: FakeCloudflare, zone: str, write_config, run_cli, tmp_path: Path
) -> None:
    """Every scope failing: no 'up to date'; the failed scope with its code and hint; each unmatched origin named."""
    for n in range(FOLD + 5):
        cf.add_dns_record(zone, "A", f"o{n}.example.com", f"3.5.140.{n + 1}")
    ranges = {"feeds": ["aws"], "offline": True, "cache_dir": str(tmp_path / "none")}
    config = write_config([], inventory={"ranges": ranges})
    result = run_cli("plan", "--config", str(config))
    assert result.exit_code == 1
    out = result.stdout
    assert "up to date" not in out and "incomplete" in out
    assert "Failed scopes (1)" in out and "ranges:aws" in out and "no-cache" in out and "feeds_dir" in out
    assert f"unmatched origins ({FOLD + 5})" in out and "3.5.140.1  <- A o0.example.com" in out
    assert "… and 5 more unmatched origins (all of them in --output json)" in out
    summary = json.loads(run_cli("plan", "--config", str(config), "-o", "json").stdout)
    assert len(summary["zones"][0]["unmatched"]) == FOLD + 5


def test_unsupported_and_over_cap_are_listed() -> None:
    """The text names unsupported and over-cap IPs, not only their counts."""
    zone = {
        "zone": "example.com", "zone_id": "z" * 32, "complete": True, "error": None, "origin_ips": 3, "matched": 2,
        "unchanged": 0, "unmatched": [], "unsupported": [{"ip": "192.0.2.9", "vendor": "aws", "region": "mars-1"}],
        "ambiguous": [], "global": [], "failed": [], "conflicts": [], "drift": [], "disagreements": [], "warnings": [],
        "over_cap": ["192.0.2.10"], "changes": [], "origins": {},
    }  # fmt: skip
    summary = {
        "dry_run": True, "policy": "create-only", "api_family": "v2", "errors": [], "exit_code": 0, "zones": [zone],
        "discovery": {"complete": True, "scopes": 1, "sources": {}, "scope_errors": []}, "totals": {},
    }  # fmt: skip
    text = render_text(summary)
    assert "192.0.2.9  aws/mars-1" in text and "over the zone's mapping cap (1)" in text and "192.0.2.10" in text
    assert "up to date" not in text


def test_config_error_is_reported_once(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """An unknown zone: one error line, no empty summary after it."""
    result = run_cli("plan", "--config", str(write_config([])), "--zone", "nope.example")
    assert result.exit_code == 2
    both = result.stdout + result.stderr
    assert both.count("nope.example") == 1, both
    assert "Summary:" not in both


def test_cloudflare_hints_on_403_10000_and_7003(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """403/10000 names the permission group the call needs; 7003 says the zone id is wrong or invisible."""
    config = str(write_config([]))
    cf.fail_next(403, code=10000, match="/origin/cloud_regions")
    result = run_cli("mappings", "--config", config, "--zone", "example.com")
    assert result.exit_code == 2 and "hint:" in result.stderr and "Zone Settings" in result.stderr
    assert "tokens/verify" in result.stderr
    result = run_cli("regions", "--config", config, "--zone", "0" * 31 + "1")
    assert result.exit_code == 2 and "zone id is wrong or the token cannot see the zone" in result.stderr
    cf.fail_next(403, code=10000, match="/dns_records")
    result = run_cli("plan", "--config", config)
    assert "DNS: Read" in result.stdout + result.stderr


def test_mappings_table_has_headers_and_full_values(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """The mappings table has a header and its count on stdout; CSV and YAML carry the same rows."""
    cf.set_mapping(zone, "2001:db8:1234:5678:9abc:def0:1234:5678", "aws", "ap-southeast-4")
    config = str(write_config([]))
    table = run_cli("mappings", "--config", config, "--zone", "example.com").stdout.splitlines()
    assert table[0].split() == ["ORIGIN", "IP", "VENDOR", "REGION", "MODIFIED", "ON"]
    assert "2001:db8:1234:5678:9abc:def0:1234:5678" in table[2] and table[-1] == "1 mappings"
    rows = list(
        csv.DictReader(io.StringIO(run_cli("mappings", "--config", config, "--zone", zone, "-o", "csv").stdout))
    )
    assert rows[0]["region"] == "ap-southeast-4"


def test_plan_source_column_is_not_truncated() -> None:
    """Off a terminal a long SOURCE is printed whole; on a narrow terminal it is folded, never cut."""
    from agent.report.tables import render_table

    source = "aws:123456789012/eu-west-1/eni-0123456789abcdef0/eipalloc-0fedcba9876543210"
    change = {"action": "create", "ip": "192.0.2.1", "vendor": "aws", "region": "eu-west-1", "source": source,
              "status": "pending"}  # fmt: skip
    zone = {
        "zone": "example.com", "zone_id": "z" * 32, "complete": True, "error": None, "origin_ips": 1, "matched": 1,
        "unchanged": 0, "unmatched": [], "unsupported": [], "ambiguous": [], "global": [], "failed": [],
        "conflicts": [], "drift": [], "disagreements": [], "warnings": [], "over_cap": [], "changes": [change],
        "origins": {},
    }  # fmt: skip
    summary = {
        "dry_run": True, "policy": "create-only", "api_family": "v2", "errors": [], "exit_code": 0, "zones": [zone],
        "discovery": {"complete": True, "scopes": 1, "sources": {}, "scope_errors": []}, "totals": {},
    }  # fmt: skip
    assert source in render_text(summary)  # CliRunner / pipes: not a terminal
    folded = render_table(["ACTION", "IP", "SOURCE"], [["+ create", "192.0.2.1", source]], width=50)
    assert "".join(line.split()[-1] for line in folded.splitlines()[2:]).endswith(source[-20:])
    assert all(len(line) <= 50 for line in folded.splitlines())


def test_discover_csv_reports_failed_scopes_on_stderr(write_config, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """CSV stays clean on stdout; the failed scope goes to stderr with its code and hint, and the exit code is 1."""
    import contextlib

    aws = pytest.importorskip("agent.sandbox.aws")
    with contextlib.ExitStack() as stack:
        demo = aws.start_demo(stack)
        for key, value in demo.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-access-key-000000000000000000")
        config = write_config([("192.0.2.1", "aws", "us-east-1")], inventory={"aws": demo.config})
        data = yaml.safe_load(config.read_text())
        data["inventory"]["static"] = {"path": str(config.parent / "inventory.csv")}
        config.write_text(yaml.safe_dump(data))
        result = run_cli("discover", "--config", str(config), "-o", "csv")
        table = run_cli("discover", "--config", str(config))
        document = yaml.safe_load(run_cli("discover", "--config", str(config), "-o", "yaml").stdout)
    assert table.exit_code == 1 and "failed: see stderr" in table.stdout.splitlines()[-1]
    assert (table.stdout + table.stderr).count("scope aws:default failed") == 1  # once, on stderr, with its hint
    assert table.stdout.splitlines()[0].split()[:3] == ["IP", "VENDOR", "REGION"]
    assert document["complete"] is False and document["scope_errors"][0]["code"] == "SignatureDoesNotMatch"
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("ip,vendor,region")
    assert "192.0.2.1" in result.stdout and "SignatureDoesNotMatch" not in result.stdout
    line = next(line for line in result.stderr.splitlines() if line.startswith("error: scope aws:"))
    assert "SignatureDoesNotMatch" in line and "aws sts get-caller-identity" in line


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
def test_plan_formats(cf: FakeCloudflare, zone: str, write_config, run_cli, fmt: str) -> None:
    """json, yaml and csv of the same plan agree on the change."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    out = run_cli("plan", "--config", str(write_config([("192.0.2.1", "aws", "us-east-1")])), "-o", fmt).stdout
    if fmt == "csv":
        (row,) = list(csv.DictReader(io.StringIO(out)))
        assert (row["zone"], row["action"], row["ip"], row["region"]) == (
            "example.com",
            "create",
            "192.0.2.1",
            "us-east-1",
        )
    else:
        doc = json.loads(out) if fmt == "json" else yaml.safe_load(out)
        assert doc["zones"][0]["changes"][0]["ip"] == "192.0.2.1"
