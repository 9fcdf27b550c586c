"""``origin-region-agent lookup`` and ``feeds fetch``: the published IP-range feeds from the command line.

`lookup`: which cloud, region and service an IP belongs to. Thin by design: options → `RangesConfig` →
`FeedLoader.load_all` → `RangeIndex.lookup` → a formatter. Exit codes: 0 answered (also when an IP belongs to no
cloud), 1 a feed could not be loaded, 2 invalid input (an IP or an option), checked before any feed is loaded.

`feeds fetch --dir DIR`: download the feeds ahead of time under the file names `feeds_dir` reads, for air-gapped
clusters and container images. Heavy modules (httpx, pydantic, the parsers) are imported only when a command runs.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from agent.cli import CONTEXT_SETTINGS, log_options, output_option

__all__ = ["feeds", "lookup", "offline_help"]

_FIELDS = ("ip", "status", "vendor", "region", "service", "prefix", "feed_region", "network_border_group", "error")


@dataclass(frozen=True, slots=True)
class _Row:
    """One answer: `status` is ``match``, ``global``, ``no-match`` or ``invalid``."""

    ip: str
    status: str
    match: Any = None  # RangeMatch
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        m = self.match
        return {
            "ip": self.ip,
            "status": self.status,
            "vendor": str(m.vendor) if m else "",
            "region": m.region if m else "",
            "service": m.service if m else "",
            "prefix": m.prefix if m else "",
            "feed_region": m.feed_region if m else "",
            "region_known": m.region_known if m else None,
            "network_border_group": m.network_border_group if m else "",
            "error": self.error,
        }


def _inputs(ips: tuple[str, ...]) -> Iterator[str]:
    if ips:
        yield from ips
        return
    for line in sys.stdin:
        text = line.strip()
        if text and not text.startswith("#"):
            yield text


def _classify(index: Any, texts: Iterable[str]) -> Iterator[_Row]:
    from agent.ip import InvalidIPError, canonical_ip

    for text in texts:
        try:
            ip = canonical_ip(text)
        except InvalidIPError as exc:
            yield _Row(text, "invalid", error=str(exc))
            continue
        match = index.lookup(ip)
        if match is None:
            yield _Row(ip, "no-match")
        else:
            yield _Row(ip, "global" if match.is_global else "match", match)


def _text_line(row: _Row, feeds: str) -> str:
    m = row.match
    if row.status == "invalid":
        return f"{row.ip}: {row.error}"
    if row.status == "no-match":
        return f"{row.ip}: no cloud: not in the {feeds} feeds"
    extra = f"service {m.service}, prefix {m.prefix}"
    if m.network_border_group:
        extra += f", network border group {m.network_border_group}"
    if m.feed_region and m.feed_region != m.region:
        extra += f", feed region {m.feed_region}"
    if row.status == "global":
        return f"{row.ip}: {m.vendor} global (not regional, never mapped; {extra})"
    unknown = "" if m.region_known else " (not a known ARM location)"
    return f"{row.ip}: {m.vendor} {m.region}{unknown} ({extra})"


def offline_help(config: Any) -> str:
    """What to do when no feed can be loaded: the flags, the config keys, the cache and the exact file names."""
    from agent.feeds.config import FEED_FILENAMES

    names = ", ".join(FEED_FILENAMES[v][0] for v in FEED_FILENAMES)
    return (
        "without internet access, download the feeds ahead of time on a machine that has it with "
        "`origin-region-agent feeds fetch --dir DIR`, then pass --feeds-dir DIR (config: inventory.ranges.feeds_dir; "
        f"file names {names}, .gz accepted); or serve those files from a mirror: --mirror-url URL "
        f"(config: mirror_url). Downloads are cached in {config.resolved_cache_dir()} (--cache-dir); with --offline "
        "only the cache and local files are used"
    )


def _ranges_config(settings: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from agent.feeds.config import RangesConfig

    try:
        return RangesConfig.model_validate({k: v for k, v in settings.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        raise click.UsageError(f"{where}: {err['msg']} (got {err.get('input')!r})") from None


def _source_options(func: Any) -> Any:
    """Where the feeds come from: shared by `lookup` and `feeds fetch`."""
    options = [
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Download cache directory."),
        click.option("--max-age", help="Re-check a cached feed after this long (e.g. 3600, 30m, 24h). Default 24h."),
        click.option(
            "--feed",
            "feed_names",
            multiple=True,
            type=click.Choice(["aws", "gcp", "azure", "oci"]),
            help="Only these feeds (repeatable).",
        ),
        click.option("--mirror-url", help="Base URL of a mirror serving ip-ranges.json, cloud.json, ..."),
        click.option("--aws-url", help="URL or path of AWS ip-ranges.json."),
        click.option("--gcp-url", help="URL or path of GCP cloud.json."),
        click.option("--oci-url", help="URL or path of OCI public_ip_ranges.json."),
        click.option("--azure-service-tags", help="URL or path of Azure ServiceTags_Public_YYYYMMDD.json."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(**values: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "feeds_dir": values.get("feeds_dir"),
        "cache_dir": values.get("cache_dir"),
        "offline": values.get("offline") or None,
        "mirror_url": values.get("mirror_url"),
        "azure_service_tags": values.get("azure_service_tags"),
        "max_age": values.get("max_age"),
        "urls": {k: values[f"{k}_url"] for k in ("aws", "gcp", "oci") if values.get(f"{k}_url")},
    }
    if values.get("feed_names"):
        settings["feeds"] = values["feed_names"]
    return settings


def _logging(log_format: str | None, log_level: str | None) -> None:
    from agent.cli import _setup_logging

    _setup_logging(log_format, log_level)


_TABLE_COLUMNS = ("ip", "status", "vendor", "region", "service", "prefix", "note")


def _note(row: _Row) -> str:
    m = row.match
    if row.status == "no-match":
        return "no cloud: in none of the feeds"
    if m is None:
        return row.error
    notes = []
    if row.status == "global":
        notes.append("global: not regional, never mapped")
    if m.network_border_group:
        notes.append(f"network border group {m.network_border_group}")
    if m.feed_region and m.feed_region != m.region:
        notes.append(f"feed region {m.feed_region}")
    if row.status == "match" and not m.region_known:
        notes.append("not a known ARM location")
    return "; ".join(notes)


@click.command("lookup", context_settings=CONTEXT_SETTINGS)
@click.argument("ips", nargs=-1)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "csv", "yaml", "text"]),
    default="table",
    show_default=True,
    help="Output format on stdout: table, json (with the feed sources), csv, yaml (text: the former one-line form).",
)
@click.option("--feeds-dir", type=click.Path(file_okay=False, path_type=Path), help="Directory of local feed files.")
@click.option("--offline", is_flag=True, help="Never use the network: local files and the cache only.")
@_source_options
@log_options
def lookup(ips: tuple[str, ...], output: str, log_format: str | None, log_level: str | None, **options: Any) -> None:
    """Look up which cloud, region and service each IP belongs to, in the clouds' published IP-range feeds.

    IPs come as arguments, or one per line on stdin. No cloud credentials are needed. A feed says who owns an address
    block, not that the address is in use. Invalid IPs exit 2 (checked before any feed is loaded); a feed that
    cannot be loaded is named on stderr and exits 1.
    """
    from agent.feeds.load import FeedLoader
    from agent.ip import InvalidIPError, canonical_ip

    _logging(log_format, log_level)
    config = _ranges_config(_settings(**options))
    texts = list(_inputs(ips))
    if not texts:
        raise click.UsageError("no IP given: pass IPs as arguments or one per line on stdin")
    invalid: list[str] = []
    for text in texts:
        try:
            canonical_ip(text)
        except InvalidIPError as exc:
            invalid.append(str(exc))
    if invalid and len(invalid) == len(texts):  # nothing to look up: do not touch the network
        for message in invalid:
            click.echo(f"error: {message}", err=True)
        sys.exit(2)

    with FeedLoader(config) as loader:
        loaded = loader.load_all()
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in loaded.errors.values():
        click.echo(f"error: {error}", err=True)
    if not loaded.entries:
        click.echo(f"error: no feed could be loaded; {offline_help(config)}", err=True)
        sys.exit(2 if invalid else 1)
    index = loaded.index()
    feed_names = ", ".join(v.value for v in config.enabled_feeds if v in loaded.entries)

    rows = list(_classify(index, texts))
    for row in rows:
        if row.status == "invalid":
            click.echo(f"error: {row.error}", err=True)

    if output in ("json", "yaml"):
        from agent.report.tables import to_yaml

        document = {
            "results": [row.as_dict() for row in rows],
            "feeds": {
                str(v): {"source": f.source, "origin": f.origin, "fetched_at": f.fetched_at, "warning": f.warning}
                for v, f in loaded.fetched.items()
            },
            "feed_errors": {str(v): str(e) for v, e in loaded.errors.items()},
        }
        click.echo(json.dumps(document, indent=2) if output == "json" else to_yaml(document), nl=output == "json")
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_dict())
        click.echo(buffer.getvalue(), nl=False)
    elif output == "text":
        for row in rows:
            if row.status != "invalid":
                click.echo(_text_line(row, feed_names))
    else:
        from agent.report.tables import render_table

        table = [[*(row.as_dict()[c] for c in _TABLE_COLUMNS[:-1]), _note(row)] for row in rows]
        click.echo(render_table([c.upper() for c in _TABLE_COLUMNS], table))
    if any(row.status == "invalid" for row in rows):
        sys.exit(2)
    if loaded.errors:
        sys.exit(1)


@click.group("feeds", context_settings=CONTEXT_SETTINGS)
def feeds() -> None:
    """The clouds' published IP-range feeds (used by `lookup` and the `ranges` inventory source)."""


@feeds.command("fetch", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the feeds to (created if missing); point feeds_dir / --feeds-dir at it.",
)
@_source_options
@output_option(("table", "json", "yaml", "none"))
@log_options
def fetch_command(directory: Path, output: str, log_format: str | None, log_level: str | None, **options: Any) -> None:
    """Download the feeds into DIR under the names `feeds_dir` reads (ip-ranges.json, cloud.json, ...).

    For air-gapped clusters and container images: run it where the internet is reachable, ship DIR, and set
    `inventory.ranges.feeds_dir` (or `lookup --feeds-dir`). Each file is parsed before it is written, so a broken
    download never replaces a good file. Exit 0 all written, 1 some feed failed.
    """
    from agent.feeds.errors import FeedError

    _logging(log_format, log_level)
    config = _ranges_config(_settings(**options))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(f"--dir {directory}: cannot create it ({exc.strerror or exc})") from None
    rows: list[dict[str, Any]] = []
    failed = False
    for vendor in config.enabled_feeds:
        try:
            rows.append(_fetch_one(config, vendor, directory))
        except FeedError as exc:
            failed = True
            click.echo(f"error: {exc}", err=True)
            rows.append({"feed": vendor.value, "file": "", "bytes": 0, "entries": 0, "source": "", "error": str(exc)})
    if output in ("json", "yaml"):
        from agent.report.tables import to_yaml

        document = {"dir": str(directory), "feeds": rows}
        click.echo(json.dumps(document, indent=2) if output == "json" else to_yaml(document), nl=output == "json")
    elif output == "table":
        from agent.report.tables import render_table

        columns = ("feed", "file", "bytes", "entries", "source", "error")
        click.echo(render_table([c.upper() for c in columns], [[r[c] for c in columns] for r in rows]))
    sys.exit(1 if failed else 0)


def _fetch_one(config: Any, vendor: Any, directory: Path) -> dict[str, Any]:
    """Download (or copy) one feed, check it parses, write it atomically. Raises `FeedError`."""
    import gzip
    import os
    import tempfile

    from agent.feeds.config import FEED_FILENAMES
    from agent.feeds.errors import FeedError
    from agent.feeds.fetch import Download
    from agent.feeds.load import FeedLoader, resolve_source
    from agent.feeds.parse import parse_feed

    source = resolve_source(config.model_copy(update={"feeds_dir": None}), vendor)
    if source.kind == "path":
        path = Path(source.location.removeprefix("file://")).expanduser()
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise FeedError(f"{vendor} feed: cannot read {str(path)!r}: {exc.strerror or exc}", vendor=vendor) from None
    else:
        with FeedLoader(config) as loader:
            try:
                if source.kind == "azure-discovery":
                    from agent.feeds.azure_discovery import discovery_downloader, discovery_url

                    settings = config.azure_discovery
                    download = discovery_downloader(settings, loader.fetcher.client, None)
                    source = type(source)(vendor, "url", discovery_url(settings))
                    answer = download({})
                else:
                    answer = loader.fetcher.http_download(source.location)({})
            except FeedError:
                raise
            except Exception as exc:  # httpx and SDK errors: one line naming the URL
                raise FeedError(
                    f"{vendor} feed: download of {source.location} failed: {exc}", vendor=vendor, code="fetch-failed"
                ) from None
        if not isinstance(answer, Download):
            raise FeedError(f"{vendor} feed: unexpected answer from {source.location}", vendor=vendor)
        body = answer.body
    raw = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    try:
        entries = parse_feed(vendor, json.loads(raw))
    except (ValueError, FeedError) as exc:
        raise FeedError(f"{vendor} feed from {source.location} is not a valid feed: {exc}", vendor=vendor) from None
    name = FEED_FILENAMES[vendor][0]
    handle, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    with os.fdopen(handle, "wb") as out:
        out.write(raw)
    os.replace(temp, directory / name)
    return {
        "feed": vendor.value,
        "file": str(directory / name),
        "bytes": len(raw),
        "entries": len(entries),
        "source": source.location,
        "error": "",
    }
