"""How a router follows a cluster map that changes under a call
(`NodeCalls.routed`): each time a node says the map is stale, the call runs
again by a newer map; a map that keeps changing ends the call UNAVAILABLE
(clients retry it), never FAILED_PRECONDITION (clients give up on that). A
write attempt refused as stale leaves no hints: it is written again by the
newer map.

CI once saw the old behaviour fail a delete. The router still routed by the
map before a returning node became ACTIVE; that node, already at the new map,
refused the write as stale, so the router left hints for it on the other
replicas. Hints for a member make the coordinator mark it RECOVERING (a new
epoch), and ACTIVE again once they are handed over (another): the retried
call met two newer maps in turn and the client got FAILED_PRECONDITION
"cluster map changed during the call".

The map watcher and the nodes are seams here; the integration tests run the
real ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from vektra.common.channels import NodeChannels
from vektra.common.errors import Unavailable
from vektra.common.hlc import HybridClock
from vektra.common.limits import Limits
from vektra.common.membership import ClusterMap, Member, MemberState
from vektra.common.schema import CollectionSchema, VectorSpec
from vektra.common.values import encode_vector
from vektra.router.calls import NodeCalls, Stale
from vektra.router.replication import Topology
from vektra.router.writes import Writes
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb


@dataclass(frozen=True)
class _Map:
    epoch: int


class _Maps:
    """Publishes the next epoch each time a caller waits for a newer map."""

    def __init__(self, epochs: list[int]) -> None:
        self._epochs = epochs
        self._at = 0
        self.waited_for: list[int] = []

    def current(self) -> _Map:
        return _Map(self._epochs[self._at])

    async def wait_for(self, epoch: int, timeout_s: float) -> _Map:
        assert timeout_s > 0
        self.waited_for.append(epoch)
        self._at = min(self._at + 1, len(self._epochs) - 1)
        return self.current()


def _routed(maps: _Maps, nodes_at: list[int], stale_message: str | None = None) -> object:
    """Run a call whose node refuses every map older than the node's epoch,
    the node moving on to the next of `nodes_at` after each refusal."""
    calls = NodeCalls(maps, NodeChannels("router-test"), budget_s=5.0)  # type: ignore[arg-type]
    node = iter(nodes_at)
    routed_by: list[int] = []

    async def fn(topo: _Map) -> list[int]:
        routed_by.append(topo.epoch)
        at = next(node)
        if topo.epoch < at:
            raise Stale(stale_message or f"stale epoch {topo.epoch}: this node is at epoch {at}")
        return routed_by

    return asyncio.run(calls.routed(fn))  # type: ignore[arg-type]


def test_a_map_that_changes_twice_during_a_call_is_followed() -> None:
    maps = _Maps([5, 6, 7])
    assert _routed(maps, [6, 7, 7]) == [5, 6, 7]
    assert maps.waited_for == [6, 7]


def test_a_map_that_keeps_changing_ends_the_call_unavailable_naming_the_epochs() -> None:
    maps = _Maps([1, 2, 3, 4, 5, 6])
    with pytest.raises(Unavailable) as err:
        _routed(maps, [2, 3, 4, 5, 6, 7])
    assert "kept changing" in str(err.value)
    assert "epochs 1, 2, 3, 4" in str(err.value)


def test_a_refusal_that_names_no_epoch_waits_for_a_newer_map_than_the_one_tried() -> None:
    maps = _Maps([3, 4])
    assert _routed(maps, [4, 4], stale_message="a replica knows a newer cluster map") == [3, 4]
    assert maps.waited_for == [4]


# ---------------------------------------------------------------- writes

_SCHEMA = CollectionSchema("docs", (VectorSpec("v", 2),), replication_factor=2, incarnation="inc-1")


def _topology(epoch: int) -> Topology:
    members = tuple(Member(f"n{i}", f"h:{i}", MemberState.ACTIVE) for i in range(3))
    return Topology(ClusterMap(epoch=epoch, members=members, collections=(_SCHEMA,)))


class _TopologyMaps(_Maps):
    def current(self) -> Topology:  # type: ignore[override]
        return _topology(self._epochs[self._at])

    async def wait_for(self, epoch: int, timeout_s: float) -> Topology:  # type: ignore[override]
        await super().wait_for(epoch, timeout_s)
        return self.current()


class _Nodes(NodeCalls):
    """Nodes at fixed epochs: each refuses a call routed by an older map, as
    `node.epoch.admit` does, and applies every object otherwise."""

    def __init__(self, maps: _TopologyMaps, epochs: dict[str, int]) -> None:
        super().__init__(maps, NodeChannels("router-test"), budget_s=5.0)  # type: ignore[arg-type]
        self.epochs = epochs
        self.sent: list[tuple[int, str, list[npb.VersionedObject]]] = []

    async def call(
        self, topo: Topology, node: str, method: str, request: Any, timeout: float
    ) -> Any:
        assert method == "Apply"
        self.sent.append((topo.epoch, node, list(request.objects)))
        if topo.epoch < self.epochs[node]:
            raise Stale(f"stale epoch {topo.epoch}: this node is at epoch {self.epochs[node]}")
        return npb.ApplyResponse(
            applied=len(request.objects),
            outcomes=[
                npb.ObjectOutcome(outcome=npb.APPLY_OUTCOME_APPLIED) for _ in request.objects
            ],
        )


def test_a_write_refused_as_stale_leaves_no_hints_and_lands_by_the_newer_map() -> None:
    maps = _TopologyMaps([5, 6])
    nodes = _Nodes(maps, {"n0": 5, "n1": 6, "n2": 5})  # n1 has the new map already
    writes = Writes(nodes, HybridClock("router-test"), Limits())
    request = pb.UpsertRequest(
        collection="docs",
        objects=[
            pb.Object(id=f"o{i}", vectors={"v": encode_vector(np.ones(2, np.float32))})
            for i in range(30)
        ],
    )

    async def scenario() -> pb.UpsertResponse:
        response = await writes.upsert(request, timeout=5.0)
        await writes.drain()
        return response

    response = asyncio.run(scenario())
    assert response.upserted == 30 and response.acknowledged == 2
    assert {epoch for epoch, _, _ in nodes.sent} == {5, 6}
    hints = [(node, o.id) for _, node, objs in nodes.sent for o in objs if o.hint_for]
    assert hints == [], "hints left for a node that only refused an old map"
    # Every object reached both of its replicas by the newer map.
    landed = {(node, o.id) for epoch, node, objs in nodes.sent if epoch == 6 for o in objs}
    assert len(landed) == 60
