"""Frozen data types that every stage speaks: cloud addresses, scopes, origins, mappings.

IPs are always canonical text from `agent.ip.canonical_ip` (never raw user or API text), so equality of two IP
strings is equality of the addresses. Text keeps a million-record inventory small and hashing fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "GLOBAL_REGION",
    "CloudAddress",
    "Confidence",
    "RegionMapping",
    "Scope",
    "ScopeError",
    "Vendor",
]

GLOBAL_REGION = "global"
"""Region of anycast / non-regional addresses (GCP global LBs, AWS GLOBAL feed prefixes). Never written."""


class Vendor(StrEnum):
    """The four vendors Cloudflare accepts in a mapping (`vendor` enum of the API)."""

    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"
    OCI = "oci"


class Confidence(StrEnum):
    """Where a vendor/region claim comes from. An account collector outranks a published feed."""

    ACCOUNT = "account"  # the cloud's own API, with credentials for the account
    STATIC = "static"  # a static inventory file (CMDB export)
    FEED = "feed"  # a published IP-range feed: allocation, not assignment


@dataclass(frozen=True, slots=True)
class CloudAddress:
    """One public IP a collector saw, and the region it lives in.

    `ip` is canonical text. `region` is the vendor's own region name (``us-east-1``, ``europe-west1``, ``eastus``,
    ``us-ashburn-1``) or `GLOBAL_REGION`. `account` is the AWS account id, GCP project, Azure subscription or OCI
    compartment. `kind` says what holds the IP (``elastic-ip``, ``instance``, ``nat-gateway``, ``forwarding-rule``…).
    `source` names the inventory source that produced it (``aws``, ``static``, ``ranges``…).
    """

    ip: str
    vendor: Vendor
    region: str
    account: str = ""
    resource_id: str = ""
    kind: str = ""
    source: str = ""
    confidence: Confidence = Confidence.ACCOUNT
    details: tuple[tuple[str, str], ...] = ()  # vendor extras, e.g. (("network_border_group", "us-west-2-lax-1"),)


@dataclass(frozen=True, slots=True)
class Scope:
    """One unit of discovery work: e.g. an AWS account, or an account x region.

    A collector yields root scopes from `Collector.scopes()`; collecting a non-leaf scope may yield child scopes
    (an account yields its enabled regions). The runner isolates failures per scope and shards leaf scopes.
    `context` is collector-private (credentials, a session) and is never printed.
    """

    source: str
    path: tuple[str, ...]
    leaf: bool = True
    context: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def label(self) -> str:
        """Stable, human-readable id, e.g. ``aws:123456789012/us-east-1``."""
        return f"{self.source}:{'/'.join(self.path)}"


@dataclass(frozen=True, slots=True)
class ScopeError:
    """A scope that failed: recorded in the summary; the rest of the run goes on."""

    scope: str  # Scope.label
    error: str  # error class, e.g. "CollectorError"
    code: str  # vendor error code, e.g. "AccessDenied", "" when there is none
    message: str


@dataclass(frozen=True, slots=True)
class RegionMapping:
    """What Cloudflare stores for one origin IP of a zone."""

    ip: str
    vendor: str
    region: str
