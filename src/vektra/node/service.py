"""The storage node's gRPC services: the public `Vektra` API (for this node
alone; its calls are `node.public_api`'s, shared with the embedded client)
and the node-internal `Node` API. This is the protobuf edge: requests are
validated and converted to domain values, the engine runs in a worker
thread, and the results are converted back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeAlias, TypeVar

import grpc

from vektra.common import packed_hits
from vektra.common.addresses import connectable_address
from vektra.common.errors import InvalidArgument, VektraError
from vektra.common.grpc_errors import abort_with
from vektra.common.pb import schema_from_pb, version_to_pb
from vektra.common.pb_cluster import members_from_pb
from vektra.common.validation import (
    check_ids,
    decode_query_rows,
    parse_filter,
    resolve_field,
    validate_search,
)
from vektra.node.engine import Engine
from vektra.node.epoch import MAX_EPOCH
from vektra.node.node_info import NodeInfo
from vektra.node.public_api import PublicApi, query_limit, result_pb
from vektra.node.records import ObjectOutcome, Outcome
from vektra.node.repair_plan import range_digest
from vektra.node.shard_requests import parts_from_pb, ranges_from_pb
from vektra.node.wire import add_stored, versioned_pb, writes_from_pb
from vektra.v1 import node_pb2 as npb
from vektra.v1 import node_pb2_grpc, vektra_pb2_grpc
from vektra.v1 import vektra_pb2 as pb

__all__ = ["NodeService", "VektraService"]

T = TypeVar("T")
Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]
_SCAN_BATCH = 256


# A search of at most this many query rows runs on the event loop: it takes
# about as long as the hop to a worker thread and back (a thread hand-off
# and a loop wake-up, measured at 0.1-0.2 ms here), and a single query's
# latency is mostly such hops. Larger batches run in a worker thread, so
# the loop keeps serving other calls meanwhile.
_INLINE_SEARCH_ROWS = 2
# A read of at most this many ids runs on the event loop too: LMDB answers
# it from the map in about a microsecond an id, and the hop costs more (a
# get of one id through the router took 0.73-0.87 ms of the node's CPU with
# the hop, 0.64-0.71 ms without; an empty gRPC call costs it 0.4 ms).
_INLINE_READ_IDS = 128


async def _run(fn: Callable[..., T], *args: Any) -> T:
    """Engine calls block on LMDB and hnswlib: run them off the event loop."""
    return await asyncio.to_thread(fn, *args)


async def _run_sized(size: int, inline_max: int, fn: Callable[..., T], *args: Any) -> T:
    """`_run`, except for work of at most `inline_max` (query rows, ids):
    that runs on the event loop, where it takes about as long as the hop."""
    if size <= inline_max:
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


async def _run_search(rows: int, fn: Callable[..., T], *args: Any) -> T:
    return await _run_sized(rows, _INLINE_SEARCH_ROWS, fn, *args)


_OUTCOME_PB = {
    Outcome.APPLIED: npb.APPLY_OUTCOME_APPLIED,
    Outcome.STALE: npb.APPLY_OUTCOME_STALE,
    Outcome.HINTED: npb.APPLY_OUTCOME_HINTED,
}


def _outcome_pb(o: ObjectOutcome) -> npb.ObjectOutcome:
    if o.held is None:
        return npb.ObjectOutcome(outcome=_OUTCOME_PB[o.outcome])
    return npb.ObjectOutcome(outcome=_OUTCOME_PB[o.outcome], held=version_to_pb(o.held))


def _info_pb(info: NodeInfo) -> npb.NodeInfoResponse:
    return npb.NodeInfoResponse(
        node_id=info.node_id,
        last_seq=info.last_seq,
        epoch=info.epoch,
        cluster_id=info.cluster_id,
        boot_id=info.boot_id,
        collections=[
            npb.CollectionInfo(name=c.name, objects=c.objects, incarnation=c.incarnation)
            for c in info.collections
        ],
        hints=[npb.HintCount(target=t, hints=n) for t, n in info.hints],
        repaired_epoch=info.repaired_epoch,
        searched_objects=info.searched_objects,
    )


class VektraService(vektra_pb2_grpc.VektraServicer):
    """The public API of a node serving alone (`node.public_api`) over gRPC.
    Calls that read or write LMDB or search run in a worker thread; the
    ones answered from memory run on the event loop."""

    def __init__(self, engine: Engine, address: str) -> None:
        self._api = PublicApi(engine)
        self._address = address

    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: Ctx
    ) -> pb.CreateCollectionResponse:
        return await _run(self._api.CreateCollection, request)

    async def ListCollections(
        self, request: pb.ListCollectionsRequest, context: Ctx
    ) -> pb.ListCollectionsResponse:
        return self._api.ListCollections(request)

    async def DescribeCollection(
        self, request: pb.DescribeCollectionRequest, context: Ctx
    ) -> pb.DescribeCollectionResponse:
        return self._api.DescribeCollection(request)

    async def DropCollection(
        self, request: pb.DropCollectionRequest, context: Ctx
    ) -> pb.DropCollectionResponse:
        return await _run(self._api.DropCollection, request)

    async def Upsert(self, request: pb.UpsertRequest, context: Ctx) -> pb.UpsertResponse:
        return await _run(self._api.Upsert, request)

    async def Get(self, request: pb.GetRequest, context: Ctx) -> pb.GetResponse:
        return await _run_sized(len(request.ids), _INLINE_READ_IDS, self._api.Get, request)

    async def Delete(self, request: pb.DeleteRequest, context: Ctx) -> pb.DeleteResponse:
        return await _run(self._api.Delete, request)

    async def Search(self, request: pb.SearchRequest, context: Ctx) -> pb.SearchResponse:
        return await _run_search(1, self._api.Search, request)

    async def SearchBatch(
        self, request: pb.SearchBatchRequest, context: Ctx
    ) -> pb.SearchBatchResponse:
        return await _run_search(request.rows, self._api.SearchBatch, request)

    async def Query(self, request: pb.QueryRequest, context: Ctx) -> pb.QueryResponse:
        return await _run(self._api.Query, request)

    async def Count(self, request: pb.CountRequest, context: Ctx) -> pb.CountResponse:
        return await _run(self._api.Count, request)

    async def ClusterStatus(
        self, request: pb.ClusterStatusRequest, context: Ctx
    ) -> pb.ClusterStatusResponse:
        # Listening on 0.0.0.0 is no address to give a client: say where
        # this client reaches the node.
        address = connectable_address(self._address, context.peer())
        return await _run(self._api.ClusterStatus, request, address)


class NodeService(node_pb2_grpc.NodeServicer):
    """What routers, the coordinator and other nodes call: versioned writes
    and hints, reads by id, the map and collections from the coordinator,
    node info and token-range scans. Who may call is decided before a
    handler runs (`node.epoch`), and so is the collection incarnation a data
    request names (`node.incarnation`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def Apply(self, request: npb.ApplyRequest, context: Ctx) -> npb.ApplyResponse:
        schema = self._engine.schema(request.collection)
        writes = writes_from_pb(schema, self._engine.limits, request.objects)
        result = await _run(self._engine.apply, request.collection, writes, request.incarnation)
        return npb.ApplyResponse(
            applied=result.applied,
            stale=result.stale,
            last_seq=result.last_seq,
            removed_ids=result.removed_ids,
            outcomes=[_outcome_pb(o) for o in result.outcomes],
        )

    async def Fetch(self, request: npb.FetchRequest, context: Ctx) -> npb.FetchResponse:
        ids = list(request.ids)
        check_ids(ids, self._engine.limits, allow_duplicates=True)
        if request.hints_for:
            read = await _run(self._engine.get_hints, request.collection, request.hints_for, ids)
            return npb.FetchResponse(
                objects=[versioned_pb(r, request.include_vectors) for r in read if r is not None],
                missing=[i for i, r in zip(ids, read, strict=True) if r is None],
            )
        if request.packed and not request.include_vectors:
            cols = await _run_sized(
                len(ids), _INLINE_READ_IDS, self._engine.get_columns, request.collection, ids, True
            )
            return npb.FetchResponse(
                missing=cols.missing,
                packed=packed_hits.records_to_pb(
                    cols.ids, cols.versions, cols.deleted, cols.properties
                ),
            )
        stored = await _run_sized(
            len(ids),
            _INLINE_READ_IDS,
            self._engine.get_stored,
            request.collection,
            ids,
            request.include_vectors,
            False,
        )
        response = npb.FetchResponse(
            missing=[i for i, o in zip(ids, stored, strict=True) if o is None]
        )
        add_stored(response.objects, stored, deleted=True)
        return response

    async def CountRanges(
        self, request: npb.CountRangesRequest, context: Ctx
    ) -> npb.CountRangesResponse:
        schema = self._engine.schema(request.collection)
        flt = parse_filter(schema, self._engine.limits, request.filter)
        ranges = [(r.start, r.end or None) for r in request.ranges]
        n = await _run(self._engine.count_in_ranges, request.collection, flt, ranges)
        return npb.CountRangesResponse(count=n)

    async def SetEpoch(self, request: npb.SetEpochRequest, context: Ctx) -> npb.SetEpochResponse:
        if request.epoch > MAX_EPOCH:
            raise InvalidArgument("epoch", "must be below 2^63")
        epoch = await _run(
            self._engine.set_epoch,
            request.cluster_id,
            request.epoch,
            members_from_pb(request.members),
            request.vnodes,
        )
        return npb.SetEpochResponse(epoch=epoch)

    async def EnsureCollection(
        self, request: npb.EnsureCollectionRequest, context: Ctx
    ) -> npb.EnsureCollectionResponse:
        created = await _run(self._engine.ensure_collection, schema_from_pb(request.schema))
        return npb.EnsureCollectionResponse(created=created)

    async def DropIncarnation(
        self, request: npb.DropIncarnationRequest, context: Ctx
    ) -> npb.DropIncarnationResponse:
        if not request.incarnation:
            raise InvalidArgument("incarnation", "name the incarnation to drop")
        dropped = await _run(self._engine.drop_incarnation, request.name, request.incarnation)
        return npb.DropIncarnationResponse(dropped=dropped)

    async def NodeInfo(self, request: npb.NodeInfoRequest, context: Ctx) -> npb.NodeInfoResponse:
        return _info_pb(await _run(self._engine.info))

    async def ScanRange(
        self, request: npb.ScanRangeRequest, context: Ctx
    ) -> AsyncIterator[npb.ScanRangeBatch]:
        try:
            meta = self._engine.store.collection(request.collection)
        except VektraError as exc:
            await abort_with(context, exc)
            return
        size = request.batch_size or _SCAN_BATCH
        end = request.token_end or None
        records = await _run(lambda: list(self._engine.store.scan(meta, request.token_start, end)))
        for start in range(0, len(records), size):
            yield npb.ScanRangeBatch(
                objects=[
                    versioned_pb(r, request.include_vectors) for r in records[start : start + size]
                ]
            )

    # ------------------------------------------------------------ shard reads
    # A router gives each node the parts of the data it answers for, so that
    # every object is searched, listed and counted once (DESIGN.md, "Replica
    # states and reading each copy once").

    async def ShardSearch(
        self, request: npb.ShardSearchRequest, context: Ctx
    ) -> npb.ShardSearchResponse:
        req = request.search
        schema = self._engine.schema(req.collection)
        spec = resolve_field(schema, req.field)
        limits = self._engine.limits
        validate_search(limits, req.k, req.ef)
        queries = decode_query_rows(req.vectors, req.rows, spec, limits)
        flt = parse_filter(schema, limits, req.filter)
        parts = parts_from_pb(request.parts, schema)
        if req.packed_hits and not req.include_vectors:
            found = await _run_search(
                req.rows,
                self._engine.search_packed,
                req.collection,
                spec,
                queries,
                req.k,
                req.ef,
                flt,
                parts,
                req.include_properties,
                True,  # ties by id: a router sends a lone node's answer on as it is
            )
            return npb.ShardSearchResponse(
                packed=packed_hits.to_pb(found.columns),
                plan=pb.SearchPlan(strategy=found.strategy, candidates=found.candidates),
                searched=found.searched,
            )
        results = await _run_search(
            req.rows, self._engine.search, req.collection, spec, queries, req.k, req.ef, flt, parts
        )
        out = []
        for r in results:
            row = result_pb(r, req.include_properties, req.include_vectors)
            row.ClearField("coverage")  # the router's to say, over every node it asked
            out.append(row)
        return npb.ShardSearchResponse(results=out, searched=results[0].searched)

    async def ShardQuery(
        self, request: npb.ShardQueryRequest, context: Ctx
    ) -> npb.ShardQueryResponse:
        req = request.query
        schema = self._engine.schema(req.collection)
        limits = self._engine.limits
        limit = query_limit(limits, req.limit)
        if req.offset + limit > limits.max_query_window:
            raise InvalidArgument(
                "offset", f"offset + limit must stay within {limits.max_query_window}"
            )
        if not request.ranges:
            raise InvalidArgument("ranges", "no token range to query")
        ranges = ranges_from_pb(request.ranges, "ranges")
        flt = parse_filter(schema, limits, req.filter)
        # The first offset + limit in the public order: the router pages the
        # union of every node's answer.
        if req.packed and not req.include_vectors:
            cols = await _run(
                self._engine.query_columns,
                req.collection,
                flt,
                req.offset + limit,
                req.order_by,
                req.descending,
                ranges,
            )
            return npb.ShardQueryResponse(
                packed=packed_hits.objects_to_pb(cols.ids, cols.versions, cols.properties)
            )
        found = await _run(
            self._engine.query,
            req.collection,
            flt,
            req.offset + limit,
            0,
            req.order_by,
            req.descending,
            ranges,
            req.include_vectors,
        )
        response = npb.ShardQueryResponse()
        add_stored(response.objects, found)
        return response

    # ------------------------------------------------------------ anti-entropy

    async def RangeDigest(
        self, request: npb.RangeDigestRequest, context: Ctx
    ) -> npb.RangeDigestResponse:
        self._engine.schema(request.collection)
        spans = ranges_from_pb(request.ranges, "ranges")

        def digests() -> list[tuple[bytes, int]]:
            out = []
            for start, end in spans:
                entries = self._engine.range_entries(request.collection, start, end)
                out.append((range_digest(entries), len(entries)))
            return out

        found = await _run(digests)
        return npb.RangeDigestResponse(digests=[d for d, _ in found], records=[n for _, n in found])

    async def RangeVersions(
        self, request: npb.RangeVersionsRequest, context: Ctx
    ) -> npb.RangeVersionsResponse:
        self._engine.schema(request.collection)
        ((start, end),) = ranges_from_pb([request.range], "range")
        entries = await _run(self._engine.range_entries, request.collection, start, end)
        return npb.RangeVersionsResponse(
            objects=[
                npb.VersionedObject(id=e.id, version=version_to_pb(e.version), deleted=e.deleted)
                for e in entries
            ]
        )
