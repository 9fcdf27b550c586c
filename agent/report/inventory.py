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
    """Every record, sorted by vendor, region, ip; scope errors go to the JSON document or a trailing table."""
    rows = sorted((_row(r) for r in discovery.records), key=lambda r: (r["vendor"], r["region"], r["ip"]))
    errors = [{"scope": e.scope, "error": e.error, "code": e.code, "message": e.message} for e in discovery.errors]
    if fmt == "json":
        return json.dumps({"addresses": rows, "scope_errors": errors, "complete": discovery.complete}, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in COLUMNS[:7]}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS[:7]).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS[:7]).rstrip() for r in rows]
    lines.append(f"{len(rows)} addresses from {discovery.scopes_done} scopes")
    lines += [f"! {e['scope']}: {e['error']} {e['code']}: {e['message']}" for e in errors]
    return "\n".join(lines) + "\n"
