"""Re-upserting objects a node holds (issue 9), on real engines (LMDB + hnswlib).

An upsert whose vector is byte-identical to the stored one does not touch
that field's HNSW index at all, neither when it is written nor when the
change log is replayed after a crash; only its properties change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vektra.common import filters
from vektra.common.schema import CollectionSchema
from vektra.common.validation import ObjectIn
from vektra.common.values import pack
from vektra.node import keys
from vektra.node.change_log import ChangeLog
from vektra.node.engine import Engine
from vektra.node.lmdb_env import LmdbEnv
from vektra.node.vector_index import VectorIndex

from .helpers import make_schema, objects, open_engine

RNG = np.random.default_rng(9)
DIM = 16

IndexWrite = tuple[str, str, list[int]]  # ("put" | "remove", field, docnos)


@pytest.fixture
def index_writes(monkeypatch: pytest.MonkeyPatch) -> list[IndexWrite]:
    """Every put and remove any VectorIndex takes from now on, with its docnos."""
    calls: list[IndexWrite] = []
    put, remove = VectorIndex.put, VectorIndex.remove

    def spy_put(self: VectorIndex, labels: np.ndarray, vectors: np.ndarray) -> None:
        calls.append(("put", self.spec.name, [int(x) for x in labels]))
        put(self, labels, vectors)

    def spy_remove(self: VectorIndex, labels: Any) -> None:
        labels = list(labels)
        if labels:
            calls.append(("remove", self.spec.name, [int(x) for x in labels]))
        remove(self, labels)

    monkeypatch.setattr(VectorIndex, "put", spy_put)
    monkeypatch.setattr(VectorIndex, "remove", spy_remove)
    return calls


def _docnos(e: Engine, ids: list[str]) -> list[int]:
    return [r.docno for r in e.get("docs", ids) if r is not None and r.docno is not None]


def _renumbered(objs: list[ObjectIn], bump: int) -> list[ObjectIn]:
    """The same objects, vectors untouched, with property `n` changed."""
    return [
        ObjectIn(o.id, {**o.properties, "n": o.properties["n"] + bump}, o.vectors) for o in objs
    ]


def test_an_upsert_with_an_unchanged_vector_leaves_the_index_untouched(
    tmp_path: Path, index_writes: list[IndexWrite]
) -> None:
    e = open_engine(tmp_path)
    schema = e.create_collection(make_schema(dim=DIM))
    base = RNG.normal(size=(200, DIM)).astype(np.float32)
    objs = objects(base)
    e.upsert("docs", objs)
    index_writes.clear()

    e.upsert("docs", _renumbered(objs, 1000))

    assert index_writes == []
    assert [r.properties["n"] for r in e.get("docs", ["id0", "id7"]) if r] == [1000, 1007]
    # The property index follows: only the new values match.
    assert e.count("docs", filters.parse({"n": {"$gte": 1000}}, schema)) == 200
    assert e.count("docs", filters.parse({"n": {"$lt": 1000}}, schema)) == 0
    hits = e.search("docs", schema.vectors[0], base[3:4], 5, None, filters.All())[0].hits
    assert hits[0].record.id == "id3" and hits[0].record.properties["n"] == 1003
    assert len({h.record.id for h in hits}) == 5


def test_only_the_changed_vectors_of_a_batch_are_indexed(
    tmp_path: Path, index_writes: list[IndexWrite]
) -> None:
    e = open_engine(tmp_path)
    schema = e.create_collection(make_schema(dim=DIM))
    base = RNG.normal(size=(100, DIM)).astype(np.float32)
    objs = objects(base)
    e.upsert("docs", objs)
    index_writes.clear()

    moved = base.copy()
    moved[10:20] = RNG.normal(size=(10, DIM)).astype(np.float32)
    e.upsert("docs", _renumbered(objects(moved), 1))

    changed = _docnos(e, [f"id{i}" for i in range(10, 20)])
    assert [(op, f, sorted(d)) for op, f, d in index_writes] == [("put", "v", sorted(changed))]
    spec = schema.vectors[0]
    for i in (5, 15):
        hit = e.search("docs", spec, moved[i : i + 1], 1, None, filters.All())[0].hits[0]
        assert hit.record.id == f"id{i}" and hit.distance < 1e-5


def test_each_vector_field_is_compared_on_its_own(
    tmp_path: Path, index_writes: list[IndexWrite]
) -> None:
    e = open_engine(tmp_path)
    e.create_collection(
        CollectionSchema.from_dict(
            {
                "name": "docs",
                "vectors": {"a": {"dim": DIM}, "b": {"dim": DIM}},
                "properties": {"n": "int"},
            }
        )
    )
    a, b, b2 = (RNG.normal(size=(3, DIM)).astype(np.float32) for _ in range(3))
    e.upsert("docs", [ObjectIn(f"id{i}", {"n": i}, {"a": a[i], "b": b[i]}) for i in range(3)])
    index_writes.clear()

    # id0: a kept, b changed; id1: a kept, b dropped; id2: both kept.
    e.upsert(
        "docs",
        [
            ObjectIn("id0", {"n": 10}, {"a": a[0], "b": b2[0]}),
            ObjectIn("id1", {"n": 11}, {"a": a[1]}),
            ObjectIn("id2", {"n": 12}, {"a": a[2], "b": b[2]}),
        ],
    )

    d0, d1, _ = _docnos(e, ["id0", "id1", "id2"])
    assert sorted(index_writes) == [("put", "b", [d0]), ("remove", "b", [d1])]


def test_replaying_unchanged_vectors_after_a_crash_leaves_the_index_untouched(
    tmp_path: Path, index_writes: list[IndexWrite]
) -> None:
    e = open_engine(tmp_path, exact_search_max=50)
    schema = e.create_collection(make_schema(dim=DIM))
    base = RNG.normal(size=(300, DIM)).astype(np.float32)
    objs = objects(base)
    e.upsert("docs", objs)
    e.checkpoint()
    moved = base.copy()
    moved[:5] = RNG.normal(size=(5, DIM)).astype(np.float32)
    e.upsert("docs", _renumbered(objects(moved), 1000))  # 295 kept, 5 changed
    changed = _docnos(e, [f"id{i}" for i in range(5)])
    e.store.close()  # a crash: no closing checkpoint
    index_writes.clear()

    again = open_engine(tmp_path, exact_search_max=50)

    assert again.recovery == {"docs.v.p0": "replayed 300 changes"}
    assert [(op, sorted(d)) for op, _, d in index_writes] == [("put", sorted(changed))]
    spec = schema.vectors[0]
    results = again.search("docs", spec, moved[[0, 200]], 3, None, filters.All())
    assert {r.strategy for r in results} == {"hnsw"}
    assert [r.hits[0].record.id for r in results] == ["id0", "id200"]
    assert [r.hits[0].record.properties["n"] for r in results] == [1000, 1200]
    assert again.count_all("docs") == 300


def test_change_log_entries_from_before_kept_fields_read_as_keeping_none(tmp_path: Path) -> None:
    env = LmdbEnv(tmp_path, initial_map_bytes=1 << 20, max_map_bytes=1 << 24)
    log = ChangeLog(env, env.open_db(b"meta"))
    raw = env.open_db(b"log")
    env.write(lambda txn: txn.put(keys.log_key(1), pack([3, "old", 7, None]), db=raw))
    env.write(lambda txn: log.put(txn, 2, 3, "new", 8, None, frozenset({"v"})))
    assert [(c.docno, c.kept) for c in log.after(0)] == [(7, frozenset()), (8, frozenset({"v"}))]
    env.close()
