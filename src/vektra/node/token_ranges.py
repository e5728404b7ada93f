"""Token ranges as the node takes them from routers: half-open [start, end)
spans of the ring, `end` None for "to the top of the ring".

One vectorized membership test serves counts, filter queries and searches
by range: a router gives each node the ranges it answers for, so the node
must keep exactly the objects whose token lies in them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Span", "count_in_ranges", "in_ranges"]

Span = tuple[int, int | None]  # [start, end); end None: to the end of the ring


def in_ranges(tokens: np.ndarray, ranges: Sequence[Span]) -> np.ndarray:
    """Boolean mask: which of the uint64 `tokens` fall in the union of `ranges`."""
    if not len(ranges) or not len(tokens):
        return np.zeros(len(tokens), dtype=bool)
    starts, ends, open_end = _coalesce(ranges)
    tokens = tokens.astype(np.uint64, copy=False)
    # Each token against the last span starting at or before it: after
    # coalescing the spans are disjoint and sorted, so it is the only one that
    # can hold it.
    at = np.searchsorted(starts, tokens, side="right") - 1
    clipped = np.maximum(at, 0)
    inside: np.ndarray = (at >= 0) & ((tokens < ends[clipped]) | open_end[clipped])
    return inside


def count_in_ranges(tokens: np.ndarray, ranges: Sequence[Span]) -> int:
    """How many tokens fall in the union of half-open [start, end) ranges."""
    return int(in_ranges(tokens, ranges).sum())


def _coalesce(ranges: Sequence[Span]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted disjoint spans as (starts, ends, open_end) arrays. Overlapping
    or touching spans are merged, so a caller sending [0, 100) and [10, 20)
    gets their union rather than a lookup that finds only the inner one."""
    top = 1 << 64  # beyond every uint64 token: "to the end of the ring"
    spans = sorted((start, top if end is None else end) for start, end in ranges)
    merged: list[list[int]] = []
    for start, end in spans:
        if start >= end:
            continue  # empty
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged:
        merged = [[0, 0]]  # matches nothing
    starts = np.asarray([s for s, _ in merged], dtype=np.uint64)
    open_end = np.asarray([e >= top for _, e in merged], dtype=bool)
    ends = np.asarray([min(e, top - 1) for _, e in merged], dtype=np.uint64)
    return starts, ends, open_end
