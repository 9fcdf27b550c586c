"""Origins of a zone: the IPs Cloudflare connects to for it (DNS records, load-balancer pools, resolved names)."""

from agent.origins.zone import Resolver, ZoneOrigins, zone_origins

__all__ = ["Resolver", "ZoneOrigins", "zone_origins"]
