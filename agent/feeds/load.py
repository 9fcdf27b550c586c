"""From a `RangesConfig` to parsed feeds and a `RangeIndex`: where each feed comes from, and loading it.

The `ranges` collector loads one feed per scope (so a broken feed fails alone); the ``lookup`` command loads them all.
Both go through `FeedLoader`, so they resolve sources and use the cache identically.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.clock import SYSTEM_CLOCK, Clock
from agent.feeds.config import (
    DEFAULT_FEED_URLS,
    FEED_FILENAMES,
    RangesConfig,
    find_feed_file,
    is_url,
)
from agent.feeds.errors import FeedError
from agent.feeds.fetch import FeedFetcher, Fetched, read_feed_file
from agent.feeds.index import RangeIndex, gc_paused
from agent.feeds.models import FeedEntry
from agent.feeds.parse import parse_feed
from agent.models import Vendor

__all__ = ["FeedLoader", "FeedSource", "LoadResult", "load_index", "resolve_source"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedSource:
    """Where one feed comes from: `kind` is ``path``, ``url`` or ``azure-discovery``; `location` the path or URL."""

    vendor: Vendor
    kind: str
    location: str


def _as_path(location: str) -> Path:
    return Path(location[len("file://") :]) if location.startswith("file://") else Path(location).expanduser()


def resolve_source(config: RangesConfig, vendor: Vendor) -> FeedSource:
    """Pick the source of `vendor`'s feed; see `RangesConfig` for the order. Raises `FeedError` when there is none."""
    explicit = config.azure_service_tags if vendor is Vendor.AZURE and config.azure_service_tags else None
    explicit = explicit or config.urls.get(vendor)
    if explicit:
        return FeedSource(vendor, "url" if is_url(explicit) else "path", explicit)
    if config.feeds_dir is not None:
        found = find_feed_file(config.feeds_dir, vendor)
        if found is not None:
            return FeedSource(vendor, "path", str(found))
        if vendor is not Vendor.AZURE or not (config.mirror_url or config.azure_discovery):
            names = ", ".join(FEED_FILENAMES[vendor])
            raise FeedError(
                f"{vendor} feed: no file in feeds_dir {str(config.feeds_dir)!r} (looked for {names}, also .gz)",
                vendor=vendor,
                code="no-file",
            )
    if config.mirror_url:
        return FeedSource(vendor, "url", config.mirror_url.rstrip("/") + "/" + FEED_FILENAMES[vendor][0])
    if vendor is Vendor.AZURE:
        if config.azure_discovery is not None:
            return FeedSource(vendor, "azure-discovery", "")
        raise FeedError(
            "azure feed: not configured: set azure_service_tags to the weekly ServiceTags_Public_YYYYMMDD.json URL or "
            "path, or azure_discovery to use the Service Tag discovery API",
            vendor=vendor,
            code="not-configured",
        )
    return FeedSource(vendor, "url", DEFAULT_FEED_URLS[vendor])


@dataclass
class LoadResult:
    """Parsed entries per feed, what each came from, and the feeds that failed (vendor → message)."""

    entries: dict[Vendor, list[FeedEntry]] = field(default_factory=dict)
    fetched: dict[Vendor, Fetched[list[FeedEntry]]] = field(default_factory=dict)
    errors: dict[Vendor, FeedError] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        """Warnings of feeds served from a stale or offline cache."""
        return [f.warning for f in self.fetched.values() if f.warning]

    def index(self) -> RangeIndex:
        """The index of every feed that loaded."""
        return RangeIndex.merge(self.entries)


class FeedLoader:
    """Loads feeds for one run: one `FeedFetcher` (cache, HTTP client), sources from the config.

    `client` (an ``httpx.Client``) and `azure_credential` (an azure-core ``TokenCredential``) are injectable for
    tests and embedding; by default they are built on first use.
    """

    def __init__(
        self,
        config: RangesConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        client: Any = None,
        azure_credential: Any = None,
    ) -> None:
        self.config = config
        verify: ssl.SSLContext | bool = True
        if config.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(config.ca_bundle))
        self.fetcher = FeedFetcher(
            cache_dir=config.resolved_cache_dir(),
            client=client,
            clock=clock,
            max_age=config.max_age,
            max_stale=config.max_stale,
            offline=config.offline,
            timeout=config.timeout,
            verify=verify,
        )
        self._azure_credential = azure_credential

    def close(self) -> None:
        """Close the HTTP client if the loader created it."""
        self.fetcher.close()

    def __enter__(self) -> FeedLoader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def load(self, vendor: Vendor | str) -> Fetched[list[FeedEntry]]:
        """Fetch (or read) and parse one vendor's feed. Raises `FeedError`; logs a warning when a cache stood in."""
        vendor = Vendor(vendor)
        source = resolve_source(self.config, vendor)

        def parse(doc: Any) -> list[FeedEntry]:
            with gc_paused():
                return parse_feed(vendor, doc)

        if source.kind == "path":
            return read_feed_file(_as_path(source.location), parse, name=vendor.value)
        if source.kind == "azure-discovery":
            from agent.feeds.azure_discovery import discovery_downloader, discovery_url

            settings = self.config.azure_discovery
            assert settings is not None  # resolve_source checked it
            url = discovery_url(settings)
            download = discovery_downloader(settings, self.fetcher.client, self._azure_credential)
            return self.fetcher.fetch(vendor.value, url, parse, download=download)
        return self.fetcher.fetch(vendor.value, source.location, parse)

    def load_all(self, vendors: tuple[Vendor, ...] | None = None) -> LoadResult:
        """Load every enabled feed (or `vendors`); a failing feed is recorded in `LoadResult.errors`, not raised.

        Nothing is logged: the caller reports `LoadResult.errors` and `LoadResult.warnings`.
        """
        result = LoadResult()
        for vendor in vendors if vendors is not None else self.config.enabled_feeds:
            try:
                fetched = self.load(vendor)
            except FeedError as exc:
                result.errors[vendor] = exc
                continue
            result.entries[vendor] = fetched.value
            result.fetched[vendor] = fetched
        return result


def load_index(
    config: RangesConfig,
    *,
    clock: Clock = SYSTEM_CLOCK,
    client: Any = None,
    azure_credential: Any = None,
    strict: bool = True,
) -> RangeIndex:
    """Build the `RangeIndex` of every enabled feed in `config`.

    `strict` (default): the first feed that fails raises its `FeedError`. Otherwise failed feeds are logged and left
    out (check `RangeIndex.vendors`).
    """
    with FeedLoader(config, clock=clock, client=client, azure_credential=azure_credential) as loader:
        result = loader.load_all()
    if strict and result.errors:
        raise next(iter(result.errors.values()))
    for message in [*result.warnings, *(str(e) for e in result.errors.values())]:
        logger.warning("%s", message)
    return result.index()
