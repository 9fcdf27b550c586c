"""The `static` source: reads inventory files, one scope per file. See `Collector`.

Rows that do not validate are skipped with a warning naming file, row, field and value, and the file's scope is then
reported as failed (after yielding every valid row), so a `sync` run never deletes on the strength of a broken export.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from agent.collectors.base import Collector
from agent.collectors.static.config import StaticConfig
from agent.errors import CollectorError
from agent.ip import InvalidIPError, canonical_ip
from agent.models import CloudAddress, Confidence, Scope, Vendor

__all__ = ["StaticCollector", "parse_row", "read_rows"]

logger = logging.getLogger(__name__)
VENDORS = {v.value for v in Vendor}
REQUIRED_COLUMNS = ("ip", "vendor", "region")


def read_rows(path: Path, fmt: str = "auto") -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Yield (row number, row) from a CSV, JSON or YAML inventory file."""
    if fmt == "auto":
        fmt = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(path.suffix.lower(), "csv")
    if fmt == "csv":
        # utf-8-sig: Excel exports start with a byte-order mark, which would otherwise glue itself to the first header.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            # Headers as people write them: `IP, Vendor, Region` is `ip,vendor,region`.
            reader.fieldnames = [_column(name) for name in reader.fieldnames or ()]
            missing = [name for name in REQUIRED_COLUMNS if name not in reader.fieldnames]
            if missing:
                raise CollectorError(
                    f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                    f"(the header has {', '.join(map(repr, reader.fieldnames)) or 'no columns'}; "
                    f"required: {', '.join(REQUIRED_COLUMNS)})",
                    vendor="static",
                    code="BadInventory",
                )
            # Row numbers count the header as line 1, as a spreadsheet shows them.
            yield from enumerate(reader, start=2)
        return
    with path.open(encoding="utf-8-sig") as handle:
        data = json.load(handle) if fmt == "json" else yaml.safe_load(handle)
    if isinstance(data, Mapping):
        data = data.get("addresses", data.get("inventory"))
    if not isinstance(data, list):
        raise CollectorError(
            f"{path}: expected a list of addresses (or a mapping with key 'addresses')",
            vendor="static",
            code="BadInventory",
        )
    yield from enumerate(data, start=1)


def _column(name: Any) -> str:
    return str(name).strip().lower() if name is not None else ""


def parse_row(row: Mapping[str, Any], *, source: str = "static") -> CloudAddress:
    """Build a record from one row; raise ValueError naming the field and the value."""
    if not isinstance(row, Mapping):
        raise ValueError(f"expected a mapping, got {row!r}")
    row = {_column(k): v for k, v in row.items()}
    try:
        ip = canonical_ip(str(row.get("ip", "")).strip())
    except InvalidIPError as exc:
        raise ValueError(f"field 'ip': {exc}") from None
    vendor = str(row.get("vendor", "")).strip().lower()
    if vendor not in VENDORS:
        raise ValueError(f"field 'vendor': {row.get('vendor')!r} is not one of {', '.join(sorted(VENDORS))}")
    region = str(row.get("region", "")).strip()
    if not region:
        raise ValueError("field 'region': missing or empty")
    return CloudAddress(
        ip=ip,
        vendor=Vendor(vendor),
        region=region,
        account=str(row.get("account") or ""),
        resource_id=str(row.get("resource_id") or ""),
        kind=str(row.get("kind") or "static"),
        source=source,
        confidence=Confidence.STATIC,
    )


class StaticCollector(Collector):
    """See `Collector`. One leaf scope per file."""

    source = "static"

    def __init__(self, files: Iterable[Path], fmt: str = "auto") -> None:
        self.files = tuple(files)
        self.fmt = fmt

    @classmethod
    def from_config(cls, config: StaticConfig) -> StaticCollector:
        return cls(config.files, config.format)

    def scopes(self) -> Iterator[Scope]:
        for path in self.files:
            yield Scope(self.source, (str(path),), context=path)

    def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
        path: Path = scope.context
        bad: list[str] = []
        try:
            for number, row in read_rows(path, self.fmt):
                try:
                    yield parse_row(row, source=self.source)
                except ValueError as exc:
                    bad.append(f"row {number}: {exc}")
                    logger.warning("%s row %d skipped: %s", path, number, exc)
        except (OSError, json.JSONDecodeError, yaml.YAMLError, csv.Error, UnicodeDecodeError) as exc:
            raise CollectorError(f"{path}: cannot read: {exc}", vendor=self.source, code="BadInventory") from exc
        if bad:
            more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
            raise CollectorError(
                f"{path}: {len(bad)} invalid rows: {'; '.join(bad[:3])}{more}", vendor=self.source, code="BadInventory"
            )
