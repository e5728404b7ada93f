"""Every SDK operation once, for both clients, as a plan: a generator that
checks and shapes the caller's input, yields each request to send as a `Call`,
is sent back the reply, and returns the result model.

    plan = search(name, vector, 10, field=None, ...)
    call = next(plan)                 # input is checked here
    plan.send(reply)                  # -> StopIteration(value=SearchResult)

`Client` drives plans with blocking calls and `AsyncClient` with awaited
ones; neither knows what an operation sends. Plans never block or sleep, and
the only state they touch is the schema cache they are given (a collection's
schema supplies the vector field when an input leaves it unnamed).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeAlias, TypedDict, TypeVar, Unpack

from google.protobuf.message import Message

from vektra.client import _convert as convert
from vektra.client import _shaping as sh
from vektra.client.models import (
    ClusterStatus,
    Coverage,
    DeleteResult,
    Object,
    QueryResult,
    SearchResult,
    UpsertResult,
    Version,
)
from vektra.common.errors import InvalidArgument
from vektra.common.schema import CollectionSchema
from vektra.common.values import encode_vector
from vektra.v1 import vektra_pb2 as pb

__all__ = [
    "Call",
    "Plan",
    "SearchOptions",
    "cluster_status",
    "collection_schema",
    "count",
    "count_with_coverage",
    "create_collection",
    "delete",
    "describe_collection",
    "drop_collection",
    "get",
    "list_collections",
    "query",
    "search",
    "search_batch",
    "upsert",
]

T = TypeVar("T")
Schemas: TypeAlias = dict[str, CollectionSchema]

# Split upserts well below the server's batch byte limit (protobuf framing and
# msgpack overhead are not counted exactly here).
_SOFT_BATCH_BYTES = sh.LIMITS.max_batch_bytes // 2


class Call(NamedTuple):
    """One request to send: the stub method, its message, and whether it may
    be retried after the first attempt possibly landed."""

    method: str
    request: Message
    idempotent: bool


# Yields calls, is sent their replies (protobuf responses), returns a T.
Plan: TypeAlias = Generator[Call, Any, T]


# ---------------------------------------------------------------- collections


def create_collection(
    schemas: Schemas,
    name: str,
    vectors: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    properties: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    replication_factor: int | None,
) -> Plan[dict[str, Any]]:
    schema = CollectionSchema.from_dict(
        {"name": name, "vectors": vectors, "properties": properties or {}}
    )
    message = convert.schema_to_proto(schema)
    # 0 asks for the server default; from_dict would have put 1 there. Set on
    # the message, not through from_dict, so any int protobuf takes (numpy
    # integers too) is accepted as before.
    message.replication_factor = 0 if replication_factor is None else replication_factor
    reply = yield Call(
        "CreateCollection", pb.CreateCollectionRequest(schema=message), idempotent=False
    )
    created = convert.schema_from_proto(reply.schema)
    schemas[created.name] = created
    result: dict[str, Any] = created.to_dict()
    return result


def list_collections(schemas: Schemas) -> Plan[list[dict[str, Any]]]:
    reply = yield Call("ListCollections", pb.ListCollectionsRequest(), idempotent=True)
    found = [convert.schema_from_proto(s) for s in reply.collections]
    for s in found:
        schemas[s.name] = s
    return [s.to_dict() for s in found]


def _describe(schemas: Schemas, name: str) -> Plan[tuple[CollectionSchema, int]]:
    """The schema (now cached) and the number of live objects."""
    reply = yield Call(
        "DescribeCollection", pb.DescribeCollectionRequest(name=name), idempotent=True
    )
    schema = convert.schema_from_proto(reply.schema)
    schemas[name] = schema
    return schema, int(reply.objects)


def describe_collection(schemas: Schemas, name: str) -> Plan[dict[str, Any]]:
    schema, objects = yield from _describe(schemas, name)
    return {**schema.to_dict(), "objects": objects}


def collection_schema(
    schemas: Schemas, name: str, *, refresh: bool = False
) -> Plan[CollectionSchema]:
    """The cached schema; looked up first when not cached or on `refresh`."""
    schema = None if refresh else schemas.get(name)
    if schema is None:
        schema, _ = yield from _describe(schemas, name)
    return schema


def drop_collection(schemas: Schemas, name: str) -> Plan[None]:
    schemas.pop(name, None)
    yield Call("DropCollection", pb.DropCollectionRequest(name=name), idempotent=False)


def cluster_status() -> Plan[ClusterStatus]:
    reply = yield Call("ClusterStatus", pb.ClusterStatusRequest(), idempotent=True)
    return convert.cluster_status_from_proto(reply)


# ---------------------------------------------------------------- writes


# Shapes an input into objects, given a callback naming the default vector field.
_Shape: TypeAlias = Callable[[Callable[[], str]], list[Object]]


class _SchemaNeeded(Exception):
    """The input leaves a vector field unnamed and the schema is not cached."""


def _shaped(schemas: Schemas, name: str, shape: _Shape) -> Plan[list[Object]]:
    """Run `shape` with the default-field callback. Only when the input needs
    that field and its schema is not cached is the schema looked up, and the
    input shaped again: a schema look-up is a call, which shaping cannot make."""

    def cached_field() -> str:
        schema = schemas.get(name)
        if schema is None:
            raise _SchemaNeeded
        return sh.single_field(schema)

    try:
        return shape(cached_field)
    except _SchemaNeeded:
        schema = yield from collection_schema(schemas, name)
        return shape(lambda: sh.single_field(schema))


def _object_batches(items: list[Object], batch_size: int) -> Iterator[list[pb.Object]]:
    """Protobuf batches of at most `batch_size` objects and about half the
    server's batch byte limit."""
    batch: list[pb.Object] = []
    size = 0
    for i, obj in enumerate(items):
        message = convert.object_to_proto(obj, where=f"objects[{i}]")
        message_size = message.ByteSize()
        if batch and (len(batch) >= batch_size or size + message_size > _SOFT_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += message_size
    if batch:
        yield batch


def _write_totals(
    parts: Sequence[tuple[int, int, Version | None]],
) -> tuple[int, int, Version | None]:
    """(count, acknowledged, version) over a write's batches: counts add up,
    the write is only as acknowledged as its least acknowledged batch, and
    the version is the last one a batch reported."""
    version = None
    for _, _, batch_version in parts:
        version = batch_version or version
    return sum(p[0] for p in parts), min((p[1] for p in parts), default=0), version


def _upsert_input(
    objects: Sequence[Mapping[str, Any]] | None,
    ids: Sequence[str] | None,
    vectors: Any,
    properties: Sequence[Mapping[str, Any] | None] | None,
) -> _Shape:
    """The upsert input, in whichever form was given, as a function of the
    default-field callback. Shaping may run twice (see `_shaped`), so one-shot
    iterables are made lists first."""
    if objects is not None:
        if ids is not None or vectors is not None or properties is not None:
            raise InvalidArgument(
                "objects", "pass either objects or ids/vectors/properties, not both"
            )
        given = objects if isinstance(objects, Mapping | Sequence) else list(objects)
        return lambda field: list(sh.objects_from_dicts(given, field))
    if ids is not None:
        id_seq = ids if isinstance(ids, str | Sequence) else list(ids)
        return lambda field: list(sh.objects_from_columns(id_seq, vectors, properties, field))
    raise InvalidArgument("objects", "nothing to upsert: pass objects or ids=...")


def upsert(
    schemas: Schemas,
    name: str,
    objects: Sequence[Mapping[str, Any]] | None,
    *,
    ids: Sequence[str] | None,
    vectors: Any,
    properties: Sequence[Mapping[str, Any] | None] | None,
    consistency: str | None,
    batch_size: int,
) -> Plan[UpsertResult]:
    level = convert.consistency_to_proto(consistency)
    sh.positive(batch_size, "batch_size")
    shape = _upsert_input(objects, ids, vectors, properties)
    items = yield from _shaped(schemas, name, shape)
    parts = []
    for batch in _object_batches(items, batch_size):
        request = pb.UpsertRequest(collection=name, objects=batch, consistency=level)
        reply = convert.upsert_result_from_proto((yield Call("Upsert", request, idempotent=True)))
        parts.append((reply.upserted, reply.acknowledged, reply.version))
    upserted, acknowledged, version = _write_totals(parts)
    return UpsertResult(upserted=upserted, acknowledged=acknowledged, version=version)


def delete(
    name: str, ids: Sequence[str] | str, *, consistency: str | None, batch_size: int
) -> Plan[DeleteResult]:
    level = convert.consistency_to_proto(consistency)
    sh.positive(batch_size, "batch_size")
    parts = []
    for chunk in sh.chunks(sh.id_list(ids), batch_size):
        request = pb.DeleteRequest(collection=name, ids=chunk, consistency=level)
        reply = convert.delete_result_from_proto((yield Call("Delete", request, idempotent=True)))
        parts.append((reply.deleted, reply.acknowledged, reply.version))
    deleted, acknowledged, version = _write_totals(parts)
    return DeleteResult(deleted=deleted, acknowledged=acknowledged, version=version)


# ---------------------------------------------------------------- reads


def get(
    name: str,
    ids: Sequence[str] | str,
    *,
    include_vectors: bool,
    consistency: str | None,
    batch_size: int,
) -> Plan[list[Object]]:
    level = convert.consistency_to_proto(consistency)
    sh.positive(batch_size, "batch_size")
    found: list[Object] = []
    for chunk in sh.chunks(sh.id_list(ids), batch_size):
        request = pb.GetRequest(
            collection=name,
            ids=chunk,
            consistency=level,
            include_vectors=include_vectors,
            # Columns instead of a message per object; a server that cannot
            # pack (or objects with vectors) answers objects, read the same.
            packed=not include_vectors,
        )
        reply = yield Call("Get", request, idempotent=True)
        found.extend(convert.objects_from_get(reply))
    return found


class SearchOptions(TypedDict):
    """The keyword arguments `search` and `search_batch` share."""

    field: str | None
    filter: Mapping[str, Any] | None
    ef: int | None
    include_properties: bool
    include_vectors: bool


def _search_fields(name: str, k: int, options: SearchOptions) -> dict[str, Any]:
    """The fields a Search and a SearchBatch request share, checked."""
    ef = options["ef"]
    return {
        "collection": name,
        "field": options["field"] or "",
        "k": sh.positive(k, "k"),
        "ef": 0 if ef is None else sh.positive(ef, "ef"),
        "filter": convert.encode_document(options["filter"], "filter"),
        "include_properties": options["include_properties"],
        "include_vectors": options["include_vectors"],
        # Columns instead of a message per hit; a server that cannot pack
        # (or hits with vectors) answers with hits, read the same.
        "packed_hits": not options["include_vectors"],
    }


def search(name: str, vector: Any, k: int, **options: Unpack[SearchOptions]) -> Plan[SearchResult]:
    vec = sh.as_vector(vector, "vector")
    fields = _search_fields(name, k, options)
    reply = yield Call(
        "Search", pb.SearchRequest(vector=encode_vector(vec), **fields), idempotent=True
    )
    return convert.search_result_from_proto(reply)


def search_batch(
    name: str, vectors: Any, k: int, **options: Unpack[SearchOptions]
) -> Plan[list[SearchResult]]:
    """One SearchBatch call per 1,000 rows (the server's limit)."""
    matrix = sh.as_matrix(vectors, "vectors")
    fields = _search_fields(name, k, options)
    results: list[SearchResult] = []
    for rows in sh.chunks(matrix, sh.LIMITS.max_search_batch_rows):
        request = pb.SearchBatchRequest(vectors=encode_vector(rows), rows=rows.shape[0], **fields)
        results.extend(
            convert.search_batch_from_proto(
                (yield Call("SearchBatch", request, idempotent=True)), rows.shape[0]
            )
        )
    return results


def query(
    name: str,
    filter: Mapping[str, Any] | None,
    *,
    limit: int | None,
    offset: int,
    order_by: str | None,
    descending: bool,
    include_vectors: bool,
) -> Plan[QueryResult]:
    sh.check_offset(offset)
    request = pb.QueryRequest(
        collection=name,
        filter=convert.encode_document(filter, "filter"),
        limit=0 if limit is None else sh.positive(limit, "limit"),
        offset=offset,
        order_by=order_by or "",
        descending=descending,
        include_vectors=include_vectors,
        packed=not include_vectors,  # as in `get`
    )
    return convert.query_result_from_proto((yield Call("Query", request, idempotent=True)))


def count(name: str, filter: Mapping[str, Any] | None) -> Plan[int]:
    n, _ = yield from count_with_coverage(name, filter)
    return n


def count_with_coverage(name: str, filter: Mapping[str, Any] | None) -> Plan[tuple[int, Coverage]]:
    """The count and how much of the data it covers. `Collection.count`
    returns the number alone; the CLI uses this to say when it is partial."""
    request = pb.CountRequest(collection=name, filter=convert.encode_document(filter, "filter"))
    reply = yield Call("Count", request, idempotent=True)
    return convert.count_result_from_proto(reply)
