"""The `init` command: find the cloud credentials a laptop already has and write a commented starter config.

It only looks at files and environment variables (no cloud SDK is imported, nothing is called over the network), and it
never copies a secret into the file: it records which profile, subscription or tenancy it saw, so the user can check
the result before the first (dry) run. The starter config is safe by default: ``policy: create-only`` and
``dry_run: true``.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click

from agent import permissions
from agent.cli import CONTEXT_SETTINGS, log_options, output_option
from agent.collectors.base import SOURCES

__all__ = ["Finding", "detect", "init_command", "render_config"]

DEFAULT_OUTPUT = "origin-region-agent.yaml"


@dataclass(frozen=True)
class Finding:
    """What was found for one source: where (`evidence`, paths and variable names only) and a few safe names."""

    source: str  # aws | gcp | azure | oci | cloudflare
    evidence: tuple[str, ...]
    names: tuple[str, ...] = ()  # profiles, projects, subscription ids, tenancy: identifiers, never secrets
    details: dict[str, str] = field(default_factory=dict)


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _ini_sections(path: Path) -> list[str]:
    parser = configparser.RawConfigParser(default_section="\x00none")  # keep [DEFAULT] (OCI) as a real profile
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return []
    return parser.sections()


def _detect_aws(env: Mapping[str, str], home: Path) -> Finding | None:
    evidence: list[str] = []
    profiles: list[str] = []
    for var in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        if env.get(var):
            evidence.append(f"${var}")
    if env.get("AWS_PROFILE"):
        profiles.append(env["AWS_PROFILE"])
    config = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    credentials = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    for path, strip_profile in ((config, True), (credentials, False)):
        if path.is_file():
            sections = _ini_sections(path)
            evidence.append(str(path))
            for section in sections:
                name = section.removeprefix("profile ").strip() if strip_profile else section.strip()
                # [sso-session x] and [services x] blocks in ~/.aws/config are not profiles
                if strip_profile and (section.startswith(("sso-session ", "services ")) or " " in name):
                    continue
                if name not in profiles:
                    profiles.append(name)
    details = {"active": env["AWS_PROFILE"]} if env.get("AWS_PROFILE") else {}
    return Finding("aws", tuple(evidence), tuple(profiles), details) if evidence else None


def _detect_gcp(env: Mapping[str, str], home: Path) -> Finding | None:
    evidence: list[str] = []
    details: dict[str, str] = {}
    projects: list[str] = []
    if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        evidence.append("$GOOGLE_APPLICATION_CREDENTIALS")
    gcloud = Path(env.get("CLOUDSDK_CONFIG") or home / ".config" / "gcloud")
    adc = gcloud / "application_default_credentials.json"
    if adc.is_file():
        evidence.append(str(adc))
        try:
            data = json.loads(adc.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if isinstance(data, dict):
            if isinstance(data.get("type"), str):
                details["credential_type"] = data["type"]
            if isinstance(data.get("quota_project_id"), str):
                projects.append(data["quota_project_id"])
    for var in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"):
        if env.get(var) and env[var] not in projects:
            projects.insert(0, env[var])
    active = "default"
    with contextlib.suppress(OSError):
        active = (gcloud / "active_config").read_text(encoding="utf-8").strip() or "default"
    parser = configparser.RawConfigParser()
    try:
        parser.read(gcloud / "configurations" / f"config_{active}", encoding="utf-8")
        project = parser.get("core", "project", fallback="")
    except (configparser.Error, UnicodeDecodeError):
        project = ""
    if project and project not in projects:
        projects.insert(0, project)
    if not evidence:
        return None
    return Finding("gcp", tuple(evidence), tuple(projects), details)


def _detect_azure(env: Mapping[str, str], home: Path) -> Finding | None:
    evidence: list[str] = []
    subscriptions: list[str] = []
    details: dict[str, str] = {}
    if env.get("AZURE_CLIENT_ID") and (env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_FEDERATED_TOKEN_FILE")):
        evidence.append("$AZURE_CLIENT_ID")
    profile = Path(env.get("AZURE_CONFIG_DIR") or home / ".azure") / "azureProfile.json"
    if profile.is_file():
        try:
            # The Azure CLI writes this file with a UTF-8 byte order mark.
            data = json.loads(profile.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            data = {}
        subs = data.get("subscriptions") if isinstance(data, dict) else None
        if isinstance(subs, list) and subs:
            evidence.append(str(profile))
            for sub in subs:
                if not isinstance(sub, dict) or not isinstance(sub.get("id"), str):
                    continue
                if sub.get("state", "Enabled") != "Enabled":
                    continue
                subscriptions.append(sub["id"])
                if sub.get("isDefault") and isinstance(sub.get("tenantId"), str):
                    details["tenant_id"] = sub["tenantId"]
                if isinstance(sub.get("name"), str):
                    details[sub["id"]] = sub["name"]
    if env.get("AZURE_SUBSCRIPTION_ID") and env["AZURE_SUBSCRIPTION_ID"] not in subscriptions:
        subscriptions.insert(0, env["AZURE_SUBSCRIPTION_ID"])
    return Finding("azure", tuple(evidence), tuple(subscriptions), details) if evidence else None


def _detect_oci(env: Mapping[str, str], home: Path) -> Finding | None:
    path = Path(env.get("OCI_CLI_CONFIG_FILE") or env.get("OCI_CONFIG_FILE") or home / ".oci" / "config")
    if not path.is_file():
        return None
    parser = configparser.RawConfigParser(default_section="\x00none")
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return Finding("oci", (str(path),))
    profiles = tuple(parser.sections())
    details: dict[str, str] = {}
    first = "DEFAULT" if "DEFAULT" in profiles else (profiles[0] if profiles else "")
    if first:
        for key in ("tenancy", "region"):  # identifiers only: never user, fingerprint, key_file or pass_phrase
            value = parser.get(first, key, fallback="")
            if value:
                details[key] = value
    return Finding("oci", (str(path),), profiles, details)


def detect(env: Mapping[str, str] | None = None) -> list[Finding]:
    """Everything found, in source order aws, gcp, azure, oci, cloudflare. Reads files only, imports no SDK."""
    env = dict(os.environ if env is None else env)
    home = _home(env)
    found = [f(env, home) for f in (_detect_aws, _detect_gcp, _detect_azure, _detect_oci)]
    if env.get("CLOUDFLARE_API_TOKEN"):
        found.append(Finding("cloudflare", ("$CLOUDFLARE_API_TOKEN",)))
    elif env.get("CLOUDFLARE_API_TOKEN_FILE"):
        found.append(Finding("cloudflare", ("$CLOUDFLARE_API_TOKEN_FILE",)))
    return [f for f in found if f is not None]


def _found(finding: Finding) -> str:
    """The comment heading a found cloud's section: its title and extra come from the source registry."""
    source = SOURCES[finding.source]
    return f"  # {source.title}: found {', '.join(finding.evidence)}; needs {source.install_hint}"


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar, whatever it contains


def _comment_list(label: str, names: tuple[str, ...], limit: int = 10) -> list[str]:
    if not names:
        return []
    shown = ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
    return [f"    #   {label}: {shown}"]


def _pick_profile(names: tuple[str, ...], default: str = "default") -> str | None:
    """The profile to start with: the default one when it exists, else the first found."""
    if not names:
        return None
    return default if default in names else names[0]


RANGES_REASON = (
    "  # Left out by `init`: the feeds are downloaded from the clouds' websites (ip-ranges.amazonaws.com,",
    "  # www.gstatic.com, docs.oracle.com), which an egress-restricted cluster cannot reach: every run would fail.",
    "  # Enable with `ranges: {}`; without internet, run `origin-region-agent feeds fetch --dir DIR` where it is",
    "  # reachable, ship DIR, and use `ranges: {feeds_dir: DIR}` (files ip-ranges.json, cloud.json,",
    "  # public_ip_ranges.json, ServiceTags_Public.json).",
)


def render_config(findings: list[Finding], *, zones: tuple[str, ...] = (), ranges: bool | None = None) -> str:
    """The starter YAML: safe defaults, one `inventory` section per cloud found, the rest commented out.

    `ranges`: True enables the public IP-range feeds, False comments them out with the reason (they need egress to
    the clouds' websites). None: enabled only when no cloud credentials were found (then they are the only source).
    """
    by_source = {f.source: f for f in findings}
    if ranges is None:
        ranges = not any(f.source in ("aws", "gcp", "azure", "oci") for f in findings)
    lines = [
        "# origin-region-agent starter configuration, written by `origin-region-agent init`.",
        "# Review it, then try:  origin-region-agent sync --config origin-region-agent.yaml",
        "# It contains no secrets: credentials stay where the clouds' own tools keep them.",
        "",
        "cloudflare:",
    ]
    if "cloudflare" in by_source:
        lines.append(f"  # Token found in {by_source['cloudflare'].evidence[0]} (read at run time, not copied here).")
    else:
        lines.append("  # No Cloudflare token found: export CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_TOKEN_FILE).")
    lines += [
        *permissions.init_comment_lines(),
        "  # api_token: ${CLOUDFLARE_API_TOKEN}",
        "  base_url: https://api.cloudflare.com/client/v4",
        "",
        "# The zones whose proxied A/AAAA origins get a cloud-region mapping.",
        "zones:",
    ]
    if zones:
        lines += [f"  - name: {_yaml_str(z)}" for z in zones]
    else:
        lines.append("  - name: example.com  # replace with your zone(s)")
    lines += [
        "",
        "# create-only never changes or deletes an existing mapping; use upsert or sync once the plan looks right.",
        "policy: create-only",
        "# Plan only, write nothing. Set to false when the dry-run output is what you expect.",
        "dry_run: true",
        "",
        "inventory:",
        "  # Public IP-range feeds: vendor and region for any cloud IP without credentials (lower confidence).",
    ]
    if ranges:
        lines += [
            "  # Needs HTTPS to the clouds' feed URLs at run time; without internet run",
            "  # `origin-region-agent feeds fetch --dir DIR` elsewhere and use `ranges: {feeds_dir: DIR}`.",
            "  ranges: {}",
        ]
    else:
        lines += [*RANGES_REASON, "  # ranges: {}"]
    aws = by_source.get("aws")
    if aws:
        profile = aws.details.get("active") or _pick_profile(aws.names)
        lines += [_found(aws), "  aws:", permissions.cloud_comment_line("aws")]
        lines += _comment_list("profiles", aws.names)
        lines.append(
            f"    profile: {_yaml_str(profile)}" if profile else "    profile: null  # the default credential chain"
        )
        lines.append(
            "    # organization: {member_role_name: OrganizationAccountAccessRole}  # every account of the org"
        )
    else:
        lines += ["  # AWS: no credentials found (~/.aws/config, ~/.aws/credentials, AWS_* variables).", "  # aws: {}"]
    gcp = by_source.get("gcp")
    if gcp:
        lines += [_found(gcp), "  gcp:", permissions.cloud_comment_line("gcp")]
        lines += _comment_list("projects", gcp.names)
        if gcp.names:
            lines.append(f"    projects: [{_yaml_str(gcp.names[0])}]")
        else:
            lines.append("    projects: []  # empty: every project the credentials can see")
        lines.append('    # folders: ["folders/123"]  # or organizations: ["organizations/456"]')
    else:
        lines += [
            "  # Google Cloud: no Application Default Credentials found (gcloud auth application-default login).",
            "  # gcp: {}",
        ]
    azure = by_source.get("azure")
    if azure:
        lines += [_found(azure), "  azure:", permissions.cloud_comment_line("azure")]
        lines += _comment_list("enabled subscriptions", azure.names)
        lines.append("    subscriptions: []  # empty: every enabled subscription the login can see")
    else:
        lines += ["  # Azure: no Azure CLI login found (az login).", "  # azure: {}"]
    oci = by_source.get("oci")
    if oci:
        lines += [_found(oci), "  oci:", permissions.cloud_comment_line("oci")]
        lines += _comment_list("profiles", oci.names)
        lines += _comment_list("region", (oci.details["region"],) if "region" in oci.details else ())
        lines += [
            "    auth: config_file",
            f"    profile: {_yaml_str(_pick_profile(oci.names, 'DEFAULT') or 'DEFAULT')}",
        ]
    else:
        lines += ["  # OCI: no ~/.oci/config found (oci setup config).", "  # oci: {}"]
    lines += [
        "",
        "# Optional: push run metrics to a Prometheus Pushgateway.",
        "# metrics:",
        "#   pushgateway_url: http://pushgateway:9091",
        "",
        "log_format: text",
        "",
    ]
    return "\n".join(lines)


def _wants_ranges(choice: bool | None, findings: list[Finding]) -> bool | None:
    """--ranges/--no-ranges wins; on a terminal the question is asked; otherwise `render_config` decides."""
    if choice is not None:
        return choice
    if sys.stdin.isatty() and sys.stdout.isatty() and any(f.source != "cloudflare" for f in findings):
        return click.confirm(
            "Also use the clouds' public IP-range feeds? They are downloaded at every run (HTTPS egress needed)",
            default=False,
        )
    return None


@click.command("init", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--path",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Where to write the starter config.",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists (otherwise exit 2).")
@click.option("--zone", "zones", multiple=True, help="A zone name to put in the config (repeatable).")
@click.option(
    "--ranges/--no-ranges",
    default=None,
    help="Enable the public IP-range feeds (they need egress). Default: ask on a terminal; else only when no cloud "
    "credentials are found, otherwise commented out with the reason.",
)
@output_option(("table", "json", "yaml", "none"))
@log_options
def init_command(
    path: Path,
    force: bool,
    zones: tuple[str, ...],
    ranges: bool | None,
    output: str,
    log_format: str | None,
    log_level: str | None,
) -> None:
    """Write a starter config for the clouds this machine has credentials for (no secrets are copied).

    Exit 0 written; 2 the file exists (use --force) or cannot be written.
    """
    from agent.cli import _setup_logging

    _setup_logging(log_format, log_level)
    if path.exists() and not force:
        raise click.UsageError(f"{path} already exists; pass --force to overwrite it, or --path to write elsewhere")
    findings = detect()
    enabled = _wants_ranges(ranges, findings)
    text = render_config(findings, zones=zones, ranges=enabled)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    clouds = [f.source for f in findings if f.source != "cloudflare"]
    ranges_on = "\n  ranges: {}" in text
    document = {
        "path": str(path),
        "found": clouds,
        "cloudflare_token": any(f.source == "cloudflare" for f in findings),
        "ranges": ranges_on,
    }
    if output in ("json", "yaml"):
        from agent.report.tables import to_yaml

        click.echo(json.dumps(document, indent=2) if output == "json" else to_yaml(document), nl=output == "json")
    elif output == "table":
        click.echo(f"wrote {path}: " + (f"found {', '.join(clouds)}" if clouds else "no cloud credentials found"))
        if not ranges_on:
            click.echo("note: the public IP-range feeds are commented out (they need egress); see the file", err=True)
    if not document["cloudflare_token"]:
        click.echo("note: CLOUDFLARE_API_TOKEN is not set; export it before running", err=True)


# The spec's name for the command object.
init = init_command
