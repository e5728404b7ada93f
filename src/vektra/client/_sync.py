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

This module is only the blocking transport: what each operation sends and
returns is in `vektra.client._requests`, the retry policy in
`vektra.client._retry`, and both are shared with `vektra.client._aio`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from vektra.client import _requests as requests
from vektra.client._base import CHANNEL_OPTIONS, ClientBase, CollectionBase
from vektra.client._requests import Call, Plan

# Re-exported: the CLI (and callers) take the default address from here.
from vektra.client._shaping import DEFAULT_ADDRESS as DEFAULT_ADDRESS
from vektra.client._shaping import LIMITS, check_collection_name
from vektra.client.models import (
    ClusterStatus,
    DeleteResult,
    Object,
    QueryResult,
    SearchResult,
    UpsertResult,
)
from vektra.common.schema import CollectionSchema

if TYPE_CHECKING:
    from vektra.client._local import LocalClient

__all__ = ["BlockingApi", "Client", "Collection"]

T = TypeVar("T")


def _default_channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)


class BlockingApi:
    """The client-level calls of the blocking clients, over any transport:
    `Client` sends each request over gRPC, the embedded `LocalClient`
    (`vektra.connect`) hands it to an engine in this process. A subclass
    gives `_call` (send one request, return its reply) and `_schemas` (the
    schema cache)."""

    _schemas: dict[str, CollectionSchema]

    def _call(self, call: Call) -> Any:
        raise NotImplementedError

    def _run(self, plan: Plan[T]) -> T:
        """Send each request the plan yields, blocking, and hand it the reply:
        the plan's result."""
        try:
            call = next(plan)
            while True:
                call = plan.send(self._call(call))
        except StopIteration as done:
            result: T = done.value
            return result

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
        return self._run(
            requests.create_collection(self._schemas, name, vectors, properties, replication_factor)
        )

    def list_collections(self) -> list[dict[str, Any]]:
        return self._run(requests.list_collections(self._schemas))

    def describe_collection(self, name: str) -> dict[str, Any]:
        """The schema dict plus "objects": the number of live objects."""
        return self._run(requests.describe_collection(self._schemas, name))

    def drop_collection(self, name: str) -> None:
        self._run(requests.drop_collection(self._schemas, name))

    def collection(self, name: str) -> Collection:
        """A handle on a collection; makes no call."""
        return Collection(self, check_collection_name(name))

    def cluster_status(self) -> ClusterStatus:
        return self._run(requests.cluster_status())


class Client(ClientBase[grpc.Channel], BlockingApi):
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
        super().__init__(
            addresses,
            timeout_s=timeout_s,
            retries=retries,
            channel_factory=channel_factory or _default_channel,
        )

    @staticmethod
    def local(path: str | os.PathLike[str], **options: Any) -> LocalClient:
        """The same API on a data directory opened in this process, with no
        server: `vektra.connect(path)` (see `vektra.client._local`)."""
        from vektra.client._local import LocalClient

        return LocalClient(path, **options)

    def close(self) -> None:
        for channel in self._detach_channels():
            channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ transport

    def _call(self, call: Call) -> Any:
        attempts = self._attempts(call)
        while True:
            index, stub = self._stub()
            timeout = attempts.timeout()
            try:
                return getattr(stub, call.method)(call.request, timeout=timeout)
            except grpc.RpcError as exc:
                pause = self._failed(attempts, index, exc)
            if pause:
                time.sleep(pause)


class Collection(CollectionBase[BlockingApi]):
    """Data operations on one collection. Obtained from `Client.collection`."""

    def describe(self) -> dict[str, Any]:
        return self._client.describe_collection(self._name)

    def schema(self, *, refresh: bool = False) -> dict[str, Any]:
        """The schema dict, cached by the client after the first look-up."""
        plan = requests.collection_schema(self._client._schemas, self._name, refresh=refresh)
        result: dict[str, Any] = self._client._run(plan).to_dict()
        return result

    # ------------------------------------------------------------ writes

    def upsert(
        self,
        objects: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
        vectors: Any = None,
        properties: Sequence[Mapping[str, Any] | None] | None = None,
        consistency: str | None = None,
        batch_size: int = LIMITS.max_batch_objects,
    ) -> UpsertResult:
        """Insert or replace whole objects.

        Either `objects`, a list of {"id", "vectors": {field: vector},
        "properties": {...}} (a bare vector, or "vector", means the only vector
        field), or columns: `ids`, `vectors` (a 2-D array for the only field,
        or {field: 2-D array}) and optional `properties` (one mapping per id).
        Large inputs are sent in batches of at most `batch_size` objects; the
        result sums `upserted` and keeps the smallest `acknowledged`.
        """
        return self._client._run(
            requests.upsert(
                self._client._schemas,
                self._name,
                objects,
                ids=ids,
                vectors=vectors,
                properties=properties,
                consistency=consistency,
                batch_size=batch_size,
            )
        )

    def delete(
        self,
        ids: Sequence[str] | str,
        *,
        consistency: str | None = None,
        batch_size: int = LIMITS.max_batch_objects,
    ) -> DeleteResult:
        """Tombstone objects by id; unknown ids are not an error (they are not
        counted in `deleted`)."""
        return self._client._run(
            requests.delete(self._name, ids, consistency=consistency, batch_size=batch_size)
        )

    # ------------------------------------------------------------ reads

    def get(
        self,
        ids: Sequence[str] | str,
        *,
        include_vectors: bool = False,
        consistency: str | None = None,
        batch_size: int = LIMITS.max_batch_objects,
    ) -> list[Object]:
        """The objects found, in request order; missing or deleted ids are
        simply absent."""
        return self._client._run(
            requests.get(
                self._name,
                ids,
                include_vectors=include_vectors,
                consistency=consistency,
                batch_size=batch_size,
            )
        )

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
        return self._client._run(
            requests.search(
                self._name,
                vector,
                k,
                field=field,
                filter=filter,
                ef=ef,
                include_properties=include_properties,
                include_vectors=include_vectors,
            )
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
        return self._client._run(
            requests.search_batch(
                self._name,
                vectors,
                k,
                field=field,
                filter=filter,
                ef=ef,
                include_properties=include_properties,
                include_vectors=include_vectors,
            )
        )

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
        return self._client._run(
            requests.query(
                self._name,
                filter,
                limit=limit,
                offset=offset,
                order_by=order_by,
                descending=descending,
                include_vectors=include_vectors,
            )
        )

    def count(self, filter: Mapping[str, Any] | None = None) -> int:
        """How many live objects match `filter` (all when None)."""
        return self._client._run(requests.count(self._name, filter))
