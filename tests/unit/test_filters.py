"""The filter language: parsing, validation, and exact agreement between the
index-backed evaluator and the reference predicate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vektra.common import filters
from vektra.common.errors import InvalidArgument
from vektra.common.schema import CollectionSchema
from vektra.common.validation import ObjectIn
from vektra.node.config import EngineConfig
from vektra.node.engine import Engine
from vektra.node.filter_eval import FilterEvaluator

SCHEMA = CollectionSchema.from_dict(
    {
        "name": "t",
        "vectors": {"v": {"dim": 4, "metric": "l2"}},
        "properties": {
            "kw": "keyword",
            "n": "int",
            "x": "float",
            "b": "bool",
            "at": "datetime",
            "tags": "keyword[]",
            "body": "text",
            "raw_n": {"type": "int", "indexed": False},
            "raw_kw": {"type": "keyword", "indexed": False},
        },
    }
).validated()

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def parse(doc: dict) -> filters.Filter:
    return filters.parse(doc, SCHEMA)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"nope": 1}, "filter.nope"),
        ({"kw": 1}, "filter.kw"),
        ({"n": "3"}, "filter.n"),
        ({"n": True}, "filter.n"),
        ({"b": 1}, "filter.b"),
        ({"kw": {"$gt": "a"}}, "filter.kw.$gt"),
        ({"tags": {"$lt": "a"}}, "filter.tags.$lt"),
        ({"n": {"$foo": 1}}, "filter.n.$foo"),
        ({"$xor": []}, "filter.$xor"),
        ({"$and": []}, "filter.$and"),
        ({"$or": {}}, "filter.$or"),
        ({"n": None}, "filter.n"),
        ({"n": {"$in": 3}}, "filter.n.$in"),
        ({"n": {"$exists": 1}}, "filter.n.$exists"),
        ({"at": {"$gt": "not a date"}}, "filter.at.$gt"),
        ({"x": {"$gt": float("nan")}}, "filter.x.$gt"),
        ({"kw": ["a", "b"]}, "filter.kw"),
        ({"n": {}}, "filter.n"),
    ],
)
def test_invalid_filters_name_the_field(doc: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse(doc)
    assert err.value.field == field
    assert str(err.value).startswith(field)


def test_semantics_of_the_reference_predicate() -> None:
    obj = {"kw": "a", "n": 5, "x": 2.5, "tags": ["p", "q"], "at": T0}
    m = filters.matches
    assert m(parse({}), obj)
    assert m(parse({"kw": "a"}), obj) and not m(parse({"kw": "b"}), obj)
    assert m(parse({"tags": "q"}), obj) and not m(parse({"tags": "z"}), obj)
    assert m(parse({"tags": {"$in": ["z", "p"]}}), obj)
    assert m(parse({"n": {"$gte": 5, "$lt": 6}}), obj) and not m(parse({"n": {"$gt": 5}}), obj)
    assert m(parse({"n": 5.0}), obj) and not m(parse({"n": 5.5}), obj)
    assert m(parse({"x": {"$lt": 3}}), obj)
    assert m(parse({"at": {"$gte": "2024-01-01T00:00:00+00:00"}}), obj)
    assert not m(parse({"at": {"$gt": T0}}), obj)
    # $nin, $ne and $not match objects that lack the property (as in MongoDB).
    assert m(parse({"b": {"$nin": [True]}}), obj)
    assert m(parse({"b": {"$ne": True}}), obj)
    assert m(parse({"$not": {"b": True}}), obj)
    assert not m(parse({"n": {"$lt": 0}}), obj)
    assert m(parse({"b": {"$exists": False}}), obj) and not m(
        parse({"kw": {"$exists": False}}), obj
    )
    assert m(parse({"$or": [{"kw": "z"}, {"n": 5}]}), obj)
    assert m(parse({"n": {"$not": {"$gt": 6}}}), obj)
    assert not m(parse({"$and": [{"kw": "a"}, {"n": 6}]}), obj)


# ---------------------------------------------------------------- agreement

KW = st.sampled_from(["a", "b", "c", "d"])
N = st.integers(-5, 5)
X = st.sampled_from([-1.5, -0.0, 0.0, 0.5, 2.0, 3.25])


def _random_props(rng: np.random.Generator) -> dict:
    """Each property present with probability 0.7, values from small domains
    so that filters hit, miss and overlap."""
    kws = ["a", "b", "c", "d"]
    candidates = {
        "kw": lambda: kws[rng.integers(4)],
        "n": lambda: int(rng.integers(-5, 6)),
        "x": lambda: [-1.5, -0.0, 0.0, 0.5, 2.0, 3.25][rng.integers(6)],
        "b": lambda: bool(rng.integers(2)),
        "at": lambda: T0 + dt.timedelta(days=int(rng.integers(5))),
        "tags": lambda: [kws[i] for i in rng.integers(4, size=rng.integers(4))],
        "body": lambda: ["hello world", "bye"][rng.integers(2)],
        "raw_n": lambda: int(rng.integers(-5, 6)),
        "raw_kw": lambda: kws[rng.integers(4)],
    }
    return {k: make() for k, make in candidates.items() if rng.random() < 0.7}


def _leaf() -> st.SearchStrategy[dict]:
    num = st.one_of(N, X, st.sampled_from([2.5, -0.5, 1e20, -1e20]))
    rng_ops = st.dictionaries(
        st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), num, min_size=1, max_size=2
    )
    return st.one_of(
        st.builds(lambda f, v: {f: v}, st.sampled_from(["kw", "tags", "raw_kw"]), KW),
        st.builds(
            lambda f, v: {f: {"$in": v}},
            st.sampled_from(["kw", "tags", "raw_kw"]),
            st.lists(KW, max_size=3),
        ),
        st.builds(
            lambda f, v: {f: {"$nin": v}}, st.sampled_from(["kw", "tags"]), st.lists(KW, max_size=2)
        ),
        st.builds(lambda f, v: {f: v}, st.sampled_from(["n", "x", "raw_n"]), num),
        st.builds(lambda f, v: {f: v}, st.sampled_from(["n", "x", "raw_n"]), rng_ops),
        st.builds(lambda v: {"at": {"$gte": T0 + dt.timedelta(days=v)}}, st.integers(-1, 5)),
        st.builds(lambda v: {"b": v}, st.booleans()),
        st.builds(lambda v: {"body": v}, st.sampled_from(["hello world", "bye", "x"])),
        st.builds(
            lambda f, v: {f: {"$exists": v}},
            st.sampled_from(["kw", "n", "tags", "raw_n", "b"]),
            st.booleans(),
        ),
    )


FILTERS = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds(lambda c: {"$and": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"$or": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"$not": c}, inner),
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, list[dict]]:
    engine = Engine(EngineConfig(Path(tmp_path_factory.mktemp("filters"))))
    engine.create_collection(SCHEMA)
    rng = np.random.default_rng(3)
    props_list = [_random_props(rng) for _ in range(120)]
    engine.upsert(
        "t",
        [
            ObjectIn(f"o{i}", p, {"v": rng.normal(size=4).astype(np.float32)})
            for i, p in enumerate(props_list)
        ],
    )
    # Some deletions and rewrites so docnos are not dense.
    engine.delete("t", [f"o{i}" for i in range(0, 120, 7)])
    return engine, props_list


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=FILTERS)
def test_index_evaluation_is_exact(populated: tuple[Engine, list[dict]], doc: dict) -> None:
    engine, props_list = populated
    flt = parse(doc)
    records = [
        r for r in engine.get("t", [f"o{i}" for i in range(len(props_list))]) if r is not None
    ]
    expected = {r.id for r in records if filters.matches(flt, r.properties)}
    coll = engine._colls.get("t")
    docnos = FilterEvaluator(engine.store, coll.meta, coll.universe).docnos(flt)
    got = {r.id for r in engine.store.records.by_docnos(coll.meta, sorted(docnos)) if r is not None}
    assert got == expected, doc
    assert engine.count("t", flt) == len(expected)
