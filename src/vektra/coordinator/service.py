"""The coordinator's gRPC service: the cluster map and schema changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc

from vektra.common.channels import NodeChannels
from vektra.common.errors import Unavailable
from vektra.common.pb import schema_from_pb, schema_to_pb
from vektra.common.pb_cluster import map_to_pb, state_to_pb
from vektra.coordinator.core import Coordinator
from vektra.coordinator.health import probe
from vektra.coordinator.planner import AddNode, CreateCollection, DropCollection
from vektra.v1 import coordinator_pb2 as cpb
from vektra.v1 import coordinator_pb2_grpc
from vektra.v1 import vektra_pb2 as pb

__all__ = ["CoordinatorService"]

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class CoordinatorService(coordinator_pb2_grpc.CoordinatorServicer):
    def __init__(self, coordinator: Coordinator, channels: NodeChannels) -> None:
        self._coordinator = coordinator
        self._channels = channels

    async def GetMap(self, request: cpb.GetMapRequest, context: Ctx) -> cpb.ClusterMap:
        return map_to_pb(self._coordinator.state)

    async def WatchMap(
        self, request: cpb.WatchMapRequest, context: Ctx
    ) -> AsyncIterator[cpb.ClusterMap]:
        async for state in self._coordinator.watch(request.known_epoch):
            yield map_to_pb(state)

    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: Ctx
    ) -> pb.CreateCollectionResponse:
        schema = schema_from_pb(request.schema).validated()
        await self._coordinator.handle(CreateCollection(schema))
        created = self._coordinator.state.collection(schema.name)
        assert created is not None
        return pb.CreateCollectionResponse(schema=schema_to_pb(created))

    async def DropCollection(
        self, request: pb.DropCollectionRequest, context: Ctx
    ) -> pb.DropCollectionResponse:
        await self._coordinator.handle(DropCollection(request.name))
        return pb.DropCollectionResponse()

    async def AddNode(self, request: cpb.AddNodeRequest, context: Ctx) -> cpb.AddNodeResponse:
        node_id = await probe(self._channels, request.address, 5.0)
        if node_id is None:
            raise Unavailable(f"no node answers at {request.address}")
        await self._coordinator.handle(AddNode(node_id, request.address))
        state = self._coordinator.state
        member = state.member(node_id)
        assert member is not None
        return cpb.AddNodeResponse(
            member=cpb.Member(
                id=member.id, address=member.address, state=state_to_pb(member.state)
            ),
            epoch=state.epoch,
        )
