"""Per collection, in memory: each live docno's object id and version.

A search answers with labels (docnos); turning them into hits is the part a
search pays per hit. Reading the records from LMDB for that costs two gets
and a whole-record decode (properties, and the vector bytes nobody asked
for) per hit, several times the HNSW walk itself. A search that returns
only ids, distances and versions reads them here instead, for a whole batch
of labels in one numpy expression.

    ids       object array: the id of each docno, None when not live
    versions  one record per docno: physical ms (int64), logical (uint32) and
              the writer as an index into `writers` (uint32; few writers)

One writer (the engine's write lock, `node.commit`), many readers: the
arrays are published together as one tuple and replaced whole when they
grow; a version is one record, written in one assignment, so a reader sees
an update's old version or its new one, not a mix of their parts; and a
docno's entry is written before the indexes can return it, so
a reader never sees a label its table does not know except one retired
since (None: skipped, as a search skips a record deleted meanwhile).
LMDB stays the truth: the table is rebuilt from the records at start
(`load`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from vektra.common.hlc import Version
from vektra.common.packed_hits import VERSION_DTYPE

__all__ = ["HitColumns", "HitTable"]

_MIN_CAPACITY = 1024


class HitColumns(NamedTuple):
    """Ids and versions of some labels, in their order: of the live ones
    only. A tuple: every search and query page makes one."""

    live: np.ndarray  # bool, one per label asked for
    ids: list[str]
    versions: np.ndarray  # VERSION_DTYPE, one per id
    writers: tuple[str, ...]  # the names `versions["writer"]` index

    def version(self, i: int) -> Version:
        p, lg, w = self.versions[i].tolist()
        return Version(p, lg, self.writers[w])


class HitTable:
    def __init__(self, capacity: int = _MIN_CAPACITY) -> None:
        self._arrays = _empty(max(capacity, _MIN_CAPACITY))
        self._writers: list[str] = []
        self._writer_no: dict[str, int] = {}

    @classmethod
    def load(cls, entries: Iterable[tuple[int, str, Version]]) -> HitTable:
        """The table of these (docno, id, version) entries (the live records)."""
        rows = list(entries)
        top = max((d for d, _, _ in rows), default=-1) + 1
        table = cls(int(top * 1.25) + 1)
        table.set([d for d, _, _ in rows], [i for _, i, _ in rows], [v for _, _, v in rows])
        return table

    # ------------------------------------------------------------ readers

    def lookup(self, labels: np.ndarray) -> HitColumns:
        """Ids and versions of the 1-D `labels` that have an entry (`live`
        says which). The ids are read once, so a docno retired meanwhile is
        either wholly in the answer or wholly out of it."""
        ids_arr, versions_arr = self._arrays
        at = labels.astype(np.intp, copy=False)
        try:
            ids = ids_arr[at]
        except IndexError:  # a label past the table: one retired since it grew
            inside = at < len(ids_arr)
            ids = np.full(len(at), None, dtype=object)
            ids[inside] = ids_arr[at[inside]]
        writers = tuple(self._writers)
        found = ids.tolist()
        # Ids are never empty (`common.values.check_id`): truthy means live.
        if all(found):  # the common case: no copies by mask
            return HitColumns(np.ones(len(found), dtype=bool), found, versions_arr[at], writers)
        live = ids.astype(bool)
        return HitColumns(live, ids[live].tolist(), versions_arr[at[live]], writers)

    # ------------------------------------------------------------ writer only

    def set(self, docnos: list[int], ids: list[str], versions: list[Version]) -> None:
        if not docnos:
            return
        at = np.asarray(docnos, dtype=np.int64)
        self._grow(int(at.max()) + 1)
        ids_arr, versions_arr = self._arrays
        rows = [(v.physical_ms, v.logical, self._writer(v.writer)) for v in versions]
        versions_arr[at] = np.array(rows, dtype=VERSION_DTYPE)
        ids_arr[at] = ids  # last: an id marks the entry whole

    def clear(self, docnos: Iterable[int]) -> None:
        ids = self._arrays[0]
        for d in docnos:
            if d < len(ids):
                ids[d] = None

    def _writer(self, name: str) -> int:
        no = self._writer_no.get(name)
        if no is None:
            # Readers take `writers` after the arrays: append before use.
            no = self._writer_no[name] = len(self._writers)
            self._writers.append(name)
        return no

    def _grow(self, size: int) -> None:
        old = self._arrays
        if size <= len(old[0]):
            return
        new = _empty(max(size, 2 * len(old[0])))
        for dst, src in zip(new, old, strict=True):
            dst[: len(src)] = src
        self._arrays = new


def _empty(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(capacity, None, dtype=object), np.zeros(capacity, dtype=VERSION_DTYPE)
