"""Constants and builders shared by the Cloudflare client tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, str], "dict[str, Any] | bytes"]

# Distinctive secrets, so the leak tests can search every captured text for them.
TOKEN = "tok_Q7xV3sKp9LmZ2wRt8NbYc4Hd"
GLOBAL_KEY = "key0f1e2d3c4b5a69788796a5b4c3d2e1f0"
EMAIL = "ops@example.com"
ACCOUNT_ID = "01a7362d577a6c3019a474fd6f485823"


def ipv4(n: int) -> str:
    """The n-th address of 198.18.0.0/15 (benchmarking range: plenty of distinct, valid IPs)."""
    return str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("198.18.0.0")) + n))


class QuirkServer:
    """A minimal HTTP server on 127.0.0.1 that answers from a function, for wire behaviour the fake does not offer
    (a list without ``total_pages``, a server echoing a header into an error, the ``X-RateLimit-*`` header set).

    `answer(method, path, query, headers)` returns ``(status, headers, body)``; `body` may be a dict (sent as JSON)
    or bytes. `requests` records ``(method, path, query)``.
    """

    def __init__(self, answer: Callable[[str, str, dict[str, list[str]], dict[str, str]], Answer]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                query = parse_qs(split.query)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.requests.append((self.command, split.path, query))
                status, headers, body = outer.answer(
                    self.command, split.path, query, {k.lower(): v for k, v in self.headers.items()}
                )
                data = json.dumps(body).encode() if isinstance(body, dict) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_PUT = do_DELETE = do_PATCH = do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/client/v4"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def envelope(result: Any, **extra: Any) -> dict[str, Any]:
    """A success envelope."""
    return {"success": True, "errors": [], "messages": [], "result": result, **extra}
