"""One hnswlib graph with labels of its own: what a `node.vector_index.VectorIndex`
is made of.

Callers speak docnos. The graph holds each docno's vector under a label it
gives out in sequence and never reuses, and maps one to the other both
ways. A docno is added once: to give it another vector, the caller drops it
(its label is marked deleted) and adds it anew, to this graph or another.
hnswlib's own ways to replace a vector — add_items on a label it holds, or
replace_deleted into a deleted label's slot — re-wire the neighbours of the
neighbours and cost 20-30 inserts each (issue 9, bench/reupsert.py); a fresh
label costs one insert. Deleted labels stay in the graph (hnswlib walks
through them, never returns them) until the owner rebuilds it (`built`).

Not locked: the owning `VectorIndex` holds its readers-writer lock around
every call (reads shared, writes exclusive).
"""

from __future__ import annotations

from collections.abc import Collection

import hnswlib
import numpy as np

from vektra.common.schema import VectorSpec

__all__ = ["Graph"]

MIN_CAPACITY = 1024
_NONE = np.empty(0, dtype=np.uint64)


class Graph:
    def __init__(
        self, spec: VectorSpec, index: hnswlib.Index, docnos: np.ndarray, labels: np.ndarray
    ) -> None:
        """`index` holds the vector of docnos[i] under labels[i] (and may
        hold deleted labels besides)."""
        self.spec = spec
        self._index = index
        held = index.get_ids_list()  # deleted labels too: no fresh label may be one of them
        self._next_label = max(held, default=-1) + 1
        self._deleted = len(held) - len(docnos)
        self._label_of: dict[int, int] = dict(zip(docnos.tolist(), labels.tolist(), strict=True))
        self._docno_of = np.zeros(max(self._next_label, MIN_CAPACITY), dtype=np.uint64)
        self._docno_of[labels.astype(np.int64, copy=False)] = docnos
        # Which docnos the graph holds, by docno: `held` answers for a whole
        # array at once (an exact scan's candidates) where the dict cannot.
        self._held = np.zeros(0, dtype=bool)
        self._mark_held(docnos)

    @classmethod
    def empty(cls, spec: VectorSpec, capacity: int = MIN_CAPACITY) -> Graph:
        index = hnswlib.Index(space=spec.metric.hnsw_space, dim=spec.dim)
        index.init_index(
            max_elements=max(capacity, MIN_CAPACITY),
            M=spec.hnsw.m,
            ef_construction=spec.hnsw.ef_construction,
            random_seed=100,
            # Never used for writes (see the module docstring); kept so the
            # checkpoints saved before, with it, load the same way.
            allow_replace_deleted=True,
        )
        index.set_ef(spec.hnsw.ef)
        return cls(spec, index, _NONE, _NONE)

    @classmethod
    def load(
        cls, spec: VectorSpec, path: str, max_elements: int, docnos: np.ndarray, labels: np.ndarray
    ) -> Graph:
        index = hnswlib.Index(space=spec.metric.hnsw_space, dim=spec.dim)
        index.load_index(path, max_elements=max_elements, allow_replace_deleted=True)
        index.set_ef(spec.hnsw.ef)
        return cls(spec, index, docnos, labels)

    @classmethod
    def built(cls, spec: VectorSpec, docnos: np.ndarray, vectors: np.ndarray) -> Graph:
        """A fresh graph of these vectors, with room for as many again."""
        graph = cls.empty(spec, 2 * len(docnos))
        graph.add(docnos, vectors)
        return graph

    # ------------------------------------------------------------ writes

    def add(self, docnos: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors of docnos this graph does not hold, each under a fresh label."""
        n = len(docnos)
        if not n:
            return
        need = self._index.get_current_count() + n
        capacity = self._index.get_max_elements()
        if need > capacity:
            self._index.resize_index(max(need, capacity * 2))
        labels = np.arange(self._next_label, self._next_label + n, dtype=np.uint64)
        # Never replace_deleted: reusing a slot re-wires it like an update.
        self._index.add_items(vectors, labels, replace_deleted=False)
        self._next_label += n
        if self._next_label > len(self._docno_of):
            grown = np.zeros(max(self._next_label, 2 * len(self._docno_of)), dtype=np.uint64)
            grown[: len(self._docno_of)] = self._docno_of
            self._docno_of = grown
        self._docno_of[labels.astype(np.int64)] = docnos
        self._label_of.update(zip(docnos.tolist(), labels.tolist(), strict=True))
        self._mark_held(docnos)

    def _mark_held(self, docnos: np.ndarray) -> None:
        if not len(docnos):
            return
        at = docnos.astype(np.int64, copy=False)
        top = int(at.max()) + 1
        if top > len(self._held):
            grown = np.zeros(max(top, 2 * len(self._held), MIN_CAPACITY), dtype=bool)
            grown[: len(self._held)] = self._held
            self._held = grown
        self._held[at] = True

    def drop(self, docno: int) -> bool:
        """Mark the docno's vector deleted; False if the graph does not hold it."""
        label = self._label_of.pop(docno, None)
        if label is None:
            return False
        self._index.mark_deleted(label)
        self._held[docno] = False
        self._deleted += 1
        return True

    def set_ef(self, ef: int) -> None:
        self._index.set_ef(ef)

    # ------------------------------------------------------------ reads

    @property
    def live_count(self) -> int:
        return len(self._label_of)

    @property
    def deleted_count(self) -> int:
        """Deleted labels the graph still holds."""
        return self._deleted

    @property
    def slots(self) -> int:
        """Labels the graph holds, deleted ones included."""
        return int(self._index.get_current_count())

    def holds(self, docno: int) -> bool:
        return docno in self._label_of

    def held(self, docnos: np.ndarray) -> np.ndarray:
        """Which of `docnos` (uint64) the graph holds (bool, same shape)."""
        at = docnos.astype(np.int64, copy=False)
        inside = at < len(self._held)
        out = np.zeros(len(at), dtype=bool)
        out[inside] = self._held[at[inside]]
        return out

    def label(self, docno: int) -> int | None:
        """The hnswlib label holding this docno's vector (None: not held)."""
        return self._label_of.get(docno)

    def docnos(self) -> list[int]:
        return list(self._label_of)

    def knn(
        self, queries: np.ndarray, k: int, allow: Collection[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to k nearest docnos per row (fewer when the graph holds fewer,
        or fewer of `allow`), and their distances, unclamped. RuntimeError
        when hnswlib cannot find them."""
        if allow is None:
            k = min(k, len(self._label_of))
            if not k:
                return _empty(len(queries))
            labels, distances = self._index.knn_query(queries, k=k)
        else:
            label_of = self._label_of
            allowed = {label_of[d] for d in allow if d in label_of}
            k = min(k, len(allowed))
            if not k:
                return _empty(len(queries))
            # A Python filter holds the GIL per call: one thread is fastest.
            labels, distances = self._index.knn_query(
                queries, k=k, num_threads=1, filter=allowed.__contains__
            )
        return self._docno_of[labels.astype(np.int64)], distances

    def vectors(self, docnos: list[int]) -> np.ndarray:
        """Stored vectors (normalized for cosine) of docnos the graph holds."""
        if not docnos:
            return np.empty((0, self.spec.dim), dtype=np.float32)
        labels = [self._label_of[d] for d in docnos]
        return np.asarray(self._index.get_items(labels, return_type="numpy"), dtype=np.float32)

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """Every docno the graph holds, ascending, and its stored vector."""
        docnos = sorted(self._label_of)
        return np.asarray(docnos, dtype=np.uint64), self.vectors(docnos)

    def save(self, path: str) -> tuple[int, np.ndarray, np.ndarray]:
        """Write the graph to `path`; returns (max_elements, docnos, their labels)."""
        self._index.save_index(path)
        docnos = np.asarray(sorted(self._label_of), dtype=np.uint64)
        labels = np.fromiter(
            (self._label_of[d] for d in docnos.tolist()), dtype=np.uint64, count=len(docnos)
        )
        return int(self._index.get_max_elements()), docnos, labels


def _empty(rows: int) -> tuple[np.ndarray, np.ndarray]:
    return np.empty((rows, 0), dtype=np.uint64), np.empty((rows, 0), dtype=np.float32)
