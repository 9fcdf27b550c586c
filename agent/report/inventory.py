"""Rendering of a discovery pass (`discover` command): table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from agent.collectors.runner import Discovery

__all__ = ["render_inventory"]

COLUMNS = ("ip", "vendor", "region", "account", "resource_id", "kind", "source", "confidence", "observed_at")


def _row(record: Any) -> dict[str, str]:
    return {
        "ip": record.ip,
        "vendor": record.vendor.value,
        "region": record.region,
        "account": record.account,
        "resource_id": record.resource_id,
        "kind": record.kind,
        "source": record.source,
        "confidence": record.confidence.value,
        # An inventory engine's observation time (ISO 8601, UTC); empty when the record was read live.
        "observed_at": record.observed_at.isoformat() if record.observed_at else "",
    }


def render_inventory(discovery: Discovery, fmt: str) -> str:
    """Every record, sorted by vendor, region, ip, as table, json, yaml or csv.

    JSON and YAML carry the scope errors in the document; the table and CSV do not (the `discover` command prints
    them on stderr, once, with their hints), the table only counts them in its closing line.
    """
    from agent.report.tables import render_table, to_yaml

    rows = sorted((_row(r) for r in discovery.records), key=lambda r: (r["vendor"], r["region"], r["ip"]))
    errors = [{"scope": e.scope, "error": e.error, "code": e.code, "message": e.message} for e in discovery.errors]
    document = {"addresses": rows, "scope_errors": errors, "complete": discovery.complete}
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    if fmt == "yaml":
        return to_yaml(document)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    lines = [
        render_table([c.upper().replace("_", " ") for c in COLUMNS[:7]], [[r[c] for c in COLUMNS[:7]] for r in rows])
    ]
    failed = f" ({len(errors)} failed: see stderr)" if errors else ""
    lines.append(f"{len(rows)} addresses from {discovery.scopes_done} scopes{failed}")
    return "\n".join(line for line in lines if line) + "\n"
