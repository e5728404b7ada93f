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

Beside hnswlib's copy, the graph keeps each label's vector in its rows
(`node.vector_rows`), as hnswlib stores it (normalized for cosine): an exact
scan, a fold and a rebuild read them there, a numpy gather, instead of
through hnswlib's get_items (30 us a vector). A graph loaded from a
checkpoint fills them from the saved file.

Not locked: the owning `VectorIndex` holds its readers-writer lock around
every call (reads shared, writes exclusive).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection

import hnswlib
import numpy as np

from vektra.common.schema import Metric, VectorSpec
from vektra.node.arrays import take_or
from vektra.node.vector_rows import VectorRows

__all__ = ["Graph"]

log = logging.getLogger(__name__)

MIN_CAPACITY = 1024
_NONE = np.empty(0, dtype=np.uint64)
_NO_LABEL = -1
# hnswlib's saved index (hnswalg.h saveIndex): a header of 96 bytes, then
# each element's level-0 block: links, vector, label (uint64).
_SAVED_HEADER = np.dtype(
    [
        ("offset_level0", "<u8"),
        ("max_elements", "<u8"),
        ("count", "<u8"),
        ("size_per_element", "<u8"),
        ("label_offset", "<u8"),
        ("offset_data", "<u8"),
        ("max_level", "<i4"),
        ("entry_point", "<u4"),
        ("max_m", "<u8"),
        ("max_m0", "<u8"),
        ("m", "<u8"),
        ("mult", "<f8"),
        ("ef_construction", "<u8"),
    ]
)
# Labels whose vectors a loaded graph checks against hnswlib's own copies.
_SPOT_CHECKS = 16
# Saved vectors copied into a loaded graph's rows at a time.
_LOAD_CHUNK = 65536


class Graph:
    def __init__(
        self,
        spec: VectorSpec,
        index: hnswlib.Index,
        docnos: np.ndarray,
        labels: np.ndarray,
        rows: VectorRows | None = None,
    ) -> None:
        """`index` holds the vector of docnos[i] under labels[i] (and may
        hold deleted labels besides); `rows` holds every label's vector as
        the index does (an empty graph's: none yet)."""
        self.spec = spec
        self._index = index
        held = index.get_ids_list()  # deleted labels too: no fresh label may be one of them
        self._next_label = max(held, default=-1) + 1
        self._deleted = len(held) - len(docnos)
        self._label_of: dict[int, int] = dict(zip(docnos.tolist(), labels.tolist(), strict=True))
        self._docno_of = np.zeros(max(self._next_label, MIN_CAPACITY), dtype=np.uint64)
        self._docno_of[labels.astype(np.int64, copy=False)] = docnos
        # Each docno's label by docno (-1: not held): `held` and an exact
        # scan's rows answer for a whole array at once where the dict cannot.
        self._label_at = np.full(0, _NO_LABEL, dtype=np.int64)
        self._set_labels(docnos, labels)
        self._rows = rows if rows is not None else VectorRows(spec.dim, index.get_max_elements())

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
        return cls(spec, index, docnos, labels, _saved_rows(spec, index, path, labels))

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
        # The row before the index: a label a search can find has its row.
        self._rows.write(self._next_label, _as_stored(self.spec, vectors))
        # Never replace_deleted: reusing a slot re-wires it like an update.
        self._index.add_items(vectors, labels, replace_deleted=False)
        self._next_label += n
        if self._next_label > len(self._docno_of):
            grown = np.zeros(max(self._next_label, 2 * len(self._docno_of)), dtype=np.uint64)
            grown[: len(self._docno_of)] = self._docno_of
            self._docno_of = grown
        self._docno_of[labels.astype(np.int64)] = docnos
        self._label_of.update(zip(docnos.tolist(), labels.tolist(), strict=True))
        self._set_labels(docnos, labels)

    def _set_labels(self, docnos: np.ndarray, labels: np.ndarray) -> None:
        if not len(docnos):
            return
        at = docnos.astype(np.int64, copy=False)
        top = int(at.max()) + 1
        if top > len(self._label_at):
            grown = np.full(max(top, 2 * len(self._label_at), MIN_CAPACITY), _NO_LABEL, np.int64)
            grown[: len(self._label_at)] = self._label_at
            self._label_at = grown
        self._label_at[at] = labels

    def drop(self, docno: int) -> bool:
        """Mark the docno's vector deleted; False if the graph does not hold it."""
        label = self._label_of.pop(docno, None)
        if label is None:
            return False
        self._index.mark_deleted(label)
        self._label_at[docno] = _NO_LABEL
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
        held: np.ndarray = self._labels(docnos) != _NO_LABEL
        return held

    def _labels(self, docnos: np.ndarray) -> np.ndarray:
        """The label of each docno (int64), _NO_LABEL where not held."""
        return take_or(self._label_at, docnos, _NO_LABEL)

    def stored(self, docnos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of `docnos` (uint64), the ones the graph holds, in order, and
        their stored vectors (normalized for cosine), read from the rows."""
        labels = self._labels(docnos)
        held = labels != _NO_LABEL
        if not held.all():
            docnos, labels = docnos[held], labels[held]
        return docnos, self._rows.take(labels)

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

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """Every docno the graph holds, ascending, and its stored vector."""
        return self.stored(np.asarray(sorted(self._label_of), dtype=np.uint64))

    def save(self, path: str) -> tuple[int, np.ndarray, np.ndarray]:
        """Write the graph to `path`; returns (max_elements, docnos, their labels)."""
        self._index.save_index(path)
        docnos = np.asarray(sorted(self._label_of), dtype=np.uint64)
        labels = np.fromiter(
            (self._label_of[d] for d in docnos.tolist()), dtype=np.uint64, count=len(docnos)
        )
        return int(self._index.get_max_elements()), docnos, labels


def _as_stored(spec: VectorSpec, vectors: np.ndarray) -> np.ndarray:
    """Vectors as the graph stores them: float32, normalized for cosine (as
    hnswlib normalizes them itself, so its copies and the rows agree)."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if spec.metric is Metric.COSINE:
        # einsum, not np.linalg.norm: a quarter of the time on float32.
        norms = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
        norms[norms == 0] = 1  # cosine refuses zero vectors; never divide by 0
        out = out / norms
    return out


def _saved_rows(spec: VectorSpec, index: hnswlib.Index, path: str, live: np.ndarray) -> VectorRows:
    """The rows of a graph just loaded from `path`, read from the saved
    file's level-0 blocks (a few ms; hnswlib's get_items would take 30 us a
    vector). The checkpoint's checksum has vouched for the file; its layout
    is checked against the loaded index and a sample of vectors against
    hnswlib's own copies, and any doubt reads them through hnswlib. `live`:
    the labels not deleted (only their rows are ever read; hnswlib hands
    out no deleted label's vector)."""
    count = int(index.get_current_count())
    rows = VectorRows(spec.dim, int(index.get_max_elements()))
    level0 = _saved_level0(spec, path, count)
    if level0 is not None:
        labels = np.array(level0["label"])
        picks = np.linspace(0, len(live) - 1, min(len(live), _SPOT_CHECKS)).astype(np.intp)
        if _matches(index, live[picks], labels, level0):
            # A chunk at a time: a million vectors copied at once would
            # double the memory the load needs for a moment.
            for start in range(0, count, _LOAD_CHUNK):
                part = slice(start, start + _LOAD_CHUNK)
                rows.put(labels[part], np.array(level0["vector"][part]))
            return rows
    log.warning("graph %s: vectors read through hnswlib (saved layout not recognised)", path)
    for start in range(0, len(live), 4096):
        chunk = live[start : start + 4096]
        rows.put(chunk, np.asarray(index.get_items(chunk, return_type="numpy"), dtype=np.float32))
    return rows


def _saved_level0(spec: VectorSpec, path: str, count: int) -> np.ndarray | None:
    """The level-0 blocks of a saved index by internal id, mapped from the
    file as records of (vector, label); None when its header does not
    describe `count` elements of this dimension."""
    try:
        header = np.fromfile(path, dtype=_SAVED_HEADER, count=1)
    except (OSError, ValueError):
        return None
    if len(header) != 1:
        return None
    h = header[0]
    size, data, label = int(h["size_per_element"]), int(h["offset_data"]), int(h["label_offset"])
    vector_bytes = 4 * spec.dim
    if (
        int(h["count"]) != count
        or label != data + vector_bytes
        or size != label + 8
        or os.path.getsize(path) < _SAVED_HEADER.itemsize + count * size
    ):
        return None
    block = np.dtype(
        {
            "names": ["vector", "label"],
            "formats": [(np.float32, (spec.dim,)), np.uint64],
            "offsets": [data, label],
            "itemsize": size,
        }
    )
    if not count:
        return np.zeros(0, dtype=block)
    return np.memmap(path, dtype=block, mode="r", offset=_SAVED_HEADER.itemsize, shape=(count,))


def _matches(
    index: hnswlib.Index, sample: np.ndarray, labels: np.ndarray, level0: np.ndarray
) -> bool:
    """Whether the saved vectors of `sample` (labels) are hnswlib's own."""
    if not len(sample):
        return True
    order = np.argsort(labels, kind="stable")
    at = np.searchsorted(labels[order], sample)
    if np.any(at >= len(labels)) or not np.array_equal(
        labels[order[np.minimum(at, len(labels) - 1)]], sample
    ):
        return False  # a sampled label is not in the saved blocks
    theirs = np.asarray(index.get_items(sample, return_type="numpy"), dtype=np.float32)
    return bool(np.array_equal(theirs, level0["vector"][order[at]]))


def _empty(rows: int) -> tuple[np.ndarray, np.ndarray]:
    return np.empty((rows, 0), dtype=np.uint64), np.empty((rows, 0), dtype=np.float32)
