"""The run: zones → origins → discovery → match → plan (+policy, guards) → apply → report.

Failure isolation, dry-run and the guards live here, once. Pre-flight problems (credentials, unknown zones, a
collector whose SDK is missing) end the run before anything is attempted (exit 2). A zone or a collector scope that
fails is recorded and the rest goes on (exit 1). A plan larger than `max_changes` is refused whole (exit 3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from agent.apply import ChangeResult, ClientWriter, DryRunWriter, apply_plan
from agent.cloudflare import (
    ApiFamily,
    CloudflareAuthError,
    CloudflareClient,
    CloudflareCredentials,
    CloudflareError,
    RateLimiter,
    TieredCacheDisabled,
    ZoneNotFound,
)
from agent.cloudflare.ratelimit import default_rate_limiter, set_default_rate_limiter
from agent.collectors.base import Collector, load_collector
from agent.collectors.runner import Discovery, run_collectors
from agent.config import Config
from agent.errors import AgentError, ConfigError
from agent.match import MatchResult, match
from agent.origins import Resolver, ZoneOrigins, zone_origins
from agent.plan import POLICIES, Plan, calculate
from agent.report.summary import RunReport, ZoneReport

__all__ = ["RunReport", "ZoneReport", "build_client", "build_collectors", "discover", "run"]

logger = logging.getLogger(__name__)

EXTRA_OF = {"aws": "aws", "gcp": "gcp", "azure": "azure", "oci": "oci"}


def build_client(config: Config) -> CloudflareClient:
    """A Cloudflare client from the config (credentials were resolved from the environment by `load_config`)."""
    cf = config.cloudflare
    token_set = [name for name, value in (("api_token", cf.api_token), ("api_token_file", cf.api_token_file)) if value]
    key_set = [name for name, value in (("email", cf.email), ("api_key", cf.api_key)) if value]
    if len(token_set) > 1 or (token_set and key_set):
        raise ConfigError(
            f"ambiguous Cloudflare credentials: cloudflare.{', cloudflare.'.join(token_set + key_set)} are all set "
            "(from the file or CLOUDFLARE_API_TOKEN / CLOUDFLARE_API_TOKEN_FILE / CLOUDFLARE_EMAIL / "
            "CLOUDFLARE_API_KEY); keep exactly one: a token, a token file, or an email + API key"
        )
    if cf.api_token is not None:
        credentials = CloudflareCredentials(cf.api_token)
    elif cf.api_token_file is not None:
        credentials = CloudflareCredentials.from_token_file(cf.api_token_file)
    elif cf.api_key is not None or cf.email:
        credentials = CloudflareCredentials(email=cf.email, api_key=cf.api_key)
    else:
        raise ConfigError(
            "no Cloudflare credentials: set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_TOKEN_FILE, or "
            "CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY), or cloudflare.api_token in the config"
        )
    # One limiter per process, shared by every client: replaced only when the settings change.
    limit = cf.rate_limit
    wanted = (limit.requests, limit.window_s, limit.burst_requests, limit.burst_window_s)
    current = default_rate_limiter()
    if (current.requests, current.per_seconds, current.burst_requests, current.burst_seconds) != wanted:
        set_default_rate_limiter(
            RateLimiter(
                limit.requests, limit.window_s, burst_requests=limit.burst_requests, burst_seconds=limit.burst_window_s
            )
        )
    return CloudflareClient(
        credentials,
        base_url=cf.base_url,
        family=ApiFamily(cf.api_family),
        timeout=cf.timeout_s,
        max_retries=cf.max_retries,
    )


def build_collectors(config: Config) -> list[Collector]:
    """Import and build the configured sources only (cloud SDKs are heavy)."""
    collectors = []
    for source, section in config.inventory.configured().items():
        try:
            collectors.append(load_collector(source, section))
        except ImportError as exc:
            extra = EXTRA_OF.get(source, "all")
            raise ConfigError(
                f"inventory.{source} needs the {extra!r} extra: pip install 'origin-region-agent[{extra}]' "
                f"({exc.name or exc} is not installed)"
            ) from None
    return collectors


def discover(
    config: Config,
    *,
    collectors: Sequence[Collector] | None = None,
    origin_ips: set[str] | None = None,
    remaining_time: Callable[[], float] | None = None,
    progress: bool = False,
) -> Discovery:
    """Run every configured source once. With `origin_ips`, keep only records of those IPs (memory stays small)."""
    owned = collectors is None
    collectors = build_collectors(config) if collectors is None else list(collectors)
    try:
        for collector in collectors:
            if collector.needs_origin_ips:
                collector.set_origin_ips(frozenset(origin_ips or ()))
        return run_collectors(
            collectors,
            concurrency=config.concurrency,
            shard=config.shard,
            processes=config.discovery_processes,
            keep=(lambda r: r.ip in origin_ips) if origin_ips is not None else None,
            remaining_time=remaining_time,
            progress=progress,
        )
    finally:
        if owned:
            for collector in collectors:
                collector.close()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Zone:
    """Working state of one zone through the run."""

    report: ZoneReport
    origins: ZoneOrigins | None = None
    current: dict[str, tuple[str, str]] = field(default_factory=dict)
    plan: Plan | None = None


def _resolve_zones(client: CloudflareClient, config: Config) -> list[tuple[str, str, Any]]:
    """(zone id, zone name, origin settings) for every configured zone; unknown names are configuration errors."""
    unique: dict[str, tuple[str, str, Any]] = {}
    for spec in config.zones:  # explicit entries first: their `origins` override the defaults of all_zones
        origins = spec.origins or config.origins
        try:
            zone_id = spec.id or client.zone_id(spec.name or "")
        except ZoneNotFound:
            raise ConfigError(f"zones: no zone named {spec.name!r} is visible to these credentials") from None
        unique.setdefault(zone_id, (zone_id, spec.name or zone_id, origins))
    if config.all_zones:
        for zone in client.zones(account_id=config.cloudflare.account_id):
            unique.setdefault(zone["id"], (zone["id"], zone["name"], config.origins))
    if not unique:
        raise ConfigError("no zones to work on: list them under `zones:` (or --zone), or set all_zones")
    return list(unique.values())


def run(
    config: Config,
    *,
    remaining_time: Callable[[], float] | None = None,
    progress: bool = False,
    client: CloudflareClient | None = None,
    collectors: Sequence[Collector] | None = None,
    resolver: Resolver | None = None,
) -> RunReport:
    """One reconcile pass; never raises for user or API errors: they end up in the report and its exit code."""
    report = RunReport(
        started_at=_now(),
        dry_run=config.dry_run,
        policy=config.policy,
        api_family=config.cloudflare.api_family,
        shard=config.shard,
        max_changes=config.max_changes,
    )
    started = time.monotonic()
    owned = client is None
    try:
        if client is None:
            client = build_client(config)
        _run(config, client, report, remaining_time, progress, collectors, resolver)
    except (ConfigError, CloudflareAuthError) as exc:
        logger.error("nothing attempted: %s", exc)
        report.fatal(str(exc), exit_code=2)
    except AgentError as exc:
        logger.error("run stopped: %s", exc)
        report.fatal(str(exc), exit_code=1)
    finally:
        if owned and client is not None:
            client.close()
        report.finish(_now(), time.monotonic() - started)
    return report


def _run(
    config: Config,
    client: CloudflareClient,
    report: RunReport,
    remaining_time: Callable[[], float] | None,
    progress: bool,
    collectors: Sequence[Collector] | None,
    resolver: Resolver | None,
) -> None:
    policy = POLICIES[config.policy]
    # Pre-flight: build the collectors first, so a missing SDK is reported before any Cloudflare call.
    built = build_collectors(config) if collectors is None else list(collectors)
    try:
        resolved = _resolve_zones(client, config)
        zones = [_Zone(ZoneReport(zone=name, zone_id=zid)) for zid, name, _ in resolved]
        settings = {zid: origin_settings for zid, _, origin_settings in resolved}
        _collect_origins(client, config, zones, settings, resolver)

        union: set[str] = set()
        for zone in zones:
            if zone.origins is not None:
                union.update(zone.origins.ips)
        discovery = discover(
            config, collectors=built, origin_ips=union, remaining_time=remaining_time, progress=progress
        )
    finally:
        if collectors is None:
            for collector in built:
                collector.close()
    report.discovery = discovery
    matched = match(discovery.records, union)

    for zone in zones:
        if zone.origins is not None:
            _plan_zone(client, zone, matched, policy, discovery.complete)
    report.zones = [z.report for z in zones]

    planned = sum(len(z.plan) for z in zones if z.plan is not None)
    if config.max_changes is not None and planned > config.max_changes and not config.force:
        report.refuse(
            f"the plan has {planned} changes, more than max_changes={config.max_changes}; nothing was applied "
            "(review it with `plan`, then raise --max-changes or pass --force)"
        )
        return

    writer = (
        DryRunWriter(config.cloudflare.api_family)
        if config.dry_run
        else ClientWriter(client, config.cloudflare.api_family)
    )
    for zone in zones:
        if zone.plan is None:
            continue
        if remaining_time is not None and remaining_time() <= 0:
            zone.report.error = "skipped: time budget exhausted before this zone was applied"
            report.skipped.append(f"zone {zone.report.zone}")
            continue
        results: list[ChangeResult] = apply_plan(
            writer, zone.report.zone_id, zone.plan, batch_size=config.cloudflare.batch_size, dry_run=config.dry_run
        )
        zone.report.record_results(results)


def _collect_origins(
    client: CloudflareClient,
    config: Config,
    zones: list[_Zone],
    settings: dict[str, Any],
    resolver: Resolver | None,
) -> None:
    @cache
    def account_pools() -> list[dict[str, Any]]:
        return client.pools(config.cloudflare.account_id or "")

    def one(zone: _Zone) -> None:
        try:
            zone.origins = zone_origins(
                client,
                zone.report.zone_id,
                zone.report.zone,
                settings[zone.report.zone_id],
                account_pools=account_pools,
                resolver=resolver,
            )
        except CloudflareAuthError:
            raise
        except (CloudflareError, AgentError, OSError) as exc:
            zone.report.error = f"origins could not be listed: {exc}"
            logger.warning("zone %s: %s", zone.report.zone, zone.report.error)
            return
        zone.report.set_origins(zone.origins)

    with ThreadPoolExecutor(max_workers=config.zone_concurrency, thread_name_prefix="zone") as pool:
        list(pool.map(one, zones))


def _plan_zone(
    client: CloudflareClient, zone: _Zone, matched: MatchResult, policy: Any, discovery_complete: bool
) -> None:
    assert zone.origins is not None
    origin_ips = zone.origins.ips
    desired = {ip: matched.desired[ip] for ip in origin_ips if ip in matched.desired}
    try:
        zone.current = {m["origin_ip"]: (m["vendor"], m["region"]) for m in client.list_mappings(zone.report.zone_id)}
        # Supported regions are only needed when something would be written.
        needs_regions = any(zone.current.get(ip) != (d.vendor, d.region) for ip, d in desired.items())
        supported = client.supported_regions(zone.report.zone_id) if needs_regions else None
    except TieredCacheDisabled as exc:
        zone.report.error = (
            f"supported regions refused ({exc}); origin cloud regions need Smart Tiered Cache enabled on the zone"
        )
        return
    except CloudflareAuthError:
        raise
    except CloudflareError as exc:
        zone.report.error = f"current mappings could not be read: {exc}"
        return
    complete = discovery_complete and zone.origins.complete
    zone.plan = calculate(
        zone.current, desired, origin_ips=origin_ips, supported=supported, policy=policy, complete=complete
    )
    zone.report.set_plan(zone.plan, matched, complete=complete, current=len(zone.current))
