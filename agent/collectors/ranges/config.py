"""Config section `inventory.ranges`. Imports no SDK: it is loaded for every run that validates a config."""

from __future__ import annotations

from agent.schema import StrictModel

__all__ = ["RangesConfig"]


class RangesConfig(StrictModel):
    """Settings of the `ranges` inventory source (filled in by its collector)."""
