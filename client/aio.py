"""The asyncio Python SDK: `AsyncClient` and its per-collection handle.

    async with AsyncClient("127.0.0.1:7700") as c:
        col = c.collection("docs")
        await col.upsert([{"id": "a", "vectors": {"embedding": vec}}])
        hits = await col.search(vec, k=10)

Mirrors `vektra.client.client.Client` call for call, over a `grpc.aio`
channel. Input shaping and protobuf conversion are the sync client's own
functions (imported, not copied), so both clients accept and return exactly
the same values; the retry policy is the same too: UNAVAILABLE fails over to
the next address, idempotent calls are retried, schema changes are only
re-sent when the request provably never left the client.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc
from vektra.client import convert
from vektra.client.client import (
    _LIMITS,
    DEFAULT_ADDRESS,
    _as_matrix,
    _as_vector,
    _batches,
    _check_batch_size,
    _id_list,
    _never_sent,
    _objects_from_columns,
    _objects_from_dicts,
    _parse_addresses,
    _positive,
)
from vektra.client.models import (
    ClusterStatus,
    DeleteResult,
    Object,
    QueryResult,
    SearchResult,
    UpsertResult,
)
from vektra.common.errors import DeadlineExceeded, InvalidArgument
from vektra.common.grpc_errors import from_rpc_error
from vektra.common.schema import CollectionSchema
from vektra.common.values import encode_vector
from vektra.v1 import vektra_pb2 as pb
from vektra.v1 import vektra_pb2_grpc as pb_grpc

__all__ = ["AsyncClient", "AsyncCollection"]


def _default_channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        address,
        options=[
            ("grpc.max_send_message_length", _LIMITS.max_message_bytes),
            ("grpc.max_receive_message_length", _LIMITS.max_message_bytes),
        ],
    )


def attempts_allowed(retries: int, idempotent: bool, n: int, never_sent: bool) -> int:
    """How many attempts a call may make in all (the sync client's policy).
    Idempotent calls: 1 + retries, and at least one per address. Others: one,
    unless the request provably never left the client (connection refused),
    which is safe to send to each other address once."""
    if not retries:
        return 1
    if idempotent:
        return 1 + max(retries, n - 1)
    return n if never_sent else 1


def backoff_s(failures: int, n: int) -> float:
    """Pause after `failures` failed attempts over `n` addresses: none until a
    full round is done (an untried address deserves an immediate attempt),
    then jittered exponential, capped at 1 s."""
    if failures % n:
        return 0.0
    return min(1.0, 0.05 * 2.0 ** (failures // n)) * random.uniform(0.5, 1.0)


def single_field(schema: CollectionSchema) -> str:
    """The collection's only vector field, for inputs that do not name one."""
    if len(schema.vectors) != 1:
        names = ", ".join(v.name for v in schema.vectors)
        raise InvalidArgument(
            "vectors",
            f"collection {schema.name!r} has vector fields {names}: name the field "
            "({field: vectors})",
        )
    name: str = schema.vectors[0].name
    return name


class _SchemaNeeded(Exception):
    """Raised by the shaping helpers' default-field callback when the schema
    is not cached yet: they are synchronous, so the async caller fetches it
    and shapes again."""


class AsyncClient:
    """An asyncio connection to a Vektra router (or a single node). Safe to
    share between tasks of one event loop."""

    def __init__(
        self,
        addresses: str | Sequence[str] = DEFAULT_ADDRESS,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        channel_factory: Callable[[str], grpc.aio.Channel] | None = None,
    ) -> None:
        """As `Client`: `addresses` is one "host:port", several comma-separated,
        or a list; `channel_factory` returns a `grpc.aio` channel. Channels are
        opened on first use, inside the running event loop."""
        if not timeout_s > 0:
            raise InvalidArgument("timeout_s", f"must be positive, got {timeout_s!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidArgument("retries", f"must be a non-negative integer, got {retries!r}")
        self._addresses = _parse_addresses(addresses)
        self._timeout_s = float(timeout_s)
        self._retries = retries
        self._factory = channel_factory or _default_channel
        self._channels: dict[int, grpc.aio.Channel] = {}
        self._stubs: dict[int, pb_grpc.VektraStub] = {}
        self._current = 0
        self._closed = False
        self._schemas: dict[str, CollectionSchema] = {}

    # ------------------------------------------------------------ lifecycle

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    async def close(self) -> None:
        self._closed = True
        channels, self._channels, self._stubs = list(self._channels.values()), {}, {}
        for channel in channels:
            await channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient({','.join(self._addresses)!r}, timeout_s={self._timeout_s})"

    # ------------------------------------------------------------ call layer

    def _stub(self) -> tuple[int, pb_grpc.VektraStub]:
        # No await in here, so no other task can interleave: no lock needed.
        if self._closed:
            raise RuntimeError("the Vektra client is closed")
        index = self._current
        stub = self._stubs.get(index)
        if stub is None:
            channel = self._factory(self._addresses[index])
            self._channels[index] = channel
            stub = self._stubs[index] = pb_grpc.VektraStub(channel)
        return index, stub

    def _fail_over(self, index: int) -> None:
        # Only move on if no other task already did, so concurrent failures on
        # one dead address skip it once, not once per task.
        if self._current == index:
            self._current = (index + 1) % len(self._addresses)

    async def _call(self, method: str, request: Any, *, idempotent: bool) -> Any:
        deadline = time.monotonic() + self._timeout_s
        n = len(self._addresses)
        failures = 0
        while True:
            index, stub = self._stub()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(f"{method}: deadline passed after {failures} attempts")
            try:
                return await getattr(stub, method)(request, timeout=remaining)
            except grpc.RpcError as exc:  # grpc.aio.AioRpcError is one
                error = from_rpc_error(exc)
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise error from exc
                self._fail_over(index)
                failures += 1
                allowed = attempts_allowed(self._retries, idempotent, n, _never_sent(exc))
                if failures >= allowed:
                    raise error from exc
                pause = backoff_s(failures, n)
                if pause:
                    await asyncio.sleep(max(0.0, min(pause, deadline - time.monotonic())))

    # ------------------------------------------------------------ schema cache

    async def _schema(self, name: str, *, refresh: bool = False) -> CollectionSchema:
        schema = None if refresh else self._schemas.get(name)
        if schema is None:
            await self.describe_collection(name)
            schema = self._schemas[name]
        return schema

    # ------------------------------------------------------------ collections

    async def create_collection(
        self,
        name: str,
        *,
        vectors: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
        properties: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        replication_factor: int | None = None,
    ) -> dict[str, Any]:
        """See `Client.create_collection`."""
        schema = CollectionSchema.from_dict(
            {"name": name, "vectors": vectors, "properties": properties or {}}
        )
        message = convert.schema_to_proto(schema)
        # 0 asks for the server default; from_dict would have put 1 there.
        message.replication_factor = 0 if replication_factor is None else replication_factor
        reply = await self._call(
            "CreateCollection", pb.CreateCollectionRequest(schema=message), idempotent=False
        )
        created = convert.schema_from_proto(reply.schema)
        self._schemas[created.name] = created
        result: dict[str, Any] = created.to_dict()
        return result

    async def list_collections(self) -> list[dict[str, Any]]:
        reply = await self._call("ListCollections", pb.ListCollectionsRequest(), idempotent=True)
        schemas = [convert.schema_from_proto(s) for s in reply.collections]
        for s in schemas:
            self._schemas[s.name] = s
        return [s.to_dict() for s in schemas]

    async def describe_collection(self, name: str) -> dict[str, Any]:
        """The schema dict plus "objects": the number of live objects."""
        reply = await self._call(
            "DescribeCollection", pb.DescribeCollectionRequest(name=name), idempotent=True
        )
        schema = convert.schema_from_proto(reply.schema)
        self._schemas[name] = schema
        return {**schema.to_dict(), "objects": reply.objects}

    async def drop_collection(self, name: str) -> None:
        self._schemas.pop(name, None)
        await self._call("DropCollection", pb.DropCollectionRequest(name=name), idempotent=False)

    def collection(self, name: str) -> AsyncCollection:
        """A handle on a collection; makes no call (so it is not async)."""
        if not isinstance(name, str) or not name:
            raise InvalidArgument("name", f"expected a collection name, got {name!r}")
        return AsyncCollection(self, name)

    async def cluster_status(self) -> ClusterStatus:
        reply = await self._call("ClusterStatus", pb.ClusterStatusRequest(), idempotent=True)
        return convert.cluster_status_from_proto(reply)


class AsyncCollection:
    """Data operations on one collection. Obtained from `AsyncClient.collection`;
    each method behaves as the same method of `Collection`."""

    def __init__(self, client: AsyncClient, name: str) -> None:
        self._client = client
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"AsyncCollection({self._name!r})"

    async def describe(self) -> dict[str, Any]:
        return await self._client.describe_collection(self._name)

    async def schema(self, *, refresh: bool = False) -> dict[str, Any]:
        """The schema dict, cached by the client after the first look-up."""
        schema = await self._client._schema(self._name, refresh=refresh)
        result: dict[str, Any] = schema.to_dict()
        return result

    def _cached_default_field(self) -> str:
        schema = self._client._schemas.get(self._name)
        if schema is None:
            raise _SchemaNeeded
        return single_field(schema)

    async def _shape(self, build: Callable[[Callable[[], str]], list[Object]]) -> list[Object]:
        """Run a synchronous shaping helper that may need the default vector
        field; the schema is fetched only if the input leaves a field unnamed."""
        try:
            return build(self._cached_default_field)
        except _SchemaNeeded:
            await self._client._schema(self._name)
            return build(self._cached_default_field)

    # ------------------------------------------------------------ writes

    async def upsert(
        self,
        objects: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
        vectors: Any = None,
        properties: Sequence[Mapping[str, Any] | None] | None = None,
        consistency: str | None = None,
        batch_size: int = _LIMITS.max_batch_objects,
    ) -> UpsertResult:
        """Insert or replace whole objects; see `Collection.upsert`."""
        level = convert.consistency_to_proto(consistency)
        _check_batch_size(batch_size)
        # Shaping may run twice (see _shape): one-shot iterables are made lists.
        if objects is not None:
            if ids is not None or vectors is not None or properties is not None:
                raise InvalidArgument(
                    "objects", "pass either objects or ids/vectors/properties, not both"
                )
            given = objects if isinstance(objects, Mapping | Sequence) else list(objects)
            items = await self._shape(lambda field: list(_objects_from_dicts(given, field)))
        elif ids is not None:
            id_seq = ids if isinstance(ids, str | Sequence) else list(ids)
            items = await self._shape(
                lambda field: list(_objects_from_columns(id_seq, vectors, properties, field))
            )
        else:
            raise InvalidArgument("objects", "nothing to upsert: pass objects or ids=...")
        upserted, acknowledged, version = 0, None, None
        for batch in _batches(items, batch_size):
            request = pb.UpsertRequest(collection=self._name, objects=batch, consistency=level)
            reply = convert.upsert_result_from_proto(
                await self._client._call("Upsert", request, idempotent=True)
            )
            upserted += reply.upserted
            acknowledged = (
                reply.acknowledged
                if acknowledged is None
                else min(acknowledged, reply.acknowledged)
            )
            version = reply.version or version
        return UpsertResult(upserted=upserted, acknowledged=acknowledged or 0, version=version)

    async def delete(
        self,
        ids: Sequence[str] | str,
        *,
        consistency: str | None = None,
        batch_size: int = _LIMITS.max_batch_objects,
    ) -> DeleteResult:
        """Tombstone objects by id; unknown ids are not counted in `deleted`."""
        level = convert.consistency_to_proto(consistency)
        _check_batch_size(batch_size)
        id_list = _id_list(ids)
        deleted, acknowledged, version = 0, None, None
        for start in range(0, len(id_list), batch_size):
            request = pb.DeleteRequest(
                collection=self._name, ids=id_list[start : start + batch_size], consistency=level
            )
            reply = convert.delete_result_from_proto(
                await self._client._call("Delete", request, idempotent=True)
            )
            deleted += reply.deleted
            acknowledged = (
                reply.acknowledged
                if acknowledged is None
                else min(acknowledged, reply.acknowledged)
            )
            version = reply.version or version
        return DeleteResult(deleted=deleted, acknowledged=acknowledged or 0, version=version)

    # ------------------------------------------------------------ reads

    async def get(
        self,
        ids: Sequence[str] | str,
        *,
        include_vectors: bool = False,
        consistency: str | None = None,
        batch_size: int = _LIMITS.max_batch_objects,
    ) -> list[Object]:
        """The objects found, in request order; missing or deleted ids are absent."""
        level = convert.consistency_to_proto(consistency)
        _check_batch_size(batch_size)
        id_list = _id_list(ids)
        found: list[Object] = []
        for start in range(0, len(id_list), batch_size):
            request = pb.GetRequest(
                collection=self._name,
                ids=id_list[start : start + batch_size],
                consistency=level,
                include_vectors=include_vectors,
            )
            reply = await self._client._call("Get", request, idempotent=True)
            found.extend(convert.object_from_proto(o) for o in reply.objects)
        return found

    async def search(
        self,
        vector: Any,
        k: int = 10,
        *,
        field: str | None = None,
        filter: Mapping[str, Any] | None = None,
        ef: int | None = None,
        include_properties: bool = True,
        include_vectors: bool = False,
    ) -> SearchResult:
        """The `k` nearest objects to `vector`; see `Collection.search`."""
        vec = _as_vector(vector, "vector")
        request = pb.SearchRequest(
            collection=self._name,
            field=field or "",
            vector=encode_vector(vec),
            k=_positive(k, "k"),
            ef=0 if ef is None else _positive(ef, "ef"),
            filter=convert.encode_document(filter, "filter"),
            include_properties=include_properties,
            include_vectors=include_vectors,
        )
        return convert.search_result_from_proto(
            await self._client._call("Search", request, idempotent=True)
        )

    async def search_batch(
        self,
        vectors: Any,
        k: int = 10,
        *,
        field: str | None = None,
        filter: Mapping[str, Any] | None = None,
        ef: int | None = None,
        include_properties: bool = True,
        include_vectors: bool = False,
    ) -> list[SearchResult]:
        """One `SearchResult` per row of the 2-D `vectors`, in row order."""
        matrix = _as_matrix(vectors, "vectors")
        common: dict[str, Any] = {
            "collection": self._name,
            "field": field or "",
            "k": _positive(k, "k"),
            "ef": 0 if ef is None else _positive(ef, "ef"),
            "filter": convert.encode_document(filter, "filter"),
            "include_properties": include_properties,
            "include_vectors": include_vectors,
        }
        results: list[SearchResult] = []
        step = _LIMITS.max_search_batch_rows
        for start in range(0, matrix.shape[0], step):
            rows = matrix[start : start + step]
            request = pb.SearchBatchRequest(
                vectors=encode_vector(rows), rows=rows.shape[0], **common
            )
            reply = await self._client._call("SearchBatch", request, idempotent=True)
            results.extend(convert.search_batch_from_proto(reply))
        return results

    async def query(
        self,
        filter: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        order_by: str | None = None,
        descending: bool = False,
        include_vectors: bool = False,
    ) -> QueryResult:
        """Objects matching `filter`; see `Collection.query`."""
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidArgument("offset", f"must be a non-negative integer, got {offset!r}")
        request = pb.QueryRequest(
            collection=self._name,
            filter=convert.encode_document(filter, "filter"),
            limit=0 if limit is None else _positive(limit, "limit"),
            offset=offset,
            order_by=order_by or "",
            descending=descending,
            include_vectors=include_vectors,
        )
        return convert.query_result_from_proto(
            await self._client._call("Query", request, idempotent=True)
        )

    async def count(self, filter: Mapping[str, Any] | None = None) -> int:
        """How many live objects match `filter` (all when None)."""
        request = pb.CountRequest(
            collection=self._name, filter=convert.encode_document(filter, "filter")
        )
        reply = await self._client._call("Count", request, idempotent=True)
        return int(reply.count)
