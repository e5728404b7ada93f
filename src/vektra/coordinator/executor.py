"""Carries out the planner's effects on storage nodes: push the epoch and the
collection schemas (SyncNodes), drop a collection's data (DropOnNodes).
Best effort: a node that misses an effect is synced again when it comes back.
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from vektra.common.channels import NodeChannels
from vektra.common.membership import ClusterMap
from vektra.common.pb import schema_to_pb
from vektra.common.pb_cluster import map_to_pb
from vektra.coordinator.planner import DropOnNodes, PublishMap, SyncNodes
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = ["Executor"]

log = logging.getLogger(__name__)


class Executor:
    def __init__(self, channels: NodeChannels, timeout_s: float = 10.0) -> None:
        self._channels = channels
        self._timeout_s = timeout_s

    async def run(self, state: ClusterMap, effect: SyncNodes | PublishMap | DropOnNodes) -> None:
        match effect:
            case SyncNodes(node_ids):
                await asyncio.gather(*(self._sync(state, i) for i in node_ids))
            case PublishMap():
                request = _epoch_request(state)
                await asyncio.gather(
                    *(self._publish(m.address, request) for m in state.members if m.state.reachable)
                )
            case DropOnNodes(name):
                await asyncio.gather(
                    *(self._drop(m.address, name) for m in state.members if m.state.reachable)
                )

    async def _sync(self, state: ClusterMap, node_id: str) -> None:
        member = state.member(node_id)
        if member is None:
            return
        stub = self._channels.internal(member.address)
        try:
            await stub.SetEpoch(_epoch_request(state), timeout=self._timeout_s)
            info = await stub.NodeInfo(npb.NodeInfoRequest(), timeout=self._timeout_s)
            wanted = {c.name for c in state.collections}
            for c in info.collections:
                if c.name not in wanted:  # dropped while the node was away
                    await self._drop(member.address, c.name)
            for schema in state.collections:
                await stub.EnsureCollection(
                    npb.EnsureCollectionRequest(schema=schema_to_pb(schema)),
                    timeout=self._timeout_s,
                )
        except grpc.aio.AioRpcError as exc:
            log.warning("could not sync node %s: %s %s", node_id, exc.code().name, exc.details())

    async def _publish(self, address: str, request: npb.SetEpochRequest) -> None:
        try:
            await self._channels.internal(address).SetEpoch(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as exc:
            log.debug("could not publish the map to %s: %s", address, exc.code().name)

    async def _drop(self, address: str, name: str) -> None:
        try:
            await self._channels.public(address).DropCollection(
                pb.DropCollectionRequest(name=name), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                log.warning("could not drop %s on %s: %s", name, address, exc.code().name)


def _epoch_request(state: ClusterMap) -> npb.SetEpochRequest:
    return npb.SetEpochRequest(epoch=state.epoch, members=map_to_pb(state).members)
