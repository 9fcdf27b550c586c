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
EXIT_DECLINED = 5  # `sync` on a terminal: the confirmation was declined, nothing was written
ENV_PREFIX = "ORIGIN_REGION_AGENT"
# Also set on the commands defined in other modules, so they read the same when invoked on their own (tests, embedding).
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 110}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
RUN_OUTPUTS = ("table", "json", "csv", "yaml", "none")
LIST_OUTPUTS = ("table", "json", "csv", "yaml")


class OutputChoice(click.Choice):  # type: ignore[type-arg]
    """An `--output` value; ``text``, the name `table` had before, is still accepted (not listed in --help)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() == "text" and "table" in self.choices:
            value = "table"
        return super().convert(value, param, ctx)


def output_option(choices: tuple[str, ...] = RUN_OUTPUTS, default: str = "table") -> Callable[..., Any]:
    """`-o/--output`, with the same names on every command (`none`: nothing on stdout, logs only)."""
    descriptions = {
        "table": "table: for people",
        "json": "json: the complete document",
        "csv": "csv: one row per item",
        "yaml": "yaml: as json",
        "none": "none: nothing on stdout (logs only)",
    }
    return click.option(
        "-o",
        "--output",
        "output",
        type=OutputChoice(list(choices), case_sensitive=False),
        default=default,
        show_default=True,
        help="Output format on stdout. " + "; ".join(descriptions[c] for c in choices) + ".",
    )


def log_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--log-format` and `--log-level`, on every command. Logs go to stderr."""
    func = click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default=None,
        help="Lowest level logged on stderr (default INFO, or `log_level` in the config if any).",
    )(func)
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default=None,
        help="Logs on stderr as text lines or JSON objects (default text, or `log_format` in the config if any).",
    )(func)


def env_var_of(option: click.Option) -> str:
    """``--max-changes`` → ``ORIGIN_REGION_AGENT_MAX_CHANGES``: one prefix, the long flag's name."""
    longest = max(option.opts, key=len).lstrip("-")
    return f"{ENV_PREFIX}_{longest.replace('-', '_').upper()}"


def with_env_vars(command: click.Command) -> click.Command:
    """Give every option of `command` (and of its subcommands) an environment variable, shown in --help."""
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and not param.is_eager:
            if param.envvar is None:
                param.envvar = env_var_of(param)
            param.show_envvar = True
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_env_vars(sub)
    return command


class LazyGroup(click.Group):
    """Commands that live in other modules are imported only when invoked (or listed by --help)."""

    lazy: dict[str, str] = {
        "doctor": "agent.doctor.cli:doctor",
        "feeds": "agent.feeds.cli:feeds",
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
            return with_env_vars(command)
        found = super().get_command(ctx, name)
        return with_env_vars(found) if found is not None else None


def _fail(message: str, hint: str = "") -> NoReturn:
    from agent.secrets import redact

    click.echo(f"error: {redact(message)}", err=True)
    if hint:
        click.echo(f"hint: {redact(hint)}", err=True)
    sys.exit(EXIT_CONFIG)


def _config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="YAML config file (see README: Configuration). Without it, settings come from flags and environment.",
    )(func)


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every pipeline command shares."""
    options: list[Callable[..., Any]] = [
        _config_option,
        click.option(
            "--zone", "zones", multiple=True, help="Zone name or id; repeatable. Overrides `zones` in the file."
        ),
        click.option(
            "--policy",
            type=click.Choice(["create-only", "upsert", "sync"]),
            default=None,
            help="What may change: create-only (default) adds; upsert also corrects; sync also deletes.",
        ),
        click.option(
            "--max-changes",
            type=click.IntRange(min=0),
            default=None,
            help="Refuse (exit 3) a plan with more changes than this.",
        ),
        click.option(
            "--max-deletes",
            default=None,
            metavar="N|P%",
            help="Refuse (exit 3) a plan deleting more than N mappings, or P% of its current ones, in a zone "
            "(default 10%, at least 1).",
        ),
        click.option(
            "--force", is_flag=True, default=None, help="Apply even a plan beyond --max-changes or --max-deletes."
        ),
        click.option("--concurrency", type=click.IntRange(1, 256), default=None, help="Parallel discovery scopes."),
        click.option("--shard", default=None, help="INDEX/COUNT or 'auto' (Indexed Job / Cloud Run task index)."),
        output_option(),
        click.option(
            "--summary-file",
            type=click.Path(dir_okay=False),
            default=None,
            help="Also write the complete JSON summary to this file.",
        ),
        log_options,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load(config_path: str | None, overrides: dict[str, Any], output: str | None = None) -> Any:
    """The config (exit 2 on an error, said once), with logging set up from it.

    With the table `output` and text logs, the summary lists each failed scope with its hint, so the runner's
    per-scope log lines are not printed as well.
    """
    from agent.config import load_config
    from agent.errors import ConfigError

    try:
        config = load_config(config_path, overrides=overrides)
    except ConfigError as exc:
        _fail(str(exc))
    _setup_logging(config.log_format, config.log_level)
    if output == "table" and config.log_format != "json":
        _report_scope_failures_ourselves()
    return config


class _ErrorsSaid:
    """Remembers the ERROR lines logged on stderr, so the text summary does not print them a second time."""

    def __init__(self) -> None:
        self.messages: set[str] = set()

    def filter(self, record: Any) -> bool:
        import logging

        if record.levelno >= logging.ERROR:
            self.messages.add(record.getMessage())
        return True


_said = _ErrorsSaid()


def _scope_failures_reported_by_us(record: Any) -> bool:
    """Drops the runner's per-scope failure lines: the command reports each failed scope itself, once, with a hint.

    Installed only for text logs on commands that do (`discover`; `plan`/`sync`/`apply` with the table output);
    JSON logs keep every line for the log platform.
    """
    if record.name != "agent.collectors.runner":
        return True
    message = record.getMessage()  # the redacting filter before this one may have formatted it already
    return not (message.startswith("scope ") and " failed: " in message)


def _report_scope_failures_ourselves() -> None:
    import logging

    for handler in logging.getLogger().handlers:
        if _scope_failures_reported_by_us not in handler.filters:
            handler.addFilter(_scope_failures_reported_by_us)


def _setup_logging(fmt: str | None, level: str | None) -> None:
    import logging

    from agent.logs import configure_logging

    configure_logging("json" if fmt == "json" else "text", level or "INFO")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_said)


def _change_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"zone": zone["zone"], **change} for zone in summary["zones"] for change in zone["changes"]]


CHANGE_COLUMNS = ("zone", "action", "ip", "vendor", "region", "old_vendor", "old_region", "source", "status", "error")


def _emit(summary: dict[str, Any], output: str | None, summary_file: str | None, log_format: str) -> None:
    from agent.report.tables import render_rows, to_yaml
    from agent.report.text import render_text

    if summary_file:
        with open(summary_file, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
            handle.write("\n")
    if output == "json":
        click.echo(json.dumps(summary, indent=2))
    elif output == "yaml":
        click.echo(to_yaml(summary), nl=False)
    elif output == "csv":
        click.echo(render_rows(_change_rows(summary), CHANGE_COLUMNS, "csv"), nl=False)
    elif output != "none":
        text = render_text(summary, already_said=frozenset(_said.messages))
        if text:
            click.echo(text)
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


def _progress() -> bool:
    """Progress is drawn on a terminal only (stderr), never into a pipe or a log file."""
    return sys.stderr.isatty()


def _execute(config: Any, output: str | None, summary_file: str | None) -> int:
    from agent.pipeline import run
    from agent.progress import progress_display
    from agent.signals import graceful_stop

    with graceful_stop(), progress_display(_progress(), "starting"):
        outcome = run(config, progress=_progress())
    return _finish(config, outcome, output, summary_file)


def _overrides(zones: tuple[str, ...], **values: Any) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if v is not None}
    if zones:
        out["zones"] = list(zones)
    return out


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="origin-region-agent")
def cli() -> None:
    """Keep Cloudflare origin cloud region mappings in sync with your AWS, GCP, Azure and OCI public IPs.

    Start with `origin-region-agent demo` (no credentials needed), then `init`, `doctor`, `plan` and `sync`.
    Every option can also be set by an environment variable ORIGIN_REGION_AGENT_<OPTION> (shown in each command's
    --help). Exit codes: 0 success, 1 partial failure, 2 configuration or authentication error, 3 plan refused by a
    guard (or a stale saved plan), 4 changes pending (`plan --detailed-exitcode` only), 5 confirmation declined.
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
    from agent.progress import progress_display
    from agent.report.summary import EXIT_CHANGES, EXIT_CONFIG, EXIT_OK

    config = _load(config_path, _overrides(zones, dry_run=True, **flags), output)
    with progress_display(_progress(), "starting"):
        outcome = run(config, progress=_progress())
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
@_config_option
@click.option("--dry-run/--no-dry-run", default=None, help="Check the plan and report, write nothing.")
@click.option("--max-changes", type=click.IntRange(min=0), default=None, help="Refuse (exit 3) a larger plan.")
@click.option(
    "--max-deletes",
    default=None,
    metavar="N|P%",
    help="Refuse (exit 3) a plan deleting more than N mappings, or P% of its current ones, in a zone (default 10%).",
)
@click.option("--force", is_flag=True, default=None, help="Apply even a plan beyond --max-changes or --max-deletes.")
@output_option()
@click.option(
    "--summary-file", type=click.Path(dir_okay=False), default=None, help="Also write the JSON summary to this file."
)
@log_options
def apply_command(
    plan_file: str, config_path: str | None, output: str | None, summary_file: str | None, **flags: Any
) -> None:
    """Apply exactly a plan saved by `plan --out` (no discovery; refused if stale or made for other zones)."""
    from agent.pipeline import apply_saved
    from agent.progress import progress_display

    config = _load(config_path, _overrides((), **flags))
    from agent.signals import graceful_stop

    with graceful_stop(), progress_display(_progress(), "applying the saved plan"):
        outcome = apply_saved(config, plan_file)
    sys.exit(_finish(config, outcome, output, summary_file))


@cli.command()
@_run_options
@click.option("--dry-run/--no-dry-run", default=None, help="Plan and report, write nothing (overrides `dry_run`).")
@click.option("--yes", "-y", is_flag=True, default=None, help="Do not ask for confirmation on a terminal.")
def sync(
    config_path: str | None,
    zones: tuple[str, ...],
    output: str | None,
    summary_file: str | None,
    yes: bool | None,
    **flags: Any,
) -> None:
    """Discover, plan and apply the mappings.

    On a terminal (without --yes) it shows the plan first and asks; declining writes nothing and exits 5.
    """
    config = _load(config_path, _overrides(zones, **flags), output)
    if not config.dry_run and not yes and sys.stdin.isatty() and sys.stdout.isatty():
        # Discover and plan once, show it, ask, then apply that very plan (checked for staleness first).
        from dataclasses import replace

        from agent.pipeline import apply_outcome, check_guards, plan_run
        from agent.progress import progress_display
        from agent.report.text import render_text

        with progress_display(_progress(), "starting"):
            planned = check_guards(config, plan_run(config, progress=True))
        click.echo(render_text(replace(planned, dry_run=True).to_dict(), already_said=frozenset(_said.messages)))
        if planned.exit_code in (2, 3) or not planned.planned_changes:
            sys.exit(planned.exit_code)
        if not click.confirm("Apply these changes?", default=False):
            click.echo(f"Declined: nothing was written (exit code {EXIT_DECLINED}).", err=True)
            sys.exit(EXIT_DECLINED)
        from agent.signals import graceful_stop

        with graceful_stop(), progress_display(_progress(), "applying"):
            applied = apply_outcome(config, planned, verify=True)
        sys.exit(_finish(config, applied, output, summary_file))
    sys.exit(_execute(config, output, summary_file))


@cli.command()
@_config_option
@output_option(LIST_OUTPUTS)
@click.option("--concurrency", type=click.IntRange(1, 256), default=None, help="Parallel discovery scopes.")
@click.option("--shard", default=None, help="INDEX/COUNT or 'auto': list only this shard's scopes.")
@log_options
def discover(config_path: str | None, output: str, **flags: Any) -> None:
    """List the inventory only: every public IP the configured sources see (no Cloudflare calls).

    Failed scopes are listed on stderr (whatever the output format) and make the exit code 1.
    """
    from agent.pipeline import discover as run_discovery
    from agent.report.hints import scope_hint
    from agent.report.inventory import render_inventory

    config = _load(config_path, _overrides((), **flags))
    if config.log_format != "json":
        _report_scope_failures_ourselves()
    from agent.errors import ConfigError

    try:
        from agent.progress import progress_display

        with progress_display(_progress(), "discovery"):
            found = run_discovery(config, progress=_progress())
    except ConfigError as exc:
        _fail(str(exc))
    click.echo(render_inventory(found, output), nl=False)
    for error in found.errors:
        hint = scope_hint(error.scope, error.code or error.error)
        click.echo(
            f"error: scope {error.scope} failed: {error.code or error.error}: {error.message}"
            + (f" (hint: {hint})" if hint else ""),
            err=True,
        )
    if found.skipped:
        click.echo(f"error: {len(found.skipped)} scopes not started for lack of time", err=True)
    sys.exit(0 if found.complete else 1)


def _zone_call(config_path: str | None, zone: str, flags: dict[str, Any], call: Callable[[Any, str], Any]) -> Any:
    """Build a client from the config, resolve `zone` (name or id), and return `call(client, zone_id)`.

    Any agent error (credentials, unknown zone, API refusal) is reported on one line, with a hint, exit code 2.
    """
    from agent.cloudflare import CloudflareError
    from agent.errors import AgentError
    from agent.pipeline import build_client
    from agent.report.hints import cloudflare_hint

    config = _load(config_path, _overrides((), **flags))
    try:
        with build_client(config) as client:
            is_id = len(zone) == 32 and all(c in "0123456789abcdef" for c in zone)
            return call(client, zone if is_id else client.zone_id(zone))
    except CloudflareError as exc:
        _fail(str(exc), cloudflare_hint(list(exc.codes), exc.status, exc.path))
    except AgentError as exc:
        _fail(str(exc))


def _zone_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = log_options(func)
    func = output_option(LIST_OUTPUTS)(func)
    func = click.option("--zone", required=True, help="Zone name or id.")(func)
    return _config_option(func)


@cli.command()
@_zone_options
def mappings(config_path: str | None, zone: str, output: str, **flags: Any) -> None:
    """List the current origin cloud region mappings of a zone."""
    from agent.report.tables import render_rows

    found = _zone_call(config_path, zone, flags, lambda client, zone_id: client.list_mappings(zone_id))
    items = [
        {"origin_ip": m.ip, "vendor": m.vendor.value, "region": m.region, "modified_on": m.modified_on} for m in found
    ]
    click.echo(render_rows(items, ("origin_ip", "vendor", "region", "modified_on"), output), nl=False)
    if output == "table":
        click.echo(f"{len(items)} mappings")


@cli.command()
@_zone_options
def regions(config_path: str | None, zone: str, output: str, **flags: Any) -> None:
    """List the vendors and regions a zone accepts (needs Tiered Cache on the zone)."""
    from agent.report.tables import render_rows

    supported = _zone_call(config_path, zone, flags, lambda client, zone_id: client.supported_regions(zone_id))
    document = {v: sorted(r) for v, r in sorted(supported.items())}
    rows = [{"vendor": vendor, "region": region} for vendor, names in document.items() for region in names]
    click.echo(render_rows(rows, ("vendor", "region"), output, document=document), nl=False)


@cli.command()
@output_option(("table", "json", "yaml", "none"))
@click.option("--clouds", default="all", help="Comma-separated fakes to start: aws,gcp,azure,oci (installed extras).")
@click.option(
    "--engine",
    is_flag=True,
    help="Discover through each cloud's inventory engine (AWS Config aggregator…) where its fake has one.",
)
@log_options
def demo(output: str, clouds: str, engine: bool, log_format: str | None, log_level: str | None) -> None:
    """Run the whole pipeline against the built-in sandbox: no credentials, no network."""
    from agent.sandbox.demo_run import run_demo

    _setup_logging(log_format, log_level or "WARNING")
    sys.exit(run_demo(output=output, clouds=clouds, engine=engine))


with_env_vars(cli)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`origin-region-agent`, `python -m agent`)."""
    cli.main(args=argv, prog_name="origin-region-agent")
