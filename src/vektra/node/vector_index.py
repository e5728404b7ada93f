"""The HNSW index of one (collection, vector field, replica position) on a
node, keyed by docno: one hnswlib graph, or two while vectors are replaced.

Graphs (`node.hnsw_graph`) give each vector a fresh label of their own, so
replacing a vector is a delete and an insert, never hnswlib's costly update.
A docno never held before is added to the main graph. One the index holds
is dropped where it was and added to a second, "fresh" graph: a re-import
that replaces many vectors builds that one up from empty, about as cheaply
as the first import built the main one, instead of inserting into a graph
as big as the collection and full of deleted labels. Once the main graph's
live vectors are at most a quarter of the fresh one's, they are moved to
it (a chunk at a time: searches run in between) and it becomes the main
graph. A graph whose deleted labels outnumber what it must hold (its own
live vectors; for the main graph, the index's) is rebuilt from its live
vectors, off the readers' lock, and swapped in. Memory stays within a
small multiple of the live vectors. A search asks every graph and merges
their answers by distance, which costs up to twice one graph's (a graph of
few live vectors, such as a fresh one a hot set is replaced into, is
scanned exactly rather than walked through its deleted labels): once
writes stop, `settle` (the node calls it every checkpoint interval) folds
the two graphs into one the same way.

The index is derived state: LMDB is the truth, and `node.recovery` rebuilds
or replays this index from it. Every operation takes the readers-writer
lock: searches shared (grouped by `ef`), add/remove/resize/save exclusive.
There is one writer at a time (the engine's write lock; recovery before the
node serves), so a snapshot taken under the shared lock stays true until
the same writer swaps a rebuilt graph in.

The docno -> label maps are kept by the graphs (hnswlib cannot list which of
its labels are deleted); they are saved with every checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vektra.common.schema import Metric, VectorSpec
from vektra.node.hnsw_graph import MIN_CAPACITY, Graph
from vektra.node.rwlock import RWLock

__all__ = ["SavedGraph", "VectorIndex", "clamp_distances", "exact_distances"]

log = logging.getLogger(__name__)


def clamp_distances(metric: Metric, distances: np.ndarray) -> np.ndarray:
    """Clamp float32 rounding back into the metric's range, in place: 1 - dot
    of two unit vectors comes out a few ulps below 0 for an identical vector
    (or above 2 for an opposite one), and a caller must never see a negative
    distance. `ip` is left alone: 1 - dot is legitimately negative for
    vectors longer than 1."""
    if metric is Metric.COSINE:
        # Two ufuncs: np.clip's Python wrapper costs more than both.
        np.maximum(distances, 0.0, out=distances)
        np.minimum(distances, 2.0, out=distances)
    elif metric is Metric.L2:
        np.maximum(distances, 0.0, out=distances)
    return distances


def exact_distances(metric: Metric, stored: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Distances as hnswlib defines them, for stored vectors as hnswlib holds
    them (normalized for cosine): cosine and ip 1 - dot, l2 squared; clamped
    like `VectorIndex.knn`'s so both paths agree."""
    if metric is Metric.L2:
        diff = stored - query
        squared: np.ndarray = np.einsum("ij,ij->i", diff, diff)
        return clamp_distances(metric, squared)
    q = query
    if metric is Metric.COSINE:
        norm = float(np.linalg.norm(query))
        q = query / norm if norm > 0 else query
    distances: np.ndarray = 1.0 - stored @ q
    return clamp_distances(metric, distances)


def _distance_matrix(metric: Metric, stored: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """`exact_distances` of every query (a row each), unclamped. Not what
    `exact_distances` is built on: for one query a matrix-vector product is
    3-5 us faster (180-1,800 rows), and an exact scan runs per query."""
    if metric is Metric.L2:
        return np.stack([exact_distances(metric, stored, q) for q in queries])
    q = queries
    if metric is Metric.COSINE:
        norms = np.sqrt(np.einsum("ij,ij->i", queries, queries))[:, None]
        norms[norms == 0] = 1
        q = queries / norms
    distances: np.ndarray = 1.0 - q @ stored.T
    return distances


# A graph is rebuilt once its deleted labels are at least this many (and
# outnumber what it must hold): a small graph is not rebuilt every few writes.
_REBUILD_MIN_DELETED = 1024
# The main graph's live vectors move into the fresh graph once they are at
# most this share of the fresh graph's: moving them costs at most a quarter
# of what building the fresh graph did, and a re-import that replaces every
# vector leaves little of the main graph to move.
_RETIRE_SHARE = 0.25
# Vectors moved from one graph to the other per hold of the exclusive lock.
_FOLD_CHUNK = 1024
# A graph holding at most this many live vectors is scanned, not walked: the
# answer is exact, and no dearer. A walk at ef 32 over 1,024 live vectors of
# 384 dims takes 29 us for one query and 2.0 ms for 64, a scan 56 us and
# 1.0 ms; with 1,000 deleted labels beside them (a fresh graph that a hot
# set is replaced into over and over) the walk takes 4.2 ms for 64, since
# it goes through the deleted labels too, and can miss a live vector that
# is the query itself (measured on an AMD EPYC core, M 16).
_SCAN_MAX_LIVE = 1024


@dataclass(frozen=True, slots=True)
class SavedGraph:
    """One graph as `VectorIndex.save` wrote it."""

    path: str
    max_elements: int
    docnos: np.ndarray  # live docnos, ascending (uint64)
    labels: np.ndarray  # the label of each


class VectorIndex:
    def __init__(self, spec: VectorSpec, graphs: Sequence[Graph]) -> None:
        """`graphs`: the main graph, and the fresh one if any."""
        self.spec = spec
        self._lock = RWLock()
        # Replaced whole, never changed in place: a reader takes the tuple once.
        self._graphs: tuple[Graph, ...] = tuple(graphs)
        assert 1 <= len(self._graphs) <= 2
        self._writes = 0  # puts and removes, so `settle` can tell a quiet index
        self._writes_seen = 0

    @classmethod
    def empty(cls, spec: VectorSpec, capacity: int = MIN_CAPACITY) -> VectorIndex:
        return cls(spec, [Graph.empty(spec, capacity)])

    @property
    def graphs(self) -> tuple[Graph, ...]:
        """The main graph, then the fresh one if any (to inspect, not to change)."""
        return self._graphs

    def _publish(self, *graphs: Graph) -> None:
        """Swap in another set of graphs (the caller holds the lock exclusive)."""
        self._graphs = graphs
        self._lock.forget_setting()  # the next search sets its ef on every graph

    # ------------------------------------------------------------ writes

    def put(self, docnos: np.ndarray, vectors: np.ndarray) -> None:
        """Index these docnos' vectors, replacing any they had (idempotent; of
        a docno given twice the last vector wins)."""
        if not len(docnos):
            return
        last = {d: i for i, d in enumerate(docnos.tolist())}
        with self._lock.exclusive():
            self._writes += 1
            new: list[int] = []
            replaced: list[int] = []
            for docno, row in last.items():
                # The old vector goes first, so a failed add leaves the docno
                # absent rather than stale (the caller then rebuilds).
                (replaced if self._drop(docno) else new).append(row)
            main = self._graphs[0]
            if new:
                rows = np.asarray(new)
                main.add(docnos[rows], vectors[rows])
            if replaced:
                if len(self._graphs) == 1:
                    self._publish(main, Graph.empty(self.spec))
                rows = np.asarray(replaced)
                self._graphs[1].add(docnos[rows], vectors[rows])
        self._retire_main()
        self._rebuild_if_due()

    def remove(self, docnos: Iterable[int]) -> None:
        with self._lock.exclusive():
            self._writes += 1
            for docno in docnos:
                self._drop(docno)
        self._retire_main()
        self._rebuild_if_due()

    def _drop(self, docno: int) -> bool:
        """Drop the docno's vector from the graph holding it; False if none does."""
        return any(g.drop(docno) for g in self._graphs)  # at most one holds it

    def _retire_main(self) -> None:
        """Once the fresh graph holds most of the index, the main graph's
        last live vectors join it and it becomes the main graph. A fresh
        graph left empty is dropped."""
        if len(self._graphs) == 1:
            return
        main, fresh = self._graphs
        if not fresh.live_count:
            with self._lock.exclusive():
                self._publish(main)
        elif main.live_count <= _RETIRE_SHARE * fresh.live_count:
            self._fold()

    def _fold(self) -> None:
        """Move the smaller graph's live vectors into the larger and drop the
        smaller. A chunk at a time under the exclusive lock, each docno
        added to one graph and dropped from the other at once: searches run
        between chunks and find every docno in exactly one graph, and no
        graph is copied."""
        big, small = sorted(self._graphs, key=lambda g: g.live_count, reverse=True)
        with self._lock.shared():
            docnos, vectors = small.live()
        for start in range(0, len(docnos), _FOLD_CHUNK):
            chunk = slice(start, start + _FOLD_CHUNK)
            with self._lock.exclusive():
                # Cosine vectors come back normalized and are normalized
                # again: the same vector to within a rounding of its last bit.
                big.add(docnos[chunk], vectors[chunk])
                for docno in docnos[chunk].tolist():
                    small.drop(docno)
        with self._lock.exclusive():
            self._publish(big)

    def _rebuild_if_due(self) -> None:
        """Rebuild each graph whose deleted labels outnumber what it must hold."""
        for i, graph in enumerate(self._graphs):
            # The main graph's dead may stand for the fresh graph's live (the
            # vectors moved there): it waits until they outnumber the index.
            holds = self.live_count if i == 0 else graph.live_count
            if graph.deleted_count < max(holds + 1, _REBUILD_MIN_DELETED):
                continue
            with self._lock.shared():
                docnos, vectors = graph.live()
            rebuilt = Graph.built(self.spec, docnos, vectors)  # searches go on meanwhile
            log.debug(
                "rebuilt graph %d of %s: %d live, %d deleted",
                i,
                self.spec.name,
                graph.live_count,
                graph.deleted_count,
            )
            with self._lock.exclusive():
                graphs = list(self._graphs)
                graphs[i] = rebuilt
                self._publish(*graphs)

    def settle(self) -> bool:
        """Fold the two graphs into one if no write came since the last call:
        two graphs cost a search up to twice one, and a re-import that is
        over leaves no reason to keep them apart (the writer calls this;
        writes wait meanwhile, searches run between its chunks). True if it
        folded."""
        quiet = self._writes == self._writes_seen
        self._writes_seen = self._writes
        if not quiet or len(self._graphs) == 1:
            return False
        self._fold()
        self._rebuild_if_due()  # the graph folded into keeps its deleted labels
        return True

    # ------------------------------------------------------------ reads

    @property
    def live_count(self) -> int:
        return sum(g.live_count for g in self._graphs)

    @property
    def deleted_count(self) -> int:
        """Deleted labels the graphs still hold."""
        return sum(g.deleted_count for g in self._graphs)

    @property
    def slots(self) -> int:
        """Labels the graphs hold, deleted ones included."""
        return sum(g.slots for g in self._graphs)

    def live_labels(self) -> set[int]:
        """The live docnos."""
        with self._lock.shared():
            out: set[int] = set()
            for g in self._graphs:
                out.update(g.docnos())
            return out

    def is_live(self, docno: int) -> bool:
        """Unlocked: for the one writer (recovery). A search asks `live_among`."""
        return any(g.holds(docno) for g in self._graphs)

    def live_among(self, docnos: np.ndarray) -> np.ndarray:
        """The docnos (uint64) of `docnos` the index holds, in order, read
        under the lock: a vector being replaced is never missing from it."""
        docnos = np.asarray(docnos, dtype=np.uint64)
        with self._lock.shared():
            held = np.zeros(len(docnos), dtype=bool)
            for g in self._graphs:
                held |= g.held(docnos)
        return docnos[held]

    def stored(self, docnos: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Of `docnos` (uint64; None: every live one), those the index holds
        and their stored vectors (normalized for cosine), read together
        under the lock: what an exact scan ranks."""
        with self._lock.shared():
            if docnos is None:
                parts = [g.live() for g in self._graphs]
            else:
                docnos = np.asarray(docnos, dtype=np.uint64)
                parts = [g.stored(docnos) for g in self._graphs]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def knn(
        self,
        queries: np.ndarray,
        k: int,
        ef: int,
        allow: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate k nearest live docnos and their (clamped) distances
        (exact from a graph of at most `_SCAN_MAX_LIVE` live vectors, which
        is scanned); `allow`: only among these docnos (a filter inside the
        graph walk).
        Raises RuntimeError when hnswlib cannot find k (a tiny `ef` on a graph
        with many deletions); callers fall back to an exact scan."""
        ef = max(ef, k)
        if allow is not None:
            allow = np.asarray(allow, dtype=np.uint64)
        allowed: set[int] | None = None  # what a walk filters by, made once
        parts = []
        with self._lock.shared(setting=ef, apply=self._set_ef):
            for g in self._graphs:
                if g.live_count <= _SCAN_MAX_LIVE:
                    parts.append(self._scan(g, queries, k, allow))
                    continue
                if allow is not None and allowed is None:
                    allowed = set(allow.tolist())
                parts.append(g.knn(queries, k, allowed))
        docnos, distances = parts[0] if len(parts) == 1 else _nearest(parts, k)
        if docnos.shape[1] < k:
            raise RuntimeError(f"found {docnos.shape[1]} of the {k} nearest")
        return docnos, clamp_distances(self.spec.metric, distances)

    def _scan(
        self, graph: Graph, queries: np.ndarray, k: int, allow: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like `Graph.knn`, but exact: the k nearest of the graph's live
        vectors (of `allow` among them) by distance to every one."""
        if allow is not None and len(allow) > 1 and not np.all(allow[1:] > allow[:-1]):
            allow = np.unique(allow)  # a set, as a walk's filter is: no docno twice
        docnos, stored = graph.live() if allow is None else graph.stored(allow)
        k = min(k, len(docnos))
        if not k:
            return np.empty((len(queries), 0), np.uint64), np.empty((len(queries), 0), np.float32)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        distances = _distance_matrix(self.spec.metric, stored, queries)
        top = np.argpartition(distances, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(distances, top, axis=1)
        order = np.argsort(near, axis=1, kind="stable")
        nearest = np.take_along_axis(top, order, axis=1)
        return docnos[nearest], np.take_along_axis(near, order, axis=1)

    def _set_ef(self, ef: object) -> None:
        for g in self._graphs:
            g.set_ef(int(ef))  # type: ignore[call-overload]

    # ------------------------------------------------------------ persistence

    def save(self, path_of: Callable[[int], str]) -> list[SavedGraph]:
        """Write each graph, the main one first, to `path_of(i)`."""
        with self._lock.exclusive():
            return [SavedGraph(path_of(i), *g.save(path_of(i))) for i, g in enumerate(self._graphs)]


def _nearest(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest per row of several graphs' answers (each sorted by distance)."""
    docnos = np.concatenate([p[0] for p in parts], axis=1)
    distances = np.concatenate([p[1] for p in parts], axis=1)
    top = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(docnos, top, axis=1), np.take_along_axis(distances, top, axis=1)
