"""Human rendering of the run summary: what changes, and as plainly, what is missing and why.

Rendered from the summary dict (`summarize`), never from live objects, so text and JSON cannot disagree. A zone is
"up to date" only when nothing is missing: failed discovery scopes, unmatched origins, unsupported regions and
mappings left out over the zone's cap are each listed (long lists folded with a count; `--output json` has them all).
"""

from __future__ import annotations

import re
from typing import Any

from agent.models import Action
from agent.report.hints import cloudflare_hint, scope_hint
from agent.report.tables import render_table

__all__ = ["FOLD", "error_hint", "render_text"]

FOLD = 20  # items shown per list before "… and N more"
_MARK = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-"}
# CloudflareError renders as "message [HTTP 403; code 10000; /zones/…/dns_records]"
_CF_DETAILS = re.compile(r"\[HTTP (?P<status>\d+)(?:; code (?P<codes>[\d,]+))?(?:; (?P<path>[^\]\s]+))?\]")


def error_hint(text: str) -> str:
    """The hint for a Cloudflare error rendered into a summary string, or ""."""
    found = _CF_DETAILS.search(text)
    if not found:
        return ""
    codes = [int(c) for c in (found["codes"] or "").split(",") if c]
    return cloudflare_hint(codes, int(found["status"]), found["path"] or "")


def _fold(items: list[str], total: int, what: str) -> list[str]:
    lines = items[:FOLD]
    if total > FOLD:
        lines.append(f"  … and {total - FOLD} more {what} (all of them in --output json)")
    return lines


def _change_rows(zone: dict[str, Any]) -> list[list[str]]:
    rows = []
    for change in zone["changes"]:
        target = f"{change['vendor']}/{change['region']}"
        action = Action(change["action"])
        if action is Action.UPDATE and change.get("old_region"):
            target = f"{change['old_vendor']}/{change['old_region']} -> {target}"
        status = change["status"] + (f": {change['error']}" if change.get("error") else "")
        rows.append(
            [
                _MARK[action] + " " + action.value,
                change["ip"],
                target,
                change.get("source", ""),
                status,
            ]
        )
    return rows


def _missing(zone: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """What keeps the zone from being fully mapped, each item on its own line."""
    lines: list[str] = []
    origins = zone.get("origins") or {}
    unmatched = zone["unmatched"]
    if unmatched:
        lines.append(f"  unmatched origins ({len(unmatched)}): no inventory source knows these IPs")
        items = [f"    {ip}  <- {', '.join(origins.get(ip) or ['?'])}" for ip in unmatched]
        lines += _fold(items, len(items), "unmatched origins")
    if zone["unsupported"]:
        lines.append(f"  unsupported ({len(zone['unsupported'])}): not in the zone's supported regions, not mapped")
        items = [f"    {u['ip']}  {u['vendor']}/{u['region']}" for u in zone["unsupported"]]
        lines += _fold(items, len(items), "unsupported")
    over_cap = zone.get("over_cap") or []
    if over_cap:
        lines.append(f"  over the zone's mapping cap ({len(over_cap)}): new mappings left out")
        lines += _fold([f"    {ip}" for ip in over_cap], len(over_cap), "over-cap IPs")
    for item in zone["ambiguous"][:FOLD]:
        claims = "; ".join(f"{c['vendor']}/{c['region']} ({', '.join(c['sources'])})" for c in item["candidates"])
        lines.append(f"  ambiguous: {item['ip']}: {claims}")
    for item in zone["drift"][:FOLD]:
        lines.append(
            f"  drift kept (policy {summary['policy']}): {item['ip']} is {item['old_vendor']}/"
            f"{item['old_region']}, inventory says {item['vendor']}/{item['region']}"
        )
    for item in zone["disagreements"][:FOLD]:
        feeds = "; ".join(f"{f['vendor']}/{f['region']}" for f in item["feed"])
        lines.append(
            f"  feed disagrees: {item['ip']}: account says {item['chosen']['vendor']}/"
            f"{item['chosen']['region']}, feed says {feeds}"
        )
    for item in zone.get("outdated", [])[:FOLD]:
        lines.append(
            f"  withheld {item['action']}: {item['ip']}: the mapping changed after the inventory engine last "
            "looked (its data is older than the mapping's modified_on)"
        )
    for conflict in zone["conflicts"]:
        lines.append(f"  conflict: {conflict['ip']}: {conflict.get('error', '')}")
    for warning in zone["warnings"][:FOLD]:
        lines.append(f"  warning: {warning}")
    return lines


def _discovery(summary: dict[str, Any]) -> list[str]:
    disc = summary["discovery"]
    lines: list[str] = []
    if disc["sources"]:
        parts = [
            f"{s} {v['addresses']} addresses" + (f" ({v['scope_errors']} failed scopes)" if v["scope_errors"] else "")
            for s, v in disc["sources"].items()
        ]
        lines.append(f"Discovery: {', '.join(parts)}; {disc['scopes']} scopes")
    errors = disc["scope_errors"]
    if errors:
        lines.append(f"Failed scopes ({len(errors)}): their addresses are missing from this plan")
        rows = [
            [e["scope"], e["code"] or e["error"], e["message"], scope_hint(e["scope"], e["code"] or e["error"])]
            for e in errors
        ]
        lines.append(render_table(["SCOPE", "CODE", "ERROR", "HINT"], rows, indent=2))
    if disc.get("skipped_scopes"):
        lines.append(f"Skipped scopes ({len(disc['skipped_scopes'])}): not started for lack of time")
    return lines


def _fatal(summary: dict[str, Any]) -> bool:
    """A run that stopped before any zone was planned: its error is the whole story."""
    return summary["exit_code"] in (2, 3) and not summary["zones"] and not summary["discovery"]["scopes"]


def render_text(summary: dict[str, Any], *, already_said: frozenset[str] = frozenset()) -> str:
    """Render a summary dict (`RunOutcome.to_dict()`) for people.

    `already_said` holds error texts the log lines on stderr already showed (the CLI passes them) so a terminal does
    not print the same error twice. A run that failed before it started renders only its errors, with hints.
    """
    errors: list[str] = []
    for error in summary["errors"]:
        hint = error_hint(error)
        if not any(error in said for said in already_said):  # else a log line on stderr showed it: only the hint
            errors.append(f"error: {error}")
        if hint:
            errors.append(f"hint: {hint}")
    if _fatal(summary):
        return "\n".join(errors)
    lines: list[str] = []
    mode = "dry run (nothing written)" if summary["dry_run"] else "applied"
    lines.append(f"origin-region-agent: policy {summary['policy']}, API {summary['api_family']}, {mode}")
    lines += _discovery(summary)
    discovery_complete = summary["discovery"]["complete"] or not summary["discovery"]["scopes"]
    for zone in summary["zones"]:
        lines.append("")
        lines.append(
            f"Zone {zone['zone']} ({zone['zone_id']})" + ("" if zone["complete"] else "  [incomplete: no deletes]")
        )
        if zone["error"]:
            lines.append(f"  ! {zone['error']}")
            hint = error_hint(zone["error"])
            if hint:
                lines.append(f"    hint: {hint}")
        rows = _change_rows(zone)
        if rows:
            lines.append(render_table(["ACTION", "IP", "VENDOR/REGION", "SOURCE", "STATUS"], rows, indent=2))
        missing = _missing(zone, summary)
        if not rows and not zone["error"]:
            if missing or not discovery_complete or not zone["complete"]:
                lines.append("  no changes planned, but the picture is incomplete (see below)")
            else:
                lines.append("  no changes: all mappings are up to date")
        lines.append(
            f"  origins {zone['origin_ips']}, matched {zone['matched']}, unchanged {zone['unchanged']}, "
            f"unmatched {len(zone['unmatched'])}, unsupported {len(zone['unsupported'])}, "
            f"over cap {len(zone.get('over_cap') or [])}, ambiguous {len(zone['ambiguous'])}, "
            f"global {len(zone['global'])}, failed {len(zone['failed'])}"
        )
        lines += missing
    lines.append("")
    lines += errors
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
