"""The search planner is a pure decision over counts: no index needed."""

from __future__ import annotations

import pytest

from vektra.node.search_planner import Strategy, plan_search


@pytest.mark.parametrize(
    ("k", "live", "candidates", "expected"),
    [
        (10, 0, None, Strategy.EMPTY),
        (0, 500, None, Strategy.EMPTY),
        (10, 500, 0, Strategy.EMPTY),
        (10, 100, None, Strategy.EXACT),  # small index: a scan beats a graph walk
        (10, 101, None, Strategy.HNSW),
        (10, 5000, 100, Strategy.EXACT),  # few matches: scan just those
        (10, 5000, 1499, Strategy.HNSW_FILTERED),
        (10, 5000, 1500, Strategy.HNSW_POST_FILTER),  # most match: oversample, drop the rest
    ],
)
def test_plan_by_counts(k: int, live: int, candidates: int | None, expected: Strategy) -> None:
    got = plan_search(k, live, candidates, exact_search_max=100, post_filter_min_share=0.3)
    assert got is expected
