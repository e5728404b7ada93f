"""The asyncio Python SDK: `AsyncClient` and its per-collection handle.

    async with AsyncClient("127.0.0.1:7700") as c:
        col = c.collection("docs")
        await col.upsert([{"id": "a", "vectors": {"embedding": vec}}])
        hits = await col.search(vec, k=10)

Mirrors `vektra.client._sync.Client` call for call, over a `grpc.aio`
channel. Only the transport is this module's own: what each operation checks,
sends and returns comes from `vektra.client._requests`, and the retry policy
from `vektra.client._retry`, exactly as for the sync client, so both accept and
return the same values and fail over the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import grpc

from vektra.client import _requests as requests
from vektra.client._base import CHANNEL_OPTIONS, ClientBase, CollectionBase
from vektra.client._requests import Call, Plan

# The policy's pure functions were first defined here; they stay importable
# from this module (redundant aliases mark them as deliberate re-exports).
from vektra.client._retry import attempts_allowed as attempts_allowed
from vektra.client._retry import backoff_s as backoff_s
from vektra.client._shaping import DEFAULT_ADDRESS, LIMITS, check_collection_name
from vektra.client._shaping import single_field as single_field
from vektra.client.models import (
    ClusterStatus,
    DeleteResult,
    Object,
    QueryResult,
    SearchResult,
    UpsertResult,
)

__all__ = ["AsyncClient", "AsyncCollection"]

T = TypeVar("T")


def _default_channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)


class AsyncClient(ClientBase[grpc.aio.Channel]):
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
        super().__init__(
            addresses,
            timeout_s=timeout_s,
            retries=retries,
            channel_factory=channel_factory or _default_channel,
        )

    async def close(self) -> None:
        for channel in self._detach_channels():
            await channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------ transport

    async def _call(self, call: Call) -> Any:
        attempts = self._attempts(call)
        while True:
            index, stub = self._stub()
            timeout = attempts.timeout()
            try:
                return await getattr(stub, call.method)(call.request, timeout=timeout)
            except grpc.RpcError as exc:  # grpc.aio.AioRpcError is one
                pause = self._failed(attempts, index, exc)
            if pause:
                await asyncio.sleep(pause)

    async def _run(self, plan: Plan[T]) -> T:
        """Send each request the plan yields, awaited, and hand it the reply."""
        try:
            call = next(plan)
            while True:
                call = plan.send(await self._call(call))
        except StopIteration as done:
            result: T = done.value
            return result

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
        return await self._run(
            requests.create_collection(self._schemas, name, vectors, properties, replication_factor)
        )

    async def list_collections(self) -> list[dict[str, Any]]:
        return await self._run(requests.list_collections(self._schemas))

    async def describe_collection(self, name: str) -> dict[str, Any]:
        """The schema dict plus "objects": the number of live objects."""
        return await self._run(requests.describe_collection(self._schemas, name))

    async def drop_collection(self, name: str) -> None:
        await self._run(requests.drop_collection(self._schemas, name))

    def collection(self, name: str) -> AsyncCollection:
        """A handle on a collection; makes no call (so it is not async)."""
        return AsyncCollection(self, check_collection_name(name))

    async def cluster_status(self) -> ClusterStatus:
        return await self._run(requests.cluster_status())


class AsyncCollection(CollectionBase[AsyncClient]):
    """Data operations on one collection. Obtained from `AsyncClient.collection`;
    each method behaves as the same method of `Collection`."""

    async def describe(self) -> dict[str, Any]:
        return await self._client.describe_collection(self._name)

    async def schema(self, *, refresh: bool = False) -> dict[str, Any]:
        """The schema dict, cached by the client after the first look-up."""
        plan = requests.collection_schema(self._client._schemas, self._name, refresh=refresh)
        result: dict[str, Any] = (await self._client._run(plan)).to_dict()
        return result

    # ------------------------------------------------------------ writes

    async def upsert(
        self,
        objects: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
        vectors: Any = None,
        properties: Sequence[Mapping[str, Any] | None] | None = None,
        consistency: str | None = None,
        batch_size: int = LIMITS.max_batch_objects,
    ) -> UpsertResult:
        """Insert or replace whole objects; see `Collection.upsert`."""
        return await self._client._run(
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

    async def delete(
        self,
        ids: Sequence[str] | str,
        *,
        consistency: str | None = None,
        batch_size: int = LIMITS.max_batch_objects,
    ) -> DeleteResult:
        """Tombstone objects by id; unknown ids are not counted in `deleted`."""
        return await self._client._run(
            requests.delete(self._name, ids, consistency=consistency, batch_size=batch_size)
        )

    # ------------------------------------------------------------ reads

    async def get(
        self,
        ids: Sequence[str] | str,
        *,
        include_vectors: bool = False,
        consistency: str | None = None,
        batch_size: int = LIMITS.max_batch_objects,
    ) -> list[Object]:
        """The objects found, in request order; missing or deleted ids are absent."""
        return await self._client._run(
            requests.get(
                self._name,
                ids,
                include_vectors=include_vectors,
                consistency=consistency,
                batch_size=batch_size,
            )
        )

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
        return await self._client._run(
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
        return await self._client._run(
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
        return await self._client._run(
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

    async def count(self, filter: Mapping[str, Any] | None = None) -> int:
        """How many live objects match `filter` (all when None)."""
        return await self._client._run(requests.count(self._name, filter))
