"""The router's public API: the `Vektra` service for a whole cluster.

Writes go to each key's replicas in parallel and succeed when the requested
consistency level is met; gets read replicas and return the highest version;
searches, queries and counts scatter to every reachable node and gather, and
say how complete their answer is. Every downstream call carries the map's
epoch and a deadline (the smaller of the caller's remaining time and the
router's budget); a node that knows a newer map makes the router refresh and
retry once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import grpc

from vektra.common.channels import NodeChannels, epoch_metadata
from vektra.common.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    Unavailable,
    VektraError,
)
from vektra.common.grpc_errors import from_rpc_error
from vektra.common.hlc import HybridClock
from vektra.common.limits import Limits
from vektra.common.pb import schema_to_pb, version_to_pb
from vektra.common.pb_cluster import state_to_pb
from vektra.common.schema import CollectionSchema
from vektra.common.validation import (
    check_ids,
    decode_query_rows,
    parse_filter,
    resolve_field,
    validate_objects,
    validate_search,
)
from vektra.common.values import decode_vector, pack
from vektra.node.epoch import STALE_EPOCH
from vektra.router.admin import Admin
from vektra.router.cluster_map import MapWatcher
from vektra.router.gather import Coverage, merge_hits, merge_objects, version_of
from vektra.router.ring import TOKEN_END, RingView
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb
from vektra.v1 import vektra_pb2_grpc

__all__ = ["RouterService", "required_acks"]

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
T = TypeVar("T")
_DEFAULT_QUERY_LIMIT = 10
_MAX_QUERY_WINDOW = 100_000


def required_acks(level: int, rf: int) -> int:
    """Replicas that must answer: ONE 1, QUORUM a majority, ALL every one."""
    if level == pb.CONSISTENCY_ONE:
        return 1
    if level == pb.CONSISTENCY_ALL:
        return rf
    if level in (pb.CONSISTENCY_QUORUM, pb.CONSISTENCY_UNSPECIFIED):
        return rf // 2 + 1
    raise InvalidArgument("consistency", f"unknown consistency level {level}")


class _Stale(Exception):
    """A node knows a newer cluster map than the one this call routed by."""


class RouterService(vektra_pb2_grpc.VektraServicer):
    def __init__(
        self, maps: MapWatcher, channels: NodeChannels, clock: HybridClock, budget_s: float
    ) -> None:
        self._maps = maps
        self._admin = Admin(maps)
        self._channels = channels
        self._clock = clock
        self._budget_s = budget_s
        self._limits = Limits()

    # ------------------------------------------------------------ plumbing

    def _timeout(self, context: Ctx) -> float:
        remaining = context.time_remaining()
        return self._budget_s if remaining is None else max(0.0, min(remaining, self._budget_s))

    async def _routed(self, fn: Callable[[RingView], Awaitable[T]]) -> T:
        """Run with the current map; once more with a fresh one if a node says it is stale."""
        try:
            return await fn(self._maps.current())
        except _Stale:
            view = await self._maps.refresh()
            try:
                return await fn(view)
            except _Stale as exc:
                raise FailedPrecondition(f"cluster map changed during the call: {exc}") from None

    async def _fanout(
        self,
        view: RingView,
        method: str,
        requests: dict[str, Any],
        timeout: float,
        *,
        public: bool = False,
    ) -> tuple[dict[str, Any], dict[str, VektraError]]:
        """Call `method` on each node with its request, concurrently (the
        node-internal service, or the public one); (answers, errors) by node id."""
        md = epoch_metadata(view.epoch)
        ids = list(requests)

        async def one(node_id: str) -> Any:
            address = view.address(node_id)
            stub = self._channels.public(address) if public else self._channels.internal(address)
            return await getattr(stub, method)(requests[node_id], timeout=timeout, metadata=md)

        try:
            # Each call has its own deadline; this only guards against a hang.
            results = await asyncio.wait_for(
                asyncio.gather(*(one(i) for i in ids), return_exceptions=True), timeout + 1.0
            )
        except TimeoutError:
            raise DeadlineExceeded(
                f"nodes {', '.join(ids)} did not answer within {timeout:.1f} s"
            ) from None
        answers: dict[str, Any] = {}
        errors: dict[str, VektraError] = {}
        for node_id, result in zip(ids, results, strict=True):
            if isinstance(result, grpc.aio.AioRpcError):
                if result.code() == grpc.StatusCode.FAILED_PRECONDITION and STALE_EPOCH in (
                    result.details() or ""
                ):
                    raise _Stale(result.details())
                errors[node_id] = from_rpc_error(result)
            elif isinstance(result, BaseException):
                errors[node_id] = Unavailable(f"{type(result).__name__}: {result}")
            else:
                answers[node_id] = result
        return answers, errors

    def _schema(self, view: RingView, name: str) -> CollectionSchema:
        schema = view.cluster.collection(name)
        if schema is None:
            from vektra.common.errors import NotFound

            raise NotFound(f"collection {name!r} does not exist")
        return schema

    @staticmethod
    def _client_error(errors: dict[str, VektraError]) -> VektraError | None:
        """A node's refusal of the request itself (bad input), if any: passed on as is."""
        for err in errors.values():
            if not isinstance(err, Unavailable) and err.code not in (
                "DEADLINE_EXCEEDED",
                "INTERNAL",
            ):
                return err
        return None

    # ------------------------------------------------------------ schema

    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: Ctx
    ) -> pb.CreateCollectionResponse:
        return await self._admin.create_collection(request, self._timeout(context))

    async def DropCollection(
        self, request: pb.DropCollectionRequest, context: Ctx
    ) -> pb.DropCollectionResponse:
        await self._admin.drop_collection(request, self._timeout(context))
        return pb.DropCollectionResponse()

    async def ListCollections(
        self, request: pb.ListCollectionsRequest, context: Ctx
    ) -> pb.ListCollectionsResponse:
        view = self._maps.current()
        return pb.ListCollectionsResponse(
            collections=[schema_to_pb(c) for c in view.cluster.collections]
        )

    async def DescribeCollection(
        self, request: pb.DescribeCollectionRequest, context: Ctx
    ) -> pb.DescribeCollectionResponse:
        schema = self._schema(self._maps.current(), request.name)
        count = await self.Count(pb.CountRequest(collection=request.name), context)
        return pb.DescribeCollectionResponse(schema=schema_to_pb(schema), objects=count.count)

    # ------------------------------------------------------------ writes

    async def _write(
        self,
        view: RingView,
        schema: CollectionSchema,
        objects: list[npb.VersionedObject],
        level: int,
        timeout: float,
    ) -> tuple[int, set[str]]:
        """Send versioned objects to their replicas; (lowest ack count, ids removed)."""
        rf = schema.replication_factor
        need = required_acks(level, rf)
        per_node: dict[str, list[npb.VersionedObject]] = defaultdict(list)
        replicas: dict[str, list[str]] = {}
        for i, obj in enumerate(objects):
            placement = view.placement(schema.name, obj.id, rf)
            if len(placement) < need:
                raise Unavailable(
                    f"objects[{i}]: {len(placement)} of {rf} replicas reachable, "
                    f"the consistency level needs {need}; nothing was written"
                )
            replicas[obj.id] = [node for node, _ in placement]
            for node_id, stands_for in placement:
                # A stand-in for a down replica keeps a hint to hand it over.
                per_node[node_id].append(_hinted(obj, stands_for) if stands_for else obj)

        answers, errors = await self._fanout(
            view, "Apply", _apply_requests(schema, per_node), timeout
        )
        bad = self._client_error(errors)
        if bad is not None:
            raise bad
        acks = {oid: sum(1 for n in reps if n in answers) for oid, reps in replicas.items()}
        lowest = min(acks.values())
        if lowest < need:
            short = sum(1 for a in acks.values() if a < need)
            failed = ", ".join(f"{n}: {e.message}" for n, e in sorted(errors.items()))
            raise Unavailable(
                f"consistency level not met: {short} of {len(acks)} objects acknowledged by "
                f"{lowest} of {rf} replicas, {need} needed ({failed})"
            )
        if errors:
            await self._hint_failed(view, schema, objects, replicas, answers, errors, timeout)
        removed = {i for a in answers.values() for i in a.removed_ids}
        return lowest, removed

    async def _hint_failed(
        self,
        view: RingView,
        schema: CollectionSchema,
        objects: list[npb.VersionedObject],
        replicas: dict[str, list[str]],
        answers: dict[str, Any],
        errors: dict[str, VektraError],
        timeout: float,
    ) -> None:
        """The write met its level but some replicas failed: ask a replica that
        took it to keep a hint for each one that did not (best effort)."""
        per_node: dict[str, list[npb.VersionedObject]] = defaultdict(list)
        for obj in objects:
            reps = replicas[obj.id]
            holder = next((n for n in reps if n in answers), None)
            if holder is None:
                continue
            for failed in (n for n in reps if n in errors):
                per_node[holder].append(_hinted(obj, failed))

        with contextlib.suppress(Exception):
            await self._fanout(view, "Apply", _apply_requests(schema, per_node), timeout)

    async def Upsert(self, request: pb.UpsertRequest, context: Ctx) -> pb.UpsertResponse:
        timeout = self._timeout(context)

        async def run(view: RingView) -> pb.UpsertResponse:
            schema = self._schema(view, request.collection)
            checked = validate_objects(
                schema,
                self._limits,
                [(o.id, o.properties, dict(o.vectors)) for o in request.objects],
            )
            version = self._clock.now()
            vpb = version_to_pb(version)
            objects = [
                npb.VersionedObject(
                    id=c.id, properties=pack(c.properties), vectors=dict(o.vectors), version=vpb
                )
                for c, o in zip(checked, request.objects, strict=True)
            ]
            acks, _ = await self._write(view, schema, objects, request.consistency, timeout)
            return pb.UpsertResponse(upserted=len(objects), acknowledged=acks, version=vpb)

        return await self._routed(run)

    async def Delete(self, request: pb.DeleteRequest, context: Ctx) -> pb.DeleteResponse:
        timeout = self._timeout(context)
        ids = list(request.ids)
        check_ids(ids, self._limits)

        async def run(view: RingView) -> pb.DeleteResponse:
            schema = self._schema(view, request.collection)
            vpb = version_to_pb(self._clock.now())
            tombstones = [npb.VersionedObject(id=i, version=vpb, deleted=True) for i in ids]
            acks, removed = await self._write(
                view, schema, tombstones, request.consistency, timeout
            )
            return pb.DeleteResponse(deleted=len(removed), acknowledged=acks, version=vpb)

        return await self._routed(run)

    # ------------------------------------------------------------ reads by id

    async def Get(self, request: pb.GetRequest, context: Ctx) -> pb.GetResponse:
        timeout = self._timeout(context)
        ids = list(request.ids)
        check_ids(ids, self._limits, allow_duplicates=True)

        async def run(view: RingView) -> pb.GetResponse:
            schema = self._schema(view, request.collection)
            rf = schema.replication_factor
            need = required_acks(request.consistency, rf)
            per_node: dict[str, list[str]] = defaultdict(list)
            replicas: dict[str, list[str]] = {}
            for object_id in dict.fromkeys(ids):
                reps = view.replicas(schema.name, object_id, rf)
                if len(reps) < need:
                    raise Unavailable(
                        f"{len(reps)} of {rf} replicas of {object_id!r} reachable, {need} needed"
                    )
                replicas[object_id] = reps
                for n in reps:
                    per_node[n].append(object_id)

            fetches = {
                n: npb.FetchRequest(
                    collection=schema.name, ids=ids_, include_vectors=request.include_vectors
                )
                for n, ids_ in per_node.items()
            }
            answers, errors = await self._fanout(view, "Fetch", fetches, timeout)
            bad = self._client_error(errors)
            if bad is not None:
                raise bad
            best: dict[str, npb.VersionedObject] = {}
            for resp in answers.values():
                for obj in resp.objects:
                    cur = best.get(obj.id)
                    if cur is None or version_of(obj) > version_of(cur):
                        best[obj.id] = obj
            for object_id, reps in replicas.items():
                got = sum(1 for n in reps if n in answers)
                if got < need:
                    raise Unavailable(
                        f"consistency level not met: {got} of {rf} replicas of {object_id!r} "
                        f"answered, {need} needed"
                    )
            found, missing = [], []
            for object_id in ids:
                obj = best.get(object_id)
                if obj is None or obj.deleted:
                    missing.append(object_id)
                else:
                    found.append(
                        pb.Object(
                            id=obj.id,
                            properties=obj.properties,
                            vectors=obj.vectors,
                            version=obj.version,
                        )
                    )
            return pb.GetResponse(objects=found, missing=missing)

        return await self._routed(run)

    # ------------------------------------------------------------ scatter-gather

    def _targets(self, view: RingView, schema: CollectionSchema) -> tuple[list[str], Coverage]:
        asked = sorted(view.reachable)
        down = tuple(sorted(set(view.owners) - view.reachable))
        rf = schema.replication_factor
        return asked, Coverage(tuple(asked), (), down, rf, view.ranges())

    async def _scatter(
        self, view: RingView, schema: CollectionSchema, method: str, req: Any, timeout: float
    ) -> tuple[dict[str, Any], Coverage]:
        asked, coverage = self._targets(view, schema)
        answers, errors = await self._fanout(
            view, method, dict.fromkeys(asked, req), timeout, public=True
        )
        bad = self._client_error(errors)
        if bad is not None:
            raise bad
        coverage = dataclasses.replace(coverage, failed=tuple(sorted(errors)))
        if not answers:
            raise Unavailable(f"no node answered ({len(asked)} asked, {len(coverage.down)} down)")
        return answers, coverage

    async def Search(self, request: pb.SearchRequest, context: Ctx) -> pb.SearchResponse:
        timeout = self._timeout(context)

        async def run(view: RingView) -> pb.SearchResponse:
            schema = self._schema(view, request.collection)
            spec = resolve_field(schema, request.field)
            validate_search(self._limits, request.k, request.ef)
            decode_vector(request.vector, spec, "vector")
            parse_filter(schema, self._limits, request.filter)
            answers, coverage = await self._scatter(view, schema, "Search", request, timeout)
            hits = merge_hits([a.hits for a in answers.values()], request.k)
            plan = next(iter(answers.values())).plan
            return pb.SearchResponse(hits=hits, coverage=coverage.to_pb(), plan=plan)

        return await self._routed(run)

    async def SearchBatch(
        self, request: pb.SearchBatchRequest, context: Ctx
    ) -> pb.SearchBatchResponse:
        timeout = self._timeout(context)

        async def run(view: RingView) -> pb.SearchBatchResponse:
            schema = self._schema(view, request.collection)
            spec = resolve_field(schema, request.field)
            validate_search(self._limits, request.k, request.ef)
            decode_query_rows(request.vectors, request.rows, spec, self._limits)
            parse_filter(schema, self._limits, request.filter)
            answers, coverage = await self._scatter(view, schema, "SearchBatch", request, timeout)
            cov = coverage.to_pb()
            results = []
            for row in range(request.rows):
                per_node = [a.results[row] for a in answers.values()]
                results.append(
                    pb.SearchResponse(
                        hits=merge_hits([r.hits for r in per_node], request.k),
                        coverage=cov,
                        plan=per_node[0].plan,
                    )
                )
            return pb.SearchBatchResponse(results=results, coverage=cov)

        return await self._routed(run)

    async def Query(self, request: pb.QueryRequest, context: Ctx) -> pb.QueryResponse:
        timeout = self._timeout(context)
        limit = request.limit or _DEFAULT_QUERY_LIMIT
        if limit > self._limits.max_query_limit:
            raise InvalidArgument(
                "limit", f"limit={limit} is above the limit of {self._limits.max_query_limit}"
            )
        if request.offset + limit > _MAX_QUERY_WINDOW:
            raise InvalidArgument("offset", f"offset + limit must stay within {_MAX_QUERY_WINDOW}")

        async def run(view: RingView) -> pb.QueryResponse:
            schema = self._schema(view, request.collection)
            parse_filter(schema, self._limits, request.filter)
            if request.order_by and schema.property(request.order_by) is None:
                raise InvalidArgument("order_by", f"unknown property {request.order_by!r}")
            # Each node returns its first offset+limit; the page is among their union.
            window = pb.QueryRequest()
            window.CopyFrom(request)
            window.offset = 0
            window.limit = request.offset + limit
            answers, coverage = await self._scatter(view, schema, "Query", window, timeout)
            page = merge_objects(
                [a.objects for a in answers.values()],
                schema,
                request.order_by,
                request.descending,
                request.offset,
                limit,
            )
            return pb.QueryResponse(objects=page, coverage=coverage.to_pb())

        return await self._routed(run)

    async def Count(self, request: pb.CountRequest, context: Ctx) -> pb.CountResponse:
        timeout = self._timeout(context)

        async def run(view: RingView) -> pb.CountResponse:
            schema = self._schema(view, request.collection)
            parse_filter(schema, self._limits, request.filter)
            # Each range is counted once, by its first reachable replica.
            per_node: dict[str, list[npb.TokenRange]] = defaultdict(list)
            uncounted = 0
            for r in view.ranges():
                owner = view.count_owner(r, schema.replication_factor)
                if owner is None:
                    uncounted += 1
                    continue
                per_node[owner].append(
                    npb.TokenRange(start=r.start, end=0 if r.end == TOKEN_END else r.end)
                )

            counts = {
                n: npb.CountRangesRequest(
                    collection=schema.name, filter=request.filter, ranges=ranges
                )
                for n, ranges in per_node.items()
            }
            answers, errors = await self._fanout(view, "CountRanges", counts, timeout)
            bad = self._client_error(errors)
            if bad is not None:
                raise bad
            if errors:
                failed = ", ".join(f"{n}: {e.message}" for n, e in sorted(errors.items()))
                raise Unavailable(f"count incomplete: {failed}")
            down = tuple(sorted(set(view.owners) - view.reachable))
            asked = tuple(sorted(per_node))
            n_ranges = sum(len(r) for r in per_node.values()) + uncounted
            return pb.CountResponse(
                count=sum(a.count for a in answers.values()),
                coverage=pb.Coverage(
                    asked=len(asked),
                    answered=len(answers),
                    failed=list(down),
                    complete=uncounted == 0,
                    ranges_asked=n_ranges,
                    ranges_answered=n_ranges - uncounted,
                ),
            )

        return await self._routed(run)

    # ------------------------------------------------------------ cluster

    async def ClusterStatus(
        self, request: pb.ClusterStatusRequest, context: Ctx
    ) -> pb.ClusterStatusResponse:
        view = self._maps.current()
        timeout = min(self._timeout(context), 2.0)
        members = view.cluster.members
        infos = await asyncio.gather(
            *(
                self._channels.internal(m.address).NodeInfo(npb.NodeInfoRequest(), timeout=timeout)
                if m.state.reachable
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
                pb.NodeStatus(
                    id=m.id, address=m.address, state=state_to_pb(m.state), objects=objects
                )
            )
        return pb.ClusterStatusResponse(epoch=view.epoch, nodes=nodes)


async def _none() -> None:
    return None


def _hinted(obj: npb.VersionedObject, member: str) -> npb.VersionedObject:
    copy = npb.VersionedObject()
    copy.CopyFrom(obj)
    copy.hint_for = member
    return copy


def _apply_requests(
    schema: CollectionSchema, per_node: dict[str, list[npb.VersionedObject]]
) -> dict[str, npb.ApplyRequest]:
    return {
        n: npb.ApplyRequest(collection=schema.name, objects=objs) for n, objs in per_node.items()
    }
