"""Progress on a terminal: one live status line on stderr (rich), nothing anywhere else.

`progress_display` runs the live line for the length of a `with` block; `status(text)` updates it from any stage
(discovery, zone listing, writes) and does nothing when no display runs, so stages call it unconditionally. While the
display runs, rich swaps `sys.stderr` for a proxy that prints each complete line above the live line; the log handler
writes to whatever `sys.stderr` is at the time (`agent.logs`), so log lines and the status never interleave.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["progress_display", "status"]

_lock = threading.Lock()
_active: tuple[Any, Any] | None = None  # (rich Progress, its task id)
_stage = ""  # the text before the first ":" of the last status: a new stage is drawn at once


@contextmanager
def progress_display(enabled: bool, description: str = "working") -> Iterator[bool]:
    """Show a live status line on stderr while the block runs, when `enabled` and stderr is a terminal.

    Yields whether a display is shown. Nested uses share the outer display.
    """
    global _active
    if not enabled or not sys.stderr.isatty() or _active is not None:
        yield _active is not None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr, highlight=False)
    display = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        TimeElapsedColumn(),
        console=console,
        transient=True,  # the live line disappears at the end; the log lines printed above it stay
        redirect_stderr=True,
        redirect_stdout=False,
    )
    with display:
        with _lock:
            _active = (display, display.add_task(description, total=None))
        try:
            yield True
        finally:
            with _lock:
                _active = None


def status(text: str) -> None:
    """Set the live line's text (no-op without a display).

    The line is redrawn ten times a second; the first status of a new stage (``discovery``, ``zone example.com``…)
    is drawn at once, so even a stage shorter than that shows up.
    """
    global _stage
    with _lock:
        if _active is not None:
            display, task = _active
            stage = text.split(":", 1)[0]
            display.update(task, description=text, refresh=stage != _stage)
            _stage = stage
