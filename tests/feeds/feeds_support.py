"""Helpers of the feeds tests: data files and a feed server (a uniquely named module, since every test folder has
its own ``conftest``)."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from agent.models import Vendor

DATA = Path(__file__).resolve().parent.parent / "data"
FEED_FILES: dict[Vendor, str] = {
    Vendor.AWS: "aws-ip-ranges.json.gz",
    Vendor.GCP: "gcp-cloud.json.gz",
    Vendor.OCI: "oci-public_ip_ranges.json.gz",
    Vendor.AZURE: "azure-ServiceTags_Public.json.gz",
}


def load_data(name: str) -> Any:
    """Decode one gzip-compressed JSON file of tests/data."""
    return json.loads(gzip.decompress((DATA / name).read_bytes()))


@dataclass
class ServedFile:
    """One file of the feed server; `etag`/`last_modified` are sent and honoured when set."""

    body: bytes
    etag: str = ""
    last_modified: str = ""
    status: int = 200  # force an error status (500, 404...)


@dataclass
class FeedServer:
    """A small HTTP server on 127.0.0.1 that behaves like a CDN serving feed files.

    It answers ``If-None-Match`` / ``If-Modified-Since`` with 304 like S3/CloudFront and gstatic do, and records
    every request (path and headers) in `requests`.
    """

    base_url: str
    files: dict[str, ServedFile] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    gzip_encoding: bool = False

    def put(self, path: str, doc: Any, *, etag: bool = True, last_modified: float | None = 1_750_000_000.0) -> None:
        body = json.dumps(doc).encode()
        self.files[path] = ServedFile(
            body,
            f'"{hashlib.sha256(body).hexdigest()[:16]}"' if etag else "",
            email.utils.formatdate(last_modified, usegmt=True) if last_modified is not None else "",
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            served = server.files.get(self.path)
            if served is None:
                self._send(404, b'{"error": "not found"}')
                return
            if served.status != 200:
                self._send(served.status, b"<html>error</html>", content_type="text/html")
                return
            validators = {}
            if served.etag:
                validators["ETag"] = served.etag
            if served.last_modified:
                validators["Last-Modified"] = served.last_modified
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if (inm and served.etag and inm == served.etag) or (
                not inm
                and ims
                and served.last_modified
                and email.utils.parsedate_to_datetime(ims) >= email.utils.parsedate_to_datetime(served.last_modified)
            ):
                self._send(304, b"", headers=validators)
                return
            body = served.body
            headers = dict(validators)
            if server.gzip_encoding and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            self._send(200, body, headers=headers)

        def _send(
            self,
            status: int,
            body: bytes,
            *,
            headers: dict[str, str] | None = None,
            content_type: str = "application/json",
        ) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler
