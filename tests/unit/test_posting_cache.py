"""The property index remembers what it read (`node.property_index`): a
repeated filter does not rescan the index, and no write, whatever it
changes, leaves a filter answered from a set read before it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vektra.common import filters
from vektra.common.schema import CollectionSchema
from vektra.common.validation import ObjectIn
from vektra.node.config import EngineConfig
from vektra.node.engine import Engine
from vektra.node.filter_eval import FilterEvaluator
from vektra.node.lmdb_env import LmdbEnv
from vektra.node.property_index import DocnoSet, PropertyIndex, _PostingCache

SCHEMA = CollectionSchema.from_dict(
    {
        "name": "t",
        "vectors": {"v": {"dim": 4, "metric": "l2"}},
        "properties": {"kw": "keyword", "n": "int", "tags": "keyword[]"},
    }
).validated()
OTHER = CollectionSchema.from_dict(
    {"name": "other", "vectors": {"v": {"dim": 4, "metric": "l2"}}, "properties": {"kw": "keyword"}}
).validated()

FILTERS = [
    {"kw": "a"},
    {"kw": {"$in": ["a", "b"]}},
    {"n": {"$gte": 3, "$lt": 7}},
    {"tags": "x"},
    {"n": {"$exists": True}},
    {"$and": [{"kw": "b"}, {"n": {"$lt": 5}}]},
    {"$not": {"kw": "c"}},
]


def _vector(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"v": rng.normal(size=4).astype(np.float32)}


def _props(rng: np.random.Generator) -> dict:
    props: dict = {"kw": str(rng.choice(["a", "b", "c"]))}
    if rng.random() < 0.8:
        props["n"] = int(rng.integers(0, 10))
    if rng.random() < 0.5:
        props["tags"] = [str(t) for t in rng.choice(["x", "y", "z"], size=2, replace=False)]
    return props


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = Engine(EngineConfig(tmp_path))
    e.create_collection(SCHEMA)
    e.create_collection(OTHER)
    return e


def _expected(engine: Engine, flt: filters.Filter, ids: list[str]) -> set[str]:
    return {
        r.id for r in engine.get("t", ids) if r is not None and filters.matches(flt, r.properties)
    }


def _answered(engine: Engine, flt: filters.Filter) -> set[str]:
    spec = SCHEMA.vectors[0]
    hits = engine.search("t", spec, np.zeros((1, 4), np.float32), 1000, None, flt)[0].hits
    found = {h.record.id for h in hits}
    assert engine.count("t", flt) == len(found)
    return found


def test_every_write_is_seen_by_the_next_filter(engine: Engine) -> None:
    """Upserts that move objects between values, deletes and re-inserts,
    each followed by every filter: the answers match the records, though
    most filters repeat unchanged between writes."""
    rng = np.random.default_rng(11)
    ids = [f"o{i}" for i in range(40)]
    parsed = [filters.parse(doc, SCHEMA) for doc in FILTERS]
    engine.upsert("t", [ObjectIn(i, _props(rng), _vector(rng)) for i in ids])
    for step in range(60):
        chosen = [str(i) for i in rng.choice(ids, size=3, replace=False)]
        if step % 4 == 3:
            engine.delete("t", chosen)
        else:
            engine.upsert("t", [ObjectIn(i, _props(rng), _vector(rng)) for i in chosen])
        for flt in parsed:
            for _ in range(2):  # the second answer may come from the cache
                assert _answered(engine, flt) == _expected(engine, flt, ids), (step, flt)


def test_a_repeated_filter_reads_the_index_once_until_anything_is_written(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(5)
    engine.upsert("t", [ObjectIn(f"o{i}", {"kw": "a"}, _vector(rng)) for i in range(10)])
    scans: list[bytes] = []
    scan = PropertyIndex._keys_between

    def counted(self: PropertyIndex, start: bytes, end: bytes) -> list[bytes]:
        scans.append(start)
        return scan(self, start, end)

    monkeypatch.setattr(PropertyIndex, "_keys_between", counted)
    flt = filters.parse({"kw": "a"}, SCHEMA)
    for _ in range(3):
        assert engine.count("t", flt) == 10
    assert len(scans) == 1
    coll = engine._colls.get("t")
    evaluated = FilterEvaluator(engine.store, coll.meta, coll.universe).docnos(flt)
    assert isinstance(evaluated, DocnoSet) and len(scans) == 1  # the remembered set itself
    assert evaluated.array.tolist() == sorted(evaluated)
    with pytest.raises(ValueError):  # shared by every caller: nobody may sort it in place
        evaluated.array[0] = 0
    # A write to another collection: the environment's count of writes
    # moved, so the set is read again (stale-safe, not per collection).
    engine.upsert("other", [ObjectIn("p", {"kw": "a"}, _vector(rng))])
    assert engine.count("t", flt) == 10
    assert len(scans) == 2
    engine.upsert("t", [ObjectIn("o0", {"kw": "b"}, _vector(rng))])
    assert engine.count("t", flt) == 9
    assert len(scans) == 3


def test_a_write_that_fails_still_dates_what_was_read_before_it(tmp_path: Path) -> None:
    env = LmdbEnv(tmp_path, initial_map_bytes=1 << 20, max_map_bytes=1 << 20)
    before = env.writes
    env.write(lambda txn: txn.put(b"k", b"v"))
    assert env.writes == before + 1

    def fails(txn: object) -> None:
        raise ValueError("abort")

    with pytest.raises(ValueError):
        env.write(fails)
    assert env.writes == before + 2
    env.close()


def test_the_cache_keeps_its_bounds_and_drops_the_least_recently_used() -> None:
    cache = _PostingCache(max_sets=2, max_docnos=10)
    a, b, c = (b"a", b"b", None), (b"b", b"c", None), (b"c", b"d", None)
    cache.put(a, 1, frozenset({1, 2}))
    cache.put(b, 1, frozenset({3}))
    assert cache.get(a, 1) == {1, 2}  # a is now the most recently used
    cache.put(c, 1, frozenset({4}))  # over two sets: b goes
    assert cache.get(b, 1) is None
    assert cache.get(a, 1) == {1, 2} and cache.get(c, 1) == {4}
    assert cache.get(a, 2) is None  # written since: stale, and dropped
    assert cache.get(a, 1) is None
    cache.put(a, 3, frozenset(range(11)))  # more docnos than it may hold at all
    assert cache.get(a, 3) is None
    cache.put(a, 3, frozenset(range(10)))  # fits only once c's docno goes
    assert cache.get(c, 1) is None and cache.get(a, 3) == frozenset(range(10))
