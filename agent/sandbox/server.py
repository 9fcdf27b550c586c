"""Running a fake's HTTP server in the background, the same way for every fake."""

from __future__ import annotations

import socketserver
import threading

__all__ = ["serve_in_background", "stop_serving"]

POLL_INTERVAL_S = 0.05  # how quickly `shutdown` is noticed


def serve_in_background(server: socketserver.BaseServer, name: str) -> threading.Thread:
    """Run `server.serve_forever` on a daemon thread named `name` and return the thread."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, name=name,
                              daemon=True)  # fmt: skip
    thread.start()
    return thread


def stop_serving(server: socketserver.BaseServer, thread: threading.Thread | None = None) -> None:
    """Stop the loop, close the listening socket, and wait briefly for the thread."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)
