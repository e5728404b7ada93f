"""The floors Vektra is built on, in this process, with nothing around them:

- `raw-hnswlib`: one hnswlib index, the same M, ef_construction, ef and
  threads as the collection (no durability, no network, no properties);
- `raw-lmdb`: LMDB puts and gets of msgpack records shaped like Vektra's
  (id, properties, vector bytes), opened durable as a node opens its store;
- `numpy-exact`: a matrix product over exactly the rows a filter matches,
  the floor of an exact filtered-search plan (the subset is given, not
  found).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import hnswlib
import lmdb
import msgpack
import numpy as np

from vektra.bench.data import Dataset, FilterCase
from vektra.bench.systems import System

__all__ = ["HnswlibBaseline", "LmdbBaseline", "NumpyExactBaseline"]


class HnswlibBaseline(System):
    name = "raw-hnswlib"
    label = "raw hnswlib"
    supports = frozenset({"upsert", "upsert_one", "search", "search_batch", "delete"})

    def start(self, ds: Dataset, workdir: Path) -> None:
        super().start(ds, workdir)
        p = self.params
        self.index = hnswlib.Index(space="cosine", dim=ds.dim)
        self.index.init_index(
            max_elements=ds.rows, M=p.m, ef_construction=p.ef_construction, random_seed=p.seed
        )
        self._ef = p.ef
        self.index.set_ef(p.ef)

    def stop(self) -> None:
        self.index = None

    def upsert(self, rows: np.ndarray, vectors: np.ndarray | None = None) -> None:
        # An existing label is updated in place, as a re-upsert is.
        data = self.data.base[rows] if vectors is None else vectors
        self.index.add_items(data, rows, num_threads=self.params.threads)

    def upsert_one(self, row: int, vector: np.ndarray | None = None) -> None:
        data = self.data.base[row] if vector is None else vector
        self.index.add_items(data[None, :], [row], num_threads=1)

    def prepare_ef(self, ef: int) -> None:
        if ef != self._ef:
            self.index.set_ef(ef)
            self._ef = ef

    def search(self, query: np.ndarray, k: int, ef: int) -> list[int]:
        self.prepare_ef(ef)
        labels, _ = self.index.knn_query(query[None, :], k=k, num_threads=1)
        return [int(x) for x in labels[0]]

    def search_batch(self, queries: np.ndarray, k: int, ef: int) -> Any:
        self.prepare_ef(ef)
        labels, _ = self.index.knn_query(queries, k=k, num_threads=self.params.threads)
        return labels

    def batch_ids(self, answer: Any) -> list[list[int]]:
        found: list[list[int]] = answer.tolist()
        return found

    def delete(self, rows: np.ndarray) -> None:
        for row in rows.tolist():
            self.index.mark_deleted(row)


class LmdbBaseline(System):
    name = "raw-lmdb"
    label = "raw LMDB+msgpack"
    supports = frozenset({"upsert", "upsert_one", "get", "delete"})

    def start(self, ds: Dataset, workdir: Path) -> None:
        super().start(ds, workdir)
        self.path = workdir / "lmdb"
        self.path.mkdir(parents=True, exist_ok=True)
        record_bytes = ds.dim * 4 + 256
        self.env: Any = lmdb.open(
            str(self.path),
            map_size=max(1 << 30, 4 * ds.rows * record_bytes),
            sync=True,
            metasync=True,
            readahead=False,
            max_readers=512,
        )

    def stop(self) -> None:
        env = getattr(self, "env", None)
        if env is not None:
            env.close()
            self.env = None
            shutil.rmtree(self.path, ignore_errors=True)

    def upsert(self, rows: np.ndarray, vectors: np.ndarray | None = None) -> None:
        ds = self.data
        data = ds.base[rows] if vectors is None else vectors
        ids = ds.ids(rows)
        props = ds.properties(rows)
        # One transaction per batch, as a node commits one batch.
        with self.env.begin(write=True) as txn:
            for i, id_ in enumerate(ids):
                record = {"id": id_, "properties": props[i], "vectors": {"v": data[i].tobytes()}}
                txn.put(id_.encode(), msgpack.packb(record))

    def get(self, rows: np.ndarray) -> int:
        found = 0
        with self.env.begin() as txn:
            for id_ in self.data.ids(rows):
                raw = txn.get(id_.encode())
                if raw is not None:
                    record = msgpack.unpackb(raw)
                    found += record["id"] == id_
        return found

    def delete(self, rows: np.ndarray) -> None:
        with self.env.begin(write=True) as txn:
            for id_ in self.data.ids(rows):
                txn.delete(id_.encode())


class NumpyExactBaseline(System):
    name = "numpy-exact"
    label = "numpy exact"
    supports = frozenset({"filtered_search"})

    def start(self, ds: Dataset, workdir: Path) -> None:
        super().start(ds, workdir)
        # The matching rows and their vectors, found before any timing: the
        # floor is the distance computation and the top-k, nothing else.
        self.subsets = {
            case.name: (np.flatnonzero(case.mask), ds.base[case.mask]) for case in ds.filters
        }

    def filtered_search(
        self, query: np.ndarray, k: int, case: FilterCase, ef: int
    ) -> tuple[list[int], str | None]:
        rows, vectors = self.subsets[case.name]
        scores = vectors @ query
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k] if len(rows) > k else np.arange(len(rows))
        top = top[np.argsort(-scores[top])]
        return rows[top].tolist(), "exact"
