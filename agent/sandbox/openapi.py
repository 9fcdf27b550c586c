"""Check one HTTP exchange against Cloudflare's OpenAPI subset (openapi-core), for the fake and the client tests.

Why here and not in tests: the fake validates its own traffic when given a spec (`FakeCloudflare(openapi_spec=...)`),
and the client tests validate what the client sends; both must apply the same rules. openapi-core is a dev
dependency, so it is imported only when a check is made.

Only operations in the subset are checked: an exchange whose path or method the subset does not document (for
example ``/user/tokens/verify`` or the load-balancer calls) yields no violation. Two known gaps between the schema
and the real API are allowed for (see `_repair_dns_records_failure` and `_rate_limit_allowance`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["OpenApiChecker", "check_exchange", "load_checker"]

_MAX_TEXT = 240


class OpenApiChecker:
    """A validator built once from a spec dict (building one takes ~0.1 s; checking an exchange ~1 ms).

    The spec's only server is ``https://api.cloudflare.com/client/v4``; a relative server ``/client/v4`` is added to a
    private copy so traffic to a loopback fake on any port matches. One defect of the upstream schema is repaired in
    that copy too, see `_repair_dns_records_failure`.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        from openapi_core import OpenAPI

        private = copy.deepcopy(dict(spec))
        servers = private.setdefault("servers", [])
        if not any(s.get("url") == "/client/v4" for s in servers):
            servers.append({"url": "/client/v4"})
        _repair_dns_records_failure(private)
        self._api = OpenAPI.from_dict(private)

    def request_violations(self, method: str, url: str, headers: Mapping[str, str], body: Any) -> list[str]:
        """Violations of the request alone (parameters, body, security); ``[]`` for an undocumented operation."""
        try:
            self._api.validate_request(_mock_request(method, url, headers, body))
        except Exception as exc:  # openapi-core raises a tree of its own; each is one finding
            return [] if _undocumented(exc) else [f"request: {_describe(exc)}"]
        return []

    def response_violations(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Any,
        status: int,
        response_body: Any,
        *,
        allow_undocumented_status: bool = False,
    ) -> list[str]:
        """Violations of the response for that request; ``[]`` for an undocumented operation."""
        from openapi_core.testing import MockResponse

        request = _mock_request(method, url, headers, body)
        data = _as_bytes(response_body) or b""
        if status == 429:
            data = _rate_limit_allowance(data)
        response = MockResponse(data, status_code=status, content_type="application/json")
        try:
            self._api.validate_response(request, response)
        except Exception as exc:
            if _undocumented(exc) or (allow_undocumented_status and type(exc).__name__ == "ResponseNotFound"):
                return []
            return [f"response: {_describe(exc)}"]
        return []


_CACHE: dict[str, OpenApiChecker] = {}
_CACHE_LOCK = threading.Lock()


def load_checker(spec: Mapping[str, Any] | OpenApiChecker) -> OpenApiChecker:
    """The checker for `spec`, built once per distinct spec content (building costs ~0.3 s, hashing ~5 ms)."""
    if isinstance(spec, OpenApiChecker):
        return spec
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    with _CACHE_LOCK:
        checker = _CACHE.get(key)
        if checker is None:
            checker = _CACHE[key] = OpenApiChecker(spec)
        return checker


def check_exchange(
    spec: Mapping[str, Any] | OpenApiChecker,
    method: str,
    url: str,
    request_headers: Mapping[str, str] | None,
    request_body: Any,
    status: int,
    response_body: Any,
) -> list[str]:
    """All violations of one exchange, each prefixed ``request:`` or ``response:``; ``[]`` when it conforms.

    `url` is the full URL with the query (``http://127.0.0.1:PORT/client/v4/zones/...?page=2``). Bodies may be
    bytes, text, ``None`` (no body) or any JSON value (serialised here). Operations the subset does not document are
    skipped.
    """
    checker = load_checker(spec)
    headers = dict(request_headers or {})
    return checker.request_violations(method, url, headers, request_body) + checker.response_violations(
        method, url, headers, request_body, status, response_body
    )


def _repair_dns_records_failure(spec: dict[str, Any]) -> None:
    """Make the DNS-records 4XX response satisfiable.

    Upstream (cloudflare/api-schemas 2024-08-06) defines it as ``allOf: [dns_response_collection, failure]``: the
    first requires ``success: true`` and an array ``result``, the second ``success: false`` and ``result: null``, so
    no body can ever match. The repaired schema is the failure envelope alone, like every other operation's 4XX.
    """
    operation = spec.get("paths", {}).get("/zones/{zone_id}/dns_records", {}).get("get", {})
    media = operation.get("responses", {}).get("4XX", {}).get("content", {}).get("application/json", {})
    refs = [part.get("$ref", "") for part in media.get("schema", {}).get("allOf", [])]
    failure = "#/components/schemas/dns-records_api-response-common-failure"
    if failure in refs and len(refs) > 1:
        media["schema"] = {"$ref": failure}


def _rate_limit_allowance(data: bytes) -> bytes:
    """Accept the one known deviation of real 429 answers: error code 971.

    Cloudflare's rate limiter answers ``[code: 971] Please wait and consider throttling your request speed`` (seen in
    public logs), below the schema's ``code minimum: 1000``. Everything else about a 429 body is still checked.
    """
    try:
        body = json.loads(data)
    except ValueError:
        return data
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return data
    for error in body["errors"]:
        if isinstance(error, dict) and error.get("code") == 971:
            error["code"] = 1000
    return json.dumps(body).encode()


def _as_bytes(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def _mock_request(method: str, url: str, headers: Mapping[str, str], body: Any) -> Any:
    from openapi_core.testing import MockRequest
    from werkzeug.datastructures import ImmutableMultiDict

    parts = urlsplit(url)
    host_url = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "http://127.0.0.1"
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json")
    return MockRequest(
        host_url,
        method.lower(),
        parts.path,
        args=ImmutableMultiDict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=dict(headers),
        data=_as_bytes(body),
        content_type=content_type.split(";")[0].strip(),
    )


def _undocumented(exc: Exception) -> bool:
    return type(exc).__name__ in {"PathNotFound", "OperationNotFound", "ServerNotFound"}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _describe(exc: BaseException) -> str:
    """One line per finding: the exception type, then the schema errors with their JSON paths (values truncated)."""
    details: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for error in list(getattr(current, "schema_errors", None) or [])[:5]:
            path = "/".join(str(p) for p in getattr(error, "absolute_path", [])) or "$"
            details.append(f"{path}: {_short(getattr(error, 'message', str(error)))}")
        current = current.__cause__ or current.__context__
    head = f"{type(exc).__name__}: {_short(str(exc))}"
    return head if not details else f"{head} [{'; '.join(details)}]"
