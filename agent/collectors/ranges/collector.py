"""The `ranges` inventory source: classifies the zones' origin IPs with the clouds' published IP-range feeds.

It needs no cloud credentials, so onboarding can map origins before anyone grants account access. It ranks below
every account collector (`Confidence.FEED`: a feed says who owns a block, not that the IP is in use).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, ClassVar

from pydantic import ValidationError

from agent.clock import SYSTEM_CLOCK, Clock
from agent.collectors.base import Collector
from agent.errors import ConfigError
from agent.feeds.config import RangesConfig
from agent.ip import canonical_ip
from agent.models import CloudAddress, Confidence, Scope, Vendor

__all__ = ["RangesCollector"]

logger = logging.getLogger(__name__)


class RangesCollector(Collector):
    """Yields a `CloudAddress` for every origin IP that falls in a loaded feed. See `Collector.collect`.

    Special: it does not enumerate. The pipeline calls `set_origin_ips` (canonical IPs) before `scopes()`. Each
    configured feed is one leaf scope (``ranges:aws``…), so a feed that cannot be loaded fails alone. Non-regional
    matches are yielded with region `GLOBAL_REGION` (never written).
    """

    source: ClassVar[str] = "ranges"
    needs_origin_ips: ClassVar[bool] = True

    def __init__(
        self,
        config: RangesConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        client: Any = None,
        azure_credential: Any = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._client = client
        self._azure_credential = azure_credential
        self._origin_ips: tuple[str, ...] = ()
        self._loader: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: RangesConfig | Mapping[str, Any] | None) -> RangesCollector:
        """Build from the ``inventory.ranges`` section (a `RangesConfig` or its plain dict)."""
        if isinstance(config, RangesConfig):
            return cls(config)
        try:
            return cls(RangesConfig.model_validate(dict(config or {})))
        except ValidationError as exc:
            problems = "; ".join(
                f"inventory.ranges.{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
                for err in exc.errors()
            )
            raise ConfigError(problems) from None

    def set_origin_ips(self, ips: Collection[str]) -> None:
        """The IPs to classify (canonical text). Called before `scopes()`."""
        self._origin_ips = tuple(dict.fromkeys(canonical_ip(ip) for ip in ips))

    def scopes(self) -> Iterable[Scope]:
        """One leaf scope per enabled feed. See `Collector.scopes`."""
        for vendor in self.config.enabled_feeds:
            yield Scope(self.source, (vendor.value,), leaf=True)

    def _feed_loader(self) -> Any:
        with self._lock:
            if self._loader is None:
                from agent.feeds.load import FeedLoader

                self._loader = FeedLoader(
                    self.config, clock=self._clock, client=self._client, azure_credential=self._azure_credential
                )
            return self._loader

    def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
        """Load the scope's feed and yield the origin IPs in it. See `Collector.collect`.

        An empty origin list yields nothing without touching the feed. Raises `agent.feeds.FeedError` (a
        `CollectorError`) when the feed cannot be loaded and no usable cached copy exists.
        """
        vendor = Vendor(scope.path[0])
        if not self._origin_ips:
            return
        from agent.feeds.index import RangeIndex

        fetched = self._feed_loader().load(vendor)
        if fetched.warning:
            logger.warning("%s", fetched.warning)
        index = RangeIndex.from_entries(fetched.value, vendors=(vendor,))
        for ip in self._origin_ips:
            match = index.lookup(ip)
            if match is None:
                continue
            yield CloudAddress(
                ip=ip,
                vendor=match.vendor,
                region=match.region,
                account="",
                resource_id=match.prefix,
                kind=match.service,
                source=self.source,
                confidence=Confidence.FEED,
                details=match.details(),
            )

    def close(self) -> None:
        """Close the HTTP client. See `Collector.close`."""
        with self._lock:
            if self._loader is not None:
                self._loader.close()
                self._loader = None
