"""How a router calls its nodes: every downstream call carries the map's
epoch and a deadline, goes to many nodes at once, and is retried once with a
fresh map when a node says the map it was routed by is stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import grpc

from vektra.common.channels import NodeChannels, epoch_metadata
from vektra.common.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    NotFound,
    Unavailable,
    VektraError,
)
from vektra.common.grpc_errors import from_rpc_error
from vektra.common.schema import CollectionSchema
from vektra.node.epoch import STALE_EPOCH
from vektra.router.cluster_map import MapWatcher
from vektra.router.ring import RingView

__all__ = ["Ctx", "NodeCalls", "client_error"]

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
T = TypeVar("T")


class _Stale(Exception):
    """A node knows a newer cluster map than the one this call routed by."""


def client_error(errors: dict[str, VektraError]) -> VektraError | None:
    """A node's refusal of the request itself (bad input), if any: passed on as is."""
    for err in errors.values():
        if not isinstance(err, Unavailable) and err.code not in (
            "DEADLINE_EXCEEDED",
            "INTERNAL",
        ):
            return err
    return None


class NodeCalls:
    def __init__(self, maps: MapWatcher, channels: NodeChannels, budget_s: float) -> None:
        self.maps = maps
        self.channels = channels
        self._budget_s = budget_s

    def timeout(self, context: Ctx) -> float:
        """The smaller of the caller's remaining time and the router's budget."""
        remaining = context.time_remaining()
        return self._budget_s if remaining is None else max(0.0, min(remaining, self._budget_s))

    async def routed(self, fn: Callable[[RingView], Awaitable[T]]) -> T:
        """Run with the current map; once more with a fresh one if a node says it is stale."""
        try:
            return await fn(self.maps.current())
        except _Stale:
            view = await self.maps.refresh()
            try:
                return await fn(view)
            except _Stale as exc:
                raise FailedPrecondition(f"cluster map changed during the call: {exc}") from None

    async def fanout(
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
            stub = self.channels.public(address) if public else self.channels.internal(address)
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

    def schema(self, view: RingView, name: str) -> CollectionSchema:
        schema = view.cluster.collection(name)
        if schema is None:
            raise NotFound(f"collection {name!r} does not exist")
        return schema
