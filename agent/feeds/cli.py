"""``origin-region-agent lookup``: which cloud, region and service an IP belongs to, from the published feeds.

Thin by design: options → `RangesConfig` → `FeedLoader.load_all` → `RangeIndex.lookup` → a formatter. Exit codes:
0 answered (also when an IP belongs to no cloud), 1 no feed could be loaded, 2 invalid input (an IP or an option).
Heavy modules (httpx, pydantic, the parsers) are imported only when the command runs.
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

__all__ = ["lookup"]

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


@click.command("lookup")
@click.argument("ips", nargs=-1)
@click.option("--output", "-o", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--feeds-dir", type=click.Path(file_okay=False, path_type=Path), help="Directory of local feed files.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Download cache directory.")
@click.option("--offline", is_flag=True, help="Never use the network: local files and the cache only.")
@click.option("--max-age", help="Re-check a cached feed after this long (e.g. 3600, 30m, 24h). Default 24h.")
@click.option("--feed", "feeds", multiple=True, type=click.Choice(["aws", "gcp", "azure", "oci"]), help="Only these.")
@click.option("--mirror-url", help="Base URL of a mirror serving ip-ranges.json, cloud.json, ...")
@click.option("--aws-url", help="URL or path of AWS ip-ranges.json.")
@click.option("--gcp-url", help="URL or path of GCP cloud.json.")
@click.option("--oci-url", help="URL or path of OCI public_ip_ranges.json.")
@click.option("--azure-service-tags", help="URL or path of Azure ServiceTags_Public_YYYYMMDD.json.")
def lookup(
    ips: tuple[str, ...],
    output: str,
    feeds_dir: Path | None,
    cache_dir: Path | None,
    offline: bool,
    max_age: str | None,
    feeds: tuple[str, ...],
    mirror_url: str | None,
    aws_url: str | None,
    gcp_url: str | None,
    oci_url: str | None,
    azure_service_tags: str | None,
) -> None:
    """Look up which cloud, region and service each IP belongs to, in the clouds' published IP-range feeds.

    IPs come as arguments, or one per line on stdin. No cloud credentials are needed. A feed says who owns an address
    block, not that the address is in use.
    """
    from pydantic import ValidationError

    from agent.feeds.config import RangesConfig
    from agent.feeds.load import FeedLoader

    settings: dict[str, Any] = {
        "feeds_dir": feeds_dir,
        "cache_dir": cache_dir,
        "offline": offline,
        "mirror_url": mirror_url,
        "azure_service_tags": azure_service_tags,
        "urls": {k: v for k, v in (("aws", aws_url), ("gcp", gcp_url), ("oci", oci_url)) if v},
    }
    if max_age is not None:
        settings["max_age"] = max_age
    if feeds:
        settings["feeds"] = feeds
    try:
        config = RangesConfig.model_validate({k: v for k, v in settings.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        raise click.UsageError(f"{where}: {err['msg']} (got {err.get('input')!r})") from None

    texts = list(_inputs(ips))
    if not texts:
        raise click.UsageError("no IP given: pass IPs as arguments or one per line on stdin")

    with FeedLoader(config) as loader:
        loaded = loader.load_all()
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in loaded.errors.values():
        click.echo(f"warning: {error}", err=True)
    if not loaded.entries:
        click.echo("error: no feed could be loaded", err=True)
        sys.exit(1)
    index = loaded.index()
    feed_names = ", ".join(v.value for v in config.enabled_feeds if v in loaded.entries)

    rows = list(_classify(index, texts))
    for row in rows:
        if row.status == "invalid":
            click.echo(f"error: {row.error}", err=True)

    if output == "json":
        document = {
            "results": [row.as_dict() for row in rows],
            "feeds": {
                str(v): {"source": f.source, "origin": f.origin, "fetched_at": f.fetched_at, "warning": f.warning}
                for v, f in loaded.fetched.items()
            },
            "feed_errors": {str(v): str(e) for v, e in loaded.errors.items()},
        }
        click.echo(json.dumps(document, indent=2))
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_dict())
        click.echo(buffer.getvalue(), nl=False)
    else:
        for row in rows:
            if row.status != "invalid":
                click.echo(_text_line(row, feed_names))
    if any(row.status == "invalid" for row in rows):
        sys.exit(2)
