"""Schema changes through a router: forwarded to the coordinator, retried
when the coordinator could not be reached.

A router's channel to the coordinator can be between connections when an
admin call arrives (the coordinator restarting, a connection the network
dropped); such a call fails with UNAVAILABLE before the coordinator saw it.
Failing the user's `create` for that would be wrong, so UNAVAILABLE is retried
with backoff until the call's deadline. A retried call may find that an
earlier attempt did land after all (its answer was what got lost): a create
that then meets ALREADY_EXISTS for the very schema it asked for succeeded,
and a drop that meets NOT_FOUND did its job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from vektra.common.errors import AlreadyExists, NotFound, VektraError
from vektra.common.grpc_errors import from_rpc_error
from vektra.common.pb import schema_from_pb
from vektra.common.schema import CollectionSchema
from vektra.router.cluster_map import MapWatcher
from vektra.v1 import vektra_pb2 as pb

__all__ = ["Admin", "same_schema"]

T = TypeVar("T")

log = logging.getLogger(__name__)

_FIRST_BACKOFF_S = 0.05
_MAX_BACKOFF_S = 1.0


def same_schema(asked: CollectionSchema, existing: CollectionSchema) -> bool:
    """Whether `existing` is what creating `asked` makes (a replication
    factor of 0 asks for the cluster's default, whatever it was)."""
    rf = asked.replication_factor or existing.replication_factor
    return (asked.name, asked.vectors, asked.properties, rf) == (
        existing.name,
        existing.vectors,
        existing.properties,
        existing.replication_factor,
    )


class Admin:
    def __init__(self, maps: MapWatcher) -> None:
        self._maps = maps

    async def create_collection(
        self, request: pb.CreateCollectionRequest, timeout_s: float
    ) -> pb.CreateCollectionResponse:
        asked = schema_from_pb(request.schema).validated()  # bad input fails here, unsent
        try:
            resp: pb.CreateCollectionResponse = await self._retrying(
                f"create collection {asked.name!r}",
                lambda t: self._maps.coordinator.CreateCollection(request, timeout=t),
                timeout_s,
            )
        except _AfterRetry as exc:
            if not isinstance(exc.error, AlreadyExists):
                raise exc.error from None
            view = await self._maps.refresh()
            existing = view.cluster.collection(asked.name)
            if existing is None or not same_schema(asked, existing):
                raise exc.error from None
            return pb.CreateCollectionResponse(schema=request.schema)
        await self._maps.refresh()
        return resp

    async def drop_collection(self, request: pb.DropCollectionRequest, timeout_s: float) -> None:
        try:
            await self._retrying(
                f"drop collection {request.name!r}",
                lambda t: self._maps.coordinator.DropCollection(request, timeout=t),
                timeout_s,
            )
        except _AfterRetry as exc:
            if not isinstance(exc.error, NotFound):
                raise exc.error from None
        await self._maps.refresh()

    async def _retrying(
        self, what: str, call: Callable[[float], Awaitable[T]], timeout_s: float
    ) -> T:
        """`call(remaining_s)` until it does not fail with UNAVAILABLE or the
        time is up. An error other than UNAVAILABLE met after a retry comes as
        `_AfterRetry`, since an earlier attempt may have landed."""
        deadline = time.monotonic() + timeout_s
        backoff = _FIRST_BACKOFF_S
        retried = False
        while True:
            remaining = deadline - time.monotonic()
            try:
                return await call(max(remaining, 0.001))
            except grpc.aio.AioRpcError as exc:
                error = from_rpc_error(exc)
                unavailable = exc.code() == grpc.StatusCode.UNAVAILABLE
                if not unavailable:
                    if retried:
                        raise _AfterRetry(error) from exc
                    raise error from exc
                if deadline - time.monotonic() <= backoff:
                    raise error from exc
                if not retried:
                    log.info("%s: coordinator unreachable (%s); retrying", what, error.message)
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, _MAX_BACKOFF_S)
            retried = True


class _AfterRetry(Exception):
    def __init__(self, error: VektraError) -> None:
        super().__init__(error.message)
        self.error = error
