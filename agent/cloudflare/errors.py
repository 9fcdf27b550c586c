"""Typed exceptions for Cloudflare API failures: the response envelope becomes one class per thing that happened.

```
AgentError                              (agent.errors)
└── CloudflareError(message, status, codes, messages, path)
    ├── CloudflareAuthError             401/403, or codes 6003/6103/6111/10000: bad, missing or underpowered credentials
    ├── RateLimited(retry_after)        429 (after the client's own retries ran out)
    ├── CloudflareConnectionError       no response at all: connection refused/reset, timeout (after retries)
    └── CloudflareAPIError              any other failure envelope, or a body that is not a JSON envelope
        ├── MappingNotFound             1142 (v1 DELETE's documented 1163 too): no mapping for the IP / zone
        ├── MappingExists               1145: v1 POST for an IP that is already mapped (also after a retried POST)
        ├── InvalidOriginIP             1146: the API refused the IP (or the pagination parameters)
        ├── UnsupportedRegion           1157: vendor/region not in supported_regions
        ├── ZoneMappingLimit            1164: the zone already has 3,500 mappings
        ├── ZoneNotFound(zone)          7003, or no zone of that name
        ├── TieredCacheDisabled         supported_regions refused because Tiered Cache is off
        └── PaginationError             a list endpoint repeated a page and the result would be incomplete
```

Messages carry the HTTP status, the Cloudflare codes and messages and the request path (never a query string, header,
token or key). The client scrubs its own secrets out of any text that came from the server before building one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from agent.errors import AgentError

__all__ = [
    "AUTH_CODES",
    "CloudflareAPIError",
    "CloudflareAuthError",
    "CloudflareConnectionError",
    "CloudflareError",
    "InvalidOriginIP",
    "MappingExists",
    "MappingNotFound",
    "PaginationError",
    "RateLimited",
    "TieredCacheDisabled",
    "UnsupportedRegion",
    "ZoneMappingLimit",
    "ZoneNotFound",
    "error_from_envelope",
]

# 6003 "Invalid request headers" (chain: 6111 bad Authorization, 6103 bad X-Auth-Key); 10000 "Authentication error".
AUTH_CODES = frozenset({6003, 6103, 6111, 10000})


class CloudflareError(AgentError):
    """Base of every error raised by `agent.cloudflare`.

    `status` is the HTTP status (None when no response arrived), `codes` the Cloudflare error codes of the envelope
    (including those of any `error_chain`), `messages` their texts, `path` the request path without query string.
    `retryable` says whether the client considered the failure transient (it already retried it), `retry_after` is
    the server's wait hint in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        codes: Sequence[int] = (),
        messages: Sequence[str] = (),
        path: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.codes = tuple(codes)
        self.messages = tuple(messages)
        self.path = path
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.message]
        details = []
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.codes:
            details.append("code " + ",".join(str(c) for c in self.codes))
        if self.path:
            details.append(self.path)
        if details:
            parts.append(f"[{'; '.join(details)}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._render()!r})"


class CloudflareAuthError(CloudflareError):
    """The credentials are missing, malformed, unknown or lack the permission for this call."""


class RateLimited(CloudflareError):
    """HTTP 429. `retry_after` is the server's wait hint in seconds (None when it sent none)."""


class CloudflareConnectionError(CloudflareError):
    """No HTTP response: the connection failed, was dropped, or timed out (after the retries)."""


class CloudflareAPIError(CloudflareError):
    """A failure envelope (or an unreadable body) that no more specific class describes."""


class MappingNotFound(CloudflareAPIError):
    """1142: the zone has no mappings, or none for this IP."""


class MappingExists(CloudflareAPIError):
    """1145: v1 create-only POST for an IP that already has a mapping.

    A POST retried after a lost response lands here too: the first attempt did create the mapping.
    """


class InvalidOriginIP(CloudflareAPIError):
    """1146: Cloudflare refused the origin IP (or, on list calls, the pagination parameters)."""


class UnsupportedRegion(CloudflareAPIError):
    """1157: the vendor, or the region for that vendor, is not one Cloudflare supports."""


class ZoneMappingLimit(CloudflareAPIError):
    """1164: the zone already holds the maximum of 3,500 mappings; only overwrites are accepted."""


class ZoneNotFound(CloudflareAPIError):
    """The zone does not exist or is not visible to these credentials (7003, or no zone with that name).

    `zone` is the zone name or id that was asked for.
    """

    def __init__(self, message: str, *, zone: str = "", **kwargs: Any) -> None:
        self.zone = zone
        super().__init__(message, **kwargs)


class TieredCacheDisabled(CloudflareAPIError):
    """supported_regions was refused: region hints need (Smart) Tiered Cache enabled on the zone."""


class PaginationError(CloudflareAPIError):
    """A paginated list misbehaved (the same page again, or no end in sight) and the result would be incomplete."""


# Specific codes win over the HTTP status: 1164 arrives with 403, which must not read as an auth failure.
_BY_CODE: dict[int, type[CloudflareAPIError]] = {
    1142: MappingNotFound,
    1163: MappingNotFound,  # the v1 DELETE description says 1163; its example says 1142 (reference section 4.5)
    1145: MappingExists,
    1146: InvalidOriginIP,
    1157: UnsupportedRegion,
    1164: ZoneMappingLimit,
    7003: ZoneNotFound,
}


def _codes_and_messages(errors: Iterable[Any]) -> tuple[list[int], list[str]]:
    """Flatten `errors[]` and their `error_chain[]` into codes and messages, skipping malformed items."""
    codes: list[int] = []
    messages: list[str] = []
    for item in errors:
        if not isinstance(item, Mapping):
            continue
        code = item.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            codes.append(code)
        message = item.get("message")
        if isinstance(message, str) and message:
            messages.append(message)
        chain = item.get("error_chain")
        if isinstance(chain, list):
            more_codes, more_messages = _codes_and_messages(chain)
            codes.extend(more_codes)
            messages.extend(more_messages)
    return codes, messages


def error_from_envelope(
    status: int,
    envelope: Mapping[str, Any],
    *,
    path: str,
    retry_after: float | None = None,
    scrub: Callable[[str], str] = str,
) -> CloudflareError:
    """Build the typed exception for a failure envelope (or a non-2xx response with a JSON body).

    `scrub` cleans server-provided texts (the client passes one that removes its own secrets).
    """
    errors = envelope.get("errors")
    codes, raw_messages = _codes_and_messages(errors if isinstance(errors, list) else [])
    messages = [scrub(m) for m in raw_messages]
    text = "; ".join(messages) or f"Cloudflare API request failed with HTTP {status}"
    kwargs: dict[str, Any] = {
        "status": status,
        "codes": codes,
        "messages": messages,
        "path": path,
        "retry_after": retry_after,
    }
    for code in codes:
        cls = _BY_CODE.get(code)
        if cls is not None:
            if cls is ZoneNotFound:
                return ZoneNotFound(text, zone=_zone_from_path(path), **kwargs)
            return cls(text, **kwargs)
    if status == 429:
        return RateLimited(text, **kwargs)
    if status in (401, 403) or any(code in AUTH_CODES for code in codes):
        return CloudflareAuthError(text, **kwargs)
    return CloudflareAPIError(text, **kwargs)


def _zone_from_path(path: str) -> str:
    parts = path.split("/")
    if "zones" in parts:
        index = parts.index("zones")
        if index + 1 < len(parts):
            return parts[index + 1]
    return ""
