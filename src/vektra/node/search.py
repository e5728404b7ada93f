"""Vector search on one node: run the plan `node.search_planner` picks, for a
whole batch of query rows at once, and turn labels into records.

Every row of a batch shares one filter, one candidate set and one strategy;
the records of all hits are read in one pass (rows of a batch repeat
neighbours). Distances are as hnswlib defines them and clamped to the
metric's range where they are made (`node.vector_index`), so whichever path
answers, none is below 0: float32 rounding can leave an identical vector a
few ulps above 0 (cosine), never below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vektra.common import filters
from vektra.common.schema import VectorSpec
from vektra.node.config import EngineConfig
from vektra.node.open_collections import OpenCollection
from vektra.node.query import matching
from vektra.node.records import Record
from vektra.node.search_planner import Strategy, plan_search
from vektra.node.store import Store
from vektra.node.vector_index import VectorIndex, exact_distances

__all__ = ["Hit", "SearchResult", "search"]

# Labels and distances per query row (rows may be shorter than k when fewer match).
_Rows = tuple[list[np.ndarray], list[np.ndarray]]


@dataclass(frozen=True, slots=True)
class Hit:
    record: Record
    distance: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Hit]
    strategy: str
    candidates: int


def search(
    store: Store,
    coll: OpenCollection,
    spec: VectorSpec,
    queries: np.ndarray,
    k: int,
    ef: int | None,
    flt: filters.Filter,
    config: EngineConfig,
) -> list[SearchResult]:
    """k nearest live objects for each row of `queries` (one filter for all)."""
    index = coll.indexes[spec.name]
    ef = ef or spec.hnsw.ef
    found = matching(store, coll, flt)
    candidates = (
        None
        if found is None
        else np.fromiter((d for d in found if index.is_live(d)), dtype=np.uint64)
    )
    n = index.live_count if candidates is None else len(candidates)
    strategy = plan_search(
        k,
        index.live_count,
        None if candidates is None else n,
        exact_search_max=config.exact_search_max,
        post_filter_min_share=config.post_filter_min_share,
    )
    if strategy is Strategy.EMPTY:
        return [SearchResult([], strategy.value, 0) for _ in range(len(queries))]
    k_eff = min(k, n)
    strategy, (labels, dists) = _run(strategy, index, candidates, queries, k_eff, ef)
    wanted = sorted({int(x) for lab in labels for x in lab})
    records = dict(zip(wanted, store.records.by_docnos(coll.meta, wanted), strict=True))
    return [
        SearchResult(_hits(records, lab, dis), strategy.value, n)
        for lab, dis in zip(labels, dists, strict=True)
    ]


def _run(
    strategy: Strategy,
    index: VectorIndex,
    candidates: np.ndarray | None,
    queries: np.ndarray,
    k: int,
    ef: int,
) -> tuple[Strategy, _Rows]:
    """Labels and distances by `strategy`, or by an exact scan when HNSW cannot
    find k (hnswlib raises RuntimeError then)."""
    if strategy is Strategy.EXACT:
        return strategy, _exact(index, _pool(index, candidates), queries, k)
    try:
        match strategy:
            case Strategy.HNSW:
                lab, dis = index.knn(queries, k, ef)
                return strategy, (list(lab), list(dis))
            case Strategy.HNSW_FILTERED:
                assert candidates is not None
                allowed = set(candidates.tolist())
                lab, dis = index.knn(queries, k, ef, allow=allowed.__contains__)
                return strategy, (list(lab), list(dis))
            case Strategy.HNSW_POST_FILTER:
                assert candidates is not None
                return strategy, _post_filter(index, candidates, queries, k, ef)
    except RuntimeError:
        return Strategy.EXACT_FALLBACK, _exact(index, _pool(index, candidates), queries, k)
    raise AssertionError(strategy)


def _pool(index: VectorIndex, candidates: np.ndarray | None) -> np.ndarray:
    # Listing every live label costs a copy of the set: only exact scans need it.
    if candidates is not None:
        return candidates
    return np.fromiter(index.live_labels(), dtype=np.uint64)


def _hits(records: dict[int, Record | None], labels: np.ndarray, dists: np.ndarray) -> list[Hit]:
    # A docno deleted since the index answered has no record: skip it.
    found = ((records.get(int(x)), float(d)) for x, d in zip(labels, dists, strict=True))
    return [Hit(rec, d) for rec, d in found if rec is not None]


def _exact(index: VectorIndex, labels: np.ndarray, queries: np.ndarray, k: int) -> _Rows:
    # Labels deleted since they were listed are skipped (read under one lock).
    labels, stored = index.live_vectors(labels)
    out_l, out_d = [], []
    for q in queries:
        d = exact_distances(index.spec.metric, stored, q.astype(np.float32, copy=False))
        top = np.argpartition(d, k - 1)[:k] if k < len(d) else np.arange(len(d))
        top = top[np.argsort(d[top], kind="stable")]
        out_l.append(labels[top])
        out_d.append(d[top])
    return out_l, out_d


def _post_filter(
    index: VectorIndex, candidates: np.ndarray, queries: np.ndarray, k: int, ef: int
) -> _Rows:
    """Oversample HNSW and drop non-matches, widening until every row has k.
    RuntimeError when HNSW cannot (the caller falls back to an exact scan)."""
    allowed = set(candidates.tolist())
    total = index.live_count
    want = min(total, math.ceil(k * total / len(candidates) * 1.5) + 8)
    while True:
        lab, dis = index.knn(queries, want, max(ef, want))
        out_l, out_d = [], []
        for row_l, row_d in zip(lab, dis, strict=True):
            mask = np.fromiter((int(x) in allowed for x in row_l), dtype=bool, count=len(row_l))
            out_l.append(row_l[mask][:k])
            out_d.append(row_d[mask][:k])
        if all(len(x) >= k for x in out_l):
            return out_l, out_d
        if want >= total:
            raise RuntimeError("post-filtering cannot fill k")
        want = min(total, want * 4)
