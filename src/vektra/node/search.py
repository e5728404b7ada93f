"""Vector search on one node: run the plan `node.search_planner` picks, for a
whole batch of query rows at once, over the parts of its copies the caller
asked for, and turn labels into records.

A part is one replica position's index (`node.position_indexes`), whole or
only the hits whose token lies in some ranges: a router asks every node for
position 0, and for the ranges of a replica that cannot be read, asks
another replica for the position holding them (DESIGN.md, "Replica states
and reading each copy once"). A property filter combines with a part: its
candidates are the objects matching the filter that lie in the part. Each
part is planned and run on its own; their rows are merged into one top-k.

Every row of a batch shares one filter, one candidate set per part and one
strategy per part; the records of all hits are read in one pass (rows of a
batch repeat neighbours). Distances are as hnswlib defines them and clamped
to the metric's range where they are made (`node.vector_index`), so whichever
path answers, none is below 0: float32 rounding can leave an identical
vector a few ulps above 0 (cosine), never below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from vektra.common import filters
from vektra.common.packed_hits import PackedColumns, PackedSearch, as_merged
from vektra.common.schema import VectorSpec
from vektra.node.config import EngineConfig
from vektra.node.open_collections import OpenCollection
from vektra.node.property_index import sorted_docnos
from vektra.node.query import matching
from vektra.node.records import Record
from vektra.node.search_planner import Strategy, plan_search
from vektra.node.store import Store
from vektra.node.token_ranges import Span, in_ranges
from vektra.node.vector_index import VectorIndex, exact_distances

__all__ = ["Hit", "PackedSearch", "SearchPart", "SearchResult", "search", "search_packed"]

# Labels and distances per query row: per-row arrays (a row may be shorter
# than k when fewer match), or one 2-D array each when every row holds k
# (an HNSW walk).
_Rows = tuple[list[np.ndarray] | np.ndarray, list[np.ndarray] | np.ndarray]
# Which of an array of labels a part keeps (same shape, bool).
_Keep = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class SearchPart:
    """One replica position's index, whole (`ranges` None) or only the hits
    whose token lies in `ranges`."""

    position: int
    ranges: tuple[Span, ...] | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    record: Record
    distance: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Hit]
    strategy: str  # one per part searched, distinct ones joined by "+"
    candidates: int  # summed over the parts
    searched: int = 0  # objects in the indexes the batch used (the same in every row)


class _PartRun(NamedTuple):  # tuples: made on every search, built faster
    strategy: Strategy
    candidates: int
    rows: _Rows | None  # None: nothing could match


class _Found(NamedTuple):
    labels: list[np.ndarray] | np.ndarray  # per row, nearest first (or one 2-D array)
    distances: list[np.ndarray] | np.ndarray
    strategy: str
    candidates: int
    searched: int


def search(
    store: Store,
    coll: OpenCollection,
    spec: VectorSpec,
    queries: np.ndarray,
    k: int,
    ef: int | None,
    flt: filters.Filter,
    config: EngineConfig,
    parts: Sequence[SearchPart] | None = None,
) -> list[SearchResult]:
    """k nearest live objects for each row of `queries` (one filter for all)
    among `parts`; None: every position, whole (a node serving alone)."""
    found = _find(store, coll, spec, queries, k, ef, flt, config, parts)
    wanted = sorted({int(x) for lab in found.labels for x in lab})
    records = dict(zip(wanted, store.records.by_docnos(coll.meta, wanted), strict=True))
    return [
        SearchResult(_hits(records, lab, dis), found.strategy, found.candidates, found.searched)
        for lab, dis in zip(found.labels, found.distances, strict=True)
    ]


def search_packed(
    store: Store,
    coll: OpenCollection,
    spec: VectorSpec,
    queries: np.ndarray,
    k: int,
    ef: int | None,
    flt: filters.Filter,
    config: EngineConfig,
    parts: Sequence[SearchPart] | None = None,
    properties: bool = False,
    ties_by_id: bool = False,
) -> PackedSearch:
    """`search` as columns: ids, distances and versions of every row's hits,
    with each hit's properties (msgpack) when `properties`; with
    `ties_by_id`, hits at one distance in id order, as a router's merge
    orders them."""
    found = _find(store, coll, spec, queries, k, ef, flt, config, parts)
    n_rows = len(found.labels)
    if isinstance(found.labels, np.ndarray) and isinstance(found.distances, np.ndarray):
        # Rows all k long, as one walk answers: the columns as they are
        # (splitting 64 rows into views and joining them again cost more
        # than the hit table's lookup).
        labels, dists = found.labels.reshape(-1), found.distances.reshape(-1)
        lengths = np.full(n_rows, found.labels.shape[1], dtype=np.int64)
    elif n_rows == 1:  # a single query: its row is the column
        lengths = np.array([len(found.labels[0])], dtype=np.int64)
        labels, dists = found.labels[0], found.distances[0]
    else:
        lengths = np.array([len(r) for r in found.labels], dtype=np.int64)
        labels = np.concatenate(found.labels) if n_rows else np.empty(0, np.uint64)
        dists = np.concatenate(found.distances) if n_rows else np.empty(0, np.float32)
    hits = coll.hits.lookup(labels)  # a docno deleted since the index answered: skipped
    keep = hits.live
    ids, versions = hits.ids, hits.versions
    props: list[bytes] | None = None
    if properties:
        tokens = coll.docs.tokens_of(labels[keep]).tolist()
        raw = store.records.raw_properties(coll.meta, tokens, ids)
        read = np.fromiter((r is not None for r in raw), dtype=bool, count=len(raw))
        keep[np.flatnonzero(keep)[~read]] = False  # deleted before its properties were read
        ids = [i for i, r in zip(ids, raw, strict=True) if r is not None]
        versions = versions[read]
        props = [r for r in raw if r is not None]
    if len(ids) < len(labels):  # some hit was not kept
        rows = np.repeat(np.arange(n_rows), lengths)
        lengths = np.bincount(rows[keep], minlength=n_rows).astype(np.int64)
        dists = dists[keep]
    packed = PackedColumns(
        ids=ids,
        distances=dists.astype(np.float32, copy=False),
        versions=versions,
        writers=hits.writers,
        row_lengths=lengths,
        properties=props,
    )
    if ties_by_id:
        # Most batches have ties (duplicate texts). A router sends a lone
        # node's answer on as it came only when they are in id order
        # (`packed_hits.sent_as_merged`); put so here, where the ids are a
        # list already. An embedded search has no router and skips it.
        packed = as_merged(packed, k) or packed
    return PackedSearch(
        columns=packed,
        strategy=found.strategy,
        candidates=found.candidates,
        searched=found.searched,
    )


def _find(
    store: Store,
    coll: OpenCollection,
    spec: VectorSpec,
    queries: np.ndarray,
    k: int,
    ef: int | None,
    flt: filters.Filter,
    config: EngineConfig,
    parts: Sequence[SearchPart] | None,
) -> _Found:
    """Labels and distances of every row's k nearest, merged over the parts."""
    # One look at the map of positions: a ring change swaps it whole.
    indexes = dict(coll.indexes[spec.name].items())
    if parts is None:
        parts = [SearchPart(p) for p in sorted(indexes)]
    ef = ef or spec.hnsw.ef
    found = matching(store, coll, flt)
    matched = None if found is None else sorted_docnos(found)
    runs: list[_PartRun] = []
    searched = 0
    for part in parts:
        index = indexes.get(part.position)
        if index is None:
            continue  # no vector at this position yet
        live = index.live_count
        searched += live
        runs.append(_search_part(coll, index, live, part, matched, queries, k, ef, config))
    labels, dists = _merge([r.rows for r in runs if r.rows is not None], len(queries), k)
    strategy = "+".join(dict.fromkeys(r.strategy.value for r in runs)) or Strategy.EMPTY.value
    return _Found(labels, dists, strategy, sum(r.candidates for r in runs), searched)


def _search_part(
    coll: OpenCollection,
    index: VectorIndex,
    live: int,  # index.live_count, read once by the caller
    part: SearchPart,
    matched: np.ndarray | None,
    queries: np.ndarray,
    k: int,
    ef: int,
    config: EngineConfig,
) -> _PartRun:
    candidates = _candidates(coll, index, part, matched)
    n = live if candidates is None else len(candidates)
    strategy = plan_search(
        k,
        live,
        None if candidates is None else n,
        exact_search_max=config.exact_search_max,
        post_filter_min_share=config.post_filter_min_share,
    )
    if strategy is Strategy.EMPTY:
        return _PartRun(strategy, 0, None)
    keep = _keep(coll, part, matched)
    strategy, rows = _run(strategy, index, candidates, keep, queries, min(k, n), ef)
    return _PartRun(strategy, n, rows)


def _candidates(
    coll: OpenCollection, index: VectorIndex, part: SearchPart, matched: np.ndarray | None
) -> np.ndarray | None:
    """Docnos of the part that may be hits (uint64, ascending); None: the whole index.

    With a filter they are narrowed to the index (objects without this vector
    field are not in it), as its matches are listed anyway. By ranges alone
    they are every object of the position in the ranges, an upper bound that
    plans the search without a Python pass over the index; an exact scan
    narrows its pool itself (`VectorIndex.stored`)."""
    if part.ranges is None and matched is None:
        return None
    if matched is None:
        docnos = coll.docs.docnos_at(part.position)
    else:
        docnos = matched[coll.docs.positions_of(matched) == part.position]
    if part.ranges is not None:
        docnos = docnos[in_ranges(coll.docs.tokens_of(docnos), part.ranges)]
    if matched is not None:
        docnos = index.live_among(docnos)
    return docnos


def _keep(coll: OpenCollection, part: SearchPart, matched: np.ndarray | None) -> _Keep:
    """Which hits of the whole index the part keeps, for a whole array at once."""
    ranges = part.ranges

    def keep(labels: np.ndarray) -> np.ndarray:
        ok = np.ones(labels.shape, dtype=bool)
        flat = labels.reshape(-1)
        if matched is not None and len(matched):
            at = np.minimum(np.searchsorted(matched, flat), len(matched) - 1)
            ok &= (matched[at] == flat).reshape(labels.shape)
        elif matched is not None:
            ok[...] = False
        if ranges is not None:
            # Read the table now, not before HNSW answered: a docno indexed
            # meanwhile has its token only in the newer table.
            ok &= in_ranges(coll.docs.tokens_of(flat), ranges).reshape(labels.shape)
        return ok

    return keep


def _run(
    strategy: Strategy,
    index: VectorIndex,
    candidates: np.ndarray | None,
    keep: _Keep,
    queries: np.ndarray,
    k: int,
    ef: int,
) -> tuple[Strategy, _Rows]:
    """Labels and distances by `strategy`, or by an exact scan when HNSW cannot
    find k (hnswlib raises RuntimeError then)."""
    if strategy is Strategy.EXACT:
        return strategy, _exact(index, candidates, queries, k)
    try:
        match strategy:
            case Strategy.HNSW:
                return strategy, index.knn(queries, k, ef)
            case Strategy.HNSW_FILTERED:
                assert candidates is not None
                return strategy, index.knn(queries, k, ef, allow=candidates)
            case Strategy.HNSW_POST_FILTER:
                assert candidates is not None
                return strategy, _post_filter(index, len(candidates), keep, queries, k, ef)
    except RuntimeError:
        return Strategy.EXACT_FALLBACK, _exact(index, candidates, queries, k)
    raise AssertionError(strategy)


def _hits(records: dict[int, Record | None], labels: np.ndarray, dists: np.ndarray) -> list[Hit]:
    # A docno deleted since the index answered has no record: skip it.
    found = ((records.get(int(x)), float(d)) for x, d in zip(labels, dists, strict=True))
    return [Hit(rec, d) for rec, d in found if rec is not None]


def _exact(index: VectorIndex, candidates: np.ndarray | None, queries: np.ndarray, k: int) -> _Rows:
    """The k nearest of the candidates the index holds (None: of all it
    holds), by distance to every stored vector; candidates dropped since
    they were listed are not among them."""
    spec = index.spec
    labels, stored = index.stored(candidates)
    out_l, out_d = [], []
    for q in queries:
        d = exact_distances(spec.metric, stored, q.astype(np.float32, copy=False))
        top = np.argpartition(d, k - 1)[:k] if k < len(d) else np.arange(len(d))
        top = top[np.argsort(d[top], kind="stable")]
        out_l.append(labels[top])
        out_d.append(d[top])
    return out_l, out_d


def _post_filter(
    index: VectorIndex, candidates: int, keep: _Keep, queries: np.ndarray, k: int, ef: int
) -> _Rows:
    """Oversample HNSW and drop what the part does not keep, widening until
    every row has k. RuntimeError when HNSW cannot (the caller falls back to
    an exact scan)."""
    total = index.live_count
    want = min(total, math.ceil(k * total / max(candidates, 1) * 1.5) + 8)
    while True:
        lab, dis = index.knn(queries, want, max(ef, want))
        ok = keep(lab)
        out_l = [row[m][:k] for row, m in zip(lab, ok, strict=True)]
        out_d = [row[m][:k] for row, m in zip(dis, ok, strict=True)]
        if all(len(x) >= k for x in out_l):
            return out_l, out_d
        if want >= total:
            raise RuntimeError("post-filtering cannot fill k")
        want = min(total, want * 4)


def _merge(runs: list[_Rows], n_rows: int, k: int) -> _Rows:
    """One top-k per row from the rows of every part (each sorted by distance)."""
    if not runs:
        empty = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float32)
        return [empty[0]] * n_rows, [empty[1]] * n_rows
    if len(runs) == 1:
        return runs[0]
    out_l, out_d = [], []
    for row in range(n_rows):
        lab = np.concatenate([r[0][row] for r in runs])
        dis = np.concatenate([r[1][row] for r in runs])
        top = np.argsort(dis, kind="stable")[:k]
        out_l.append(lab[top])
        out_d.append(dis[top])
    return out_l, out_d
