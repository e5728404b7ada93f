"""What hinted handoff makes of a target's answers: pure verdicts per hint
(the wire is tested with node processes in tests/integration/test_node_cluster.py)."""

from __future__ import annotations

import grpc

from vektra.common.hlc import Version
from vektra.node.catalog import INCARNATION_MISMATCH
from vektra.node.handoff import Verdict, settle, settle_error
from vektra.node.hints import Hint
from vektra.v1 import node_pb2 as npb


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
