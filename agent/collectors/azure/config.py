"""Config section `inventory.azure`. Imports no SDK: it is loaded for every run that validates a config."""

from __future__ import annotations

from agent.schema import StrictModel

__all__ = ["AzureConfig"]


class AzureConfig(StrictModel):
    """Settings of the `azure` inventory source (filled in by its collector)."""
