"""Frozen data types that every stage speaks: cloud addresses, scopes, origins, mappings.

IPs are always canonical text from `agent.ip.canonical_ip` (never raw user or API text), so equality of two IP
strings is equality of the addresses. Text keeps a million-record inventory small and hashing fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from agent.regions import normalise_region

__all__ = [
    "CONFIDENCE_RANK",
    "GLOBAL_REGION",
    "Action",
    "Change",
    "ChangeResult",
    "CloudAddress",
    "Confidence",
    "Outcome",
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


CONFIDENCE_RANK: dict[Confidence, int] = {Confidence.ACCOUNT: 0, Confidence.STATIC: 1, Confidence.FEED: 2}
"""Documented order of evidence (lower is stronger): names the confidence of a claim made by several sources."""


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
    observed_at: datetime | None = None
    """UTC time an inventory engine observed the resource (AWS Config capture time…); None: read live just now."""

    def __post_init__(self) -> None:
        # One spelling per region whatever the source wrote (``US-EAST-1``, ``WestEurope``): see agent.regions.
        canonical = normalise_region(str(self.vendor), self.region)
        if canonical != self.region:
            object.__setattr__(self, "region", canonical)


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
    """What Cloudflare stores for one origin IP of a zone (or what the plan wants it to store).

    `ip` is canonical text (made so where it entered the program: the client's parser, the config, a collector).
    `modified_on` is Cloudflare's timestamp when the mapping was read from the API; it is not part of equality.
    """

    ip: str
    vendor: Vendor
    region: str
    modified_on: str | None = field(default=None, compare=False)

    @property
    def placement(self) -> tuple[str, str]:
        """(vendor, region): what a mapping says, without the IP."""
        return (self.vendor.value, self.region)


class Action(StrEnum):
    """What a planned change does to a mapping."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Outcome(StrEnum):
    """What became of a planned change (the summary's ``status``)."""

    PENDING = "pending"  # planned, not applied yet (a plan shown before the question on a terminal)
    PLANNED = "planned"  # dry run: would have been applied
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"  # not attempted (credentials stopped working, a stale plan, the time budget)
    EXISTS = "exists"  # v1 create raced with an identical mapping: nothing to do
    CONFLICT = "conflict"  # v1 create raced with a different mapping: left alone
    WITHHELD = "withheld by policy"  # drift the policy does not correct
    GONE = "gone"  # a delete that found the mapping already deleted (another agent, a person): done, not failed

    @property
    def done(self) -> bool:
        """The change is in effect (or, in a dry run, would be)."""
        return self in (Outcome.APPLIED, Outcome.PLANNED)

    @property
    def failure(self) -> bool:
        return self in (Outcome.FAILED, Outcome.SKIPPED)


@dataclass(frozen=True, slots=True)
class Change:
    """One planned write: `new` is what the mapping becomes (None for a delete), `old` what it was (None for a create).

    `source` and `confidence` are the inventory evidence for `new` (empty for deletes).
    """

    action: Action
    new: RegionMapping | None
    old: RegionMapping | None = None
    source: str = ""
    confidence: Confidence | None = None

    def __post_init__(self) -> None:
        wanted = {Action.CREATE: (True, False), Action.UPDATE: (True, True), Action.DELETE: (False, True)}[self.action]
        if ((self.new is not None), (self.old is not None)) != wanted:
            raise ValueError(f"a {self.action.value} needs new={wanted[0]} and old={wanted[1]}")
        if self.new is not None and self.old is not None and self.new.ip != self.old.ip:
            raise ValueError(f"a change cannot move {self.old.ip} to {self.new.ip}")

    @property
    def ip(self) -> str:
        mapping = self.new or self.old
        assert mapping is not None  # checked in __post_init__
        return mapping.ip

    @property
    def target(self) -> RegionMapping:
        """The mapping this change is about: `new`, or for a delete the mapping being removed."""
        mapping = self.new or self.old
        assert mapping is not None
        return mapping


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What happened to one planned change; `error` says why when it did not happen."""

    change: Change
    outcome: Outcome
    error: str = ""
