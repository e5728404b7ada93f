"""Stand-in writes are hints only: a write with `hint_for` is kept whole in
the hints database (newest version per target and id), never as the node's
own searchable copy, and every write of a batch gets its outcome. Plus what
handoff makes of a target's answers (`settle`, pure). Real engines."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import grpc
import numpy as np

from vektra.common import filters
from vektra.common.hlc import Version
from vektra.node.catalog import INCARNATION_MISMATCH
from vektra.node.engine import Engine
from vektra.node.handoff import Verdict, settle, settle_error
from vektra.node.hints import Hint
from vektra.node.records import ObjectOutcome, Outcome, Write
from vektra.v1 import node_pb2 as npb

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


# ---------------------------------------------------------------- handoff's verdicts


def _hint(object_id: str) -> Hint:
    return Hint("node-b", "docs", "inc-a", object_id, Version(1, 0, "r"), False, {}, {})


def test_settle_drops_what_the_target_took_and_keeps_the_rest() -> None:
    hints = [_hint("a"), _hint("b"), _hint("c")]
    outcomes = [npb.APPLY_OUTCOME_APPLIED, npb.APPLY_OUTCOME_STALE, npb.APPLY_OUTCOME_HINTED]
    assert settle(hints, outcomes) == [Verdict.DROP, Verdict.DROP, Verdict.KEEP]
    # Answers that do not line up with what was sent keep everything.
    assert settle(hints, outcomes[:2]) == [Verdict.KEEP] * 3
    assert settle(hints, []) == [Verdict.KEEP] * 3


def test_settle_error_drops_only_hints_of_an_incarnation_gone_here_too() -> None:
    mismatch = f"collection docs {INCARNATION_MISMATCH}: ..."
    fp = grpc.StatusCode.FAILED_PRECONDITION
    assert settle_error(fp, mismatch, still_held=False) is Verdict.DROP
    # The target is behind (the coordinator syncs it): dropping would lose the write.
    assert settle_error(fp, mismatch, still_held=True) is Verdict.KEEP
    assert settle_error(fp, "stale epoch 3: this node is at epoch 4", False) is Verdict.KEEP
    assert settle_error(grpc.StatusCode.NOT_FOUND, "no collection", False) is Verdict.KEEP
    assert settle_error(grpc.StatusCode.UNAVAILABLE, "", False) is Verdict.KEEP
