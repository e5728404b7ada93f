"""The epoch check on every call a node receives.

Routers and the coordinator send the cluster-map epoch they routed by in the
`x-vektra-epoch` header. A call routed by an older map than the node knows is
refused with FAILED_PRECONDITION (the sender refreshes its map and retries);
a newer epoch is adopted. Calls without the header (clients talking to a
node directly) are not checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from vektra.common.channels import EPOCH_HEADER
from vektra.node.engine import Engine

__all__ = ["STALE_EPOCH", "EpochInterceptor"]

STALE_EPOCH = "stale epoch"


class EpochInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        sent = _epoch_of(details)
        if sent is None or handler is None:
            return handler
        if sent < self._engine.epoch:
            return _refusal(
                handler, f"{STALE_EPOCH} {sent}: this node is at epoch {self._engine.epoch}"
            )
        if sent > self._engine.epoch:
            self._engine.epoch = sent
        return handler


def _epoch_of(details: grpc.HandlerCallDetails) -> int | None:
    for key, value in details.invocation_metadata or ():
        if key == EPOCH_HEADER:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)
        yield  # pragma: no cover - makes this an async generator

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **kwargs)
    return grpc.unary_unary_rpc_method_handler(refuse, **kwargs)
