"""Protobuf conversions of the cluster map (coordinator, routers, nodes)."""

from __future__ import annotations

from collections.abc import Iterable

from vektra.common.membership import ClusterMap, DroppedCollection, Member, MemberState
from vektra.common.pb import schema_from_pb, schema_to_pb
from vektra.v1 import coordinator_pb2 as cpb
from vektra.v1 import vektra_pb2 as pb

__all__ = [
    "map_from_pb",
    "map_to_pb",
    "members_from_pb",
    "members_to_pb",
    "state_from_pb",
    "state_to_pb",
]

_STATE_TO_PB = {
    MemberState.JOINING: pb.NODE_STATE_JOINING,
    MemberState.ACTIVE: pb.NODE_STATE_ACTIVE,
    MemberState.DRAINING: pb.NODE_STATE_DRAINING,
    MemberState.DOWN: pb.NODE_STATE_DOWN,
    MemberState.RECOVERING: pb.NODE_STATE_RECOVERING,
    MemberState.LEFT: pb.NODE_STATE_LEFT,
}
_STATE_FROM_PB = {v: k for k, v in _STATE_TO_PB.items()}


def state_to_pb(state: MemberState) -> pb.NodeState:
    return _STATE_TO_PB[state]


def state_from_pb(value: int) -> MemberState:
    # An unknown (newer) state is treated as the safest: neither read nor written.
    return _STATE_FROM_PB.get(value, MemberState.DOWN)  # type: ignore[call-overload, no-any-return]


def members_to_pb(members: Iterable[Member]) -> list[cpb.Member]:
    return [cpb.Member(id=m.id, address=m.address, state=state_to_pb(m.state)) for m in members]


def members_from_pb(members: Iterable[cpb.Member]) -> tuple[Member, ...]:
    return tuple(Member(m.id, m.address, state_from_pb(m.state)) for m in members)


def map_to_pb(cluster: ClusterMap) -> cpb.ClusterMap:
    """The published map: the coordinator's bookkeeping stays behind."""
    return cpb.ClusterMap(
        epoch=cluster.epoch,
        vnodes=cluster.vnodes,
        members=members_to_pb(cluster.members),
        collections=[schema_to_pb(c) for c in cluster.collections],
        cluster_id=cluster.cluster_id,
        dropped=[
            cpb.DroppedCollection(name=d.name, incarnation=d.incarnation, epoch=d.epoch)
            for d in cluster.dropped
        ],
    )


def map_from_pb(msg: cpb.ClusterMap) -> ClusterMap:
    return ClusterMap(
        epoch=msg.epoch,
        vnodes=msg.vnodes or 64,
        members=members_from_pb(msg.members),
        collections=tuple(schema_from_pb(c) for c in msg.collections),
        cluster_id=msg.cluster_id,
        dropped=tuple(DroppedCollection(d.name, d.incarnation, d.epoch) for d in msg.dropped),
    )
