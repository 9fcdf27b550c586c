"""Download feeds over HTTP with an on-disk cache: conditional requests, a maximum age, a stale fallback.

Cache layout, per feed name (``aws``, ``gcp``, ``oci``, ``azure``) in the cache directory: ``<name>.json`` holds the
body exactly as received (after Content-Encoding), ``<name>.meta.json`` holds ``url``, ``etag``, ``last_modified``,
``fetched_at`` (when the body was downloaded) and ``checked_at`` (when the server last confirmed it, 200 or 304).

`FeedFetcher.fetch`, for one feed:

1. cache for the same URL checked less than `max_age` ago → use it, no request;
2. offline → use the cache whatever its age (warning when older than `max_age`), else fail;
3. GET with ``If-None-Match`` / ``If-Modified-Since`` from the cache → 304: use the cache, 200: parse, then cache;
4. the request or the parse failed → use the cache, with a warning, if it was confirmed less than `max_stale` ago;
   otherwise raise `FeedError`.

A body is cached only after it parsed, so a broken download never replaces a good copy. Times come from an
injectable `agent.clock.Clock`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import ssl
import stat
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from agent.clock import SYSTEM_CLOCK, Clock
from agent.feeds.errors import FeedError

__all__ = ["Download", "FeedFetcher", "Fetched", "NotModified", "read_feed_file"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
USER_AGENT = "origin-region-agent (+feeds)"


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """A parsed feed and where it came from.

    `origin` is ``file`` (a local path), ``network`` (downloaded now), ``not-modified`` (304, cache reused),
    ``cache`` (fresh cache, no request), ``offline-cache`` or ``stale-cache`` (a fetch failed). `fetched_at` is when the
    body was downloaded (epoch seconds; None for a local file). `warning` says what went wrong when a cache stood in;
    the caller reports it (the collector logs it, ``lookup`` prints it).
    """

    value: T
    source: str
    origin: str
    fetched_at: float | None = None
    warning: str = ""


@dataclass(frozen=True, slots=True)
class Download:
    """A 200 answer: the body and the validators to send next time."""

    body: bytes
    etag: str = ""
    last_modified: str = ""


class NotModified:
    """A 304 answer."""


Downloader = Callable[[Mapping[str, str]], "Download | NotModified"]
"""Performs one download, given the conditional headers to send; raises on failure."""


# Bounds: the largest real feed (Azure Service Tags) is about 5 MB of JSON. A download or file beyond MAX_FEED_BYTES,
# or a gzip inflating beyond MAX_INFLATED_BYTES (a "zip bomb"), is refused with a clear error instead of a MemoryError.
MAX_FEED_BYTES = 64 * 1024 * 1024
MAX_INFLATED_BYTES = 256 * 1024 * 1024


class FeedTooLarge(ValueError):
    """A feed (downloaded, cached or local) is larger than the bounds above."""


def _gunzip(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)  # gzip framing
    out = inflater.decompress(raw, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise FeedTooLarge(f"it inflates to more than {limit:,} bytes; refused")
    if not inflater.eof:
        raise EOFError("truncated gzip data")
    return out


def _decode(raw: bytes) -> Any:
    if len(raw) > MAX_FEED_BYTES:
        raise FeedTooLarge(f"it is larger than {MAX_FEED_BYTES:,} bytes; refused")
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, MAX_INFLATED_BYTES)
    return json.loads(raw)


def read_feed_file(path: Path, parse: Callable[[Any], T], *, name: str = "") -> Fetched[T]:
    """Read and parse a local feed file (``.gz`` or plain JSON). Raises `FeedError` naming the path.

    Only regular files are read: a FIFO or a device would block or never end."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise FeedError(
                f"{name} feed: {str(path)!r} is not a regular file (a FIFO, device or directory); refused",
                vendor=name,
                code="bad-format",
            )
        if info.st_size > MAX_FEED_BYTES:
            raise FeedTooLarge(f"it is larger than {MAX_FEED_BYTES:,} bytes; refused")
        doc = _decode(path.read_bytes())
    except OSError as exc:
        reason = exc.strerror or exc
        raise FeedError(f"{name} feed: cannot read {str(path)!r}: {reason}", vendor=name, code="no-file") from None
    except FeedTooLarge as exc:
        raise FeedError(f"{name} feed: {str(path)!r}: {exc}", vendor=name, code="too-large") from None
    except (ValueError, EOFError, gzip.BadGzipFile) as exc:
        raise FeedError(f"{name} feed: {str(path)!r} is not JSON: {exc}", vendor=name, code="bad-format") from None
    return Fetched(parse(doc), str(path), "file")


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(epoch))


class FeedFetcher:
    """Fetches feeds through the cache described in the module docstring. One instance serves all feeds of a run."""

    def __init__(
        self,
        *,
        cache_dir: Path,
        client: httpx.Client | None = None,
        clock: Clock = SYSTEM_CLOCK,
        max_age: float = 24 * 3600.0,
        max_stale: float | None = 30 * 24 * 3600.0,
        offline: bool = False,
        timeout: float = 30.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.cache_dir = cache_dir
        self.clock = clock
        self.max_age = max_age
        self.max_stale = max_stale
        self.offline = offline
        self._own_client = client is None
        self._client = client
        self._client_lock = threading.Lock()
        self._timeout = timeout
        self._verify = verify

    @property
    def client(self) -> httpx.Client:
        """The HTTP client, created on first use (offline runs never build one)."""
        with self._client_lock:  # the collector loads feeds from several threads
            if self._client is None:
                self._client = httpx.Client(
                    timeout=self._timeout,
                    follow_redirects=True,
                    verify=self._verify,
                    headers={"User-Agent": USER_AGENT},
                )
            return self._client

    def close(self) -> None:
        """Close the HTTP client if this fetcher created it."""
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

    # -- cache files -------------------------------------------------------------------------------------------------

    def _paths(self, name: str) -> tuple[Path, Path]:
        return self.cache_dir / f"{name}.json", self.cache_dir / f"{name}.meta.json"

    def _read_meta(self, name: str) -> dict[str, Any] | None:
        body_path, meta_path = self._paths(name)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not body_path.is_file():
            return None
        return meta

    def _write_atomic(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _store(self, name: str, meta: dict[str, Any], body: bytes | None) -> None:
        body_path, meta_path = self._paths(name)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            if body is not None:
                self._write_atomic(body_path, body)
            self._write_atomic(meta_path, json.dumps(meta, indent=1).encode())
        except OSError as exc:  # a read-only cache must not fail the run: the data is in hand
            logger.warning("cannot write the %s feed cache in %s: %s", name, self.cache_dir, exc)

    def _from_cache(
        self, name: str, meta: dict[str, Any], parse: Callable[[Any], T], origin: str, warning: str = ""
    ) -> Fetched[T]:
        body_path, _ = self._paths(name)
        doc = _decode(body_path.read_bytes())
        return Fetched(parse(doc), str(meta.get("url", "")), origin, meta.get("fetched_at"), warning)

    # -- fetching ----------------------------------------------------------------------------------------------------

    def http_download(self, url: str, headers: Mapping[str, str] | None = None) -> Downloader:
        """The default downloader: one conditional GET of `url`."""

        def download(conditional: Mapping[str, str]) -> Download | NotModified:
            with self.client.stream("GET", url, headers={**(headers or {}), **conditional}) as response:
                if response.status_code == 304:
                    return NotModified()
                if response.status_code != 200:
                    raise FeedError(
                        f"GET {url} answered HTTP {response.status_code}", code=f"http-{response.status_code}"
                    )
                # Streamed with a cap (after any Content-Encoding is undone): a huge or endless answer is refused
                # instead of filling memory.
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_FEED_BYTES:
                        raise FeedError(f"GET {url}: larger than {MAX_FEED_BYTES:,} bytes; refused", code="too-large")
                return Download(
                    bytes(body), response.headers.get("etag", ""), response.headers.get("last-modified", "")
                )

        return download

    def fetch(
        self,
        name: str,
        url: str,
        parse: Callable[[Any], T],
        *,
        download: Downloader | None = None,
    ) -> Fetched[T]:
        """Return feed `name` from `url` (or the cache), parsed by `parse`. See the module docstring for the rules.

        `parse` raises on a document it does not understand (a `FeedError`, or KeyError/ValueError...). `download`
        replaces the plain conditional GET (the Azure discovery API uses this to page and authenticate).
        """
        now = self.clock.time()
        meta = self._read_meta(name)
        same_url = meta is not None and meta.get("url") == url
        if meta is not None and same_url and now - float(meta.get("checked_at", 0)) < self.max_age:
            with contextlib.suppress(ValueError, OSError, EOFError, FeedError):
                return self._from_cache(name, meta, parse, "cache")
            meta, same_url = None, False  # unreadable cache: fetch again
        if self.offline:
            if meta is None:
                raise FeedError(
                    f"{name} feed: offline and no cached copy in {str(self.cache_dir)!r}", vendor=name, code="no-cache"
                )
            age = now - float(meta.get("checked_at", 0))
            warning = ""
            if age >= self.max_age:
                warning = f"{name} feed: offline, using the cached copy downloaded {_when(meta.get('fetched_at'))}"
            return self._cached_or_raise(name, meta, parse, "offline-cache", warning)

        conditional: dict[str, str] = {}
        if meta is not None and same_url:
            if meta.get("etag"):
                conditional["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                conditional["If-Modified-Since"] = meta["last_modified"]
            elif meta.get("fetched_at"):
                conditional["If-Modified-Since"] = formatdate(float(meta["fetched_at"]), usegmt=True)
        downloader = download or self.http_download(url)
        try:
            answer = downloader(conditional)
            if isinstance(answer, NotModified):
                if meta is None or not same_url:
                    raise FeedError(f"GET {url} answered 304 but nothing is cached", code="http-304")
                result = self._from_cache(name, meta, parse, "not-modified")
                self._store(name, {**meta, "checked_at": now}, None)
                return result
            value = parse(_decode(answer.body))
        except Exception as exc:
            reason = _describe(exc)
            if meta is None:
                if isinstance(exc, FeedError):
                    raise FeedError(f"{name} feed: {reason}", vendor=name, code=exc.code or "fetch-failed") from exc
                raise FeedError(f"{name} feed: {reason}", vendor=name, code="fetch-failed") from exc
            age = now - float(meta.get("checked_at", 0))
            if self.max_stale is not None and age > self.max_stale:
                raise FeedError(
                    f"{name} feed: {reason}; the cached copy ({_when(meta.get('fetched_at'))}) is older than "
                    f"max_stale ({self.max_stale:.0f} s)",
                    vendor=name,
                    code="stale-cache",
                ) from exc
            warning = f"{name} feed: {reason}; using the cached copy downloaded {_when(meta.get('fetched_at'))}"
            return self._cached_or_raise(name, meta, parse, "stale-cache", warning)
        self._store(
            name,
            {
                "url": url,
                "etag": answer.etag,
                "last_modified": answer.last_modified,
                "fetched_at": now,
                "checked_at": now,
            },
            answer.body,
        )
        return Fetched(value, url, "network", now)

    def _cached_or_raise(
        self, name: str, meta: dict[str, Any], parse: Callable[[Any], T], origin: str, warning: str
    ) -> Fetched[T]:
        try:
            return self._from_cache(name, meta, parse, origin, warning)
        except (ValueError, OSError, EOFError, FeedError) as exc:
            raise FeedError(
                f"{name} feed: the cached copy is unreadable: {exc}", vendor=name, code="bad-cache"
            ) from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ValueError | EOFError) and not isinstance(exc, FeedError):
        return f"the download is not valid JSON ({exc})"
    return str(exc) or type(exc).__name__
