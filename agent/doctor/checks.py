"""The doctor's checks: Cloudflare credentials and zones, each configured inventory source, the feeds.

Every check is a read. The write permission of the token cannot be proven without writing, so it is reported as
``unchecked`` with the permission to grant, never as ok. A check never raises: whatever goes wrong becomes a
`problem` with the vendor's error code and a one-line hint.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from agent.report.hints import cloudflare_hint, scope_hint

__all__ = ["MAX_ROOT_SCOPES", "Check", "Status", "run_checks"]

MAX_ROOT_SCOPES = 5  # per source: enough to catch a broken account without listing a whole organization's regions
WRITE_PERMISSION = "Zone → Zone Settings: Edit"

# What the one cheap read of each source proves (its root scope's enumeration).
_READ_OF = {
    "aws": "caller identity and enabled regions",
    "gcp": "token and project read",
    "azure": "token and subscription list",
    "oci": "tenancy read (regions and compartments)",
    "static": "inventory file read",
}


class Status(StrEnum):
    """ok: verified; problem: a run would fail or miss something; unchecked: cannot be verified without writing."""

    OK = "ok"
    PROBLEM = "problem"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's report."""

    check: str
    status: Status
    detail: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        out = asdict(self)
        out["status"] = self.status.value
        return out


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s old"
    if seconds < 7200:
        return f"{int(seconds // 60)} min old"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h old"
    return f"{seconds / 86400:.1f} days old"


def _cf_problem(name: str, exc: Any) -> Check:
    return Check(name, Status.PROBLEM, str(exc), cloudflare_hint(list(exc.codes), exc.status, exc.path))


def cloudflare_checks(config: Any) -> Iterator[Check]:
    """Credentials (token verify, or the user of a global key), then per zone: zone, DNS, mappings, regions."""
    from agent.cloudflare import CloudflareError
    from agent.errors import ConfigError
    from agent.pipeline import build_client

    try:
        client = build_client(config)
    except ConfigError as exc:
        yield Check("cloudflare credentials", Status.PROBLEM, str(exc), "export CLOUDFLARE_API_TOKEN")
        return
    with client:
        try:
            info = client.verify_token()
        except CloudflareError as exc:
            yield _cf_problem("cloudflare credentials", exc)
            return
        if "status" in info:  # a token
            state = str(info.get("status"))
            expires = f", expires {info['expires_on']}" if info.get("expires_on") else ""
            yield Check(
                "cloudflare credentials",
                Status.OK if state == "active" else Status.PROBLEM,
                f"token {info.get('id', '')} is {state}{expires}",
                "" if state == "active" else "the token is disabled or expired: roll it in the dashboard",
            )
        else:
            yield Check("cloudflare credentials", Status.OK, f"global API key of {info.get('email', '?')}")
        targets: list[tuple[str, str | None]] = [(z.label, z.id) for z in config.zones]
        if config.all_zones:
            try:
                listed = client.zones(account_id=config.cloudflare.account_id)
            except CloudflareError as exc:
                yield _cf_problem("zones: list", exc)
            else:
                yield Check("zones: list", Status.OK, f"{len(listed)} zones visible (all_zones)")
                targets += [(z["name"], z["id"]) for z in listed[:MAX_ROOT_SCOPES] if z["name"] not in dict(targets)]
        if not targets:
            yield Check("zones", Status.PROBLEM, "no zones configured", "list them under `zones:` or pass --zone")
        for label, zone_id in targets:
            yield from _zone_checks(client, label, zone_id)


def _zone_checks(client: Any, label: str, zone_id: str | None) -> Iterator[Check]:
    from agent.cloudflare import CloudflareError, TieredCacheDisabled

    name = f"zone {label}"
    try:
        zone_id = zone_id or client.zone_id(label)
    except CloudflareError as exc:
        yield _cf_problem(name, exc)
        return
    steps: list[tuple[str, Callable[[], str]]] = [
        ("dns records", lambda: _dns(client, zone_id)),
        ("mappings", lambda: f"{len(client.list_mappings(zone_id))} mappings readable (API {client.family.value})"),
        ("supported regions", lambda: _regions(client, zone_id)),
    ]
    for step, read in steps:
        try:
            detail = read()
        except TieredCacheDisabled as exc:
            yield Check(
                f"{name}: {step}",
                Status.PROBLEM,
                f"Tiered Cache is off: {exc}",
                "enable Smart Tiered Cache on the zone (Caching → Tiered Cache): region hints need it",
            )
        except CloudflareError as exc:
            yield _cf_problem(f"{name}: {step}", exc)
        else:
            yield Check(f"{name}: {step}", Status.OK, detail)
    yield Check(
        f"{name}: write mappings",
        Status.UNCHECKED,
        "cannot be checked without writing",
        f"grant {WRITE_PERMISSION} to the token for this zone (see README: Permissions)",
    )


def _dns(client: Any, zone_id: str) -> str:
    records = client.dns_records(zone_id)
    proxied = sum(1 for r in records if r.get("type") in ("A", "AAAA") and r.get("proxied"))
    return f"{len(records)} records, {proxied} proxied A/AAAA (origin candidates)"


def _regions(client: Any, zone_id: str) -> str:
    supported = client.supported_regions(zone_id)
    parts = ", ".join(f"{vendor} {len(names)}" for vendor, names in sorted(supported.items()))
    return f"Tiered Cache is on; regions per vendor: {parts}"


def source_checks(source: str, section: Any) -> Iterator[Check]:
    """One cheap read per root scope of an inventory source (at most `MAX_ROOT_SCOPES`)."""
    from agent.collectors.base import load_collector

    name = f"{source}"
    try:
        collector = load_collector(source, section)
    except ImportError as exc:
        yield Check(
            name,
            Status.PROBLEM,
            f"{exc.name or exc} is not installed",
            f"pip install 'origin-region-agent[{source}]'",
        )
        return
    except Exception as exc:  # bad settings the collector refuses at construction
        yield Check(name, Status.PROBLEM, f"{type(exc).__name__}: {exc}", "")
        return
    what = _READ_OF.get(source, "read")
    try:
        roots = list(itertools.islice(collector.scopes(), MAX_ROOT_SCOPES))
        if not roots:
            yield Check(name, Status.PROBLEM, "no scope to read (nothing configured?)", "")
        for scope in roots:
            label = scope.label
            try:
                children = addresses = 0
                for item in collector.collect(scope):
                    if hasattr(item, "ip"):
                        addresses += 1
                    else:
                        children += 1
            except Exception as exc:
                code = str(getattr(exc, "code", "") or type(exc).__name__)
                yield Check(f"{name}: {label}", Status.PROBLEM, f"{code}: {exc}", scope_hint(label, code))
            else:
                found = f"{children} scopes below" if children else f"{addresses} addresses"
                yield Check(f"{name}: {label}", Status.OK, f"{what}: ok ({found})")
    except Exception as exc:  # listing the root scopes itself failed
        code = str(getattr(exc, "code", "") or type(exc).__name__)
        yield Check(name, Status.PROBLEM, f"{code}: {exc}", scope_hint(f"{source}:", code))
    finally:
        collector.close()


def feed_checks(section: Any, *, now: Callable[[], float] = time.time) -> Iterator[Check]:
    """Each enabled feed: loadable (downloaded, cached or a local file), and how old."""
    from agent.feeds.cli import offline_help
    from agent.feeds.errors import FeedError
    from agent.feeds.load import FeedLoader

    with FeedLoader(section) as loader:
        for vendor in section.enabled_feeds:
            name = f"feed {vendor.value}"
            try:
                fetched = loader.load(vendor)
            except FeedError as exc:
                hint = scope_hint(f"ranges:{vendor.value}", exc.code) or offline_help(section)
                yield Check(name, Status.PROBLEM, str(exc), hint)
                continue
            if fetched.fetched_at is not None:
                age = _age(now() - fetched.fetched_at)
            else:
                age = _age(now() - Path(fetched.source).stat().st_mtime) if Path(fetched.source).exists() else ""
            origin = {"network": "downloaded now", "not-modified": "cache revalidated", "cache": "cached"}.get(
                fetched.origin, fetched.origin
            )
            detail = f"{origin}, {age}, {len(fetched.value)} prefixes ({fetched.source})"
            yield Check(name, Status.PROBLEM if fetched.warning else Status.OK, detail, fetched.warning)


def run_checks(config: Any) -> list[Check]:
    """Every check, in order: Cloudflare, the inventory sources, the feeds."""
    checks = list(cloudflare_checks(config))
    for source, section in config.inventory.configured().items():
        if source == "ranges":
            checks.extend(feed_checks(section))
        else:
            checks.extend(source_checks(source, section))
    return checks
