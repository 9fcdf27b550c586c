"""Compute resources → `CloudAddress` records. Pure: duck-typed on the SDK's messages, imports no SDK.

Attribute names are those of google-cloud-compute's proto-plus messages (``nat_i_p``, ``I_p_address``…); unset
string fields read as ``""``, unset repeated fields as empty sequences.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from agent.ip import InvalidIPError, canonical_ip
from agent.models import GLOBAL_REGION, CloudAddress, Confidence, Vendor

__all__ = [
    "EXTERNAL_LB_SCHEMES",
    "address_records",
    "forwarding_rule_records",
    "instance_records",
    "region_of",
    "zone_region",
]

logger = logging.getLogger(__name__)

SOURCE = "gcp"
# Forwarding rules with these schemes front the internet; INTERNAL* schemes and "" (Private Service Connect) do not.
EXTERNAL_LB_SCHEMES = frozenset({"EXTERNAL", "EXTERNAL_MANAGED"})


def zone_region(zone: str) -> str:
    """``us-central1-a`` → ``us-central1``: a zone name is its region plus one ``-<letter(s)>`` suffix."""
    region, sep, _ = zone.rpartition("-")
    return region if sep else zone


def _url_tail(url: str, collection: str) -> str:
    """The segment after ``/<collection>/`` in a resource URL (``…/regions/us-east1`` → ``us-east1``), or ""."""
    parts = url.rstrip("/").split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == collection:
            return parts[i + 1]
    return ""


def region_of(scope_key: str, *, region_url: str = "", zone_url: str = "") -> str:
    """The region of an item: its own ``region``/``zone`` URL first, else the aggregated-list scope key.

    ``regions/X`` → X, ``zones/X-a`` → X, ``global`` (and an item without either) → `GLOBAL_REGION`.
    """
    if region_url:
        return _url_tail(region_url, "regions") or region_url.rsplit("/", 1)[-1]
    if zone_url:
        return zone_region(_url_tail(zone_url, "zones") or zone_url.rsplit("/", 1)[-1])
    kind, _, name = scope_key.partition("/")
    if kind == "regions" and name:
        return name
    if kind == "zones" and name:
        return zone_region(name)
    return GLOBAL_REGION


def _ip(text: str, *, what: str) -> str | None:
    """Canonical IP, or None with a warning naming the bad text. A ``/len`` suffix (IPv6 ranges) is dropped."""
    if "/" in text and ":" in text:
        text = text.split("/", 1)[0]
    try:
        return canonical_ip(text)
    except InvalidIPError as exc:
        logger.warning("gcp: skipping %s: %s", what, exc)
        return None


def _record(
    ip: str, region: str, project: str, resource: str, kind: str, details: Iterable[tuple[str, str]]
) -> CloudAddress:
    return CloudAddress(
        ip=ip,
        vendor=Vendor.GCP,
        region=region,
        account=project,
        resource_id=resource,
        kind=kind,
        source=SOURCE,
        confidence=Confidence.ACCOUNT,
        details=tuple((k, v) for k, v in details if v),
    )


def _resource(item: Any, project: str, path: str) -> str:
    """The resource's partial URL, ``projects/p/regions/r/addresses/a``: its selfLink without host and API version."""
    link = str(getattr(item, "self_link", "") or "")
    _, sep, tail = link.partition("/projects/")
    return f"projects/{tail}" if sep and tail else f"projects/{project}/{path}"


def address_records(project: str, scope_key: str, addresses: Iterable[Any]) -> Iterator[CloudAddress]:
    """External static addresses (``addressType`` EXTERNAL), regional or global; internal ones are skipped."""
    for a in addresses:
        if a.address_type != "EXTERNAL" or not a.address:
            continue
        region = region_of(scope_key, region_url=a.region)
        is_global = region == GLOBAL_REGION
        where = "global" if is_global else f"regions/{region}"
        resource = _resource(a, project, f"{where}/addresses/{a.name}")
        ip = _ip(a.address, what=f"address {a.address!r} of {resource}")
        if ip is None:
            continue
        details = [("name", a.name), ("status", a.status), ("network_tier", a.network_tier)]
        if a.prefix_length:
            details.append(("prefix_length", str(a.prefix_length)))
        yield _record(ip, region, project, resource, "global-address" if is_global else "address", details)


def instance_records(project: str, scope_key: str, instances: Iterable[Any]) -> Iterator[CloudAddress]:
    """Instance access configs: IPv4 ``natIP`` and IPv6 ``externalIpv6`` of every network interface."""
    for inst in instances:
        region = region_of(scope_key, zone_url=inst.zone)
        resource = _resource(inst, project, f"zones/{_url_tail(inst.zone, 'zones')}/instances/{inst.name}")
        for nic in inst.network_interfaces:
            for ac in nic.access_configs:
                if not ac.nat_i_p:
                    continue
                ip = _ip(ac.nat_i_p, what=f"natIP {ac.nat_i_p!r} of {resource}")
                if ip is not None:
                    details = [("name", inst.name), ("nic", nic.name), ("network_tier", ac.network_tier)]
                    yield _record(ip, region, project, resource, "instance", details)
            for ac in nic.ipv6_access_configs:
                if not ac.external_ipv6:
                    continue
                ip = _ip(ac.external_ipv6, what=f"externalIpv6 {ac.external_ipv6!r} of {resource}")
                if ip is not None:
                    details = [("name", inst.name), ("nic", nic.name), ("network_tier", ac.network_tier)]
                    if ac.external_ipv6_prefix_length:
                        details.append(("prefix_length", str(ac.external_ipv6_prefix_length)))
                    yield _record(ip, region, project, resource, "instance", details)


def forwarding_rule_records(project: str, scope_key: str, rules: Iterable[Any]) -> Iterator[CloudAddress]:
    """External load-balancer forwarding rules (``IPAddress``), regional or global (anycast)."""
    for fr in rules:
        if fr.load_balancing_scheme not in EXTERNAL_LB_SCHEMES or not fr.I_p_address:
            continue
        region = region_of(scope_key, region_url=fr.region)
        is_global = region == GLOBAL_REGION
        where = "global" if is_global else f"regions/{region}"
        resource = _resource(fr, project, f"{where}/forwardingRules/{fr.name}")
        ip = _ip(fr.I_p_address, what=f"IPAddress {fr.I_p_address!r} of {resource}")
        if ip is None:
            continue
        details = [("name", fr.name), ("scheme", fr.load_balancing_scheme), ("network_tier", fr.network_tier)]
        kind = "global-forwarding-rule" if is_global else "forwarding-rule"
        yield _record(ip, region, project, resource, kind, details)
