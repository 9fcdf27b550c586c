"""`FakeCloudflare`: the Cloudflare API on 127.0.0.1, with auth, fault injection, rate limiting and a request log."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import math
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from agent.clock import Clock
from agent.sandbox.server import serve_in_background, stop_serving

from ._api import NO_BODY, ApiRequest, Caller, CloudflareApi, token_id
from ._model import MESSAGES, ApiError, failure

__all__ = ["MUTATING_METHODS", "FakeCloudflare", "RecordedRequest"]

logger = logging.getLogger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIX = "/client/v4"
_SECRET_HEADERS = frozenset({"authorization", "x-auth-key", "x-auth-email", "x-auth-user-service-key", "cookie"})
_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-.~+/]+=*")  # RFC 6750 b64token
_KEY_RE = re.compile(r"[A-Za-z0-9_\-]{1,128}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>\n"
)
_TRUNCATED_JSON = b'{"success": true, "errors": [], "messages": [], "result": [{"origin_ip": "192.0.2.1", "reg'


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received, for tests to count and inspect. Never holds credentials.

    `path` is the full raw path as sent (``/client/v4/zones/...``, still percent-encoded), without the query.
    `body` is the parsed JSON, the raw bytes when the body was not JSON, or ``None`` when there was none.
    `status` is what the fake answered; 0 when it dropped the connection. `headers` has lower-case names and no
    auth headers; `auth` says which scheme was presented (``"token"``, ``"key"`` or ``None``); `at` is the
    injected clock's ``time()`` on arrival.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    auth: str | None = None
    at: float = 0.0

    @property
    def mutating(self) -> bool:
        """POST, PUT, PATCH or DELETE."""
        return self.method in MUTATING_METHODS


@dataclass(slots=True)
class _Rule:
    kind: Literal["fail", "drop", "malformed"]
    remaining: int
    match: str | None
    status: int = 0
    code: int = 0
    retry_after: str | None = None
    should_retry: str | None = None
    body_kind: str = "json"


class _SlidingWindow:
    """At most `limit` accepted requests in any `window` seconds of the injected clock (a sliding log)."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int, int]:
        """(allowed, remaining, seconds until a slot frees up)."""
        with self._lock:
            return self._take()

    def _take(self) -> tuple[bool, int, int]:
        now = self._clock.monotonic()
        while self._hits and self._hits[0] <= now - self.window:
            self._hits.popleft()
        allowed = len(self._hits) < self.limit
        if allowed:
            self._hits.append(now)
        reset = math.ceil(self._hits[0] + self.window - now) if self._hits else 0
        return allowed, self.limit - len(self._hits), max(reset, 1 if not allowed else 0)


class FakeCloudflare(CloudflareApi):
    """A faithful local Cloudflare API (``shared/reference/cloudflare-api.md`` section 9) for tests and the demo.

    Start it in-process (``with FakeCloudflare() as fake:`` or ``fake.start()``); point clients at `base_url`.
    Seed it with `add_zone`, `add_dns_record`, `add_pool`, `add_load_balancer`, `set_mapping`; inspect it with
    `mappings`, `requests` and `contract_violations`.

    Choices where the public sources are silent (UNCONFIRMED in the reference) — each is an attribute you can change:

    * ``zone_not_found_status`` (404): HTTP status of 7003 for an unknown or malformed zone/account id.
    * ``tiered_cache_error`` ((400, 1155, "Tiered Cache must be enabled ...")): the answer of supported_regions on a
      zone with Tiered Cache off (`set_tiered_cache`). ``tiered_cache_blocks_writes`` (False) applies it to writes.
    * ``v1_delete_not_found_code`` (1142): the spec text says 1163, its example 1142.
    * ``batch_too_large_code`` (1146): a batch of more than 100 items is refused whole with HTTP 400.
    * ``batch_over_cap`` ("reject"): a batch whose new IPs would pass ``max_mappings`` is refused whole with
      403/1164; "partial" applies what fits and fails the rest per item.
    * ``batch_delete_requires_body`` (False): a body-less batch DELETE (what the SDKs send) is an empty list;
      True answers it with 400/1146.
    * Duplicates in one batch: items run in order as if sent one by one; for upserts the last write wins and every
      occurrence is reported in ``succeeded``; for deletes the first occurrence succeeds and repeats are ``failed``.
    * Failed batch items echo the IP as sent when it cannot be canonicalised, else the canonical IP; their ``error``
      strings are the verbatim 1146/1157/1164 messages, or "No origin cloud region mapping exists for this IP.".
    * A missing or non-string vendor/region is 400/1157; a missing or invalid IP is 400/1146 (path or body); a
      request body that is not JSON is 400/6007; a body of the wrong JSON type is 400/1146.
    * v1 POST enforces the 3,500 cap too. Vendors are case-sensitive (``AWS`` is refused with 1157).
    * Lists are in insertion order; overwriting an IP keeps its place. Past the last page: ``result: []``.
    * ``/zones`` pagination errors use 400/1001, ``/dns_records`` 400/1004; DNS ``per_page`` is 1..5,000,000
      (default 100), the current docs' bounds.
    * ``/user/tokens/verify`` with an unknown token or with a global key answers 401/1000 "Invalid API Token".
    * An unknown route is 404/7000; a known route with another method is 405/10405.
    * Missing credentials are 400/6003 with chain 6111, like a malformed Authorization header; when both a Bearer
      token and X-Auth-Email/X-Auth-Key are sent, the key pair is checked (what cloudflare-python sends then).
    * ``repeat_first_page`` (False): every page of a paginated list (v2 mappings, ``/zones``, ``/dns_records``)
      answers exactly like page 1, ``result_info.page`` included (the ``/accounts`` quirk).

    IPv4-mapped IPv6 is stored and shown as ``::ffff:192.0.2.1`` (`agent.ip.canonical_ip`).
    """

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("test-token",),
        global_keys: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        supported_regions: Mapping[str, Sequence[Any]] | None = None,
        max_mappings: int = 3500,
        zone_not_found_status: int = 404,
        openapi_spec: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            clock=clock,
            supported_regions=supported_regions,
            max_mappings=max_mappings,
            zone_not_found_status=zone_not_found_status,
        )
        self._tokens = tuple(tokens)
        self._global_keys = dict(global_keys or {})
        self._openapi_spec = openapi_spec
        self._checker: Any = None
        self._requests: list[RecordedRequest] = []
        self._violations: list[str] = []
        self._rules: list[_Rule] = []
        self._latency = 0.0
        self._limiter: _SlidingWindow | None = None
        self._log_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self._hooks: list[tuple[str | None, Callable[[RecordedRequest], None]]] = []

    def __repr__(self) -> str:  # never shows tokens or keys
        return f"FakeCloudflare(base_url={self._base_url!r}, zones={len(self._zones)})"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Listen on an ephemeral 127.0.0.1 port; returns `base_url`. Idempotent."""
        if self._server is not None:
            return self.base_url
        if self._openapi_spec is not None and self._checker is None:
            from agent.sandbox.openapi import load_checker

            self._checker = load_checker(self._openapi_spec)
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = serve_in_background(server, "fake-cloudflare")
        self._base_url = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
        return self._base_url

    def stop(self) -> None:
        """Stop listening (idempotent). Open keep-alive connections die with their daemon threads."""
        server, self._server = self._server, None
        if server is not None:
            stop_serving(server, self._thread)
        self._thread = None

    def __enter__(self) -> FakeCloudflare:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/client/v4``; raises if the fake was never started."""
        if self._base_url is None:
            raise RuntimeError("FakeCloudflare is not started; call start() first")
        return self._base_url

    # ------------------------------------------------------------------ inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._log_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._requests.clear()

    @property
    def contract_violations(self) -> list[str]:
        """OpenAPI findings for documented operations (only when `openapi_spec` was given), ``"METHOD path: ..."``."""
        with self._log_lock:
            return list(self._violations)

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        code: int = 1140,
        retry_after: str | None = None,
        should_retry: str | None = None,
        match: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests with `status` and a failure body carrying `code`.

        `match` is a substring of ``"METHOD /client/v4/path"``. `retry_after` becomes the ``Retry-After`` header
        (seconds or an HTTP date, sent as given); `should_retry` the ``x-should-retry`` header. The request is not
        executed.
        """
        self._add_rule(
            _Rule("fail", count, match, status=status, code=code, retry_after=retry_after, should_retry=should_retry)
        )

    def drop_next(self, count: int = 1, *, match: str | None = None) -> None:
        """Close the connection without any response for the next `count` matching requests (not executed)."""
        self._add_rule(_Rule("drop", count, match))

    def malformed_next(
        self,
        count: int = 1,
        *,
        kind: Literal["html", "json"],
        match: str | None = None,
        status: int = 200,
    ) -> None:
        """Answer the next `count` matching requests with a body that is not the JSON envelope (not executed).

        ``kind="json"``: truncated JSON with ``Content-Type: application/json``; ``kind="html"``: an HTML error page
        with ``text/html``. The status is 200 unless `status` says otherwise (e.g. 502 for an edge error page).
        """
        if kind not in {"html", "json"}:
            raise ValueError(f"kind must be 'html' or 'json', not {kind!r}")
        self._add_rule(_Rule("malformed", count, match, status=status, body_kind=kind))

    def after_served(self, callback: Callable[[RecordedRequest], None], *, match: str | None = None) -> None:
        """Test hook: call `callback(request)` after each matching request has been answered (before the next one
        is read), e.g. to delete a DNS record once page 1 of a listing was served. Wire behaviour is unchanged: the
        hook only does what a person editing the zone at that moment would do. `match` as in `fail_next`."""
        with self._log_lock:
            self._hooks.append((match, callback))

    def clear_hooks(self) -> None:
        with self._log_lock:
            self._hooks.clear()

    def set_latency(self, seconds: float) -> None:
        """Really sleep this long before answering each request (benchmarks only; tests use the injected clock)."""
        self._latency = max(0.0, seconds)

    def set_rate_limit(self, requests: int | None, window_s: float = 300.0) -> None:
        """Allow at most `requests` per `window_s` seconds of the injected clock; ``None`` disables the limit.

        When exhausted: 429 with ``Retry-After`` (whole seconds until a slot frees), ``Ratelimit``,
        ``Ratelimit-Policy`` and the code-971 body. Every answer carries ``Ratelimit``/``Ratelimit-Policy`` while a
        limit is set.
        """
        self._limiter = None if requests is None else _SlidingWindow(requests, window_s, self.clock)

    def _add_rule(self, rule: _Rule) -> None:
        if rule.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._log_lock:
            self._rules.append(rule)

    def _take_rule(self, kind: str, target: str) -> _Rule | None:
        with self._log_lock:
            for rule in self._rules:
                if rule.kind == kind and (rule.match is None or rule.match in target):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    # ------------------------------------------------------------------ one exchange

    def _serve(self, handler: _Handler) -> None:
        method = handler.command
        split = urlsplit(handler.path)
        query = parse_qs(split.query, keep_blank_values=True)
        raw_body = handler.read_body()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body: Any = NO_BODY
        body_error = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_error = True
        when = self.clock.time()
        auth_scheme = "key" if ("x-auth-key" in headers or "x-auth-email" in headers) else None
        auth_scheme = auth_scheme or ("token" if "authorization" in headers else None)

        def record(status: int) -> RecordedRequest:
            recorded_body = raw_body if body_error else (None if body is NO_BODY else body)
            safe_headers = {k: v for k, v in headers.items() if k not in _SECRET_HEADERS}
            entry = RecordedRequest(method, split.path, query, recorded_body, status, safe_headers, auth_scheme, when)
            with self._log_lock:
                self._requests.append(entry)
            return entry

        if self._latency:
            time.sleep(self._latency)
        target = f"{method} {split.path}"
        if self._take_rule("drop", target):
            record(0)
            handler.drop()
            return
        extra_headers: dict[str, str] = {}
        injected = True
        if rule := self._take_rule("fail", target):
            status, payload = rule.status, failure([{"code": rule.code, "message": _fault_message(rule.code)}])
            if rule.retry_after is not None:
                extra_headers["Retry-After"] = rule.retry_after
            if rule.should_retry is not None:
                extra_headers["x-should-retry"] = rule.should_retry
        elif rule := self._take_rule("malformed", target):
            record(rule.status)
            html = rule.body_kind == "html"
            handler.respond(rule.status, _HTML_PAGE if html else _TRUNCATED_JSON, "text/html" if html else None, {})
            return
        else:
            injected = False
            status, payload, extra_headers = self._answer(method, split.path, query, headers, body, body_error)
        data = json.dumps(payload, separators=(",", ":")).encode()
        if self._checker is not None:
            self._check(method, handler, headers, raw_body, status, data, injected)
        entry = record(status)
        handler.respond(status, data, None, extra_headers)
        with self._log_lock:
            hooks = [callback for match, callback in self._hooks if match is None or match in target]
        for callback in hooks:
            callback(entry)

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
        body_error: bool,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        extra: dict[str, str] = {}
        try:
            if self._limiter is not None:
                allowed, remaining, reset = self._limiter.take()
                extra["Ratelimit"] = f'"default";r={remaining};t={reset}'
                extra["Ratelimit-Policy"] = f'"default";q={self._limiter.limit};w={int(self._limiter.window)}'
                if not allowed:
                    raise ApiError(429, 971, headers={"Retry-After": str(reset)})
            if not (path == PREFIX or path.startswith(PREFIX + "/")):
                raise ApiError(404, 7000, "No route for that URI")
            segments = tuple(unquote(s) for s in path[len(PREFIX) :].strip("/").split("/") if s != "")
            caller = self._authenticate(headers, segments)
            if body_error:
                raise ApiError(400, 6007, "Malformed JSON in request body")
            status, payload = self.handle(ApiRequest(method, path, segments, query, body, caller))
            return status, payload, extra
        except ApiError as exc:
            return exc.status, failure(exc.errors()), extra | exc.headers

    def _authenticate(self, headers: dict[str, str], segments: tuple[str, ...]) -> Caller:
        """Bearer token, or the X-Auth-Email + X-Auth-Key pair (checked first when present)."""
        email, key, authorization = headers.get("x-auth-email"), headers.get("x-auth-key"), headers.get("authorization")
        verify = segments == ("user", "tokens", "verify")
        if email is not None or key is not None:
            if not key or not _KEY_RE.fullmatch(key):
                raise _header_error(6103, "Invalid format for X-Auth-Key header")
            if not email or not _EMAIL_RE.fullmatch(email):
                raise _header_error(6102, "Invalid format for X-Auth-Email header")
            expected = self._global_keys.get(email)
            if expected is None or not hmac.compare_digest(expected.encode(), key.encode()):
                raise ApiError(403, 10000)
            if verify:
                raise ApiError(401, 1000, "Invalid API Token")
            return Caller("key", email=email)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not _TOKEN_RE.fullmatch(token):
            raise _header_error(6111, "Invalid format for Authorization header")
        if not any(hmac.compare_digest(token.encode(), known.encode()) for known in self._tokens):
            raise ApiError(401, 1000, "Invalid API Token") if verify else ApiError(403, 10000)
        return Caller("token", token_id(token))

    def _check(
        self,
        method: str,
        handler: _Handler,
        headers: dict[str, str],
        raw_body: bytes,
        status: int,
        data: bytes,
        injected: bool,
    ) -> None:
        url = f"http://{handler.headers.get('Host', '127.0.0.1')}{handler.path}"
        body = raw_body if raw_body else None
        found = self._checker.request_violations(method, url, headers, body)
        found += self._checker.response_violations(
            method, url, headers, body, status, data, allow_undocumented_status=injected
        )
        if found:
            path = urlsplit(handler.path).path
            with self._log_lock:
                self._violations.extend(f"{method} {path}: {v}" for v in found)


def _header_error(chain_code: int, chain_message: str) -> ApiError:
    return ApiError(400, 6003, "Invalid request headers", error_chain=[{"code": chain_code, "message": chain_message}])


def _fault_message(code: int) -> str:
    return MESSAGES.get(code, f"Injected failure (code {code})")


class _Handler(BaseHTTPRequestHandler):
    """Thin socket plumbing; everything else happens in `FakeCloudflare._serve`."""

    protocol_version = "HTTP/1.1"  # keep-alive, as httpx pools connections
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would add 40 ms each
    fake: FakeCloudflare

    def do_GET(self) -> None:
        try:
            self.fake._serve(self)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a bug in the fake: answer 500 rather than hang the client, and say so
            logger.exception("FakeCloudflare failed on %s %s", self.command, self.path)
            body = json.dumps(failure([{"code": 1000, "message": f"fake internal error: {type(exc).__name__}"}]))
            self.respond(500, body.encode(), None, {})

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def respond(self, status: int, data: bytes, content_type: str | None, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("CF-RAY", f"{threading.get_ident() & 0xFFFFFFFFFFFF:012x}-LOC")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return
