"""The router's public API: the `Vektra` service for a whole cluster.

Each handler hands its request to the part of the router that does that job
and returns the answer: schema changes to `admin` (forwarded to the
coordinator), writes to `writes`, reads by id to `reads`, searches, filter
queries and counts to `scatter`, status to `status`. `calls` is how every
one of them reaches the nodes (epoch header, deadline, one retry with a fresh
map when a node knows a newer one).
"""

from __future__ import annotations

from vektra.common.channels import NodeChannels
from vektra.common.hlc import HybridClock
from vektra.common.limits import Limits
from vektra.common.pb import schema_to_pb
from vektra.router.admin import Admin
from vektra.router.calls import Ctx, NodeCalls
from vektra.router.cluster_map import MapWatcher
from vektra.router.reads import Reads
from vektra.router.scatter import Scatter
from vektra.router.status import cluster_status
from vektra.router.writes import Writes
from vektra.v1 import vektra_pb2 as pb
from vektra.v1 import vektra_pb2_grpc

__all__ = ["RouterService"]


class RouterService(vektra_pb2_grpc.VektraServicer):
    def __init__(
        self, maps: MapWatcher, channels: NodeChannels, clock: HybridClock, budget_s: float
    ) -> None:
        limits = Limits()
        self._calls = NodeCalls(maps, channels, budget_s)
        self._admin = Admin(maps)
        self._writes = Writes(self._calls, clock, limits)
        self._reads = Reads(self._calls, clock, limits)
        self._scatter = Scatter(self._calls, clock, limits)

    # ------------------------------------------------------------ schema

    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: Ctx
    ) -> pb.CreateCollectionResponse:
        return await self._admin.create_collection(request, self._calls.timeout(context))

    async def DropCollection(
        self, request: pb.DropCollectionRequest, context: Ctx
    ) -> pb.DropCollectionResponse:
        await self._admin.drop_collection(request, self._calls.timeout(context))
        return pb.DropCollectionResponse()

    async def ListCollections(
        self, request: pb.ListCollectionsRequest, context: Ctx
    ) -> pb.ListCollectionsResponse:
        view = self._calls.maps.current()
        return pb.ListCollectionsResponse(
            collections=[schema_to_pb(c) for c in view.cluster.collections]
        )

    async def DescribeCollection(
        self, request: pb.DescribeCollectionRequest, context: Ctx
    ) -> pb.DescribeCollectionResponse:
        schema = self._calls.schema(self._calls.maps.current(), request.name)
        count = await self._scatter.count(
            pb.CountRequest(collection=request.name), self._calls.timeout(context)
        )
        return pb.DescribeCollectionResponse(schema=schema_to_pb(schema), objects=count.count)

    # ------------------------------------------------------------ data

    async def Upsert(self, request: pb.UpsertRequest, context: Ctx) -> pb.UpsertResponse:
        return await self._writes.upsert(request, self._calls.timeout(context))

    async def Delete(self, request: pb.DeleteRequest, context: Ctx) -> pb.DeleteResponse:
        return await self._writes.delete(request, self._calls.timeout(context))

    async def Get(self, request: pb.GetRequest, context: Ctx) -> pb.GetResponse:
        return await self._reads.get(request, self._calls.timeout(context))

    async def Search(self, request: pb.SearchRequest, context: Ctx) -> pb.SearchResponse:
        return await self._scatter.search(request, self._calls.timeout(context))

    async def SearchBatch(
        self, request: pb.SearchBatchRequest, context: Ctx
    ) -> pb.SearchBatchResponse:
        return await self._scatter.search_batch(request, self._calls.timeout(context))

    async def Query(self, request: pb.QueryRequest, context: Ctx) -> pb.QueryResponse:
        return await self._scatter.query(request, self._calls.timeout(context))

    async def Count(self, request: pb.CountRequest, context: Ctx) -> pb.CountResponse:
        return await self._scatter.count(request, self._calls.timeout(context))

    async def ClusterStatus(
        self, request: pb.ClusterStatusRequest, context: Ctx
    ) -> pb.ClusterStatusResponse:
        return await cluster_status(self._calls, self._calls.timeout(context))
