"""Optional Prometheus Pushgateway push of one run's outcome (one-shot runs have no /metrics endpoint to scrape).

Every metric is a gauge describing the LAST run: the Pushgateway keeps whatever was pushed last, so counters would
not add up across runs anyway. The push uses ``pushadd_to_gateway`` (HTTP POST), which replaces only the metric
names it sends within the group. That is what makes ``..._last_success_timestamp_seconds`` work: it is sent only
by successful runs, so a failed run leaves the previous success time in place, and the alert is simply
``time() - origin_region_agent_last_success_timestamp_seconds > 3 * <schedule interval>``.

Metric names (prefix ``origin_region_agent_``; the `job` and grouping labels are added by the gateway):

=================================================  ===========================================================
``run_duration_seconds``                           wall time of the run (always)
``last_run_timestamp_seconds``                     end of the run (always)
``last_success_timestamp_seconds``                 end of the run, only when exit_code is 0
``exit_code``                                      0 ok, 1 partial failure, 2 config/auth, 3 refused by a guard
``dry_run``                                        1 when nothing was written on purpose
``mappings{outcome}``                              origin IPs per outcome: origin_ips, matched, created,
                                                   updated, deleted, unchanged, unsupported, ambiguous,
                                                   global, unmatched, conflicts, failed, over_cap
                                                   (creates left out by the zone cap), stale (mappings
                                                   of non-origins kept), already_gone (deletes found done)
``discovered_addresses{source}``                   addresses found per inventory source (aws, ranges...)
``scope_errors{source}``                           failed scopes (account, project, region...) per source
``origin_addresses{vendor}``                       discovered addresses that are zone origins, per vendor
``discovery_complete``                             1 when every scope finished (only then may it delete)
``zones`` / ``skipped``                            zones processed; scopes or zones skipped for lack of time
``over_cap``                                       new mappings left out because a zone would exceed its cap
``build_info{version,api_family}``                 always 1; the agent version and Cloudflare API family used
=================================================  ===========================================================

A push failure is logged as a warning and never fails the run: metrics are a side channel.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["OUTCOMES", "PREFIX", "build_registry", "push_run_metrics"]

logger = logging.getLogger(__name__)

PREFIX = "origin_region_agent"
OUTCOMES = (
    "origin_ips",
    "matched",
    "created",
    "updated",
    "deleted",
    "unchanged",
    "unsupported",
    "ambiguous",
    "global",
    "unmatched",
    "conflicts",
    "failed",
    "over_cap",
    "stale",
    "already_gone",
)
DEFAULT_JOB = "origin_region_agent"


def _count(value: Any) -> float:
    """A summary field as a number: lists and dicts count their items, numbers stay, anything else is 0."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple | dict | set):
        return float(len(value))
    return 0.0


def _timestamp(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return default
    return default


def _outcome_totals(summary: Mapping[str, Any]) -> dict[str, float]:
    """Per-outcome totals: from ``totals`` when present, else summed over ``zones``."""
    totals = summary.get("totals")
    result = dict.fromkeys(OUTCOMES, 0.0)
    if isinstance(totals, Mapping) and any(k in totals for k in OUTCOMES):
        for outcome in OUTCOMES:
            result[outcome] = _count(totals.get(outcome, 0))
        return result
    for zone in summary.get("zones") or ():
        if isinstance(zone, Mapping):
            for outcome in OUTCOMES:
                result[outcome] += _count(zone.get(outcome, 0))
    return result


def _discovery(summary: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """(addresses per source, scope errors per source, matched addresses per vendor) from ``discovery``.

    Schema 1: ``discovery.sources = {source: {"addresses": n, "scope_errors": n}}`` and ``discovery.vendors =
    {vendor: n}`` (addresses that are origin IPs). A ``scope_errors`` list of ``{"scope": "<source>:..."}`` items is
    counted per source when ``sources`` does not say.
    """
    discovery = summary.get("discovery")
    addresses: dict[str, float] = {}
    errors: dict[str, float] = {}
    vendors: dict[str, float] = {}
    if not isinstance(discovery, Mapping):
        return addresses, errors, vendors
    sources = discovery.get("sources")
    if isinstance(sources, Mapping):
        for source, value in sources.items():
            if isinstance(value, Mapping):
                addresses[str(source)] = _count(value.get("addresses", 0))
                errors[str(source)] = _count(value.get("scope_errors", 0))
            else:
                addresses[str(source)] = _count(value)
    if not errors:
        for item in discovery.get("scope_errors") or ():
            scope = str(item.get("scope", "")) if isinstance(item, Mapping) else ""
            source = scope.split(":", 1)[0] or "unknown"
            errors[source] = errors.get(source, 0.0) + 1
    for source in addresses:
        errors.setdefault(source, 0.0)
    found = discovery.get("vendors")
    if isinstance(found, Mapping):
        vendors = {str(k): _count(v) for k, v in found.items()}
    return addresses, errors, vendors


def build_registry(summary: Mapping[str, Any], *, now: float | None = None) -> Any:
    """A fresh `CollectorRegistry` holding this run's gauges (see the module docstring for the names)."""
    from prometheus_client import CollectorRegistry, Gauge  # imported here: `--help` must not pay for it

    registry = CollectorRegistry()
    now = time.time() if now is None else now
    raw_exit = summary.get("exit_code")
    exit_code = raw_exit if isinstance(raw_exit, int) and not isinstance(raw_exit, bool) else 1
    finished = _timestamp(summary.get("finished_at"), now)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", doc, labelnames=labels, registry=registry)

    gauge("run_duration_seconds", "Wall time of the last run.").set(_count(summary.get("duration_s", 0)))
    gauge("last_run_timestamp_seconds", "When the last run finished (Unix time).").set(finished)
    if exit_code == 0:
        gauge("last_success_timestamp_seconds", "When the last successful run finished (Unix time).").set(finished)
    gauge("exit_code", "Exit code of the last run: 0 ok, 1 partial failure, 2 config/auth, 3 guard.").set(exit_code)
    gauge("dry_run", "1 when the last run was a dry run.").set(1 if summary.get("dry_run") else 0)
    gauge("zones", "Zones processed by the last run.").set(_count(summary.get("zones", [])))
    gauge("skipped", "Scopes or zones the last run skipped for lack of time.").set(_count(summary.get("skipped", [])))
    mappings = gauge("mappings", "Origin IPs per outcome in the last run.", ("outcome",))
    for outcome, value in _outcome_totals(summary).items():
        mappings.labels(outcome=outcome).set(value)
    addresses, errors, vendors = _discovery(summary)
    discovered = gauge("discovered_addresses", "Public addresses found per inventory source.", ("source",))
    for source, value in sorted(addresses.items()):
        discovered.labels(source=source).set(value)
    failed_scopes = gauge("scope_errors", "Failed discovery scopes per inventory source.", ("source",))
    for source, value in sorted(errors.items()):
        failed_scopes.labels(source=source).set(value)
    origin_addresses = gauge("origin_addresses", "Discovered addresses that are zone origins, per vendor.", ("vendor",))
    for vendor, value in sorted(vendors.items()):
        origin_addresses.labels(vendor=vendor).set(value)
    discovery = summary.get("discovery")
    complete = isinstance(discovery, Mapping) and bool(discovery.get("complete"))
    gauge("discovery_complete", "1 when every discovery scope ran to its end (deletes allowed).").set(int(complete))
    over_cap = sum(_count(z.get("over_cap", [])) for z in summary.get("zones") or () if isinstance(z, Mapping))
    gauge("over_cap", "New mappings left out because the zone would exceed its mapping cap.").set(over_cap)
    info = gauge("build_info", "Always 1: the agent version and the Cloudflare API family.", ("version", "api_family"))
    info.labels(version=_version(), api_family=str(summary.get("api_family") or "none")).set(1)
    return registry


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("origin-region-agent")
    except PackageNotFoundError:  # running from a source tree without an install
        return "unknown"


def _shard_index(value: Any) -> str | None:
    """``"2/4"`` → ``"2"``; None for unsharded runs (no shard, or a count of 1)."""
    if isinstance(value, str):
        index, _, count = value.partition("/")
        if index.isdigit() and count.isdigit() and int(count) > 1:
            return index
    return None


_USERINFO = re.compile(r"(//)[^/@\s]+@")


def _split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``http://user:pass@host:9091`` → (``http://host:9091``, user, pass): basic auth for a protected gateway."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    plain = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return plain, unquote(parts.username), unquote(parts.password or "")


def push_run_metrics(
    summary: Mapping[str, Any],
    *,
    gateway: str,
    job: str = DEFAULT_JOB,
    grouping_key: Mapping[str, str] | None = None,
    timeout: float = 10,
) -> bool:
    """Push the run's gauges to the Pushgateway at `gateway` with POST (pushadd). Returns whether it worked.

    A sharded run (summary ``shard: "i/n"`` with n > 1) gets ``shard=<i>`` added to the grouping key, so shards do
    not overwrite each other's numbers. ``http://user:password@host:9091`` pushes with basic auth. Never raises for a
    push problem: it is logged as a warning (without the user:password of the URL).
    """
    try:
        from prometheus_client import pushadd_to_gateway
        from prometheus_client.exposition import basic_auth_handler, default_handler

        registry = build_registry(summary)
        key = dict(grouping_key or {})
        shard = _shard_index(summary.get("shard"))
        if shard is not None:
            key.setdefault("shard", shard)
        url, user, password = _split_userinfo(gateway)
        handler: Any = default_handler
        if user is not None:

            def handler(url: str, method: str, timeout: float | None, headers: list, data: bytes) -> Any:
                return basic_auth_handler(url, method, timeout, headers, data, user, password)

        pushadd_to_gateway(url, job=job, registry=registry, grouping_key=key, timeout=timeout, handler=handler)
    except Exception as exc:  # a metrics side channel must never fail the run
        logger.warning(
            "could not push metrics to the Pushgateway: %s",
            _USERINFO.sub(r"\1", str(exc)),
            extra={"gateway": _USERINFO.sub(r"\1", gateway), "job": job},
        )
        return False
    logger.debug("pushed run metrics", extra={"gateway": _USERINFO.sub(r"\1", gateway), "job": job})
    return True
