"""`ClusterStatus` through a router: the map's members with each
reachable node's object count (unknown for a node that cannot be asked)."""

from __future__ import annotations

import asyncio

from vektra.common.pb_cluster import state_to_pb
from vektra.router.calls import NodeCalls
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = ["cluster_status"]


async def cluster_status(calls: NodeCalls, timeout_s: float) -> pb.ClusterStatusResponse:
    topo = calls.maps.current()
    timeout = min(timeout_s, 2.0)
    members = topo.cluster.members
    infos = await asyncio.gather(
        *(
            calls.call(topo, m.id, "NodeInfo", npb.NodeInfoRequest(), timeout)
            if m.state.writable
            else _none()
            for m in members
        ),
        return_exceptions=True,
    )
    nodes = []
    for m, info in zip(members, infos, strict=True):
        # A node that could not be asked has an unknown count, not 0.
        objects = (
            None
            if info is None or isinstance(info, BaseException)
            else sum(c.objects for c in info.collections)
        )
        nodes.append(
            pb.NodeStatus(id=m.id, address=m.address, state=state_to_pb(m.state), objects=objects)
        )
    return pb.ClusterStatusResponse(epoch=topo.epoch, nodes=nodes)


async def _none() -> None:
    return None
