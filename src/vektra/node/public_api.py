"""The public `Vektra` API of a node serving alone, as plain blocking calls:
protobuf request in, protobuf response out, no gRPC.

Two edges share it. `node.service.VektraService` serves it over gRPC (one
call per RPC, awaited off the event loop when it may block), and the SDK's
embedded client (`vektra.connect(path)`, `vektra.client._local`) calls it in
the caller's own thread, so both validate, refuse and answer alike. Every
method raises the typed `vektra.common.errors` exceptions.

A collection created here lives on this node alone (one copy of each
object); a node of a cluster refuses public writes and schema changes
(`Engine._require_alone`): those go through a router.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import numpy as np

from vektra.common import filters, packed_hits
from vektra.common.errors import InvalidArgument
from vektra.common.limits import Limits
from vektra.common.packed_hits import DecodedObjects, PackedSearch
from vektra.common.pb import schema_from_pb, schema_to_pb, version_to_pb
from vektra.common.schema import CollectionSchema, VectorSpec
from vektra.common.validation import (
    check_ids,
    decode_query_rows,
    parse_filter,
    resolve_field,
    validate_objects,
    validate_search,
)
from vektra.common.values import decode_vector, pack
from vektra.node.engine import Engine
from vektra.node.records import StoredObject
from vektra.node.search import SearchResult
from vektra.node.wire import add_stored
from vektra.v1 import vektra_pb2 as pb

__all__ = ["PublicApi", "coverage_pb", "packed_objects", "query_limit", "result_pb"]

DEFAULT_QUERY_LIMIT = 10


def coverage_pb() -> pb.Coverage:
    """A node alone holds everything: one range asked, one answered."""
    return pb.Coverage(asked=1, answered=1, complete=True)


def packed_objects(found: list[StoredObject]) -> pb.PackedObjects:
    """Stored objects as a packed reply's columns."""
    return packed_hits.objects_to_pb(
        [o.id for o in found],
        [(o.version.physical_ms, o.version.logical, o.version.writer) for o in found],
        [o.properties for o in found],
    )


def result_pb(
    res: SearchResult, include_properties: bool, include_vectors: bool
) -> pb.SearchResponse:
    return pb.SearchResponse(
        hits=[
            pb.Hit(
                id=h.record.id,
                distance=h.distance,
                properties=pack(h.record.properties) if include_properties else b"",
                vectors=h.record.vectors if include_vectors else {},
                version=version_to_pb(h.record.version),
            )
            for h in res.hits
        ],
        coverage=coverage_pb(),
        plan=pb.SearchPlan(strategy=res.strategy, candidates=res.candidates),
    )


def query_limit(limits: Limits, asked: int) -> int:
    """The page size of a filter query: `asked`, or the default when 0."""
    limit = asked or DEFAULT_QUERY_LIMIT
    if limit > limits.max_query_limit:
        raise InvalidArgument(
            "limit", f"limit={limit} is above the limit of {limits.max_query_limit}"
        )
    return limit


_R = TypeVar("_R", pb.SearchResponse, pb.SearchBatchResponse)


def _packed_search_pb(response: type[_R], found: PackedSearch) -> _R:
    """A search's packed hits as `response` (a Search's or a SearchBatch's)."""
    return response(
        packed=packed_hits.to_pb(found.columns),
        coverage=coverage_pb(),
        plan=pb.SearchPlan(strategy=found.strategy, candidates=found.candidates),
    )


def _one_copy(schema: CollectionSchema) -> CollectionSchema:
    """A collection created through a node's own public API lives on this
    node alone: one copy of each object. The default (0) is that one copy;
    asking for more is refused, as a cluster refuses more copies than nodes."""
    rf = schema.replication_factor
    if rf > 1:
        raise InvalidArgument(
            "schema.replication_factor",
            f"replication factor {rf} is more than the 1 node of this server: a single node "
            "keeps one copy of each object (for more, run a cluster: vektra up --nodes 3 --rf 2)",
        )
    return dataclasses.replace(schema, replication_factor=1)


class PublicApi:
    """The public API's calls on one engine, named as the RPCs they answer."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def _as_served(self, schema: CollectionSchema) -> CollectionSchema:
        """A schema as this API reports it. A node on its own (no cluster map
        received) holds the only copy of everything, whatever replication
        factor was stored (collections created before a single node refused
        more than 1 may say 2); a cluster member reports the cluster's."""
        if not self._engine.cluster.standalone or schema.replication_factor == 1:
            return schema
        return dataclasses.replace(schema, replication_factor=1)

    # ------------------------------------------------------------ collections

    def CreateCollection(self, request: pb.CreateCollectionRequest) -> pb.CreateCollectionResponse:
        schema = _one_copy(schema_from_pb(request.schema))
        schema = self._engine.create_collection(schema)
        return pb.CreateCollectionResponse(schema=schema_to_pb(schema))

    def ListCollections(self, request: pb.ListCollectionsRequest) -> pb.ListCollectionsResponse:
        return pb.ListCollectionsResponse(
            collections=[schema_to_pb(self._as_served(s)) for s in self._engine.list_collections()]
        )

    def DescribeCollection(
        self, request: pb.DescribeCollectionRequest
    ) -> pb.DescribeCollectionResponse:
        schema = self._as_served(self._engine.schema(request.name))
        return pb.DescribeCollectionResponse(
            schema=schema_to_pb(schema), objects=self._engine.count_all(request.name)
        )

    def DropCollection(self, request: pb.DropCollectionRequest) -> pb.DropCollectionResponse:
        self._engine.drop_collection(request.name)
        return pb.DropCollectionResponse()

    # ------------------------------------------------------------ writes

    def Upsert(self, request: pb.UpsertRequest) -> pb.UpsertResponse:
        schema = self._engine.schema(request.collection)
        objects = validate_objects(
            schema,
            self._engine.limits,
            [(o.id, o.properties, dict(o.vectors)) for o in request.objects],
        )
        result, version = self._engine.upsert(request.collection, objects)
        return pb.UpsertResponse(
            upserted=result.applied, acknowledged=1, version=version_to_pb(version)
        )

    def Delete(self, request: pb.DeleteRequest) -> pb.DeleteResponse:
        ids = list(request.ids)
        check_ids(ids, self._engine.limits)
        self._engine.schema(request.collection)
        deleted, version = self._engine.delete(request.collection, ids)
        return pb.DeleteResponse(deleted=deleted, acknowledged=1, version=version_to_pb(version))

    # ------------------------------------------------------------ reads

    def Get(self, request: pb.GetRequest) -> pb.GetResponse:
        ids = list(request.ids)
        check_ids(ids, self._engine.limits, allow_duplicates=True)
        if request.packed and not request.include_vectors:
            # Columns from the records' heads: no object built per id.
            cols = self._engine.get_columns(request.collection, ids)
            return pb.GetResponse(
                missing=cols.missing,
                packed=packed_hits.objects_to_pb(cols.ids, cols.versions, cols.properties),
            )
        found = self._engine.get_stored(request.collection, ids, request.include_vectors)
        response = pb.GetResponse(missing=[i for i, o in zip(ids, found, strict=True) if o is None])
        add_stored(response.objects, found)
        return response

    def get_in_process(self, request: pb.GetRequest) -> pb.GetResponse | DecodedObjects:
        """`Get` for a caller in this process (the embedded client): checked
        alike, and a packed get without vectors answered with its objects'
        properties decoded (`DecodedObjects`) instead of packed for the
        caller to decode again."""
        if not request.packed or request.include_vectors:
            return self.Get(request)
        ids = list(request.ids)
        check_ids(ids, self._engine.limits, allow_duplicates=True)
        return self._engine.get_decoded(request.collection, ids)

    def Search(self, request: pb.SearchRequest) -> pb.SearchResponse:
        found = self._search_one(request)
        if isinstance(found, PackedSearch):
            return _packed_search_pb(pb.SearchResponse, found)
        return result_pb(found[0], request.include_properties, request.include_vectors)

    def SearchBatch(self, request: pb.SearchBatchRequest) -> pb.SearchBatchResponse:
        found = self._search_batch(request)
        if isinstance(found, PackedSearch):
            return _packed_search_pb(pb.SearchBatchResponse, found)
        return self._batch_pb(request, found)

    def search_in_process(self, request: pb.SearchRequest) -> pb.SearchResponse | PackedSearch:
        """`Search` for a caller in this process (the embedded client):
        checked alike, and packed hits handed over as columns instead of
        copied into a message for the caller to copy out again."""
        found = self._search_one(request)
        if isinstance(found, PackedSearch):
            return found
        return result_pb(found[0], request.include_properties, request.include_vectors)

    def search_batch_in_process(
        self, request: pb.SearchBatchRequest
    ) -> pb.SearchBatchResponse | PackedSearch:
        """`SearchBatch` for a caller in this process, as `search_in_process`."""
        found = self._search_batch(request)
        if isinstance(found, PackedSearch):
            return found
        return self._batch_pb(request, found)

    def _search_one(self, request: pb.SearchRequest) -> PackedSearch | list[SearchResult]:
        schema = self._engine.schema(request.collection)
        spec = resolve_field(schema, request.field)
        validate_search(self._engine.limits, request.k, request.ef)
        vector = decode_vector(request.vector, spec, "vector")
        flt = parse_filter(schema, self._engine.limits, request.filter)
        return self._search(request, spec, vector[None, :], flt)

    def _search_batch(self, request: pb.SearchBatchRequest) -> PackedSearch | list[SearchResult]:
        schema = self._engine.schema(request.collection)
        spec = resolve_field(schema, request.field)
        limits = self._engine.limits
        validate_search(limits, request.k, request.ef)
        queries = decode_query_rows(request.vectors, request.rows, spec, limits)
        flt = parse_filter(schema, limits, request.filter)
        return self._search(request, spec, queries, flt)

    @staticmethod
    def _batch_pb(
        request: pb.SearchBatchRequest, found: list[SearchResult]
    ) -> pb.SearchBatchResponse:
        return pb.SearchBatchResponse(
            results=[
                result_pb(r, request.include_properties, request.include_vectors) for r in found
            ],
            coverage=coverage_pb(),
        )

    def _search(
        self,
        request: pb.SearchRequest | pb.SearchBatchRequest,
        spec: VectorSpec,
        queries: np.ndarray,
        flt: filters.Filter,
    ) -> PackedSearch | list[SearchResult]:
        """Packed when the request asks for it and wants no vectors; else
        one result per row with its records."""
        engine, name = self._engine, request.collection
        if request.packed_hits and not request.include_vectors:
            return engine.search_packed(
                name, spec, queries, request.k, request.ef, flt,
                properties=request.include_properties,
            )  # fmt: skip
        return engine.search(name, spec, queries, request.k, request.ef, flt)

    def Query(self, request: pb.QueryRequest) -> pb.QueryResponse:
        flt, limit = self._query_checks(request)
        found = self._engine.query(
            request.collection,
            flt,
            limit,
            request.offset,
            request.order_by,
            request.descending,
            with_vectors=request.include_vectors,
        )
        response = pb.QueryResponse(coverage=coverage_pb())
        if request.packed and not request.include_vectors:
            response.packed.CopyFrom(packed_objects(found))
        else:
            add_stored(response.objects, found)
        return response

    def query_in_process(self, request: pb.QueryRequest) -> pb.QueryResponse | DecodedObjects:
        """`Query` for a caller in this process, as `get_in_process`: a
        packed query without vectors answered with its page's objects
        decoded (`missing`: those deleted since the page was chosen, left
        out as `Query` leaves them)."""
        if not request.packed or request.include_vectors:
            return self.Query(request)
        flt, limit = self._query_checks(request)
        return self._engine.query_decoded(
            request.collection, flt, limit, request.offset, request.order_by, request.descending
        )

    def _query_checks(self, request: pb.QueryRequest) -> tuple[filters.Filter, int]:
        """The filter and page size of a query, checked."""
        schema = self._engine.schema(request.collection)
        limits = self._engine.limits
        limit = query_limit(limits, request.limit)
        return parse_filter(schema, limits, request.filter), limit

    def Count(self, request: pb.CountRequest) -> pb.CountResponse:
        schema = self._engine.schema(request.collection)
        flt = parse_filter(schema, self._engine.limits, request.filter)
        return pb.CountResponse(
            count=self._engine.count(request.collection, flt), coverage=coverage_pb()
        )

    def ClusterStatus(
        self, request: pb.ClusterStatusRequest, address: str = ""
    ) -> pb.ClusterStatusResponse:
        """One node, ACTIVE, reached at `address` (as the caller reaches it)."""
        objects = sum(self._engine.count_all(s.name) for s in self._engine.list_collections())
        return pb.ClusterStatusResponse(
            epoch=self._engine.cluster.epoch,
            nodes=[
                pb.NodeStatus(
                    id=self._engine.node_id,
                    address=address,
                    state=pb.NODE_STATE_ACTIVE,
                    objects=objects,
                )
            ],
        )
