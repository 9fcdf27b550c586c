"""The fake Cloudflare's stored objects, its error type and the wire helpers every route shares."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAPPING_SETTING_ID",
    "MESSAGES",
    "ApiError",
    "DnsRecord",
    "LoadBalancer",
    "MappingEntry",
    "Pool",
    "Zone",
    "failure",
    "rfc3339",
    "success",
]

MAPPING_SETTING_ID = "origin_public_cloud_region"

# Verbatim messages from the documentation examples (reference section 5), keyed by code.
MESSAGES: dict[int, str] = {
    971: "Please wait and consider throttling your request speed",
    1140: "Unable to update origin_public_cloud_region setting value. Internal error.",
    1142: "Unable to retrieve origin_public_cloud_region setting value. The zone setting does not exist.",
    1145: "Unable to create new origin_public_cloud_region setting. The zone setting already exists.",
    1146: "Invalid or missing origin IP address.",
    1156: "Failed to validate region against cloud vendor",
    1157: "The vendor provided doesn't exist or the region provided does not exist for the specified cloud vendor",
    1164: "Maximum number of IP mappings configured for zone.",
    10000: "Authentication error",
}


class ApiError(Exception):
    """An API failure: the HTTP status and the ``errors`` items of the failure envelope.

    Raised anywhere inside a route; the server turns it into
    ``{"success": false, "errors": [...], "messages": [], "result": null}``.
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str | None = None,
        *,
        error_chain: list[dict[str, Any]] | None = None,
        extra_errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, "Request failed")
        self.error_chain = error_chain
        self.extra_errors = extra_errors or []
        self.headers = headers or {}
        super().__init__(f"{status} [{code}] {self.message}")

    def errors(self) -> list[dict[str, Any]]:
        """The ``errors`` array of the failure envelope."""
        first: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.error_chain:
            first["error_chain"] = self.error_chain
        return [first, *self.extra_errors]


def success(
    result: Any, *, result_info: dict[str, int] | None = None, messages: list[Any] | None = None
) -> dict[str, Any]:
    """The success envelope; `result_info` only on paginated lists."""
    body: dict[str, Any] = {"success": True, "errors": [], "messages": messages or [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def failure(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The failure envelope: ``result`` is null and there is at least one error."""
    return {"success": False, "errors": errors, "messages": [], "result": None}


def rfc3339(epoch_seconds: float) -> str:
    """RFC 3339 UTC to the second with a ``Z`` suffix, the form of every documented timestamp."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


@dataclass(slots=True)
class MappingEntry:
    """One stored origin cloud region mapping (the key, the canonical IP, lives in the zone's dict)."""

    vendor: str
    region: str
    modified_on: str


@dataclass(slots=True)
class DnsRecord:
    """One DNS record; `content` is stored exactly as given (junk is allowed when a test switches validation off)."""

    id: str
    type: str
    name: str
    content: str
    proxied: bool
    ttl: int
    created_on: str
    comment: str | None = None

    @property
    def proxiable(self) -> bool:
        return self.type in {"A", "AAAA", "CNAME"}


@dataclass(slots=True)
class Pool:
    """A load-balancer pool of one account."""

    id: str
    account_id: str
    name: str
    origins: list[dict[str, Any]]
    created_on: str
    enabled: bool = True
    monitor: str | None = None


@dataclass(slots=True)
class LoadBalancer:
    """A zone's load balancer; it points at pools by id."""

    id: str
    name: str
    default_pools: list[str]
    fallback_pool: str
    region_pools: dict[str, list[str]]
    pop_pools: dict[str, list[str]]
    country_pools: dict[str, list[str]]
    created_on: str
    enabled: bool = True
    proxied: bool = True


@dataclass(slots=True)
class Zone:
    """A zone and everything the fake keeps for it.

    `mappings` is insertion-ordered (the list order, which makes paging deterministic); overwriting an IP keeps its
    place. `mappings_modified_on` is the setting's timestamp: ``None`` while the setting does not exist, i.e. after
    the last mapping is removed (the spec: "the underlying rule record is also deleted").
    """

    id: str
    name: str
    account_id: str
    account_name: str
    status: str
    created_on: str
    tiered_cache: bool = True
    mappings: dict[str, MappingEntry] = field(default_factory=dict)
    mappings_modified_on: str | None = None
    dns_records: dict[str, DnsRecord] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
