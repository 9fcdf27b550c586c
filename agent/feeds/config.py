"""Published-feed configuration (the `inventory.ranges` section, also used by `lookup`). Imports no SDK.

It lives with the feeds: `agent.feeds` never imports the `ranges` collector; the collector imports the feeds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from agent.models import Vendor
from agent.schema import StrictModel

__all__ = [
    "DEFAULT_FEED_URLS",
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_STALE",
    "FEED_FILENAMES",
    "AzureDiscoveryConfig",
    "RangesConfig",
    "default_cache_dir",
    "find_feed_file",
    "is_url",
    "parse_duration",
]

DEFAULT_FEED_URLS: dict[Vendor, str] = {
    Vendor.AWS: "https://ip-ranges.amazonaws.com/ip-ranges.json",
    Vendor.GCP: "https://www.gstatic.com/ipranges/cloud.json",
    Vendor.OCI: "https://docs.oracle.com/iaas/tools/public_ip_ranges.json",
}
"""Official feed URLs. Azure has none: its Service Tags download URL changes every week."""

FEED_FILENAMES: dict[Vendor, tuple[str, ...]] = {
    Vendor.AWS: ("ip-ranges.json", "aws-ip-ranges.json"),
    Vendor.GCP: ("cloud.json", "gcp-cloud.json"),
    Vendor.OCI: ("public_ip_ranges.json", "oci-public_ip_ranges.json"),
    Vendor.AZURE: ("ServiceTags_Public.json", "azure-ServiceTags_Public.json", "ServiceTags_Public_*.json"),
}
"""File names looked for in `RangesConfig.feeds_dir` (also with ``.gz``), first match wins; the first name is the one
fetched from `RangesConfig.mirror_url`. For ``ServiceTags_Public_*.json`` the newest (highest) date wins."""

DEFAULT_MAX_AGE = 24 * 3600.0  # OCI asks to poll at most every 24 h; AWS/GCP change several times a day but slowly
DEFAULT_MAX_STALE = 30 * 24 * 3600.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> Any:
    """``3600``, ``"90s"``, ``"30m"``, ``"24h"``, ``"7d"`` → seconds. Other values are left for pydantic to refuse."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration (use seconds, or a number with s, m, h or d)")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/origin-region-agent``, else ``~/.cache/origin-region-agent``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "origin-region-agent"


def is_url(source: str) -> bool:
    """True for an http(s) URL; anything else is a local path (``file://`` URLs included)."""
    return source.startswith(("http://", "https://"))


def find_feed_file(feeds_dir: Path, vendor: Vendor) -> Path | None:
    """The vendor's feed file in `feeds_dir` (see `FEED_FILENAMES`), or None."""
    for pattern in FEED_FILENAMES[vendor]:
        for suffix in ("", ".gz"):
            hits = sorted(feeds_dir.glob(pattern + suffix))
            if hits:
                return hits[-1]  # ServiceTags_Public_YYYYMMDD.json: the newest
    return None


class AzureDiscoveryConfig(StrictModel):
    """The Service Tag discovery API: an ARM call, so it needs Azure credentials (azure-identity's default chain:
    environment, workload identity, managed identity, CLI). Any subscription the identity can read will do; the
    location only picks the regional endpoint, the answer lists every region."""

    subscription_id: str = Field(min_length=1)
    location: str = "westeurope"
    arm_endpoint: str = "https://management.azure.com"
    api_version: str = "2024-05-01"
    disable_instance_discovery: bool = False  # for sovereign / private authorities (and the tests' fake AAD)

    @field_validator("arm_endpoint")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"arm_endpoint must be an https:// URL (bearer tokens are never sent in clear): {value!r}")
        return value.rstrip("/")


class RangesConfig(StrictModel):
    """Settings of the `ranges` inventory source: which published IP-range feeds to load, from where, how to cache.

    Where each feed comes from, first match wins: `urls` (or `azure_service_tags` for Azure), a file in `feeds_dir`,
    `mirror_url`, the Azure discovery API (`azure_discovery`), the vendor's official URL (none for Azure).
    A source is an http(s) URL or a local path (``.gz`` accepted).
    """

    feeds: tuple[Vendor, ...] | None = None
    """Feeds to load. Default: aws, gcp, oci, and azure when an Azure source is configured."""
    cache_dir: Path | None = None
    """Where downloaded feeds are cached. Default `default_cache_dir()`."""
    max_age: Duration = DEFAULT_MAX_AGE
    """A cached feed younger than this is used without asking the server; older, it is revalidated (ETag)."""
    max_stale: Duration | None = DEFAULT_MAX_STALE
    """When a fetch fails, a cached copy up to this old is used (with a warning). None: any age."""
    offline: bool = False
    """Never use the network: local files and the cache only (a cache older than max_age is used, with a warning)."""
    feeds_dir: Path | None = None
    """A directory of feed files (see `FEED_FILENAMES`): fully offline operation."""
    mirror_url: str | None = None
    """Base URL of a mirror serving the files under their `FEED_FILENAMES` first names."""
    urls: dict[Vendor, str] = Field(default_factory=dict)
    """Per-feed URL or path overrides, e.g. ``{aws: https://mirror/ip-ranges.json}``."""
    azure_service_tags: str | None = None
    """URL or path of the weekly Service Tags file (``ServiceTags_Public_YYYYMMDD.json``)."""
    azure_discovery: AzureDiscoveryConfig | None = None
    timeout: float = Field(default=30.0, gt=0)
    """Seconds per HTTP request."""
    ca_bundle: Path | None = None
    """PEM bundle to verify a mirror's TLS certificate (default: the system's, or SSL_CERT_FILE)."""

    @field_validator("mirror_url")
    @classmethod
    def _mirror_is_url(cls, value: str | None) -> str | None:
        if value is not None and not is_url(value):
            raise ValueError(f"mirror_url must be an http(s) URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _azure_needs_a_source(self) -> RangesConfig:
        if self.feeds is not None and Vendor.AZURE in self.feeds and not self.has_azure_source:
            raise ValueError(
                "feeds includes 'azure' but no Azure source is configured: set azure_service_tags (the weekly "
                "ServiceTags_Public_YYYYMMDD.json URL or path), urls.azure, feeds_dir, mirror_url or azure_discovery"
            )
        return self

    @property
    def has_azure_source(self) -> bool:
        """Whether any setting can provide the Azure Service Tags (`feeds_dir` only when it holds the file)."""
        return bool(
            self.azure_service_tags
            or Vendor.AZURE in self.urls
            or (self.feeds_dir and find_feed_file(self.feeds_dir, Vendor.AZURE))
            or self.mirror_url
            or self.azure_discovery
        )

    @property
    def enabled_feeds(self) -> tuple[Vendor, ...]:
        """The feeds to load, in a stable order."""
        if self.feeds is not None:
            return tuple(dict.fromkeys(Vendor(v) for v in self.feeds))
        default = (Vendor.AWS, Vendor.GCP, Vendor.OCI)
        return (*default, Vendor.AZURE) if self.has_azure_source else default

    def resolved_cache_dir(self) -> Path:
        """`cache_dir`, or the XDG default."""
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()
