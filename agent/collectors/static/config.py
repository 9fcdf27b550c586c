"""Config section `inventory.static`: inventory files (CMDB exports) with ip, vendor, region per row."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from agent.schema import StrictModel

__all__ = ["StaticConfig"]


class StaticConfig(StrictModel):
    """One or more CSV/JSON/YAML files. Columns/keys: ip, vendor, region, and optionally account, resource_id, kind."""

    path: Path | None = None
    paths: tuple[Path, ...] = ()
    format: Literal["auto", "csv", "json", "yaml"] = "auto"

    @model_validator(mode="after")
    def _one_file_at_least(self) -> StaticConfig:
        if self.path is None and not self.paths:
            raise ValueError("give `path` or `paths`")
        return self

    @property
    def files(self) -> tuple[Path, ...]:
        return ((self.path,) if self.path else ()) + self.paths
