"""Which way a node answers a vector search: a pure decision over counts.

    no filter      exact scan if the index is small, else HNSW
    filter         exact scan if few objects match (numpy over just those),
                   oversampled HNSW + post-filter if most of them do,
                   HNSW with an allow-filter in between

An exact scan over a few thousand vectors is both exact and faster than a
graph walk; an allow-filter makes hnswlib call back into Python for every
visited node, which pays only when the filter rejects much of the graph; a
post-filter wastes little when most of what HNSW returns matches anyway.

A search over several parts of a node's copies (replica positions, whole
or by token range: `node.search`) plans each part on its own: `live` is
the size of that part's index, `candidates` how many of its objects the
filter and the ranges leave.

The strategy is reported to the caller (`SearchPlan.strategy`, EXPLAIN). A
strategy that cannot fill k (hnswlib gives up on a graph with many deletions)
falls back to an exact scan, reported as `exact_fallback` (`node.search`).
"""

from __future__ import annotations

import enum

__all__ = ["Strategy", "plan_search"]


class Strategy(enum.Enum):
    EMPTY = "empty"  # nothing can match: no work at all
    EXACT = "exact"
    HNSW = "hnsw"
    HNSW_FILTERED = "hnsw_filtered"  # allow-filter inside the graph walk
    HNSW_POST_FILTER = "hnsw_post_filter"  # oversample, then drop non-matches
    EXACT_FALLBACK = "exact_fallback"  # chosen by the executor, never planned


def plan_search(
    k: int,
    live: int,
    candidates: int | None,
    *,
    exact_search_max: int,
    post_filter_min_share: float,
) -> Strategy:
    """live: vectors in the index; candidates: how many of them match the
    filter (None: no filter)."""
    n = live if candidates is None else candidates
    if min(k, n) == 0:
        return Strategy.EMPTY
    if n <= exact_search_max:
        return Strategy.EXACT
    if candidates is None:
        return Strategy.HNSW
    if candidates >= post_filter_min_share * live:
        return Strategy.HNSW_POST_FILTER
    return Strategy.HNSW_FILTERED
