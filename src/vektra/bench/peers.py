"""Other embedded vector databases, in this process, when installed (the
`bench` extra: `pip install 'vektra[bench]'`):

- `chroma`: `chromadb.PersistentClient`, HNSW with the same M,
  ef_construction and ef, properties as metadata;
- `qdrant-edge`: Qdrant's embedded engine (`qdrant_edge.EdgeShard`), HNSW
  with the same M and ef_construct, built by its optimizer after ingest
  (`indexing_threshold` 1 KB, so even small data is indexed), payload
  indexes on every property as Vektra indexes them.

A missing package makes the system report "not installed"; it never fails
the run.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from vektra.bench.data import Dataset, FilterCase
from vektra.bench.systems import System

__all__ = ["ChromaPeer", "QdrantEdgePeer"]

_ALL = frozenset(
    {
        "upsert",
        "upsert_one",
        "get",
        "filter_query",
        "search",
        "search_batch",
        "filtered_search",
        "delete",
    }
)


def _missing(module: str, package: str) -> str | None:
    try:
        importlib.import_module(module)
    except ImportError:
        return f"not installed (pip install {package})"
    return None


class ChromaPeer(System):
    name = "chroma"
    label = "Chroma"
    supports = _ALL

    def unavailable(self) -> str | None:
        return _missing("chromadb", "chromadb")

    def start(self, ds: Dataset, workdir: Path) -> None:
        super().start(ds, workdir)
        import chromadb
        from chromadb.config import Settings

        self.path = workdir / "chroma"
        p = self.params
        # No telemetry (no network here) and no embedding function: vectors are given.
        self.client: Any = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False)
        )
        self._ef = p.ef
        self.col: Any = self.client.create_collection(
            "bench",
            embedding_function=None,
            configuration={
                "hnsw": {
                    "space": "cosine",
                    "max_neighbors": p.m,
                    "ef_construction": p.ef_construction,
                    "ef_search": p.ef,
                    "num_threads": p.threads,
                }
            },
        )

    def stop(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            self.client = None
            self.col = None
            # Chroma keeps a process-wide cache of systems per path.
            with contextlib.suppress(Exception):
                client.clear_system_cache()
            shutil.rmtree(self.path, ignore_errors=True)

    def upsert(self, rows: np.ndarray, vectors: np.ndarray | None = None) -> None:
        ds = self.data
        data = ds.base[rows] if vectors is None else vectors
        self.col.upsert(ids=ds.ids(rows), embeddings=data, metadatas=ds.properties(rows))

    def get(self, rows: np.ndarray) -> int:
        return len(self.col.get(ids=self.data.ids(rows), include=["metadatas"])["ids"])

    def filter_query(self, case: FilterCase) -> int:
        return len(self.col.get(where=case.vektra(), include=["metadatas"])["ids"])

    def prepare_ef(self, ef: int) -> None:
        if ef == self._ef:
            return
        import chromadb
        from chromadb.config import Settings

        # `modify` only records the new ef_search: the open index keeps the
        # old one until the collection is loaded again, so reopen it.
        self.col.modify(configuration={"hnsw": {"ef_search": ef}})
        self.client.clear_system_cache()
        self.client = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False)
        )
        self.col = self.client.get_collection("bench")
        self._ef = ef

    def search_batch(self, queries: np.ndarray, k: int, ef: int) -> Any:
        if ef != self._ef:
            raise ValueError(f"Chroma's ef is {self._ef}, asked {ef}: prepare_ef first")
        return self.col.query(query_embeddings=queries, n_results=k, include=["distances"])

    def batch_ids(self, answer: Any) -> list[list[int]]:
        return [[int(i) for i in ids] for ids in answer["ids"]]

    def filtered_search(
        self, query: np.ndarray, k: int, case: FilterCase, ef: int
    ) -> tuple[list[int], str | None]:
        if ef != self._ef:
            raise ValueError(f"Chroma's ef is {self._ef}, asked {ef}: prepare_ef first")
        res = self.col.query(
            query_embeddings=query[None, :], n_results=k, where=case.vektra(), include=["distances"]
        )
        return [int(i) for i in res["ids"][0]], None

    def delete(self, rows: np.ndarray) -> None:
        self.col.delete(ids=self.data.ids(rows))


class QdrantEdgePeer(System):
    name = "qdrant-edge"
    label = "Qdrant Edge"
    supports = _ALL

    def unavailable(self) -> str | None:
        return _missing("qdrant_edge", "qdrant-edge-py")

    def start(self, ds: Dataset, workdir: Path) -> None:
        super().start(ds, workdir)
        import qdrant_edge as qe

        self.qe = qe
        self.path = workdir / "qdrant-edge"
        p = self.params
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=ds.dim, distance=qe.Distance.Cosine),
            hnsw_config=qe.HnswIndexConfig(
                m=p.m,
                ef_construct=p.ef_construction,
                full_scan_threshold=10_000,  # KB, Qdrant's default
                max_indexing_threads=p.threads,
            ),
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1),
        )
        self.shard: Any = qe.EdgeShard.create(str(self.path), config)
        schema = {"keyword": qe.PayloadSchemaType.Keyword, "int": qe.PayloadSchemaType.Integer}
        for prop, kind in ds.property_types.items():
            self.shard.update(qe.UpdateOperation.create_field_index(prop, schema[kind]))

    def stop(self) -> None:
        shard = getattr(self, "shard", None)
        if shard is not None:
            self.shard = None
            shard.close()
            shutil.rmtree(self.path, ignore_errors=True)

    def after_ingest(self) -> None:
        self.shard.optimize()

    def upsert(self, rows: np.ndarray, vectors: np.ndarray | None = None) -> None:
        ds, qe = self.data, self.qe
        data = (ds.base[rows] if vectors is None else vectors).tolist()
        props = ds.properties(rows)
        points = [qe.Point(int(r), data[i], props[i]) for i, r in enumerate(rows.tolist())]
        self.shard.update(qe.UpdateOperation.upsert_points(points))

    def get(self, rows: np.ndarray) -> int:
        return len(self.shard.retrieve(rows.tolist(), with_payload=True, with_vector=False))

    def _filter(self, case: FilterCase) -> Any:
        qe = self.qe
        match = (
            qe.MatchValue(case.values[0])
            if len(case.values) == 1
            else qe.MatchAny(list(case.values))
        )
        return qe.Filter(must=[qe.FieldCondition(key=case.prop, match=match)])

    def filter_query(self, case: FilterCase) -> int:
        records, _ = self.shard.scroll(
            self.qe.ScrollRequest(
                limit=case.matches + 1, filter=self._filter(case), with_payload=True
            )
        )
        return len(records)

    def _request(self, query: np.ndarray, k: int, ef: int, flt: Any = None) -> Any:
        qe = self.qe
        return qe.QueryRequest(
            limit=k,
            query=qe.Query.Nearest(query.tolist()),
            params=qe.SearchParams(hnsw_ef=ef),
            filter=flt,
            with_payload=False,
        )

    def search(self, query: np.ndarray, k: int, ef: int) -> list[int]:
        return [int(p.id) for p in self.shard.query(self._request(query, k, ef))]

    def search_batch(self, queries: np.ndarray, k: int, ef: int) -> Any:
        batch = self.qe.QueryBatchRequest([self._request(q, k, ef) for q in queries])
        return self.shard.query_batch(batch)

    def batch_ids(self, answer: Any) -> list[list[int]]:
        return [[int(p.id) for p in hits] for hits in answer]

    def filtered_search(
        self, query: np.ndarray, k: int, case: FilterCase, ef: int
    ) -> tuple[list[int], str | None]:
        hits = self.shard.query(self._request(query, k, ef, self._filter(case)))
        return [int(p.id) for p in hits], None

    def delete(self, rows: np.ndarray) -> None:
        self.shard.update(self.qe.UpdateOperation.delete_points(rows.tolist()))
