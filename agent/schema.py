"""Base class for every configuration model: unknown keys are errors, values are frozen after validation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """A pydantic model that refuses unknown keys (a typo must not silently disable a setting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
