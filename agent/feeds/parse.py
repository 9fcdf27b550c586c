"""Parsers for the four published feeds: decoded JSON in, `FeedEntry` list out.

Formats (see ``prior-art.md`` §4):

* AWS ``ip-ranges.json``: ``prefixes[]`` {``ip_prefix``, ``region``, ``service``, ``network_border_group``} and
  ``ipv6_prefixes[]`` {``ipv6_prefix``, …}. ``region`` is a region code or ``GLOBAL``. Local/Wavelength Zone prefixes
  keep the parent ``region`` (the border group goes to `RangeMatch.network_border_group`).
* GCP ``cloud.json``: ``prefixes[]`` {``ipv4Prefix`` | ``ipv6Prefix``, ``service``, ``scope``}; scope ``global`` is
  anycast.
* OCI ``public_ip_ranges.json``: ``regions[]`` {``region``, ``cidrs[]`` {``cidr``, ``tags[]``}}, IPv4 only.
* Azure Service Tags (download file or discovery API): ``values[]`` {``name``, ``properties`` {``region``,
  ``addressPrefixes[]``}}. Tags without a region are global; region names are translated to ARM names.

Overlap ranking, highest wins (`FeedEntry.rank` = ``(regional, prefix_length, service_rank)``):

1. a regional entry beats a non-regional one. Azure publishes non-regional supersets (``Storage``, ``AzureCloud``,
   ``ActionGroup``) whose prefixes are often *longer* than the covering ``AzureCloud.<region>`` prefix: plain
   longest-prefix would turn 38,000 regional Azure prefixes into "global". In the AWS, GCP and OCI feeds no global
   prefix lies inside a regional one, so there this rule never changes a longest-prefix answer;
2. the longer prefix;
3. the more specific service (`SERVICE_RANKS`): AWS ``AMAZON`` is the superset of every service, ``EC2`` beats the
   other services that share its prefixes (S3, IVS_REALTIME, ROUTE53_HEALTHCHECKS…) because origins are EC2
   addresses; Azure ``AzureCloud`` is the superset of the service tags; OCI ``OBJECT_STORAGE`` ⊂ ``OSN`` ⊂ ``OCI``.
4. On a full tie the entry listed first in the feed wins (`RangeIndex` keeps feed order).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from agent.feeds.azure_regions import AzureRegionNames, default_names
from agent.feeds.errors import FeedError
from agent.feeds.models import FeedEntry, RangeMatch
from agent.models import GLOBAL_REGION, Vendor

__all__ = ["PARSERS", "SERVICE_RANKS", "parse_aws", "parse_azure", "parse_cidr", "parse_feed", "parse_gcp", "parse_oci"]

SERVICE_RANKS: dict[Vendor, dict[str, int]] = {
    Vendor.AWS: {"AMAZON": 0, "CLOUDFRONT_ORIGIN_FACING": 2, "EC2": 3},  # others: 1
    Vendor.AZURE: {"AzureCloud": 0},  # others: 1
    Vendor.OCI: {"OCI": 0, "OSN": 1, "OBJECT_STORAGE": 2},
    Vendor.GCP: {},
}
_DEFAULT_RANK = 1
_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6
_inet_pton = socket.inet_pton
_Cidr = tuple[int, int, int, int]


def parse_cidr(text: str) -> tuple[int, int, int, int]:
    """``"192.0.2.0/24"`` → ``(version, start, end, prefix_length)``; host bits are cleared. Raises ValueError.

    ``inet_pton`` + ``int.from_bytes`` is ~20x faster than `ipaddress.ip_network`, which matters for 100,000 prefixes.
    """
    address, _, length_text = text.partition("/")
    try:
        if ":" in address:
            version, bits, packed = 6, 128, _inet_pton(_AF_INET6, address)
        else:
            version, bits, packed = 4, 32, _inet_pton(_AF_INET, address)
        length = int(length_text) if length_text else bits
    except (OSError, ValueError, UnicodeError):
        raise ValueError(f"not an IP prefix: {text!r}") from None
    if not 0 <= length <= bits:
        raise ValueError(f"not an IP prefix: {text!r}")
    host = (1 << (bits - length)) - 1
    start = int.from_bytes(packed, "big") & ~host
    return version, start, start | host, length


def _entry(vendor: Vendor, prefix: str, match: RangeMatch, rank: int, seen: dict[str, _Cidr]) -> FeedEntry:
    # `seen` memoises parse_cidr within one feed: Azure lists most prefixes in two or three tags.
    parsed = seen.get(prefix)
    if parsed is None:
        try:
            parsed = seen[prefix] = parse_cidr(prefix)
        except ValueError as exc:
            raise FeedError(f"{vendor} feed: {exc}", vendor=vendor, code="bad-format") from None
    version, start, end, length = parsed
    return FeedEntry(version, start, end, (0 if match.region == GLOBAL_REGION else 1, length, rank), match)


def _require(doc: Any, key: str, vendor: Vendor) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise FeedError(f"{vendor} feed: not the expected format (no {key!r} key)", vendor=vendor, code="bad-format")
    return doc[key]


def parse_aws(doc: Any) -> list[FeedEntry]:
    """Parse AWS ``ip-ranges.json``. See the module docstring."""
    ranks = SERVICE_RANKS[Vendor.AWS]
    entries: list[FeedEntry] = []
    seen: dict[str, _Cidr] = {}
    try:
        for items, key in (
            (_require(doc, "prefixes", Vendor.AWS), "ip_prefix"),
            (doc.get("ipv6_prefixes", []), "ipv6_prefix"),
        ):
            for item in items:
                feed_region, service = item["region"], item["service"]
                region = GLOBAL_REGION if feed_region == "GLOBAL" else feed_region
                border = item.get("network_border_group") or ""
                match = RangeMatch(
                    Vendor.AWS,
                    region,
                    service,
                    item[key],
                    feed_region,
                    True,
                    border if border != feed_region and region != GLOBAL_REGION else "",
                )
                entries.append(_entry(Vendor.AWS, item[key], match, ranks.get(service, _DEFAULT_RANK), seen))
    except (KeyError, TypeError, AttributeError) as exc:
        raise FeedError(f"aws feed: not the expected format ({exc!r})", vendor=Vendor.AWS, code="bad-format") from None
    return entries


def parse_gcp(doc: Any) -> list[FeedEntry]:
    """Parse GCP ``cloud.json``. See the module docstring."""
    entries: list[FeedEntry] = []
    seen: dict[str, _Cidr] = {}
    try:
        for item in _require(doc, "prefixes", Vendor.GCP):
            prefix = item.get("ipv4Prefix") or item["ipv6Prefix"]
            scope = item["scope"]
            region = GLOBAL_REGION if scope == "global" else scope
            match = RangeMatch(Vendor.GCP, region, item.get("service") or "Google Cloud", prefix, scope)
            entries.append(_entry(Vendor.GCP, prefix, match, _DEFAULT_RANK, seen))
    except (KeyError, TypeError, AttributeError) as exc:
        raise FeedError(f"gcp feed: not the expected format ({exc!r})", vendor=Vendor.GCP, code="bad-format") from None
    return entries


def parse_oci(doc: Any) -> list[FeedEntry]:
    """Parse OCI ``public_ip_ranges.json``. The service is the most specific tag of the CIDR."""
    ranks = SERVICE_RANKS[Vendor.OCI]
    entries: list[FeedEntry] = []
    seen: dict[str, _Cidr] = {}
    try:
        for region_item in _require(doc, "regions", Vendor.OCI):
            region = region_item["region"]
            for cidr in region_item["cidrs"]:
                tags = cidr.get("tags") or ["OCI"]
                service = max(tags, key=lambda tag: ranks.get(tag, _DEFAULT_RANK))
                match = RangeMatch(Vendor.OCI, region, service, cidr["cidr"], region)
                entries.append(_entry(Vendor.OCI, cidr["cidr"], match, ranks.get(service, _DEFAULT_RANK), seen))
    except (KeyError, TypeError, AttributeError) as exc:
        raise FeedError(f"oci feed: not the expected format ({exc!r})", vendor=Vendor.OCI, code="bad-format") from None
    return entries


def parse_azure(doc: Any, names: AzureRegionNames | None = None) -> list[FeedEntry]:
    """Parse Azure Service Tags (download file or discovery API response: the same ``values`` shape).

    The service is the tag name without its region suffix (``Storage.EastUS`` → ``Storage``; ``AzureCloud.eastus`` →
    ``AzureCloud``); non-regional tags keep their full name (``AzureFrontDoor.Backend``).
    """
    names = names or default_names()
    ranks = SERVICE_RANKS[Vendor.AZURE]
    entries: list[FeedEntry] = []
    seen: dict[str, _Cidr] = {}
    try:
        for tag in _require(doc, "values", Vendor.AZURE):
            properties = tag["properties"]
            feed_region = properties.get("region") or ""
            tag_name = tag["name"]
            if feed_region:
                region, known = names.normalize(feed_region)
                service = tag_name.rsplit(".", 1)[0] if "." in tag_name else tag_name
            else:
                region, known, service = GLOBAL_REGION, True, tag_name
            rank = ranks.get(service, _DEFAULT_RANK)
            for prefix in properties.get("addressPrefixes") or ():
                match = RangeMatch(Vendor.AZURE, region, service, prefix, feed_region, known)
                entries.append(_entry(Vendor.AZURE, prefix, match, rank, seen))
    except (KeyError, TypeError, AttributeError) as exc:
        raise FeedError(
            f"azure feed: not the expected format ({exc!r})", vendor=Vendor.AZURE, code="bad-format"
        ) from None
    return entries


PARSERS: dict[Vendor, Callable[[Any], list[FeedEntry]]] = {
    Vendor.AWS: parse_aws,
    Vendor.GCP: parse_gcp,
    Vendor.OCI: parse_oci,
    Vendor.AZURE: parse_azure,
}


def parse_feed(vendor: Vendor, doc: Any) -> list[FeedEntry]:
    """Parse one vendor's decoded feed document."""
    return PARSERS[Vendor(vendor)](doc)
