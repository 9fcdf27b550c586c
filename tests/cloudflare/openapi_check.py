"""OpenAPI conformance helpers for tests: the subset spec from ``tests/data`` and `check_exchange` (re-exported from
`agent.sandbox.openapi`, which the fake uses too), plus `check_response` for an `httpx.Response`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx

from agent.sandbox.openapi import OpenApiChecker, check_exchange, load_checker

__all__ = ["SPEC_PATH", "OpenApiChecker", "check_exchange", "check_response", "load_checker", "load_spec"]

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "cloudflare-openapi-subset.json"


def load_spec() -> dict[str, Any]:
    """A fresh copy of the subset (callers may mutate it)."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _shared_checker() -> OpenApiChecker:
    return OpenApiChecker(load_spec())


def check_response(response: httpx.Response, spec: Any = None) -> list[str]:
    """Violations of the exchange behind an httpx response (request and response); ``[]`` when it conforms.

    There is no openapi-core adapter for httpx, so the request is rebuilt from ``response.request``.
    """
    request = response.request
    return check_exchange(
        spec if spec is not None else _shared_checker(),
        request.method,
        str(request.url),
        dict(request.headers),
        request.content or None,
        response.status_code,
        response.content,
    )
