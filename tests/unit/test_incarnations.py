"""Collection incarnations on one node: EnsureCollection creates, accepts the
same incarnation, and discards a dropped one; DropIncarnation drops only the
incarnation it names; a request routed by another incarnation is refused.
Real engines on a tmp dir."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vektra.common import filters
from vektra.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from vektra.common.hlc import Version
from vektra.common.schema import CollectionSchema
from vektra.node.engine import Engine
from vektra.node.records import Write

from .helpers import make_schema, objects, open_engine

RNG = np.random.default_rng(31)


def _schema(incarnation: str, **kw: int) -> CollectionSchema:
    return replace(make_schema(**kw), incarnation=incarnation)  # type: ignore[arg-type]


def _fill(e: Engine, n: int = 50) -> None:
    vecs = RNG.normal(size=(n, 8)).astype(np.float32)
    writes = [
        Write(o.id, Version(1000 + i, 0, "r"), False, o.properties, o.vectors)
        for i, o in enumerate(objects(vecs))
    ]
    e.apply("docs", writes)
    hint = writes[0]
    e.apply("docs", [replace(hint, id="hinted", hint_for="node-b")])


def test_ensure_creates_accepts_the_same_and_refuses_another_schema(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    assert e.ensure_collection(_schema("inc-a")) is True
    assert e.ensure_collection(_schema("inc-a")) is False
    with pytest.raises(AlreadyExists):
        e.ensure_collection(_schema("inc-a", dim=9))
    with pytest.raises(InvalidArgument) as err:
        e.ensure_collection(_schema(""))
    assert err.value.field == "schema.incarnation"
    assert e.schema("docs").incarnation == "inc-a"


def test_ensure_with_another_incarnation_discards_the_dropped_one(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    e.ensure_collection(_schema("inc-a"))
    _fill(e)
    e.checkpoint()
    old_no = e.store.collection("docs").no
    assert list((tmp_path / "index").glob(f"c{old_no}.*"))
    assert e.store.hints.counts() == {"node-b": 1}

    # The new incarnation may even have another schema: it is another collection.
    assert e.ensure_collection(_schema("inc-b", dim=4)) is True
    assert e.schema("docs").incarnation == "inc-b"
    assert e.count_all("docs") == 0
    assert e.get_versions("docs", ["id1"]) == [None]
    assert e.query("docs", filters.All(), limit=100) == []
    assert e.store.hints.counts() == {}
    assert not list((tmp_path / "index").glob(f"c{old_no}.*"))
    spec = e.schema("docs").vectors[0]
    assert e.search("docs", spec, np.ones((1, 4), np.float32), 5, None, filters.All())[0].hits == []
    e.close()
    again = open_engine(tmp_path)
    assert again.schema("docs").incarnation == "inc-b"
    assert again.count_all("docs") == 0


def test_drop_incarnation_drops_only_the_one_named(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    assert e.drop_incarnation("docs", "inc-a") is False  # none held: no error
    e.ensure_collection(_schema("inc-a"))
    _fill(e)
    assert e.drop_incarnation("docs", "inc-other") is False
    assert e.count_all("docs") == 50
    assert e.drop_incarnation("docs", "inc-a") is True
    assert [s.name for s in e.list_collections()] == []
    assert e.store.hints.counts() == {}
    e.close()
    assert open_engine(tmp_path).list_collections() == []


def test_requests_naming_another_incarnation_are_refused(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    e.ensure_collection(_schema("inc-a"))
    e.check_incarnation("docs", "inc-a")
    e.check_incarnation("docs", "")  # not checked
    with pytest.raises(FailedPrecondition) as err:
        e.check_incarnation("docs", "inc-b")
    assert "collection docs incarnation mismatch" in err.value.message
    with pytest.raises(NotFound):
        e.check_incarnation("other", "inc-a")
    write = Write("x", Version(5, 0, "r"), False, {}, {"v": np.ones(8, np.float32)})
    with pytest.raises(FailedPrecondition, match="incarnation mismatch"):
        e.apply("docs", [write], incarnation="inc-b")
    assert e.get_versions("docs", ["x"]) == [None]
    assert e.apply("docs", [write], incarnation="inc-a").applied == 1


def test_a_collection_stored_without_an_incarnation_is_given_one(tmp_path: Path) -> None:
    from vektra.common.values import pack

    e = open_engine(tmp_path)
    e.create_collection(make_schema())
    legacy = e.schema("docs").to_dict()
    legacy.pop("incarnation")
    no = e.store.collection("docs").no
    e.close()
    # Rewrite the catalog entry as a node before incarnations stored it.
    import lmdb

    env = lmdb.open(str(tmp_path / "lmdb"), max_dbs=8)
    with env.begin(write=True) as txn:
        txn.put(b"coll:docs", pack([no, legacy]), db=env.open_db(b"meta", txn=txn))
    env.close()
    first = open_engine(tmp_path)
    given = first.schema("docs").incarnation
    assert len(given) == 32
    first.close()
    assert open_engine(tmp_path).schema("docs").incarnation == given  # kept, not drawn anew
