"""Longest-prefix (really: highest-ranked-prefix) lookup of an IP address across the four clouds' feeds.

Design: at build time the overlapping prefixes are flattened, by rank (see `agent.feeds.parse`), into sorted,
non-overlapping intervals per IP version; a lookup is one ``inet_pton``, one ``int.from_bytes`` and one ``bisect``.
CIDR blocks are always nested or disjoint, so the flattening is one sweep with a stack: the winner at a point is the
best-ranked block on the stack, which each pushed block computes from its parent in O(1).
"""

from __future__ import annotations

import gc
import ipaddress
import socket
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from agent.feeds.models import FeedEntry, RangeMatch
from agent.ip import canonical_ip
from agent.models import Vendor

__all__ = ["RangeIndex", "RangeMatch"]

_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6
_inet_pton = socket.inet_pton
_MAPPED_V4 = 0xFFFF << 32


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building: 100,000+ new objects next to a large decoded JSON document would otherwise
    trigger repeated full collections that scan all of it (none of these objects form cycles)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class _Table:
    """Sorted non-overlapping ``[starts[i], ends[i]]`` intervals of one IP version, with their answers."""

    starts: list[int]
    ends: list[int]
    matches: list[RangeMatch]


def _sort_key(entry: FeedEntry) -> tuple[int, int]:
    return entry.start, -entry.end


def _flatten(entries: list[FeedEntry]) -> _Table:
    # Parents before children: by start, then the wider block first. The sort is stable, so identical blocks stay in
    # feed order and, since a child must rank strictly higher to win, the earliest of equals wins a full tie.
    entries.sort(key=_sort_key)
    starts: list[int] = []
    ends: list[int] = []
    matches: list[RangeMatch] = []

    def emit(lo: int, hi: int, match: RangeMatch) -> None:
        if lo > hi:
            return
        if matches and matches[-1] is match and ends[-1] + 1 == lo:
            ends[-1] = hi  # a lower-ranked child split its parent: glue the parent's pieces back together
            return
        starts.append(lo)
        ends.append(hi)
        matches.append(match)

    stack: list[tuple[int, tuple[int, int, int], RangeMatch]] = []  # (end, winning rank, winning match)
    cursor = 0
    for entry in entries:
        start, end, rank, match = entry.start, entry.end, entry.rank, entry.match
        while stack and stack[-1][0] < start:
            top_end, _, top_match = stack.pop()
            emit(cursor, top_end, top_match)
            cursor = top_end + 1
        if stack:
            emit(cursor, start - 1, stack[-1][2])
            if stack[-1][1] >= rank:
                rank, match = stack[-1][1], stack[-1][2]
        cursor = start
        stack.append((end, rank, match))
    while stack:
        top_end, _, top_match = stack.pop()
        emit(cursor, top_end, top_match)
        cursor = top_end + 1
    return _Table(starts, ends, matches)


class RangeIndex:
    """Maps any IPv4/IPv6 address to the best `RangeMatch` of the loaded feeds, or None.

    Build with `RangeIndex.from_feeds` (decoded feed documents) or `RangeIndex.from_entries`. Immutable after
    construction, so one index can serve many threads.
    """

    __slots__ = ("_v4", "_v6", "entry_count", "vendors")

    def __init__(self, v4: _Table, v6: _Table, *, vendors: Iterable[Vendor], entry_count: int) -> None:
        self._v4 = v4
        self._v6 = v6
        self.vendors: frozenset[Vendor] = frozenset(vendors)
        self.entry_count = entry_count

    @classmethod
    def from_entries(cls, entries: Iterable[FeedEntry], *, vendors: Iterable[Vendor] = ()) -> RangeIndex:
        """Build from parsed entries of any number of feeds. On a full rank tie the earlier entry wins."""
        with gc_paused():
            items = list(entries)
            v4 = [e for e in items if e.version == 4]
            v6 = [e for e in items if e.version != 4]
            seen = set(vendors) | {e.match.vendor for e in items}
            return cls(_flatten(v4), _flatten(v6), vendors=seen, entry_count=len(items))

    @classmethod
    def from_feeds(cls, feeds: Mapping[Vendor | str, Any]) -> RangeIndex:
        """Build from decoded feed documents, e.g. ``{"aws": json.load(f), "gcp": ...}``. Raises `FeedError`."""
        from agent.feeds.parse import parse_feed

        entries: list[FeedEntry] = []
        with gc_paused():
            for vendor, doc in feeds.items():
                entries.extend(parse_feed(Vendor(vendor), doc))
        return cls.from_entries(entries, vendors=(Vendor(v) for v in feeds))

    @classmethod
    def merge(cls, parts: Mapping[Vendor, list[FeedEntry]]) -> RangeIndex:
        """Build from already-parsed entries per vendor (what `agent.feeds.load_index` does)."""
        return cls.from_entries((e for entries in parts.values() for e in entries), vendors=parts)

    def lookup(self, ip_text: str) -> RangeMatch | None:
        """The best feed match of one address given as text, or None when no loaded feed contains it.

        Accepts exactly what `agent.ip.canonical_ip` accepts and raises its `InvalidIPError` otherwise. An
        IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is looked up as its IPv4 address.
        """
        try:
            if ":" in ip_text:
                value = int.from_bytes(_inet_pton(_AF_INET6, ip_text), "big")
                if value >> 32 == 0xFFFF:
                    value &= 0xFFFFFFFF
                    table = self._v4
                else:
                    table = self._v6
            else:
                value = int.from_bytes(_inet_pton(_AF_INET, ip_text), "big")
                table = self._v4
        except (OSError, TypeError, ValueError, UnicodeError):
            # canonical_ip raises InvalidIPError naming the value and the reason; should it accept a spelling that
            # inet_pton refused, the slow path below still answers correctly.
            address = ipaddress.ip_address(canonical_ip(ip_text))
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            return self.lookup_int(address.version, int(address))
        i = bisect_right(table.starts, value) - 1
        if i >= 0 and value <= table.ends[i]:
            return table.matches[i]
        return None

    def lookup_int(self, version: int, value: int) -> RangeMatch | None:
        """The best match of an address given as its integer value (tests and bulk callers)."""
        table = self._v4 if version == 4 else self._v6
        i = bisect_right(table.starts, value) - 1
        if i >= 0 and value <= table.ends[i]:
            return table.matches[i]
        return None

    @property
    def interval_count(self) -> int:
        """Number of flattened intervals (IPv4 + IPv6)."""
        return len(self._v4.starts) + len(self._v6.starts)

    def __repr__(self) -> str:
        vendors = ",".join(sorted(self.vendors))
        return f"RangeIndex(vendors={vendors}, entries={self.entry_count}, intervals={self.interval_count})"
