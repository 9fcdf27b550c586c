"""What a feed lookup answers (`RangeMatch`) and the parsed form of one feed prefix (`FeedEntry`)."""

from __future__ import annotations

from dataclasses import dataclass

from agent.models import GLOBAL_REGION, Vendor

__all__ = ["FeedEntry", "RangeMatch"]


@dataclass(frozen=True, slots=True)
class RangeMatch:
    """The feed prefix an address falls in, and what the vendor publishes about it.

    `region` is the vendor's own region name as the cloud's APIs and Cloudflare spell it (Azure names are translated
    to ARM locations, see `agent.feeds.azure_regions`), or `GLOBAL_REGION` for non-regional prefixes (AWS ``GLOBAL``,
    GCP ``global``, Azure tags without a region), which must never become a mapping. `feed_region` is the region as
    the feed writes it. `region_known` is False for an Azure name that maps to no known ARM location (kept as
    written). `network_border_group` is AWS's, when it differs from the region (Local and Wavelength Zones).
    A feed describes allocation, not assignment: a match says who owns the block, not that the IP is in use.
    """

    vendor: Vendor
    region: str
    service: str
    prefix: str
    feed_region: str = ""
    region_known: bool = True
    network_border_group: str = ""

    @property
    def is_global(self) -> bool:
        """True for a non-regional prefix (anycast, CDN, or an Azure tag without a region)."""
        return self.region == GLOBAL_REGION

    def details(self) -> tuple[tuple[str, str], ...]:
        """Key/value extras for `agent.models.CloudAddress.details`."""
        extra: list[tuple[str, str]] = [("service", self.service), ("prefix", self.prefix)]
        if self.feed_region and self.feed_region != self.region:
            extra.append(("feed_region", self.feed_region))
        if not self.region_known:
            extra.append(("region_known", "false"))
        if self.network_border_group:
            extra.append(("network_border_group", self.network_border_group))
        return tuple(extra)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One prefix of a feed as integers: ``[start, end]`` inclusive, in IP `version` 4 or 6.

    `rank` orders overlapping entries; the highest wins (see `agent.feeds.parse` for how it is built):
    ``(regional, prefix_length, service_rank)``.
    """

    version: int
    start: int
    end: int
    rank: tuple[int, int, int]
    match: RangeMatch
