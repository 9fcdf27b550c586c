"""Command line: arguments and environment → Config → pipeline → output → exit code. Nothing more.

Heavy modules (httpx, pydantic, the pipeline, cloud SDKs) are imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

__all__ = ["main"]

EXIT_CONFIG = 2


class LazyGroup(click.Group):
    """Commands that live in other modules are imported only when invoked (or listed by --help)."""

    lazy: dict[str, str] = {
        "lookup": "agent.feeds.cli:lookup",
        "init": "agent.init_cmd:init",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            import importlib

            module, _, attr = self.lazy[name].partition(":")
            try:
                command: click.Command = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError):
                return None
            return command
        return super().get_command(ctx, name)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_CONFIG)


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every pipeline command shares."""
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            envvar="ORIGIN_REGION_AGENT_CONFIG",
            help="YAML config file (env ORIGIN_REGION_AGENT_CONFIG).",
        ),
        click.option(
            "--zone", "zones", multiple=True, help="Zone name or id; repeatable. Overrides `zones` in the file."
        ),
        click.option(
            "--policy",
            type=click.Choice(["create-only", "upsert", "sync"]),
            default=None,
            help="What may change (default create-only).",
        ),
        click.option(
            "--max-changes",
            type=click.IntRange(min=0),
            default=None,
            help="Refuse (exit 3) a plan with more changes than this.",
        ),
        click.option("--force", is_flag=True, default=None, help="Apply even a plan larger than --max-changes."),
        click.option("--concurrency", type=click.IntRange(1, 256), default=None, help="Parallel discovery scopes."),
        click.option("--shard", default=None, help="INDEX/COUNT or 'auto' (Indexed Job / Cloud Run task index)."),
        click.option(
            "--output",
            "output",
            type=click.Choice(["text", "json", "none"]),
            default=None,
            help="Summary on stdout: text (default), json, or none (logs only).",
        ),
        click.option(
            "--summary-file",
            type=click.Path(dir_okay=False),
            default=None,
            help="Also write the JSON summary to this file.",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["text", "json"]),
            default=None,
            envvar="ORIGIN_REGION_AGENT_LOG_FORMAT",
            help="Logs on stderr (env ORIGIN_REGION_AGENT_LOG_FORMAT).",
        ),
        click.option(
            "--log-level",
            type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
            default=None,
            envvar="ORIGIN_REGION_AGENT_LOG_LEVEL",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load(config_path: str | None, overrides: dict[str, Any]) -> Any:
    from agent.config import load_config
    from agent.errors import ConfigError

    try:
        config = load_config(config_path, overrides=overrides)
    except ConfigError as exc:
        _fail(str(exc))
    _setup_logging(config.log_format, config.log_level)
    return config


def _setup_logging(fmt: str, level: str) -> None:
    from agent.logs import configure_logging

    configure_logging("json" if fmt == "json" else "text", level)


def _emit(summary: dict[str, Any], output: str | None, summary_file: str | None, log_format: str) -> None:
    from agent.report.text import render_text

    if summary_file:
        with open(summary_file, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
            handle.write("\n")
    if output == "json":
        click.echo(json.dumps(summary, indent=2))
    elif output != "none":
        click.echo(render_text(summary))
    if log_format == "json" or output == "none":  # JSON logs end with the summary; text logs would only repeat it
        from agent.logs import log_summary

        log_summary(summary)


def _push_metrics(config: Any, summary: dict[str, Any]) -> None:
    if not config.metrics.pushgateway_url:
        return
    from agent.metrics import push_run_metrics

    push_run_metrics(
        summary,
        gateway=config.metrics.pushgateway_url,
        job=config.metrics.job,
        grouping_key=config.metrics.grouping_key,
    )


def _finish(config: Any, outcome: Any, output: str | None, summary_file: str | None) -> int:
    """Push metrics, print/write/log the summary of `outcome` (a `RunOutcome`), return its exit code."""
    summary = outcome.to_dict()
    _push_metrics(config, summary)  # before the summary, so the summary stays the last log line
    _emit(summary, output, summary_file, config.log_format)
    return int(outcome.exit_code)


def _execute(config: Any, output: str | None, summary_file: str | None) -> int:
    from agent.pipeline import run

    return _finish(config, run(config, progress=sys.stderr.isatty()), output, summary_file)


def _overrides(zones: tuple[str, ...], **values: Any) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if v is not None}
    if zones:
        out["zones"] = list(zones)
    return out


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="origin-region-agent")
def cli() -> None:
    """Keep Cloudflare origin cloud region mappings in sync with your AWS, GCP, Azure and OCI public IPs.

    Start with `origin-region-agent demo` (no credentials needed), then `init`, `plan` and `sync`.
    Exit codes: 0 success, 1 partial failure, 2 configuration or authentication error, 3 plan refused by a guard
    (or a stale saved plan), 4 changes pending (`plan --detailed-exitcode` only).
    """


@cli.command()
@_run_options
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Save the plan to this file, to apply exactly it later with `apply PLAN.json`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 4 when the plan succeeded and has changes to apply (0 then means: in sync).",
)
def plan(
    config_path: str | None,
    zones: tuple[str, ...],
    output: str | None,
    summary_file: str | None,
    out: str | None,
    detailed_exitcode: bool,
    **flags: Any,
) -> None:
    """Show what `sync` would change (a dry run: nothing is written)."""
    from agent.pipeline import run
    from agent.report.summary import EXIT_CHANGES, EXIT_CONFIG, EXIT_OK

    config = _load(config_path, _overrides(zones, dry_run=True, **flags))
    outcome = run(config, progress=sys.stderr.isatty())
    if out and outcome.exit_code != EXIT_CONFIG:
        from agent.plan.saved import write_plan

        try:
            write_plan(out, outcome, base_url=config.cloudflare.base_url, batch_size=config.cloudflare.batch_size)
        except OSError as exc:
            _fail(f"--out {out}: cannot write the plan file ({exc.strerror or exc})")
        click.echo(f"plan saved to {out} ({outcome.planned_changes} changes); apply it with: apply {out}", err=True)
    code = _finish(config, outcome, output, summary_file)
    if detailed_exitcode and code == EXIT_OK and outcome.planned_changes:
        code = EXIT_CHANGES
    sys.exit(code)


@cli.command(name="apply")
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="ORIGIN_REGION_AGENT_CONFIG",
    help="YAML config file (env ORIGIN_REGION_AGENT_CONFIG): credentials, endpoint and guards.",
)
@click.option("--dry-run/--no-dry-run", default=None, help="Check the plan and report, write nothing.")
@click.option("--max-changes", type=click.IntRange(min=0), default=None, help="Refuse (exit 3) a larger plan.")
@click.option("--force", is_flag=True, default=None, help="Apply even a plan larger than --max-changes.")
@click.option("--output", "output", type=click.Choice(["text", "json", "none"]), default=None)
@click.option("--summary-file", type=click.Path(dir_okay=False), default=None)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default=None, envvar="ORIGIN_REGION_AGENT_LOG_FORMAT"
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    envvar="ORIGIN_REGION_AGENT_LOG_LEVEL",
)
def apply_command(
    plan_file: str, config_path: str | None, output: str | None, summary_file: str | None, **flags: Any
) -> None:
    """Apply exactly a plan saved by `plan --out` (no discovery; refused if stale or made for other zones)."""
    from agent.pipeline import apply_saved

    config = _load(config_path, _overrides((), **flags))
    sys.exit(_finish(config, apply_saved(config, plan_file), output, summary_file))


@cli.command()
@_run_options
@click.option("--dry-run/--no-dry-run", default=None, help="Plan and report, write nothing (overrides `dry_run`).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal.")
def sync(
    config_path: str | None,
    zones: tuple[str, ...],
    output: str | None,
    summary_file: str | None,
    yes: bool,
    **flags: Any,
) -> None:
    """Discover, plan and apply the mappings."""
    config = _load(config_path, _overrides(zones, **flags))
    if not config.dry_run and not yes and sys.stdin.isatty() and sys.stdout.isatty():
        # Discover and plan once, show it, ask, then apply that very plan (checked for staleness first).
        from dataclasses import replace

        from agent.pipeline import apply_outcome, check_guards, plan_run
        from agent.report.text import render_text

        planned = check_guards(config, plan_run(config, progress=True))
        click.echo(render_text(replace(planned, dry_run=True).to_dict()))
        if planned.exit_code in (2, 3) or not planned.planned_changes:
            sys.exit(planned.exit_code)
        if not click.confirm("Apply these changes?", default=False):
            sys.exit(0)
        sys.exit(_finish(config, apply_outcome(config, planned, verify=True), output, summary_file))
    sys.exit(_execute(config, output, summary_file))


@cli.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="ORIGIN_REGION_AGENT_CONFIG")
@click.option("--output", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None)
@click.option("--shard", default=None)
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None)
@click.option(
    "--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False), default=None
)
def discover(config_path: str | None, output: str, **flags: Any) -> None:
    """List the inventory only: every public IP the configured sources see (no Cloudflare calls)."""
    from agent.pipeline import discover as run_discovery
    from agent.report.inventory import render_inventory

    config = _load(config_path, _overrides((), **flags))
    from agent.errors import ConfigError

    try:
        found = run_discovery(config, progress=sys.stderr.isatty())
    except ConfigError as exc:
        _fail(str(exc))
    click.echo(render_inventory(found, output), nl=False)
    sys.exit(0 if found.complete else 1)


def _zone_call(config_path: str | None, zone: str, call: Callable[[Any, str], Any]) -> Any:
    """Build a client from the config, resolve `zone` (name or id), and return `call(client, zone_id)`.

    Any agent error (credentials, unknown zone, API refusal) is reported on one line with exit code 2.
    """
    from agent.errors import AgentError
    from agent.pipeline import build_client

    config = _load(config_path, {})
    try:
        with build_client(config) as client:
            is_id = len(zone) == 32 and all(c in "0123456789abcdef" for c in zone)
            return call(client, zone if is_id else client.zone_id(zone))
    except AgentError as exc:
        _fail(str(exc))


def _zone_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--output", type=click.Choice(["table", "json"]), default="table")(func)
    func = click.option("--zone", required=True, help="Zone name or id.")(func)
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), envvar="ORIGIN_REGION_AGENT_CONFIG"
    )(func)


@cli.command()
@_zone_options
def mappings(config_path: str | None, zone: str, output: str) -> None:
    """List the current origin cloud region mappings of a zone."""
    found = _zone_call(config_path, zone, lambda client, zone_id: client.list_mappings(zone_id))
    items = [
        {"origin_ip": m.ip, "vendor": m.vendor.value, "region": m.region, "modified_on": m.modified_on} for m in found
    ]
    if output == "json":
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        click.echo(f"{item['origin_ip']:<40} {item['vendor']:<6} {item['region']:<24} {item.get('modified_on') or ''}")
    click.echo(f"{len(items)} mappings", err=True)


@cli.command()
@_zone_options
def regions(config_path: str | None, zone: str, output: str) -> None:
    """List the vendors and regions a zone accepts (needs Tiered Cache on the zone)."""
    supported = _zone_call(config_path, zone, lambda client, zone_id: client.supported_regions(zone_id))
    if output == "json":
        click.echo(json.dumps({v: sorted(r) for v, r in sorted(supported.items())}, indent=2))
        return
    for vendor, names in sorted(supported.items()):
        click.echo(f"{vendor}: {', '.join(sorted(names))}")


@cli.command()
@click.option("--output", type=click.Choice(["text", "json"]), default="text")
@click.option("--clouds", default="all", help="Comma-separated fakes to start: aws,gcp,azure,oci (installed extras).")
@click.option(
    "--engine",
    is_flag=True,
    help="Discover through each cloud's inventory engine (AWS Config aggregator…) where its fake has one.",
)
def demo(output: str, clouds: str, engine: bool) -> None:
    """Run the whole pipeline against the built-in sandbox: no credentials, no network."""
    from agent.sandbox.demo_run import run_demo

    sys.exit(run_demo(output=output, clouds=clouds, engine=engine))


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`origin-region-agent`, `python -m agent`)."""
    cli.main(args=argv, prog_name="origin-region-agent")
