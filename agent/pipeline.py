"""The run: zones → origins → discovery → match → plan (+policy) → guards → apply → report.

Two halves, so that a plan can be shown, saved, and later applied exactly as it was made:

* `plan_run` discovers and plans (reads only) and returns a `RunOutcome` whose zones carry their `Plan`;
* `apply_outcome` re-applies the guards, optionally checks that the zones' mappings did not change since they were
  read (a stale plan writes nothing), and applies each zone's plan through a mapping store (`DryRunStore` for a dry
  run: the very same path with writes off).

`run` is the two in one go; `apply_saved` applies a plan file (`agent.plan.saved`) with no discovery at all.
Pre-flight problems (credentials, unknown zones, a collector whose SDK is missing) end the run before anything is
attempted (exit 2). A zone or a collector scope that fails is recorded and the rest goes on (exit 1). A plan larger
than `max_changes`, or a stale saved plan, is refused whole (exit 3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from agent.apply import apply_changes
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
from agent.cloudflare.store import MappingStore, store_for
from agent.collectors.base import Collector, load_collector
from agent.collectors.runner import Discovery, run_collectors
from agent.config import Config
from agent.errors import AgentError, ConfigError
from agent.match import MatchResult, match
from agent.models import RegionMapping
from agent.origins import Resolver, ZoneOrigins, zone_origins
from agent.origins.verify import Verdict, verify_deletes
from agent.plan import POLICIES, calculate
from agent.plan.saved import SavedPlan, fingerprint, load_plan, stale_ips
from agent.progress import status
from agent.report.summary import DiscoveryOutcome, RunOutcome, RunReport, ZoneMatch, ZoneOutcome, ZoneReport
from agent.secrets import register_all as register_secrets
from agent.signals import stop_requested

__all__ = [
    "RunOutcome",
    "RunReport",
    "ZoneOutcome",
    "ZoneReport",
    "apply_outcome",
    "apply_saved",
    "build_client",
    "build_collectors",
    "check_guards",
    "discover",
    "plan_run",
    "run",
]

logger = logging.getLogger(__name__)


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
    register_secrets(credentials.secrets())  # a token file's contents too: redacted from every output
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
    """Import and build the configured sources only (cloud SDKs are heavy). A missing SDK is `MissingExtra`, a
    `ConfigError` naming the pip extra (from the source registry, `agent.collectors.base.SOURCES`)."""
    return [load_collector(source, section) for source, section in config.inventory.configured().items()]


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


def _resolve_zones(client: CloudflareClient, config: Config) -> list[tuple[str, str, Any]]:
    """(zone id, zone name, origin settings) for every configured zone; unknown names are configuration errors."""
    unique: dict[str, tuple[str, str, Any]] = {}
    status("resolving zones")
    for spec in config.zones:  # explicit entries first: their `origins` override the defaults of all_zones
        origins = spec.origins or config.origins
        try:
            zone_id = spec.id or client.zone_id(spec.name or "")
        except ZoneNotFound:
            raise ConfigError(f"zones: no zone named {spec.name!r} is visible to these credentials") from None
        unique.setdefault(zone_id, (zone_id, spec.name or zone_id, origins))
    if config.all_zones:
        status("listing the account's zones (all_zones)")
        for zone in client.zones(account_id=config.cloudflare.account_id):
            unique.setdefault(zone["id"], (zone["id"], zone["name"], config.origins))
    if not unique:
        raise ConfigError("no zones to work on: list them under `zones:` (or --zone), or set all_zones")
    return list(unique.values())


def _empty(config: Config) -> RunOutcome:
    return RunOutcome(
        started_at=_now(),
        dry_run=config.dry_run,
        policy=config.policy,
        api_family=config.cloudflare.api_family,
        shard=config.shard,
        max_changes=config.max_changes,
        max_deletes=config.max_deletes,
    )


def _session(
    config: Config,
    client: CloudflareClient | None,
    start: RunOutcome,
    body: Callable[[CloudflareClient, RunOutcome], RunOutcome],
) -> RunOutcome:
    """Run `body` with a client (built and closed here unless given); user and API errors become the outcome."""
    started = time.monotonic()
    outcome = start
    owned = client is None
    try:
        if client is None:
            client = build_client(config)
        outcome = body(client, outcome)
    except (ConfigError, CloudflareAuthError) as exc:
        logger.error("nothing attempted: %s", exc)
        outcome = outcome.fatal(str(exc), exit_code=2)
    except AgentError as exc:
        logger.error("run stopped: %s", exc)
        outcome = outcome.fatal(str(exc), exit_code=1)
    finally:
        if owned and client is not None:
            client.close()
    if (stopped_by := stop_requested()) is not None and outcome.fatal_exit is None:
        outcome = replace(
            outcome,
            stopped_by=stopped_by,
            errors=(*outcome.errors, f"stopped by {stopped_by}: changes not yet sent were skipped; a re-run converges"),
        )
    return outcome.finish(_now(), time.monotonic() - started)


def run(
    config: Config,
    *,
    remaining_time: Callable[[], float] | None = None,
    progress: bool = False,
    client: CloudflareClient | None = None,
    collectors: Sequence[Collector] | None = None,
    resolver: Resolver | None = None,
) -> RunOutcome:
    """One reconcile pass; never raises for user or API errors: they end up in the outcome and its exit code."""

    def body(client: CloudflareClient, outcome: RunOutcome) -> RunOutcome:
        planned = _plan(config, client, outcome, remaining_time, progress, collectors, resolver)
        return _apply(config, client, planned, verify=False, remaining_time=remaining_time)

    return _session(config, client, _empty(config), body)


def plan_run(
    config: Config,
    *,
    remaining_time: Callable[[], float] | None = None,
    progress: bool = False,
    client: CloudflareClient | None = None,
    collectors: Sequence[Collector] | None = None,
    resolver: Resolver | None = None,
) -> RunOutcome:
    """Discover and plan, write nothing: the zones carry their plans and no results (`apply_outcome` applies them)."""

    def body(client: CloudflareClient, outcome: RunOutcome) -> RunOutcome:
        return _plan(config, client, outcome, remaining_time, progress, collectors, resolver)

    return _session(config, client, _empty(config), body)


def apply_outcome(
    config: Config,
    planned: RunOutcome,
    *,
    client: CloudflareClient | None = None,
    verify: bool = True,
    remaining_time: Callable[[], float] | None = None,
    batch_size: int | None = None,
) -> RunOutcome:
    """Apply the plans of `planned` (from `plan_run` or a plan file); with `verify`, a stale plan writes nothing."""
    if planned.fatal_exit is not None or planned.refused:
        return planned

    def body(client: CloudflareClient, outcome: RunOutcome) -> RunOutcome:
        return _apply(config, client, outcome, verify=verify, remaining_time=remaining_time, batch_size=batch_size)

    start = replace(planned, started_at=_now(), dry_run=config.dry_run)
    return _session(config, client, start, body)


def apply_saved(
    config: Config,
    path: str | Path,
    *,
    client: CloudflareClient | None = None,
    remaining_time: Callable[[], float] | None = None,
) -> RunOutcome:
    """Apply a plan file made by `plan --out`: no discovery, no origin listing; only the zones' mappings are re-read
    to prove the plan is not stale. A plan for another endpoint, API family or zone than the config's is refused."""

    def body(client: CloudflareClient, outcome: RunOutcome) -> RunOutcome:
        saved = load_plan(path)
        _check_plan_target(saved, config, client)
        planned = replace(
            outcome,
            policy=saved.policy,
            discovery=saved.discovery,
            zones=saved.zones,
            extra=(("plan_file", {"path": str(path), "created_at": saved.created_at}),),
        )
        return _apply(config, client, planned, verify=True, remaining_time=remaining_time, batch_size=saved.batch_size)

    start = _empty(config)
    return _session(config, client, start, body)


def _check_plan_target(saved: SavedPlan, config: Config, client: CloudflareClient) -> None:
    """Refuse (ConfigError, exit 2) a plan made against another Cloudflare endpoint, API family or zone."""
    if saved.base_url.rstrip("/") != config.cloudflare.base_url.rstrip("/"):
        raise ConfigError(
            f"the plan was made for Cloudflare endpoint {saved.base_url}, the config uses "
            f"{config.cloudflare.base_url}: refused"
        )
    if saved.api_family != config.cloudflare.api_family:
        raise ConfigError(
            f"the plan was made for API family {saved.api_family}, the config uses "
            f"cloudflare.api_family={config.cloudflare.api_family}: refused"
        )
    configured = {zone_id for zone_id, _, _ in _resolve_zones(client, config)}
    foreign = [f"{z.zone} ({z.zone_id})" for z in saved.zones if z.zone_id not in configured]
    if foreign:
        raise ConfigError(f"the plan is for zones the config does not name: {', '.join(foreign)}; refused")


def _plan(
    config: Config,
    client: CloudflareClient,
    outcome: RunOutcome,
    remaining_time: Callable[[], float] | None,
    progress: bool,
    collectors: Sequence[Collector] | None,
    resolver: Resolver | None,
) -> RunOutcome:
    policy = POLICIES[config.policy]
    # Pre-flight: build the collectors first, so a missing SDK is reported before any Cloudflare call.
    built = build_collectors(config) if collectors is None else list(collectors)
    try:
        resolved = _resolve_zones(client, config)
        settings = {zid: origin_settings for zid, _, origin_settings in resolved}
        listed: dict[str, ZoneOrigins] = {}
        zones = _collect_origins(
            client,
            config,
            [ZoneOutcome(zone=name, zone_id=zid) for zid, name, _ in resolved],
            settings,
            resolver,
            listed,
        )
        union: set[str] = set()
        for zone in zones:
            union.update(zone.origin_ips)
        discovery = discover(
            config, collectors=built, origin_ips=union, remaining_time=_or_stopped(remaining_time), progress=progress
        )
    finally:
        if collectors is None:
            for collector in built:
                collector.close()
    matched = match(discovery.records, union)
    complete = discovery.complete
    # The inventory is as old as its oldest engine observation (live records have none): see agent/plan/plan.py.
    evidence = min((r.observed_at for r in discovery.records if r.observed_at is not None), default=None)
    planned = []
    for zone in zones:
        if zone.error is not None:
            planned.append(zone)
            continue
        keep = listed[zone.zone_id].keep
        zone = _plan_zone(client, zone, matched, policy, complete, evidence, keep=keep)
        if zone.plan is not None and zone.plan.deletes:
            zone = _verify_deletes(
                client,
                config,
                zone,
                listed[zone.zone_id],
                settings[zone.zone_id],
                resolver,
                lambda z, keep, complete: _plan_zone(client, z, matched, policy, complete, evidence, keep=keep),
            )
        planned.append(zone)
    return replace(outcome, discovery=DiscoveryOutcome.of(discovery), zones=tuple(planned))


def _verify_deletes(
    client: CloudflareClient,
    config: Config,
    zone: ZoneOutcome,
    listed: ZoneOrigins,
    settings: Any,
    resolver: Resolver | None,
    replan: Callable[[ZoneOutcome, set[str], bool], ZoneOutcome],
) -> ZoneOutcome:
    """Re-verify every delete candidate right before applying (see `agent.origins.verify`); in doubt, no deletes:
    the zone is replanned as incomplete, so the candidates are listed as `stale`."""
    assert zone.plan is not None

    @cache
    def account_pools() -> list[dict[str, Any]]:
        return client.pools(config.cloudflare.account_id or "")

    try:
        verdict = verify_deletes(
            client, listed, settings, [c.ip for c in zone.plan.deletes], account_pools=account_pools, resolver=resolver
        )
    except CloudflareAuthError:
        raise
    except (CloudflareError, AgentError, OSError) as exc:
        verdict = Verdict(keep=listed.keep, doubt=f"deletes could not be re-verified: {exc}")
    if verdict.doubt is not None:
        message = f"no deletes: {verdict.doubt}"
        logger.warning("zone %s: %s", zone.zone, message)
        zone = replace(zone, complete=False, warnings=(*zone.warnings, message))
        return replan(zone, listed.keep, False)
    return replan(zone, listed.keep | verdict.keep, zone.complete)


def _apply(
    config: Config,
    client: CloudflareClient,
    outcome: RunOutcome,
    *,
    verify: bool,
    remaining_time: Callable[[], float] | None,
    batch_size: int | None = None,
) -> RunOutcome:
    outcome = check_guards(config, outcome)
    if outcome.refused:
        return outcome
    if verify:  # a dry run checks too: it reads only
        stale = _stale_zones(client, outcome.zones) + _revived_origins(client, config, outcome.zones)
        if stale:
            return outcome.refuse(
                "the plan is stale, nothing was applied: "
                + "; ".join(stale)
                + " (make a new plan; the zone changed since it was made)"
            )
    store: MappingStore = store_for(
        client,
        ApiFamily(config.cloudflare.api_family),
        dry_run=config.dry_run,
        batch_size=batch_size or config.cloudflare.batch_size,
    )
    zones: list[ZoneOutcome] = []
    skipped: list[str] = []
    for zone in outcome.zones:
        if zone.plan is None:
            zones.append(zone)
            continue
        if remaining_time is not None and remaining_time() <= 0:
            zones.append(replace(zone, error="skipped: time budget exhausted before this zone was applied"))
            skipped.append(f"zone {zone.zone}")
            continue
        status(f"zone {zone.zone}: {'dry-run of' if config.dry_run else 'writing'} {len(zone.plan)} changes")
        try:
            results = apply_changes(store, zone.zone_id, zone.plan)
        except AgentError as exc:  # this zone only: what the other zones applied is kept and reported
            logger.error("zone %s: apply stopped: %s", zone.zone, exc)
            zones.append(replace(zone, error=f"apply stopped: {exc}"))
            continue
        zones.append(replace(zone, results=results))
    return replace(outcome, zones=tuple(zones), skipped=(*outcome.skipped, *skipped))


def check_guards(config: Config, outcome: RunOutcome) -> RunOutcome:
    """Refuse the whole plan when it breaks a guard (`max_changes`, `max_deletes` per zone, unless `force`).

    Every guard belongs here: this runs for `run`, again after the terminal's question, and when a saved plan is
    applied, so a guard added here also protects plans made earlier or with another config.
    """
    planned = outcome.planned_changes
    if outcome.refused or outcome.fatal_exit is not None:
        return outcome
    if config.max_changes is not None and planned > config.max_changes and not config.force:
        return outcome.refuse(
            f"the plan has {planned} changes, more than max_changes={config.max_changes}; nothing was applied "
            "(review it with `plan`, then raise --max-changes or pass --force)"
        )
    over = [
        f"{zone.zone} {len(zone.plan.deletes)} > {limit}"
        for zone in outcome.zones
        if zone.plan is not None and len(zone.plan.deletes) > (limit := config.delete_limit(zone.current_mappings))
    ]
    if over and not config.force:
        return outcome.refuse(
            f"the plan deletes more mappings than max_deletes={config.max_deletes} allows per zone "
            f"({'; '.join(over)}); nothing was applied "
            "(review it with `plan`, then raise --max-deletes or pass --force)"
        )
    return outcome


def _stale_zones(client: CloudflareClient, zones: Sequence[ZoneOutcome]) -> list[str]:
    """Re-read the mappings of every zone with changes; name each zone whose picture moved, and the IPs it touches."""
    problems = []
    for zone in zones:
        if zone.plan is None or not zone.plan.changes:
            continue
        current = {m.ip: m for m in client.list_mappings(zone.zone_id)}
        changed = stale_ips(zone.plan, current)
        if changed:
            problems.append(f"zone {zone.zone} ({zone.zone_id}): changed since the plan: {', '.join(changed)}")
        elif fingerprint(current.values()) != zone.fingerprint:
            problems.append(
                f"zone {zone.zone} ({zone.zone_id}): its mappings changed since the plan (none the plan touches)"
            )
    return problems


def _revived_origins(client: CloudflareClient, config: Config, zones: Sequence[ZoneOutcome]) -> list[str]:
    """For every zone whose plan deletes something, list its origins again: a delete candidate that is an origin (or
    protected) again, or a listing that is not complete, makes the plan stale. A saved plan may be applied hours
    after it was made; its deletes were proven at plan time only."""
    with_deletes = [z for z in zones if z.plan is not None and z.plan.deletes]
    if not with_deletes:
        return []
    settings = {zone_id: origin_settings for zone_id, _, origin_settings in _resolve_zones(client, config)}

    @cache
    def account_pools() -> list[dict[str, Any]]:
        return client.pools(config.cloudflare.account_id or "")

    problems = []
    for zone in with_deletes:
        assert zone.plan is not None
        try:
            origins = zone_origins(client, zone.zone_id, zone.zone, settings[zone.zone_id], account_pools=account_pools)
        except CloudflareAuthError:
            raise
        except (CloudflareError, AgentError, OSError) as exc:
            problems.append(f"zone {zone.zone} ({zone.zone_id}): its origins could not be listed again ({exc})")
            continue
        if not origins.complete:
            problems.append(f"zone {zone.zone} ({zone.zone_id}): its origins could not be listed completely again")
            continue
        revived = sorted(c.ip for c in zone.plan.deletes if c.ip in origins.keep)
        if revived:
            problems.append(
                f"zone {zone.zone} ({zone.zone_id}): planned deletes are origins again: {', '.join(revived)}"
            )
    return problems


def _collect_origins(
    client: CloudflareClient,
    config: Config,
    zones: list[ZoneOutcome],
    settings: dict[str, Any],
    resolver: Resolver | None,
    listed: dict[str, ZoneOrigins],
) -> list[ZoneOutcome]:
    @cache
    def account_pools() -> list[dict[str, Any]]:
        return client.pools(config.cloudflare.account_id or "")

    def one(zone: ZoneOutcome) -> ZoneOutcome:
        status(f"zone {zone.zone}: listing origins (DNS records, load balancers)")
        try:
            origins = zone_origins(
                client,
                zone.zone_id,
                zone.zone,
                settings[zone.zone_id],
                account_pools=account_pools,
                resolver=resolver,
            )
        except CloudflareAuthError:
            raise
        except ZoneNotFound:  # a configured zone id nobody can see: a configuration error, like an unknown name
            raise _unknown_zone(zone) from None
        except (CloudflareError, AgentError, OSError) as exc:
            error = f"origins could not be listed: {exc}"
            logger.warning("zone %s: %s", zone.zone, error)
            return replace(zone, error=error)
        listed[zone.zone_id] = origins
        return replace(
            zone,
            complete=origins.complete,
            origins=tuple((ip, tuple(refs)) for ip, refs in sorted(origins.ips.items())),
            warnings=tuple(origins.warnings),
        )

    with ThreadPoolExecutor(max_workers=config.zone_concurrency, thread_name_prefix="zone") as pool:
        return list(pool.map(one, zones))


def _or_stopped(remaining_time: Callable[[], float] | None) -> Callable[[], float]:
    """The time budget, cut to zero once a stop was requested (SIGTERM/SIGINT): discovery starts no new scope."""

    def remaining() -> float:
        if stop_requested() is not None:
            return 0.0
        return remaining_time() if remaining_time is not None else float("inf")

    return remaining


def _unknown_zone(zone: ZoneOutcome) -> ConfigError:
    return ConfigError(f"zones: no zone with id {zone.zone_id!r} is visible to these credentials")


def _plan_zone(
    client: CloudflareClient,
    zone: ZoneOutcome,
    matched: MatchResult,
    policy: Any,
    discovery_complete: bool,
    evidence_time: datetime | None = None,
    *,
    keep: set[str] | frozenset[str] = frozenset(),
) -> ZoneOutcome:
    """Plan one zone. `keep`: addresses whose mappings must not be deleted besides the origins (standby pool
    origins, addresses behind proxied CNAMEs)."""
    origin_ips = zone.origin_ips
    zone_match = ZoneMatch.of(matched, origin_ips)
    desired = {d.ip: d for d in zone_match.desired}
    try:
        current: dict[str, RegionMapping] = {m.ip: m for m in client.list_mappings(zone.zone_id)}
        # Supported regions are only needed when something would be written.
        needs_regions = any(
            ip not in current or current[ip].placement != (d.vendor.value, d.region) for ip, d in desired.items()
        )
        supported = client.supported_regions(zone.zone_id) if needs_regions else None
    except TieredCacheDisabled as exc:
        error = f"supported regions refused ({exc}); origin cloud regions need Smart Tiered Cache enabled on the zone"
        return replace(zone, error=error)
    except CloudflareAuthError:
        raise
    except ZoneNotFound:
        raise _unknown_zone(zone) from None
    except CloudflareError as exc:
        return replace(zone, error=f"current mappings could not be read: {exc}")
    complete = discovery_complete and zone.complete
    plan = calculate(
        current,
        desired,
        origin_ips=origin_ips | keep,
        supported=supported,
        policy=policy,
        complete=complete,
        evidence_time=evidence_time,
    )
    return replace(
        zone,
        complete=complete,
        current_mappings=len(current),
        fingerprint=fingerprint(current.values()),
        match=zone_match,
        plan=plan,
    )
