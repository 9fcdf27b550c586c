"""The collector interface: how an inventory source lists public IPs with their regions.

A collector is built from its own config section (a pydantic model in ``agent/collectors/<name>/config.py``, which
imports no SDK) and imported only when that section is configured, because cloud SDKs are heavy.

Work is split into scopes so that the runner (`agent.collectors.runner`) can fan them out over a bounded pool,
isolate failures per scope and shard leaf scopes across workers:

* `Collector.scopes()` yields the root scopes (e.g. one per AWS account, GCP project, Azure subscription). It should be
  cheap; anything that needs an API call (listing an organization's accounts) belongs in `collect` of a root scope.
* `Collector.collect(scope)` yields `CloudAddress` records and/or child `Scope`s (an account yields its regions).
  Any exception ends that scope only; raise `CollectorError(message, vendor=..., code=...)` with the vendor's error
  code so the summary can say what went wrong. Never put credentials in a message.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator
from typing import Any, ClassVar

from agent.models import CloudAddress, Scope

__all__ = ["COLLECTORS", "Collector", "load_collector"]


class Collector(ABC):
    """Lists one inventory source's public IPs and the region each one lives in."""

    source: ClassVar[str]
    """Name of the source and of its config section: ``aws``, ``gcp``, ``azure``, ``oci``, ``static``, ``ranges``."""

    needs_origin_ips: ClassVar[bool] = False
    """True for sources that classify given IPs instead of enumerating (the published feeds)."""

    @abstractmethod
    def scopes(self) -> Iterable[Scope]:
        """Yield the root scopes of this source."""

    @abstractmethod
    def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
        """Yield the addresses in `scope`, and any child scopes to collect next."""

    def set_origin_ips(self, ips: Collection[str]) -> None:  # noqa: B027 - optional hook
        """Receive the zones' origin IPs (canonical) before `scopes()`; only called when `needs_origin_ips`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and sessions. Called once after the run."""


# source name -> "module:Class". Modules are imported only when their source is configured.
COLLECTORS: dict[str, str] = {
    "static": "agent.collectors.static.collector:StaticCollector",
    "aws": "agent.collectors.aws.collector:AwsCollector",
    "gcp": "agent.collectors.gcp.collector:GcpCollector",
    "azure": "agent.collectors.azure.collector:AzureCollector",
    "oci": "agent.collectors.oci.collector:OciCollector",
    "ranges": "agent.collectors.ranges.collector:RangesCollector",
}


def load_collector(source: str, config: Any) -> Collector:
    """Import the collector for `source` and build it from its config section (``Cls.from_config(config)``)."""
    module_name, _, class_name = COLLECTORS[source].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    collector: Collector = cls.from_config(config)
    return collector
