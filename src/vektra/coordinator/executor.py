"""Carries out the planner's effects on storage nodes and reports how they
went, as planner events.

* SyncNodes: give each node the map (epoch, members, cluster identity), drop
  the collection incarnations the map records as dropped, and make sure it
  has every collection of the map (the node replaces a dropped incarnation
  of the same name). A collection the map does not know is never deleted.
* DropOnNodes: drop one incarnation of a collection.
* PublishMap: the new map to every node that is up.

Each call has a short deadline, so that a node that hangs delays the map's
publication to routers by seconds at most; a node that missed an effect is
synced again at its next heartbeat (its report differs from the map).
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from vektra.common.channels import NodeChannels
from vektra.common.membership import ClusterMap
from vektra.common.pb import schema_to_pb
from vektra.common.pb_cluster import members_to_pb
from vektra.coordinator.planner import DropOnNodes, Event, PublishMap, SyncFailed, SyncNodes
from vektra.v1 import node_pb2 as npb

__all__ = ["Executor", "epoch_request"]

log = logging.getLogger(__name__)


def epoch_request(state: ClusterMap) -> npb.SetEpochRequest:
    return npb.SetEpochRequest(
        epoch=state.epoch,
        members=members_to_pb(state.members),
        cluster_id=state.cluster_id,
        vnodes=state.vnodes,
    )


class Executor:
    def __init__(self, channels: NodeChannels, timeout_s: float = 2.0) -> None:
        self._channels = channels
        self._timeout_s = timeout_s

    async def run(
        self, state: ClusterMap, effect: SyncNodes | PublishMap | DropOnNodes
    ) -> list[Event]:
        match effect:
            case SyncNodes(node_ids):
                results = await asyncio.gather(*(self._sync(state, i) for i in node_ids))
            case PublishMap():
                results = await asyncio.gather(
                    *(self._publish(state, m.id) for m in state.members if m.state.writable)
                )
            case DropOnNodes(name, incarnation, node_ids):
                results = await asyncio.gather(
                    *(self._drop(state, i, name, incarnation) for i in node_ids)
                )
        return [r for r in results if r is not None]

    async def _sync(self, state: ClusterMap, node_id: str) -> Event | None:
        member = state.member(node_id)
        if member is None:
            return None
        stub = self._channels.internal(member.address)
        md = self._channels.metadata(state.epoch, state.cluster_id)
        t = self._timeout_s
        try:
            await stub.SetEpoch(epoch_request(state), timeout=t, metadata=md)
            # Asked without the map's headers: a node that is (wrongly) ahead
            # of the coordinator must still say what it holds.
            info = await stub.NodeInfo(npb.NodeInfoRequest(), timeout=t)
            for c in info.collections:
                if state.is_dropped(c.name, c.incarnation):
                    await stub.DropIncarnation(
                        npb.DropIncarnationRequest(name=c.name, incarnation=c.incarnation),
                        timeout=t,
                        metadata=md,
                    )
                elif state.collection(c.name) is None:
                    # Not ours to delete: only a recorded drop removes data.
                    log.warning(
                        "node %s holds collection %s (incarnation %s) that the map does not "
                        "know; leaving it alone",
                        node_id,
                        c.name,
                        c.incarnation,
                    )
            for schema in state.collections:
                await stub.EnsureCollection(
                    npb.EnsureCollectionRequest(schema=schema_to_pb(schema)),
                    timeout=t,
                    metadata=md,
                )
        except grpc.aio.AioRpcError as exc:
            why = f"{exc.code().name}: {exc.details()}"
            log.warning("could not sync node %s: %s", node_id, why)
            return SyncFailed(node_id, why)
        return None

    async def _publish(self, state: ClusterMap, node_id: str) -> Event | None:
        member = state.member(node_id)
        if member is None:
            return None
        try:
            await self._channels.internal(member.address).SetEpoch(
                epoch_request(state),
                timeout=self._timeout_s,
                metadata=self._channels.metadata(state.epoch, state.cluster_id),
            )
        except grpc.aio.AioRpcError as exc:
            return SyncFailed(node_id, f"{exc.code().name}: {exc.details()}")
        return None

    async def _drop(
        self, state: ClusterMap, node_id: str, name: str, incarnation: str
    ) -> Event | None:
        member = state.member(node_id)
        if member is None:
            return None
        try:
            await self._channels.internal(member.address).DropIncarnation(
                npb.DropIncarnationRequest(name=name, incarnation=incarnation),
                timeout=self._timeout_s,
                metadata=self._channels.metadata(state.epoch, state.cluster_id),
            )
        except grpc.aio.AioRpcError as exc:
            return SyncFailed(node_id, f"drop {name}: {exc.code().name}: {exc.details()}")
        return None
