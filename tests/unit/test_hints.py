"""Stand-in writes are hints only: a write with `hint_for` is kept whole in
the hints database (newest version per target and id), never as the node's
own searchable copy, and every write of a batch gets its outcome. Real
engines on a tmp dir."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vektra.common import filters
from vektra.common.hlc import Version
from vektra.node.engine import Engine
from vektra.node.records import ObjectOutcome, Outcome, Write

from .helpers import make_schema, open_engine

VEC = np.arange(1, 9, dtype=np.float32)


def _engine(path: Path) -> Engine:
    e = open_engine(path, node_id="node-c")
    e.ensure_collection(replace(make_schema(), incarnation="inc-a"))
    return e


def _write(object_id: str, ms: int, hint_for: str | None = None, deleted: bool = False) -> Write:
    if deleted:
        return Write(object_id, Version(ms, 0, "r"), True, hint_for=hint_for)
    return Write(
        object_id, Version(ms, 0, "r"), False, {"group": "g", "n": ms}, {"v": VEC}, hint_for
    )


def test_a_hinted_write_is_not_the_nodes_copy(tmp_path: Path) -> None:
    e = _engine(tmp_path)
    result = e.apply("docs", [_write("x", 10, hint_for="node-b")])
    assert result.outcomes == [ObjectOutcome(Outcome.HINTED)]
    assert (result.applied, result.stale, result.removed_ids) == (0, 0, [])
    # Nothing of it is this node's: no record, no count, no search or query hit.
    assert e.get_versions("docs", ["x"]) == [None]
    assert e.count_all("docs") == 0
    assert e.count("docs", filters.All()) == 0
    assert e.query("docs", filters.All(), limit=10) == []
    spec = e.schema("docs").vectors[0]
    assert e.search("docs", spec, VEC[None, :], 5, None, filters.All())[0].hits == []
    assert e.info().hints == (("node-b", 1),)
    # It is kept whole, for the member it names.
    [kept] = e.get_hints("docs", "node-b", ["x"])
    assert kept is not None and kept.version == Version(10, 0, "r") and not kept.deleted
    assert kept.properties == {"group": "g", "n": 10}
    np.testing.assert_array_equal(kept.vector("v"), VEC)
    assert e.get_hints("docs", "node-a", ["x"]) == [None]


def test_a_stand_in_never_resurfaces_an_object_its_replicas_deleted(tmp_path: Path) -> None:
    # node-c stood in for node-b for an upsert; the delete later went to the
    # replicas only. node-c has nothing that a search could find.
    e = _engine(tmp_path)
    e.apply("docs", [_write("x", 10, hint_for="node-b")])
    spec = e.schema("docs").vectors[0]
    found = e.search(
        "docs", spec, VEC[None, :], 5, None, filters.parse({"group": "g"}, e.schema("docs"))
    )
    assert found[0].hits == []


def test_outcomes_are_per_object_in_order(tmp_path: Path) -> None:
    e = _engine(tmp_path)
    e.apply("docs", [_write("held", 50)])
    result = e.apply(
        "docs",
        [
            _write("new", 20),
            _write("held", 40),  # older than what the node holds
            _write("hinted", 30, hint_for="node-b"),
            _write("held2", 10, deleted=True),
        ],
    )
    assert result.outcomes == [
        ObjectOutcome(Outcome.APPLIED),
        ObjectOutcome(Outcome.STALE, Version(50, 0, "r")),
        ObjectOutcome(Outcome.HINTED),
        ObjectOutcome(Outcome.APPLIED),
    ]
    assert (result.applied, result.stale) == (2, 1)


def test_only_the_newest_hint_per_target_and_id_is_kept(tmp_path: Path) -> None:
    e = _engine(tmp_path)
    assert e.apply("docs", [_write("x", 20, "node-b")]).outcomes[0].outcome is Outcome.HINTED
    older = e.apply("docs", [_write("x", 10, "node-b")])
    assert older.outcomes == [ObjectOutcome(Outcome.STALE, Version(20, 0, "r"))]
    again = e.apply("docs", [_write("x", 20, "node-b")])  # a retry of the same write
    assert again.outcomes == [ObjectOutcome(Outcome.STALE, Version(20, 0, "r"))]
    newer = e.apply("docs", [_write("x", 30, "node-b", deleted=True)])
    assert newer.outcomes == [ObjectOutcome(Outcome.HINTED)]
    [kept] = e.get_hints("docs", "node-b", ["x"])
    assert kept is not None and kept.deleted and kept.version == Version(30, 0, "r")
    # Another target's hints are its own.
    assert e.apply("docs", [_write("x", 5, "node-d")]).outcomes[0].outcome is Outcome.HINTED
    assert e.info().hints == (("node-b", 1), ("node-d", 1))


def test_a_hint_for_this_node_is_its_own_copy(tmp_path: Path) -> None:
    e = _engine(tmp_path)
    assert e.apply("docs", [_write("x", 10, "node-c")]).outcomes[0].outcome is Outcome.APPLIED
    assert e.count_all("docs") == 1
    assert e.info().hints == ()


def test_hints_are_durable_and_dropped_only_when_handed_over(tmp_path: Path) -> None:
    e = _engine(tmp_path)
    e.apply("docs", [_write(f"h{i}", 10 + i, "node-b") for i in range(5)])
    e.close()
    e = _engine(tmp_path)
    pending = e.store.hints.pending("node-b", "docs", 100)
    assert [h.id for h in pending] == [f"h{i}" for i in range(5)]
    assert {h.incarnation for h in pending} == {"inc-a"}
    # A newer write hinted since the batch was read stays.
    e.apply("docs", [_write("h0", 99, "node-b")])
    assert e.store.hints.drop(pending) == 4
    assert [h.id for h in e.store.hints.pending("node-b", "docs", 100)] == ["h0"]


def test_hints_commit_with_their_batch_or_not_at_all(tmp_path: Path) -> None:
    from vektra.common.errors import ResourceExhausted

    e = open_engine(tmp_path, node_id="node-c", initial_map_bytes=1 << 20, max_map_bytes=4 << 20)
    e.ensure_collection(replace(make_schema(dim=256), incarnation="inc-a"))
    rng = np.random.default_rng(3)
    batches = 0
    with pytest.raises(ResourceExhausted):
        for b in range(100):
            vecs = rng.normal(size=(200, 256)).astype(np.float32)
            e.apply(
                "docs",
                [
                    Write(
                        f"b{b}-{i}",
                        Version(b + 1, i, "r"),
                        False,
                        {},
                        {"v": vecs[i]},
                        "node-b" if i % 2 else None,
                    )
                    for i in range(200)
                ],
            )
            batches += 1
    assert batches > 0
    # The batch that did not fit left neither its hints nor its own writes.
    assert e.count_all("docs") == 100 * batches
    assert e.info().hints == (("node-b", 100 * batches),)
