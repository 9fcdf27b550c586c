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
from dataclasses import dataclass
from typing import Any, ClassVar

from agent.errors import ConfigError
from agent.models import CloudAddress, Scope

__all__ = ["SOURCES", "Collector", "MissingExtra", "Source", "load_collector"]


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


@dataclass(frozen=True, slots=True)
class Source:
    """One inventory source, declared once: everything that needs to know the sources reads `SOURCES`.

    `config_model` and `collector` are ``"module:Class"`` paths: the config model imports no SDK (it is loaded for
    every config that is validated); the collector module imports the SDK and is loaded only when its section is
    configured. `extra` is the pip extra that brings the SDK (None: nothing beyond the base install).
    """

    name: str
    title: str
    config_model: str
    collector: str
    extra: str | None = None

    @property
    def install_hint(self) -> str:
        return f"pip install 'origin-region-agent[{self.extra}]'" if self.extra else "pip install origin-region-agent"

    def config_class(self) -> type[Any]:
        return _import(self.config_model)

    def collector_class(self) -> type[Collector]:
        return _import(self.collector)


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            "static",
            "Static inventory",
            "agent.collectors.static.config:StaticConfig",
            "agent.collectors.static.collector:StaticCollector",
        ),
        Source(
            "aws", "AWS", "agent.collectors.aws.config:AwsConfig", "agent.collectors.aws.collector:AwsCollector", "aws"
        ),
        Source(
            "gcp",
            "Google Cloud",
            "agent.collectors.gcp.config:GcpConfig",
            "agent.collectors.gcp.collector:GcpCollector",
            "gcp",
        ),
        Source(
            "azure",
            "Azure",
            "agent.collectors.azure.config:AzureConfig",
            "agent.collectors.azure.collector:AzureCollector",
            "azure",
        ),
        Source(
            "oci", "OCI", "agent.collectors.oci.config:OciConfig", "agent.collectors.oci.collector:OciCollector", "oci"
        ),
        Source(
            "ranges",
            "Published IP-range feeds",
            "agent.feeds.config:RangesConfig",
            "agent.collectors.ranges.collector:RangesCollector",
        ),
    )
}
"""Every inventory source, in the order the config documents them. Add a source here and nowhere else."""


class MissingExtra(ConfigError):
    """A configured source whose SDK is not installed: names the extra that brings it."""


def load_collector(source: str, config: Any) -> Collector:
    """Import the collector for `source` and build it from its config section (``Cls.from_config(config)``).

    `MissingExtra` (a `ConfigError`) when the source's SDK is not installed, naming the pip extra to install.
    """
    spec = SOURCES[source]
    try:
        cls = spec.collector_class()
    except ImportError as exc:
        raise MissingExtra(
            f"inventory.{source} needs the {spec.extra or 'base'!r} extra: {spec.install_hint} "
            f"({exc.name or exc} is not installed)"
        ) from None
    collector: Collector = cls.from_config(config)  # type: ignore[attr-defined]
    return collector
