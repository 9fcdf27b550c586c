"""The `doctor` command: options → config → `run_checks` → one line per check → exit code."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from agent.cli import CONTEXT_SETTINGS, LIST_OUTPUTS, _config_option, _setup_logging, log_options, output_option

__all__ = ["EXIT_CONFIG", "EXIT_PROBLEMS", "doctor"]

EXIT_PROBLEMS, EXIT_CONFIG = 1, 2


@click.command("doctor", context_settings=CONTEXT_SETTINGS)
@_config_option
@click.option("--zone", "zones", multiple=True, help="Zone name or id to check; repeatable. Overrides `zones`.")
@output_option(LIST_OUTPUTS)
@log_options
def doctor(config_path: str | None, zones: tuple[str, ...], output: str, **flags: Any) -> None:
    """Check everything a run needs, writing nothing: Cloudflare credentials and zones, each cloud, the feeds.

    One line per check: ok, problem (with a hint), or unchecked (the write permission cannot be checked without
    writing). Exit 0 all good, 1 some check failed, 2 the config is unreadable.
    """
    from agent.config import load_config
    from agent.doctor.checks import Status, run_checks
    from agent.errors import ConfigError
    from agent.report.tables import render_rows

    overrides: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    if zones:
        overrides["zones"] = list(zones)
    try:
        config = load_config(config_path, overrides=overrides)
    except ConfigError as exc:
        if output == "json":
            click.echo(json.dumps({"ok": False, "exit_code": EXIT_CONFIG, "error": str(exc), "checks": []}, indent=2))
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    _setup_logging(config.log_format, config.log_level)
    checks = run_checks(config)
    failed = any(c.status is Status.PROBLEM for c in checks)
    code = EXIT_PROBLEMS if failed else 0
    rows = [c.as_dict() for c in checks]
    document = {"ok": not failed, "exit_code": code, "checks": rows}
    click.echo(render_rows(rows, ("check", "status", "detail", "hint"), output, document=document), nl=False)
    if output == "table":
        problems = sum(1 for c in checks if c.status is Status.PROBLEM)
        click.echo(f"{len(checks)} checks, {problems} problems" + ("" if problems else ": ready to run"))
    sys.exit(code)
