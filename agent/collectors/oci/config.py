"""Config section `inventory.oci`. Imports no SDK: it is loaded for every run that validates a config."""

from __future__ import annotations

from agent.schema import StrictModel

__all__ = ["OciConfig"]


class OciConfig(StrictModel):
    """Settings of the `oci` inventory source (filled in by its collector)."""
