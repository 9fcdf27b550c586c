"""Human rendering of the run summary: one table per zone, discovery problems, and a closing line."""

from __future__ import annotations

from typing import Any

from agent.models import Action

__all__ = ["render_text"]

_MARK = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-"}


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return ["  " + fmt.format(*header).rstrip()] + ["  " + fmt.format(*map(str, r)).rstrip() for r in rows]


def render_text(summary: dict[str, Any], *, max_rows: int = 200) -> str:
    """Render a summary dict (`RunReport.to_dict()`) for a terminal."""
    lines: list[str] = []
    mode = "dry run (nothing written)" if summary["dry_run"] else "applied"
    lines.append(f"origin-region-agent: policy {summary['policy']}, API {summary['api_family']}, {mode}")
    disc = summary["discovery"]
    if disc["sources"]:
        parts = [
            f"{s} {v['addresses']} addresses" + (f" ({v['scope_errors']} scope errors)" if v["scope_errors"] else "")
            for s, v in disc["sources"].items()
        ]
        lines.append(f"Discovery: {', '.join(parts)}; {disc['scopes']} scopes")
    for err in disc["scope_errors"]:
        lines.append(f"  ! {err['scope']}: {err['error']} {err['code']}: {err['message']}".rstrip())
    for zone in summary["zones"]:
        lines.append("")
        lines.append(
            f"Zone {zone['zone']} ({zone['zone_id']})" + ("" if zone["complete"] else "  [incomplete: no deletes]")
        )
        if zone["error"]:
            lines.append(f"  ! {zone['error']}")
        rows = []
        for change in zone["changes"][:max_rows]:
            region = change["region"]
            action = Action(change["action"])
            if change.get("old_region") and action is Action.UPDATE:
                region = f"{change['old_vendor']}/{change['old_region']} -> {change['vendor']}/{change['region']}"
            else:
                region = f"{change['vendor']}/{region}"
            rows.append(
                [
                    _MARK[action] + " " + action.value,
                    change["ip"],
                    region,
                    change.get("source", "")[:48],
                    change["status"] + (f": {change['error']}" if change.get("error") else ""),
                ]
            )
        if rows:
            lines.extend(_table(rows, ["ACTION", "IP", "VENDOR/REGION", "SOURCE", "STATUS"]))
            if len(zone["changes"]) > max_rows:
                lines.append(f"  … and {len(zone['changes']) - max_rows} more (see --output json)")
        else:
            lines.append("  no changes: all mappings are up to date" if not zone["error"] else "")
        lines.append(
            f"  origins {zone['origin_ips']}, matched {zone['matched']}, unchanged {zone['unchanged']}, "
            f"unmatched {len(zone['unmatched'])}, unsupported {len(zone['unsupported'])}, "
            f"ambiguous {len(zone['ambiguous'])}, global {len(zone['global'])}, failed {len(zone['failed'])}"
        )
        for item in zone["unsupported"][:20]:
            lines.append(
                f"  unsupported: {item['ip']} {item['vendor']}/{item['region']} is not in the zone's supported regions"
            )
        for item in zone["ambiguous"][:20]:
            claims = "; ".join(f"{c['vendor']}/{c['region']} ({', '.join(c['sources'])})" for c in item["candidates"])
            lines.append(f"  ambiguous: {item['ip']}: {claims}")
        for item in zone["drift"][:20]:
            lines.append(
                f"  drift kept (policy {summary['policy']}): {item['ip']} is {item['old_vendor']}/"
                f"{item['old_region']}, inventory says {item['vendor']}/{item['region']}"
            )
        for item in zone.get("outdated", [])[:20]:
            lines.append(
                f"  withheld {item['action']}: {item['ip']}: the mapping changed after the inventory engine last "
                "looked (its data is older than the mapping's modified_on)"
            )
        for item in zone["disagreements"][:20]:
            feeds = "; ".join(f"{f['vendor']}/{f['region']}" for f in item["feed"])
            lines.append(
                f"  feed disagrees: {item['ip']}: account says {item['chosen']['vendor']}/"
                f"{item['chosen']['region']}, feed says {feeds}"
            )
        for conflict in zone["conflicts"]:
            lines.append(f"  conflict: {conflict['ip']}: {conflict.get('error', '')}")
        for warning in zone["warnings"][:20]:
            lines.append(f"  warning: {warning}")
    lines.append("")
    for error in summary["errors"]:
        lines.append(f"error: {error}")
    totals = summary["totals"]
    counts = (
        f"{totals.get('created', 0)} created, {totals.get('updated', 0)} updated, {totals.get('deleted', 0)} deleted"
    )
    if summary["dry_run"]:
        counts = f"would be {counts} (dry run)"
    lines.append(
        f"Summary: {counts}; {totals.get('unchanged', 0)} unchanged, {totals.get('failed', 0)} failed; "
        f"exit code {summary['exit_code']}"
    )
    return "\n".join(lines)
