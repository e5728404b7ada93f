"""One HNSW index (hnswlib) for one (collection, vector field) on a node.

Labels are the collection's docnos. The index is derived state: LMDB is the
truth, and `node.recovery` rebuilds or replays this index from it. Every
operation takes the readers-writer lock: searches shared (grouped by `ef`),
add/remove/resize/save exclusive.

The set of live labels is tracked here because hnswlib cannot list which of
its labels are deleted; it is saved with every checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import hnswlib
import numpy as np

from vektra.common.schema import Metric, VectorSpec
from vektra.node.rwlock import RWLock

__all__ = ["VectorIndex", "clamp_distances", "exact_distances"]

log = logging.getLogger(__name__)

_MIN_CAPACITY = 1024


def clamp_distances(metric: Metric, distances: np.ndarray) -> np.ndarray:
    """Clamp float32 rounding back into the metric's range, in place: 1 - dot
    of two unit vectors comes out a few ulps below 0 for an identical vector
    (or above 2 for an opposite one), and a caller must never see a negative
    distance. `ip` is left alone: 1 - dot is legitimately negative for
    vectors longer than 1."""
    if metric is Metric.COSINE:
        np.clip(distances, 0.0, 2.0, out=distances)
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


class VectorIndex:
    def __init__(self, spec: VectorSpec, index: hnswlib.Index, live: Iterable[int]) -> None:
        self.spec = spec
        self._index = index
        self._live: set[int] = set(live)
        self._lock = RWLock()

    @classmethod
    def empty(cls, spec: VectorSpec, capacity: int = _MIN_CAPACITY) -> VectorIndex:
        index = hnswlib.Index(space=spec.metric.hnsw_space, dim=spec.dim)
        index.init_index(
            max_elements=max(capacity, _MIN_CAPACITY),
            M=spec.hnsw.m,
            ef_construction=spec.hnsw.ef_construction,
            random_seed=100,
            allow_replace_deleted=True,
        )
        index.set_ef(spec.hnsw.ef)
        return cls(spec, index, ())

    @classmethod
    def load(
        cls, spec: VectorSpec, path: str, max_elements: int, live: Iterable[int]
    ) -> VectorIndex:
        index = hnswlib.Index(space=spec.metric.hnsw_space, dim=spec.dim)
        index.load_index(path, max_elements=max_elements, allow_replace_deleted=True)
        index.set_ef(spec.hnsw.ef)
        return cls(spec, index, live)

    # ------------------------------------------------------------ writes

    def put(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace the vectors of these labels (idempotent)."""
        if not len(labels):
            return
        with self._lock.exclusive():
            existing: list[int] = []
            new: list[int] = []
            for i, label in enumerate(labels.tolist()):
                if label in self._live or self._revive(label):
                    existing.append(i)
                else:
                    new.append(i)
            if existing:
                idx = np.asarray(existing)
                self._index.add_items(vectors[idx], labels[idx], replace_deleted=False)
            if new:
                need = self._index.get_current_count() + len(new)
                capacity = self._index.get_max_elements()
                if need > capacity:
                    self._index.resize_index(max(need, capacity * 2))
                idx = np.asarray(new)
                # replace_deleted reuses the slots of deleted elements, so an
                # index with churn does not grow without bound.
                self._index.add_items(vectors[idx], labels[idx], replace_deleted=True)
            self._live.update(labels.tolist())

    def _revive(self, label: int) -> bool:
        """Undelete a label still held by the index; False if the index has no
        such label (never added, or its slot was reused)."""
        try:
            self._index.unmark_deleted(label)
            return True
        except RuntimeError as exc:
            # "not deleted": live in the index though we thought it deleted,
            # so it is replaced in place; "Label not found": add it anew.
            return "not deleted" in str(exc)

    def remove(self, labels: Iterable[int]) -> None:
        with self._lock.exclusive():
            for label in labels:
                if label in self._live:
                    self._index.mark_deleted(label)
                    self._live.discard(label)

    # ------------------------------------------------------------ reads

    @property
    def live_count(self) -> int:
        return len(self._live)

    def live_labels(self) -> set[int]:
        with self._lock.shared():
            return set(self._live)

    def is_live(self, label: int) -> bool:
        return label in self._live

    def knn(
        self,
        queries: np.ndarray,
        k: int,
        ef: int,
        allow: Callable[[int], bool] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate k nearest live labels and their (clamped) distances.
        Raises RuntimeError when hnswlib cannot find k (a tiny `ef` on a graph
        with many deletions); callers fall back to an exact scan."""
        ef = max(ef, k)
        labels: np.ndarray
        distances: np.ndarray
        with self._lock.shared(setting=ef, apply=lambda e: self._index.set_ef(int(e))):  # type: ignore[call-overload]
            if allow is None:
                labels, distances = self._index.knn_query(queries, k=k)
            else:
                # A Python filter holds the GIL per call: one thread is fastest.
                labels, distances = self._index.knn_query(queries, k=k, num_threads=1, filter=allow)
        return labels, clamp_distances(self.spec.metric, distances)

    def live_vectors(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The labels still live of `labels`, and their stored vectors
        (normalized for cosine), for exact scans.

        A caller lists its labels before it reads them, and a delete may land
        in between: hnswlib raises "Label not found" for a label marked
        deleted, so the live ones are picked and read under one shared lock
        (no delete can run inside it) and the rest are skipped."""
        with self._lock.shared():
            live = self._live
            kept = np.fromiter((x for x in labels.tolist() if x in live), dtype=np.uint64, count=-1)
            if not len(kept):
                return kept, np.empty((0, self.spec.dim), dtype=np.float32)
            stored = self._index.get_items(kept, return_type="numpy")
        return kept, np.asarray(stored, dtype=np.float32)

    # ------------------------------------------------------------ persistence

    def save(self, path: str) -> tuple[int, list[int]]:
        """Write the index to `path`; returns (max_elements, live labels) as of the save."""
        with self._lock.exclusive():
            self._index.save_index(path)
            return self._index.get_max_elements(), sorted(self._live)
