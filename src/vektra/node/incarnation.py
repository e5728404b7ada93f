"""The collection-incarnation check on every internal data request.

A router or another node routes each data request by the collection
incarnation it knows of and names it in the request. A node holding another
incarnation of that name holds a dropped one (or the caller does): the
request is refused with FAILED_PRECONDITION "collection X incarnation
mismatch" before the handler runs, so no handler can forget the check and
a write never lands in the wrong incarnation's data. An empty incarnation
is not checked. Apply is checked again under the engine's write lock
(`Engine.apply`), where the collection cannot be replaced meanwhile.

One table says where each request names its collection; a new data call
carrying an incarnation adds a row here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from vektra.node.engine import Engine

__all__ = ["DATA_CALLS", "IncarnationInterceptor"]

_Behaviour = Callable[[Any, "grpc.aio.ServicerContext[Any, Any]"], Awaitable[Any]]

# method -> (collection, incarnation) of its request
DATA_CALLS: dict[str, Callable[[Any], tuple[str, str]]] = {
    "/vektra.v1.Node/Apply": lambda r: (r.collection, r.incarnation),
    "/vektra.v1.Node/Fetch": lambda r: (r.collection, r.incarnation),
    "/vektra.v1.Node/CountRanges": lambda r: (r.collection, r.incarnation),
    "/vektra.v1.Node/ShardSearch": lambda r: (r.search.collection, r.incarnation),
    "/vektra.v1.Node/ShardQuery": lambda r: (r.query.collection, r.incarnation),
    "/vektra.v1.Node/RangeDigest": lambda r: (r.collection, r.incarnation),
    "/vektra.v1.Node/RangeVersions": lambda r: (r.collection, r.incarnation),
}


class IncarnationInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # method -> (the handler seen, its checked twin): one closure per
        # method, not one per call.
        self._checked: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        names = DATA_CALLS.get(details.method)
        if handler is None or names is None or handler.unary_unary is None:
            return handler
        cached = self._checked.get(details.method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        checked = grpc.unary_unary_rpc_method_handler(
            self._check(handler.unary_unary, names),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._checked[details.method] = (handler, checked)
        return checked

    def _check(self, behaviour: _Behaviour, names: Callable[[Any], tuple[str, str]]) -> _Behaviour:
        engine = self._engine

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            # Raises the typed error; the status interceptor maps it.
            engine.check_incarnation(*names(request))
            return await behaviour(request, context)

        return call
