"""The clouds' published IP-range feeds: vendor + region of any address, with no cloud credentials.

Public API (imported lazily, so ``import agent.feeds`` costs nothing):

* `load_index(config) -> RangeIndex`: fetch/cache/parse every enabled feed of a `RangesConfig` (see `agent.feeds.load`);
* `RangeIndex.lookup(ip_text) -> RangeMatch | None`, `RangeIndex.from_feeds({"aws": doc, ...})` (`agent.feeds.index`);
* `FeedError`: a feed that could not be loaded (a `CollectorError`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.feeds.errors import FeedError
    from agent.feeds.index import RangeIndex
    from agent.feeds.load import FeedLoader, load_index
    from agent.feeds.models import RangeMatch

__all__ = ["FeedError", "FeedLoader", "RangeIndex", "RangeMatch", "load_index"]

_LAZY = {
    "FeedError": "agent.feeds.errors",
    "FeedLoader": "agent.feeds.load",
    "RangeIndex": "agent.feeds.index",
    "RangeMatch": "agent.feeds.models",
    "load_index": "agent.feeds.load",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
