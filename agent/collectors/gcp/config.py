"""Config section `inventory.gcp`. Imports no SDK: it is loaded for every run that validates a config."""

from __future__ import annotations

from agent.schema import StrictModel

__all__ = ["GcpConfig"]


class GcpConfig(StrictModel):
    """Settings of the `gcp` inventory source (filled in by its collector)."""
