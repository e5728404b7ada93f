"""The coordinator's gRPC service: the cluster map and schema changes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc

from vektra.common.channels import NodeChannels
from vektra.common.errors import FailedPrecondition, Unavailable
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

    def _check_bootstrapped(self) -> None:
        if self._coordinator.refusal:
            raise FailedPrecondition(
                f"the coordinator refused to start: {self._coordinator.refusal}"
            )

    async def GetMap(self, request: cpb.GetMapRequest, context: Ctx) -> cpb.ClusterMap:
        self._check_bootstrapped()
        return map_to_pb(self._coordinator.published)

    async def WatchMap(
        self, request: cpb.WatchMapRequest, context: Ctx
    ) -> AsyncIterator[cpb.ClusterMap]:
        self._check_bootstrapped()
        async for state in self._coordinator.watch(request.known_epoch):
            yield map_to_pb(state)

    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: Ctx
    ) -> pb.CreateCollectionResponse:
        self._check_bootstrapped()
        schema = schema_from_pb(request.schema).validated()
        await self._coordinator.handle(CreateCollection(schema, uuid.uuid4().hex))
        created = self._coordinator.state.collection(schema.name)
        assert created is not None
        return pb.CreateCollectionResponse(schema=schema_to_pb(created))

    async def DropCollection(
        self, request: pb.DropCollectionRequest, context: Ctx
    ) -> pb.DropCollectionResponse:
        self._check_bootstrapped()
        await self._coordinator.handle(DropCollection(request.name))
        return pb.DropCollectionResponse()

    async def AddNode(self, request: cpb.AddNodeRequest, context: Ctx) -> cpb.AddNodeResponse:
        self._check_bootstrapped()
        probed = await probe(self._channels, request.address, 5.0)
        if probed is None:
            raise Unavailable(f"no node answers at {request.address}")
        node_id = probed.node_id
        await self._coordinator.handle(AddNode(node_id, request.address, probed.report))
        state = self._coordinator.state
        member = state.member(node_id)
        assert member is not None
        return cpb.AddNodeResponse(
            member=cpb.Member(
                id=member.id, address=member.address, state=state_to_pb(member.state)
            ),
            epoch=state.epoch,
        )
