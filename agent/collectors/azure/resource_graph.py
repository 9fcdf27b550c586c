"""Azure Resource Graph discovery (``inventory.azure.mode: resource_graph``): the whole tenant in a few paged queries.

Scopes: one leaf per management group in `management_groups`; else one leaf for the `subscriptions` (in chunks of
1,000, the most one query names); else one leaf at tenant scope (every subscription the credential can read). A leaf
sends two queries over its scope, each paged with ``$skipToken``:

1. ``ResourceContainers`` subscriptions: id, name, state. Applies `subscription_states` and `exclude_subscriptions`
   as the per-subscription mode does, and proves coverage: an explicit subscription the answer does not list (no
   access, wrong tenant, deleted) fails the scope, as ``AuthorizationFailed`` fails it in per-subscription mode.
2. ``Resources`` of type ``microsoft.network/publicipaddresses`` with an allocated ``properties.ipAddress``, ordered
   by id (stable pages); Global-tier addresses are anycast and get region `GLOBAL_REGION` (never written).

A partial answer fails the scope after its records are yielded, so discovery is incomplete and nothing is deleted:
``resultTruncated: "true"``, ``x-ms-tenant-subscription-limit-hit: true``, fewer rows than ``totalRecords``, or an
explicit subscription missing from the answer.

Quota: Resource Graph limits queries per user (e.g. 15 per 5 s) and reports it on every response in
``x-ms-user-quota-remaining`` and ``x-ms-user-quota-resets-after`` (``hh:mm:ss``). `QuotaGate` reads both (azure-core's
raw request/response hooks, so retries count too) and waits on the injectable clock before a query that would exceed
it; a 429 is retried after the reset time (or ``Retry-After`` when present).

Freshness: Resource Graph rows carry no observation time, so `observed_at` is the query time minus
`resource_graph_lag_seconds`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from agent.clock import Clock
from agent.collectors.azure.config import AzureConfig
from agent.collectors.azure.records import SOURCE, public_ip_address
from agent.errors import CollectorError
from agent.models import CloudAddress, Scope

__all__ = [
    "ENGINE",
    "PUBLIC_IP_QUERY",
    "SUBSCRIPTION_QUERY",
    "EngineScope",
    "QuotaGate",
    "engine_scopes",
]

logger = logging.getLogger(__name__)

ENGINE = "resource-graph"
MAX_SUBSCRIPTIONS_PER_QUERY = 1000

SUBSCRIPTION_QUERY = (
    "ResourceContainers"
    " | where type =~ 'microsoft.resources/subscriptions'"
    " | project subscriptionId, name, state = tostring(properties.state)"
    " | order by subscriptionId asc"
)
"""The subscriptions of the scope, with their state (to filter like per-subscription mode and to prove coverage)."""

PUBLIC_IP_QUERY = (
    "Resources"
    " | where type =~ 'microsoft.network/publicipaddresses'"
    " | where isnotempty(properties.ipAddress)"
    " | project id, subscriptionId, location,"
    " ipAddress = tostring(properties.ipAddress),"
    " ipVersion = tostring(properties.publicIPAddressVersion),"
    " allocation = tostring(properties.publicIPAllocationMethod),"
    " skuName = tostring(sku.name), skuTier = tostring(sku.tier),"
    " zones = strcat_array(zones, ','),"
    " edgeZone = tostring(extendedLocation.name),"
    " attachedTo = coalesce(tostring(properties.ipConfiguration.id), tostring(properties.natGateway.id))"
    " | order by id asc"
)
"""Allocated public IPs. Every column is a string (a non-dynamic column is what lets the service page)."""

_RETRY_METHODS = frozenset({"POST"})


@dataclass(frozen=True, slots=True)
class EngineScope:
    """What one Resource Graph leaf queries: management groups, subscriptions, or (both empty) the tenant."""

    management_groups: tuple[str, ...] = ()
    subscriptions: tuple[str, ...] = ()

    @property
    def what(self) -> str:
        if self.management_groups:
            return f"management group {', '.join(self.management_groups)}"
        if self.subscriptions:
            return f"{len(self.subscriptions)} subscription(s)"
        return "tenant"


def engine_scopes(config: AzureConfig) -> Iterator[Scope]:
    """The leaf scopes of engine mode (no API call)."""
    if config.management_groups:
        for group in config.management_groups:
            yield Scope(SOURCE, (ENGINE, "managementGroups", group), context=EngineScope(management_groups=(group,)))
        return
    excluded = {s.lower() for s in config.exclude_subscriptions}
    subs = tuple(s for s in config.subscriptions if s not in excluded)
    if not config.subscriptions:
        yield Scope(SOURCE, (ENGINE, "tenant"), context=EngineScope())
        return
    chunks = [subs[i : i + MAX_SUBSCRIPTIONS_PER_QUERY] for i in range(0, len(subs), MAX_SUBSCRIPTIONS_PER_QUERY)]
    for index, chunk in enumerate(chunks):
        path = (ENGINE, "subscriptions") if len(chunks) == 1 else (ENGINE, "subscriptions", str(index + 1))
        yield Scope(SOURCE, path, context=EngineScope(subscriptions=chunk))


class QuotaGate:
    """Resource Graph's per-user quota, as the service last reported it. Shared by every query of the collector."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._resets_at = 0.0
        self.waited = 0.0

    def before_request(self, request: Any) -> None:
        """azure-core ``raw_request_hook``: wait for the reset when the quota is spent, then take one query."""
        with self._lock:
            wait = 0.0
            now = self._clock.monotonic()
            if self._remaining is not None and self._remaining <= 0 and now < self._resets_at:
                wait = self._resets_at - now
            if self._remaining is not None:
                self._remaining = self._remaining - 1 if wait == 0 else None
        if wait > 0:
            logger.info("azure: resource graph quota spent, waiting %.1fs for it to reset", wait)
            self.waited += wait
            self._clock.sleep(wait)

    def after_response(self, response: Any) -> None:
        """azure-core ``raw_response_hook``: remember what the service says is left, and when it resets."""
        headers = response.http_response.headers
        remaining = _int(headers.get("x-ms-user-quota-remaining"))
        resets = parse_resets_after(headers.get("x-ms-user-quota-resets-after"))
        if remaining is None or resets is None:
            return
        with self._lock:
            self._remaining = remaining
            self._resets_at = self._clock.monotonic() + resets


def parse_resets_after(value: str | None) -> float | None:
    """``x-ms-user-quota-resets-after`` (``hh:mm:ss``, seconds may carry a fraction) in seconds, or None."""
    match = re.fullmatch(r"(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)", (value or "").strip())
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Subscription:
    subscription_id: str
    name: str
    state: str


class EngineQuery:
    """Runs one engine scope's two queries; yields the addresses, then raises if the answer was partial."""

    def __init__(self, client: ResourceGraphClient, config: AzureConfig, clock: Clock) -> None:
        self._client = client
        self._config = config
        self._clock = clock
        self.calls = 0

    def run(self, scope: EngineScope) -> Iterator[CloudAddress]:
        problems: list[str] = []
        subscriptions = {s.subscription_id: s for s in self._rows(scope, SUBSCRIPTION_QUERY, problems, _subscription)}
        for wanted in scope.subscriptions:
            if wanted not in subscriptions:
                problems.append(f"subscription {wanted} is not in the answer (no read access, or it does not exist)")
        allowed = self._allowed(subscriptions.values())
        observed_at = datetime.fromtimestamp(self._clock.time() - self._config.resource_graph_lag_seconds, UTC)
        seen = skipped = 0
        for row in self._rows(scope, PUBLIC_IP_QUERY, problems, dict):
            seen += 1
            sub = str(row.get("subscriptionId") or "").lower()
            if sub not in allowed:
                skipped += 1
                continue
            address = _address(row, sub, observed_at)
            if address is not None:
                yield address
        logger.debug(
            "azure: resource graph %s: %d public IP rows, %d outside kept subscriptions", scope.what, seen, skipped
        )
        if problems:
            raise CollectorError(
                f"azure resource graph {scope.what}: partial answer: {'; '.join(problems)}",
                vendor=SOURCE,
                code="PartialResult",
            )

    def _allowed(self, subscriptions: Any) -> set[str]:
        states = set(self._config.subscription_states)
        excluded_ids = {s.lower() for s in self._config.exclude_subscriptions}
        excluded_names = {s.casefold() for s in self._config.exclude_subscriptions}
        allowed = set()
        for sub in subscriptions:
            if sub.subscription_id in excluded_ids or sub.name.casefold() in excluded_names:
                logger.info("azure: subscription %s (%s) is excluded", sub.subscription_id, sub.name)
            elif sub.state not in states:
                logger.info("azure: skipping subscription %s (%s): state %s", sub.subscription_id, sub.name, sub.state)
            else:
                allowed.add(sub.subscription_id)
        return allowed

    def _rows(self, scope: EngineScope, query: str, problems: list[str], make: Any) -> Iterator[Any]:
        """Every row of `query` over `scope`, page by page; notes a truncated or short answer in `problems`."""
        token: str | None = None
        received = 0
        kind = query.split(" ", 1)[0]
        while True:
            options = QueryRequestOptions(
                top=self._config.resource_graph_page_size, skip_token=token, result_format="objectArray"
            )
            request = QueryRequest(
                subscriptions=list(scope.subscriptions) or None,
                management_groups=list(scope.management_groups) or None,
                query=query,
                options=options,
            )
            self.calls += 1
            # A query is a read sent as POST, which azure-core does not retry unless told: retrying it is safe.
            answer: Any = self._client.resources(
                request, cls=lambda pipeline, body, _: (body, pipeline), retry_on_methods=_RETRY_METHODS
            )
            response, pipeline = answer
            if str(pipeline.http_response.headers.get("x-ms-tenant-subscription-limit-hit", "")).lower() == "true":
                problems.append(f"{kind}: the scope holds more subscriptions than Resource Graph queries at once")
            if not isinstance(response.data, list):
                problems.append(f"{kind}: answer data is not a list of objects (got {type(response.data).__name__})")
                return
            for row in response.data:
                if not isinstance(row, dict):
                    problems.append(f"{kind}: row {received + 1} is not an object: {str(row)[:80]!r}")
                    return
                received += 1
                yield make(row)
            if str(response.result_truncated).lower() == "true":
                problems.append(f"{kind}: result truncated after {received} of {response.total_records} rows")
                return
            token = response.skip_token
            if not token:
                break
        if response.total_records is not None and received < response.total_records:
            problems.append(f"{kind}: {received} rows received of {response.total_records}")


def _subscription(row: dict[str, Any]) -> _Subscription:
    return _Subscription(
        str(row.get("subscriptionId") or "").lower(), str(row.get("name") or ""), str(row.get("state") or "")
    )


def _address(row: dict[str, Any], subscription_id: str, observed_at: datetime) -> CloudAddress | None:
    """One `CloudAddress` for a projected public-IP row (same fields as per-subscription mode), or None."""
    return public_ip_address(
        ip_text=str(row.get("ipAddress") or ""),
        resource_id=str(row.get("id") or ""),
        location=str(row.get("location") or ""),
        subscription_id=subscription_id,
        ip_version=str(row.get("ipVersion") or ""),
        allocation=str(row.get("allocation") or ""),
        sku=str(row.get("skuName") or ""),
        sku_tier=str(row.get("skuTier") or ""),
        zones=str(row.get("zones") or ""),
        edge_zone=str(row.get("edgeZone") or ""),
        attached_to=str(row.get("attachedTo") or ""),
        observed_at=observed_at,
    )
