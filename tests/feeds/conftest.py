"""Fixtures for the feeds tests: the real July 2025 feed snapshots, and a feed server on 127.0.0.1."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from feeds_support import DATA, FEED_FILES, FeedServer, _handler, load_data  # type: ignore[import-not-found]

from agent.feeds.index import RangeIndex
from agent.feeds.models import FeedEntry
from agent.feeds.parse import parse_feed
from agent.models import Vendor


@pytest.fixture(scope="session")
def feed_docs() -> dict[Vendor, Any]:
    """The four real feed documents, decoded."""
    return {vendor: load_data(name) for vendor, name in FEED_FILES.items()}


@pytest.fixture(scope="session")
def feed_entries(feed_docs: dict[Vendor, Any]) -> list[FeedEntry]:
    """Every parsed entry of the four feeds, in the order `RangeIndex.from_feeds` sees them."""
    return [entry for vendor, doc in feed_docs.items() for entry in parse_feed(vendor, doc)]


@pytest.fixture(scope="session")
def full_index(feed_docs: dict[Vendor, Any]) -> RangeIndex:
    """The index of all four real feeds."""
    return RangeIndex.from_feeds(feed_docs)


@pytest.fixture
def feeds_dir(tmp_path: Path) -> Path:
    """A directory holding the four real feeds under their vendor file names (gzip-compressed)."""
    target = tmp_path / "feeds"
    target.mkdir()
    names = {
        Vendor.AWS: "ip-ranges.json.gz",
        Vendor.GCP: "cloud.json.gz",
        Vendor.OCI: "public_ip_ranges.json.gz",
        Vendor.AZURE: "ServiceTags_Public_20250721.json.gz",
    }
    for vendor, name in FEED_FILES.items():
        shutil.copy(DATA / name, target / names[vendor])
    return target


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A running `FeedServer` on an ephemeral port."""
    state = FeedServer(base_url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
