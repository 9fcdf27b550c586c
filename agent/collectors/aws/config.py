"""Config section `inventory.aws`. Imports no SDK: it is loaded for every run that validates a config."""

from __future__ import annotations

from agent.schema import StrictModel

__all__ = ["AwsConfig"]


class AwsConfig(StrictModel):
    """Settings of the `aws` inventory source (filled in by its collector)."""
