"""The synchronous Python SDK: `Client` and its per-collection handle.

    with Client("127.0.0.1:7700") as c:
        col = c.collection("docs")
        col.upsert([{"id": "a", "vectors": {"embedding": vec}, "properties": {...}}])
        for hit in col.search(vec, k=10, filter={"length": {"$gte": 2}}):
            ...

Every call has a deadline (`timeout_s`, shared by all attempts of the call).
UNAVAILABLE moves the client to the next address; idempotent calls (reads,
and upsert/delete, which write whole objects or tombstones) are then retried
there, with a short backoff once every address has been tried. Schema changes
(create/drop collection) are not retried, since the first attempt may have
landed, except on to another address when the request provably never left the
client (connection refused).
Every `grpc.RpcError` surfaces as the typed `vektra.common.errors` exception.
Input checks here are conveniences; the server validates everything.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import grpc
import numpy as np
from vektra.client import convert
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
from vektra.common.limits import Limits
from vektra.common.schema import CollectionSchema
from vektra.common.values import encode_vector
from vektra.v1 import vektra_pb2 as pb
from vektra.v1 import vektra_pb2_grpc as pb_grpc

__all__ = ["Client", "Collection"]

_LIMITS = Limits()
DEFAULT_ADDRESS = "127.0.0.1:7700"
# Split upserts well below the server's batch byte limit (protobuf framing and
# msgpack overhead are not counted exactly here).
_SOFT_BATCH_BYTES = _LIMITS.max_batch_bytes // 2
_OBJECT_KEYS = frozenset({"id", "vectors", "vector", "properties"})


def _parse_addresses(addresses: str | Sequence[str]) -> list[str]:
    if not isinstance(addresses, str | Sequence):
        raise InvalidArgument("addresses", f"expected host:port strings, got {addresses!r}")
    items = addresses.split(",") if isinstance(addresses, str) else list(addresses)
    if not all(isinstance(a, str) for a in items):
        raise InvalidArgument("addresses", f"expected host:port strings, got {addresses!r}")
    out = [a.strip() for a in items if a.strip()]
    if not out:
        raise InvalidArgument("addresses", "no address given")
    return out


# gRPC core's messages for a call that failed before any byte was sent.
_UNSENT_MARKERS = ("failed to connect to all addresses", "DNS resolution failed")


def _never_sent(exc: grpc.RpcError) -> bool:
    details = exc.details() if hasattr(exc, "details") else None
    return any(marker in (details or "") for marker in _UNSENT_MARKERS)


def _default_channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(
        address,
        options=[
            ("grpc.max_send_message_length", _LIMITS.max_message_bytes),
            ("grpc.max_receive_message_length", _LIMITS.max_message_bytes),
        ],
    )


class Client:
    """A connection to a Vektra router (or a single node). Thread-safe."""

    def __init__(
        self,
        addresses: str | Sequence[str] = DEFAULT_ADDRESS,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        channel_factory: Callable[[str], grpc.Channel] | None = None,
    ) -> None:
        """`addresses`: one "host:port", several comma-separated, or a list.
        `retries`: extra attempts of an idempotent call after UNAVAILABLE (with
        several addresses, every address gets one try even if that is more).
        `channel_factory`: seam for tests and interceptors; defaults to an
        insecure channel with 64 MiB message limits."""
        if not timeout_s > 0:
            raise InvalidArgument("timeout_s", f"must be positive, got {timeout_s!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidArgument("retries", f"must be a non-negative integer, got {retries!r}")
        self._addresses = _parse_addresses(addresses)
        self._timeout_s = float(timeout_s)
        self._retries = retries
        self._factory = channel_factory or _default_channel
        self._channels: dict[int, grpc.Channel] = {}
        self._stubs: dict[int, pb_grpc.VektraStub] = {}
        self._current = 0
        self._closed = False
        self._lock = threading.Lock()
        self._schemas: dict[str, CollectionSchema] = {}

    # ------------------------------------------------------------ lifecycle

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels, self._channels, self._stubs = list(self._channels.values()), {}, {}
        for channel in channels:
            channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({','.join(self._addresses)!r}, timeout_s={self._timeout_s})"

    # ------------------------------------------------------------ call layer

    def _stub(self) -> tuple[int, pb_grpc.VektraStub]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the Vektra client is closed")
            index = self._current
            stub = self._stubs.get(index)
            if stub is None:
                channel = self._factory(self._addresses[index])
                self._channels[index] = channel
                # the generated stub module is untyped
                stub = self._stubs[index] = pb_grpc.VektraStub(channel)  # type: ignore[no-untyped-call]
            return index, stub

    def _fail_over(self, index: int) -> None:
        # Only move on if no other thread already did, so concurrent failures
        # on one dead address skip it once, not once per thread.
        with self._lock:
            if self._current == index:
                self._current = (index + 1) % len(self._addresses)

    def _call(self, method: str, request: Any, *, idempotent: bool) -> Any:
        deadline = time.monotonic() + self._timeout_s
        n = len(self._addresses)
        failures = 0
        while True:
            index, stub = self._stub()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(f"{method}: deadline passed after {failures} attempts")
            try:
                return getattr(stub, method)(request, timeout=remaining)
            except grpc.RpcError as exc:
                error = from_rpc_error(exc)
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise error from exc
                self._fail_over(index)
                failures += 1
                if failures >= self._attempts(idempotent, n, _never_sent(exc)):
                    raise error from exc
                # Back off only after a full round over the addresses: an
                # untried address deserves an immediate attempt.
                if failures % n == 0:
                    pause = min(1.0, 0.05 * 2 ** (failures // n)) * random.uniform(0.5, 1.0)
                    time.sleep(max(0.0, min(pause, deadline - time.monotonic())))

    def _attempts(self, idempotent: bool, n: int, never_sent: bool) -> int:
        """How many attempts a call may make in all. Idempotent calls: 1 +
        retries, and at least one per address. Others: one, unless the request
        provably never left the client (connection refused), which is safe to
        send to each other address once."""
        if not self._retries:
            return 1
        if idempotent:
            return 1 + max(self._retries, n - 1)
        return n if never_sent else 1

    # ------------------------------------------------------------ schema cache

    def _schema(self, name: str, *, refresh: bool = False) -> CollectionSchema:
        schema = None if refresh else self._schemas.get(name)
        if schema is None:
            self.describe_collection(name)
            schema = self._schemas[name]
        return schema

    # ------------------------------------------------------------ collections

    def create_collection(
        self,
        name: str,
        *,
        vectors: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
        properties: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        replication_factor: int | None = None,
    ) -> dict[str, Any]:
        """Create a collection; returns its schema as the server filled it in
        (`CollectionSchema.to_dict()` form). Unset HNSW parameters and
        replication factor take the server's defaults."""
        schema = CollectionSchema.from_dict(
            {"name": name, "vectors": vectors, "properties": properties or {}}
        )
        message = convert.schema_to_proto(schema)
        # 0 asks for the server default; from_dict would have put 1 there.
        message.replication_factor = 0 if replication_factor is None else replication_factor
        reply = self._call(
            "CreateCollection", pb.CreateCollectionRequest(schema=message), idempotent=False
        )
        created = convert.schema_from_proto(reply.schema)
        self._schemas[created.name] = created
        result: dict[str, Any] = created.to_dict()
        return result

    def list_collections(self) -> list[dict[str, Any]]:
        reply = self._call("ListCollections", pb.ListCollectionsRequest(), idempotent=True)
        schemas = [convert.schema_from_proto(s) for s in reply.collections]
        for s in schemas:
            self._schemas[s.name] = s
        return [s.to_dict() for s in schemas]

    def describe_collection(self, name: str) -> dict[str, Any]:
        """The schema dict plus "objects": the number of live objects."""
        reply = self._call(
            "DescribeCollection", pb.DescribeCollectionRequest(name=name), idempotent=True
        )
        schema = convert.schema_from_proto(reply.schema)
        self._schemas[name] = schema
        return {**schema.to_dict(), "objects": reply.objects}

    def drop_collection(self, name: str) -> None:
        self._schemas.pop(name, None)
        self._call("DropCollection", pb.DropCollectionRequest(name=name), idempotent=False)

    def collection(self, name: str) -> Collection:
        """A handle on a collection; makes no call."""
        if not isinstance(name, str) or not name:
            raise InvalidArgument("name", f"expected a collection name, got {name!r}")
        return Collection(self, name)

    def cluster_status(self) -> ClusterStatus:
        reply = self._call("ClusterStatus", pb.ClusterStatusRequest(), idempotent=True)
        return convert.cluster_status_from_proto(reply)


class Collection:
    """Data operations on one collection. Obtained from `Client.collection`."""

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"Collection({self._name!r})"

    def describe(self) -> dict[str, Any]:
        return self._client.describe_collection(self._name)

    def schema(self, *, refresh: bool = False) -> dict[str, Any]:
        """The schema dict, cached by the client after the first look-up."""
        result: dict[str, Any] = self._client._schema(self._name, refresh=refresh).to_dict()
        return result

    def _default_field(self) -> str:
        schema = self._client._schema(self._name)
        if len(schema.vectors) != 1:
            names = ", ".join(v.name for v in schema.vectors)
            raise InvalidArgument(
                "vectors",
                f"collection {self._name!r} has vector fields {names}: name the field "
                "({field: vectors})",
            )
        name: str = schema.vectors[0].name
        return name

    # ------------------------------------------------------------ writes

    def upsert(
        self,
        objects: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
        vectors: Any = None,
        properties: Sequence[Mapping[str, Any] | None] | None = None,
        consistency: str | None = None,
        batch_size: int = _LIMITS.max_batch_objects,
    ) -> UpsertResult:
        """Insert or replace whole objects.

        Either `objects`, a list of {"id", "vectors": {field: vector},
        "properties": {...}} (a bare vector, or "vector", means the only vector
        field), or columns: `ids`, `vectors` (a 2-D array for the only field,
        or {field: 2-D array}) and optional `properties` (one mapping per id).
        Large inputs are sent in batches of at most `batch_size` objects; the
        result sums `upserted` and keeps the smallest `acknowledged`.
        """
        level = convert.consistency_to_proto(consistency)
        _check_batch_size(batch_size)
        if objects is not None:
            if ids is not None or vectors is not None or properties is not None:
                raise InvalidArgument(
                    "objects", "pass either objects or ids/vectors/properties, not both"
                )
            items = list(_objects_from_dicts(objects, self._default_field))
        elif ids is not None:
            items = list(_objects_from_columns(ids, vectors, properties, self._default_field))
        else:
            raise InvalidArgument("objects", "nothing to upsert: pass objects or ids=...")
        upserted, acknowledged, version = 0, None, None
        for batch in _batches(items, batch_size):
            request = pb.UpsertRequest(collection=self._name, objects=batch, consistency=level)
            reply = convert.upsert_result_from_proto(
                self._client._call("Upsert", request, idempotent=True)
            )
            upserted += reply.upserted
            acknowledged = (
                reply.acknowledged
                if acknowledged is None
                else min(acknowledged, reply.acknowledged)
            )
            version = reply.version or version
        return UpsertResult(upserted=upserted, acknowledged=acknowledged or 0, version=version)

    def delete(
        self,
        ids: Sequence[str] | str,
        *,
        consistency: str | None = None,
        batch_size: int = _LIMITS.max_batch_objects,
    ) -> DeleteResult:
        """Tombstone objects by id; unknown ids are not an error (they are not
        counted in `deleted`)."""
        level = convert.consistency_to_proto(consistency)
        _check_batch_size(batch_size)
        id_list = _id_list(ids)
        deleted, acknowledged, version = 0, None, None
        for start in range(0, len(id_list), batch_size):
            request = pb.DeleteRequest(
                collection=self._name, ids=id_list[start : start + batch_size], consistency=level
            )
            reply = convert.delete_result_from_proto(
                self._client._call("Delete", request, idempotent=True)
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

    def get(
        self,
        ids: Sequence[str] | str,
        *,
        include_vectors: bool = False,
        consistency: str | None = None,
        batch_size: int = _LIMITS.max_batch_objects,
    ) -> list[Object]:
        """The objects found, in request order; missing or deleted ids are
        simply absent."""
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
            reply = self._client._call("Get", request, idempotent=True)
            found.extend(convert.object_from_proto(o) for o in reply.objects)
        return found

    def search(
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
        """The `k` nearest objects to `vector` (1-D) in `field` (optional when
        the collection has one vector field) among those matching `filter`."""
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
            self._client._call("Search", request, idempotent=True)
        )

    def search_batch(
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
        """One `SearchResult` per row of the 2-D `vectors`, in row order, from one
        SearchBatch call (one per 1,000 rows, the server's limit)."""
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
            reply = self._client._call("SearchBatch", request, idempotent=True)
            results.extend(convert.search_batch_from_proto(reply))
        return results

    def query(
        self,
        filter: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        order_by: str | None = None,
        descending: bool = False,
        include_vectors: bool = False,
    ) -> QueryResult:
        """Objects matching `filter` (all when None), ordered by `order_by` (a
        property; by id when None), `limit` of them (None = server default)
        after skipping `offset`."""
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
            self._client._call("Query", request, idempotent=True)
        )

    def count(self, filter: Mapping[str, Any] | None = None) -> int:
        """How many live objects match `filter` (all when None)."""
        request = pb.CountRequest(
            collection=self._name, filter=convert.encode_document(filter, "filter")
        )
        return int(self._client._call("Count", request, idempotent=True).count)


# ---------------------------------------------------------------- input shaping


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidArgument(where, f"must be a positive integer, got {value!r}")
    return int(value)


def _check_batch_size(batch_size: int) -> None:
    _positive(batch_size, "batch_size")


def _id_list(ids: Sequence[str] | str) -> list[str]:
    if isinstance(ids, str):  # one id, not its characters
        return [ids]
    out = list(ids)
    for i, object_id in enumerate(out):
        if not isinstance(object_id, str):
            raise InvalidArgument(f"ids[{i}]", f"must be a string, got {type(object_id).__name__}")
    return [str(x) for x in out]  # np.str_ -> str


def _as_array(value: Any, where: str, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(where, f"not an array of numbers: {exc}") from None
    if arr.ndim != ndim:
        shape = "1-D vector" if ndim == 1 else "2-D array (one row per vector)"
        raise InvalidArgument(where, f"expected a {shape}, got shape {arr.shape}")
    if arr.size == 0 and ndim == 1:
        raise InvalidArgument(where, "empty vector")
    return arr


def _as_vector(value: Any, where: str) -> np.ndarray:
    return _as_array(value, where, 1)


def _as_matrix(value: Any, where: str) -> np.ndarray:
    arr = _as_array(value, where, 2)
    if arr.shape[0] and not arr.shape[1]:
        raise InvalidArgument(where, "rows are empty")
    return arr


def _objects_from_dicts(
    objects: Sequence[Mapping[str, Any]], default_field: Callable[[], str]
) -> Iterator[Object]:
    if isinstance(objects, Mapping):
        raise InvalidArgument("objects", "expected a list of objects, got a single mapping")
    for i, item in enumerate(objects):
        where = f"objects[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidArgument(where, f"expected a mapping, got {type(item).__name__}")
        unknown = set(item) - _OBJECT_KEYS
        if unknown:
            raise InvalidArgument(
                where, f"unknown keys {sorted(unknown)}; expected id, vectors, properties"
            )
        object_id = item.get("id")
        if not isinstance(object_id, str):
            raise InvalidArgument(f"{where}.id", f"must be a string, got {object_id!r}")
        raw = item.get("vectors", item.get("vector"))
        vecs: dict[str, np.ndarray] = {}
        if isinstance(raw, Mapping):
            vecs = {f: _as_vector(v, f"{where}.vectors.{f}") for f, v in raw.items()}
        elif raw is not None:
            vecs = {default_field(): _as_vector(raw, f"{where}.vectors")}
        props = item.get("properties") or {}
        if not isinstance(props, Mapping):
            raise InvalidArgument(f"{where}.properties", "must be a mapping")
        yield Object(id=str(object_id), properties=dict(props), vectors=vecs)


def _objects_from_columns(
    ids: Sequence[str],
    vectors: Any,
    properties: Sequence[Mapping[str, Any] | None] | None,
    default_field: Callable[[], str],
) -> Iterator[Object]:
    id_list = _id_list(ids)
    n = len(id_list)
    columns: dict[str, np.ndarray] = {}
    if isinstance(vectors, Mapping):
        columns = {f: _as_matrix(v, f"vectors.{f}") for f, v in vectors.items()}
    elif vectors is not None:
        columns = {default_field(): _as_matrix(vectors, "vectors")}
    for f, matrix in columns.items():
        if matrix.shape[0] != n:
            raise InvalidArgument(f"vectors.{f}", f"{matrix.shape[0]} rows for {n} ids")
    if properties is not None and len(properties) != n:
        raise InvalidArgument("properties", f"{len(properties)} entries for {n} ids")
    for i, object_id in enumerate(id_list):
        props = properties[i] if properties is not None else None
        if props is not None and not isinstance(props, Mapping):
            raise InvalidArgument(f"properties[{i}]", "must be a mapping or None")
        yield Object(
            id=object_id,
            properties=dict(props or {}),
            vectors={f: m[i] for f, m in columns.items()},
        )


def _batches(items: list[Object], batch_size: int) -> Iterator[list[pb.Object]]:
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
