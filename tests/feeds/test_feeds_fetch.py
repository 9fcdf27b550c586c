"""Fetching and caching feeds over real HTTP on 127.0.0.1: ETag/304, max age, stale cache, offline, bad downloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from feeds_support import FeedServer  # type: ignore[import-not-found]

from agent.clock import FakeClock
from agent.feeds.errors import FeedError
from agent.feeds.fetch import FeedFetcher

DOC_V1 = {"prefixes": [{"ipv4Prefix": "34.35.0.0/16", "scope": "africa-south1", "service": "Google Cloud"}]}
DOC_V2 = {"prefixes": [{"ipv4Prefix": "34.36.0.0/16", "scope": "us-east1", "service": "Google Cloud"}]}


def parse(doc: Any) -> list[str]:
    """A stand-in parser: refuses anything without ``prefixes`` like the real ones do."""
    if "prefixes" not in doc:
        raise FeedError("bad-format: no prefixes", code="bad-format")
    return [p["ipv4Prefix"] for p in doc["prefixes"]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fetcher(tmp_path: Path, clock: FakeClock) -> Any:
    f = FeedFetcher(cache_dir=tmp_path / "cache", clock=clock, max_age=3600, max_stale=7 * 86400)
    yield f
    f.close()


def test_first_fetch_downloads_and_caches(feed_server: FeedServer, fetcher: FeedFetcher, tmp_path: Path) -> None:
    """A 200 answer is parsed, returned and stored with its validators."""
    feed_server.put("/cloud.json", DOC_V1)
    got = fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    assert got.value == ["34.35.0.0/16"] and got.origin == "network" and got.warning == ""
    meta = json.loads((tmp_path / "cache" / "gcp.meta.json").read_text())
    assert meta["etag"] == feed_server.files["/cloud.json"].etag
    assert meta["url"] == feed_server.url("/cloud.json")
    assert json.loads((tmp_path / "cache" / "gcp.json").read_bytes()) == DOC_V1


def test_fresh_cache_skips_the_request(feed_server: FeedServer, fetcher: FeedFetcher, clock: FakeClock) -> None:
    """Within max_age the cache answers and the server sees no request."""
    feed_server.put("/cloud.json", DOC_V1)
    fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    clock.advance(3599)
    got = fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    assert got.origin == "cache" and got.value == ["34.35.0.0/16"]
    assert feed_server.count("/cloud.json") == 1


def test_after_max_age_revalidates_with_etag_and_304(
    feed_server: FeedServer, fetcher: FeedFetcher, clock: FakeClock
) -> None:
    """Past max_age a conditional GET is sent; a 304 reuses the cache and restarts the max_age window."""
    feed_server.put("/cloud.json", DOC_V1)
    fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    clock.advance(3601)
    got = fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    assert got.origin == "not-modified" and got.value == ["34.35.0.0/16"]
    _, headers = feed_server.requests[-1]
    assert headers["if-none-match"] == feed_server.files["/cloud.json"].etag
    assert headers["if-modified-since"] == feed_server.files["/cloud.json"].last_modified
    clock.advance(1800)
    assert fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse).origin == "cache"
    assert feed_server.count("/cloud.json") == 2


def test_if_modified_since_without_etag(feed_server: FeedServer, fetcher: FeedFetcher, clock: FakeClock) -> None:
    """A server without ETag is revalidated with If-Modified-Since only."""
    feed_server.put("/cloud.json", DOC_V1, etag=False)
    fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    clock.advance(7200)
    assert fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse).origin == "not-modified"
    _, headers = feed_server.requests[-1]
    assert "if-none-match" not in headers and headers["if-modified-since"]


def test_changed_feed_is_downloaded_again(feed_server: FeedServer, fetcher: FeedFetcher, clock: FakeClock) -> None:
    """When the ETag changed, the server answers 200 and the new body replaces the cache."""
    feed_server.put("/cloud.json", DOC_V1)
    fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    feed_server.put("/cloud.json", DOC_V2, last_modified=1_760_000_000.0)
    clock.advance(4000)
    got = fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    assert got.origin == "network" and got.value == ["34.36.0.0/16"]
    clock.advance(10)
    assert fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse).value == ["34.36.0.0/16"]


@pytest.mark.parametrize("failure", ["http-500", "connection-refused", "not-json", "wrong-format"])
def test_stale_cache_is_used_with_a_warning_when_the_fetch_fails(
    feed_server: FeedServer, fetcher: FeedFetcher, clock: FakeClock, failure: str
) -> None:
    """Server errors, network errors and broken downloads fall back to the cache, say so, and keep the cache."""
    feed_server.put("/cloud.json", DOC_V1)
    url = feed_server.url("/cloud.json")
    fetcher.fetch("gcp", url, parse)
    clock.advance(2 * 86400)
    if failure == "http-500":
        feed_server.files["/cloud.json"].status = 500
    elif failure == "not-json":
        feed_server.files["/cloud.json"].body = b"<html>maintenance</html>"
        feed_server.files["/cloud.json"].etag = '"other"'
    elif failure == "wrong-format":
        feed_server.put("/cloud.json", {"something": "else"})
    else:
        url = "http://127.0.0.1:9/cloud.json"  # discard port: nothing listens; a copy of this feed still helps
    got = fetcher.fetch("gcp", url, parse)
    assert got.origin == "stale-cache" and got.value == ["34.35.0.0/16"]
    assert "gcp feed" in got.warning and "cached copy" in got.warning
    # the broken download did not replace the good copy
    feed_server.files["/cloud.json"].status = 500
    assert fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse).value == ["34.35.0.0/16"]


def test_stale_cache_older_than_max_stale_is_refused(
    feed_server: FeedServer, fetcher: FeedFetcher, clock: FakeClock
) -> None:
    """A fetch failure with a cache older than max_stale raises FeedError naming the feed."""
    feed_server.put("/cloud.json", DOC_V1)
    fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    feed_server.files["/cloud.json"].status = 503
    clock.advance(8 * 86400)
    with pytest.raises(FeedError) as excinfo:
        fetcher.fetch("gcp", feed_server.url("/cloud.json"), parse)
    assert excinfo.value.code == "stale-cache" and "gcp feed" in str(excinfo.value)


def test_failure_without_cache_raises(feed_server: FeedServer, fetcher: FeedFetcher) -> None:
    """No cache and a 404: FeedError with the HTTP status as code."""
    with pytest.raises(FeedError) as excinfo:
        fetcher.fetch("gcp", feed_server.url("/missing.json"), parse)
    assert excinfo.value.code == "http-404" and excinfo.value.vendor == "gcp"


def test_offline_uses_cache_of_any_age_and_never_the_network(
    feed_server: FeedServer, tmp_path: Path, clock: FakeClock
) -> None:
    """Offline: an old cache is used with a warning; no request is made; no cache is an error."""
    feed_server.put("/cloud.json", DOC_V1)
    online = FeedFetcher(cache_dir=tmp_path / "cache", clock=clock, max_age=3600)
    online.fetch("gcp", feed_server.url("/cloud.json"), parse)
    online.close()
    offline = FeedFetcher(cache_dir=tmp_path / "cache", clock=clock, max_age=3600, offline=True)
    clock.advance(90 * 86400)
    got = offline.fetch("gcp", feed_server.url("/cloud.json"), parse)
    assert got.origin == "offline-cache" and got.value == ["34.35.0.0/16"] and "offline" in got.warning
    assert feed_server.count("/cloud.json") == 1
    with pytest.raises(FeedError) as excinfo:
        offline.fetch("aws", feed_server.url("/ip-ranges.json"), parse)
    assert excinfo.value.code == "no-cache"
    assert offline._client is None  # never built an HTTP client


def test_gzip_content_encoding(feed_server: FeedServer, tmp_path: Path, clock: FakeClock) -> None:
    """A gzip-encoded answer is decoded by httpx and cached decoded."""
    feed_server.gzip_encoding = True
    feed_server.put("/cloud.json", DOC_V1)
    with httpx.Client() as client:
        f = FeedFetcher(cache_dir=tmp_path / "c", client=client, clock=clock)
        assert f.fetch("gcp", feed_server.url("/cloud.json"), parse).value == ["34.35.0.0/16"]
    assert json.loads((tmp_path / "c" / "gcp.json").read_bytes()) == DOC_V1


def test_unwritable_cache_does_not_fail_the_fetch(feed_server: FeedServer, tmp_path: Path, clock: FakeClock) -> None:
    """A cache directory that cannot be created only costs the cache, not the data."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    feed_server.put("/cloud.json", DOC_V1)
    f = FeedFetcher(cache_dir=blocker / "cache", clock=clock)
    assert f.fetch("gcp", feed_server.url("/cloud.json"), parse).value == ["34.35.0.0/16"]
    f.close()
