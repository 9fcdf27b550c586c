"""Tables and row formats shared by every command: rich tables with headers, CSV, JSON and YAML.

On a terminal a table fits the terminal's width by folding long cells onto more lines (nothing is cut). Anywhere
else (a pipe, a file, a CI log) every cell is printed whole on one line, so `grep` and `cut` see full values.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TABLE_FORMATS", "render_rows", "render_table", "to_yaml"]

TABLE_FORMATS = ("table", "json", "csv", "yaml")


def _terminal_width() -> int | None:
    """The terminal's width when stdout is one, else None (no limit)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((120, 24)).columns


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, width: int | None = None, indent: int = 0
) -> str:
    """A headed table as text. `width` None means: the terminal's width on a terminal, unlimited otherwise."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    width = width if width is not None else _terminal_width()
    folding = width is not None
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False, header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold" if folding else "ignore", no_wrap=not folding)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    buffer = io.StringIO()
    room = (width - indent) if width is not None else 100_000
    console = Console(file=buffer, width=max(room, 40), color_system=None, force_terminal=False, highlight=False)
    console.print(table, markup=False, crop=False)
    pad = " " * indent
    return "\n".join(pad + line.rstrip() for line in buffer.getvalue().splitlines() if line.strip())


def to_yaml(document: Any) -> str:
    import yaml

    return str(yaml.safe_dump(json.loads(json.dumps(document, default=str)), sort_keys=False, allow_unicode=True))


def render_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str, *, document: Any = None) -> str:
    """`rows` in one of `TABLE_FORMATS`; JSON and YAML print `document` when given (else the rows). Ends with \\n."""
    if fmt == "json":
        return json.dumps(rows if document is None else document, indent=2, default=str) + "\n"
    if fmt == "yaml":
        return to_yaml(rows if document is None else document)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    text = render_table([c.upper().replace("_", " ") for c in columns], [[r.get(c, "") for c in columns] for r in rows])
    return text + "\n" if text else ""
