"""Config section `inventory.ranges`: defined with the feeds (`agent.feeds.config`), re-exported for this source."""

from agent.feeds.config import AzureDiscoveryConfig, RangesConfig, default_cache_dir

__all__ = ["AzureDiscoveryConfig", "RangesConfig", "default_cache_dir"]
