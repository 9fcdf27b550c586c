"""One Azure public IP → `CloudAddress`, the same in both discovery modes (per-subscription SDK objects and
Resource Graph rows), so the two modes cannot drift apart in region, kind or details."""

from __future__ import annotations

import logging
from datetime import datetime

from agent.collectors.azure.locations import normalize_location
from agent.ip import InvalidIPError, canonical_ip
from agent.models import GLOBAL_REGION, CloudAddress, Confidence, Vendor

__all__ = ["KIND", "SOURCE", "public_ip_address"]

logger = logging.getLogger(__name__)

SOURCE = "azure"
KIND = "public-ip"


def public_ip_address(
    *,
    ip_text: str,
    resource_id: str,
    location: str,
    subscription_id: str,
    ip_version: str = "",
    allocation: str = "",
    sku: str = "",
    sku_tier: str = "",
    zones: str = "",
    edge_zone: str = "",
    attached_to: str = "",
    observed_at: datetime | None = None,
) -> CloudAddress | None:
    """The record for one public-IP resource, or None (bad address text, no location)."""
    try:
        ip = canonical_ip(ip_text)
    except InvalidIPError as exc:
        logger.warning("azure: %s: skipping bad IP address text %r (%s)", resource_id, ip_text, exc.reason)
        return None
    details: list[tuple[str, str]] = [
        ("ip_version", ip_version),
        ("allocation", allocation),
        ("sku", sku),
        ("sku_tier", sku_tier),
    ]
    if sku_tier.lower() == "global":
        # Cross-region load-balancer frontends: anycast from every participating region; `location` is only
        # the home region of the resource, so claiming it would mislead Cloudflare.
        region = GLOBAL_REGION
        details.append(("home_location", location))
    else:
        region = normalize_location(location)
        if not region:
            logger.warning("azure: %s (%s) has no location, skipped", resource_id, ip)
            return None
        if region != location:
            details.append(("location", location))
    details += [("zones", zones), ("edge_zone", edge_zone), ("attached_to", attached_to)]
    return CloudAddress(
        ip=ip,
        vendor=Vendor.AZURE,
        region=region,
        account=subscription_id,
        resource_id=resource_id,
        kind=KIND,
        source=SOURCE,
        confidence=Confidence.ACCOUNT,
        details=tuple((k, v) for k, v in details if v),
        observed_at=observed_at,
    )
