"""The cluster and epoch check on every call a node receives.

Routers, the coordinator and other nodes send three headers on every
internal call (see proto/vektra/v1/node.proto): the map epoch they routed
by, their cluster id and their own id. `admit` decides, purely, from the
headers and the node's view of the map:

* no header at all: a client talking to this node alone, not checked;
* an epoch header that is not a decimal integer in [0, 2^63): INVALID_ARGUMENT
  naming the header;
* a node of a cluster refuses a caller of another cluster, or of none
  (FAILED_PRECONDITION naming both ids);
* an epoch older than the node's: FAILED_PRECONDITION "stale epoch" (the
  sender refreshes its map and retries). SetEpoch is the exception: the
  coordinator's map in it is judged by the engine, which ignores an older
  one and answers the node's epoch.

A newer epoch is accepted and NEVER adopted: the node takes map changes only
from SetEpoch (`Engine.set_epoch`). A caller ahead of the node is routing by
a map the coordinator will give the node too; a header alone raising the
node's epoch let any one caller make every other caller stale.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc

from vektra.common.channels import CLUSTER_HEADER, EPOCH_HEADER, FROM_HEADER
from vektra.common.errors import FailedPrecondition, InvalidArgument, VektraError
from vektra.common.grpc_errors import abort_with
from vektra.node.cluster_view import ClusterView
from vektra.node.engine import Engine

__all__ = ["SET_EPOCH_METHOD", "STALE_EPOCH", "EpochInterceptor", "admit"]

STALE_EPOCH = "stale epoch"  # in the refusal's message: routers match on it
SET_EPOCH_METHOD = "/vektra.v1.Node/SetEpoch"
MAX_EPOCH = (1 << 63) - 1

_HEADERS = frozenset((EPOCH_HEADER, CLUSTER_HEADER, FROM_HEADER))
_DECIMAL = re.compile(r"[0-9]{1,19}")


def admit(
    metadata: Iterable[tuple[str, str | bytes]], view: ClusterView, method: str
) -> VektraError | None:
    """Why a call with these headers is refused, or None to let it through."""
    headers = {k: v for k, v in metadata if k in _HEADERS}
    if not headers:
        return None
    sent: int | None = None
    if EPOCH_HEADER in headers:
        try:
            sent = parse_epoch(headers[EPOCH_HEADER])
        except InvalidArgument as exc:
            return exc
    if view.cluster_id:
        caller = headers.get(CLUSTER_HEADER, "")
        if caller != view.cluster_id:
            of = f"cluster {caller!s}" if caller else "no cluster"
            return FailedPrecondition(
                f"this node belongs to cluster {view.cluster_id}; the call is from {of}"
            )
    if sent is not None and sent < view.epoch and method != SET_EPOCH_METHOD:
        return FailedPrecondition(f"{STALE_EPOCH} {sent}: this node is at epoch {view.epoch}")
    return None


def parse_epoch(value: str | bytes) -> int:
    """The epoch a header carries; InvalidArgument naming the header if it is
    not a decimal integer in [0, 2^63) (int() would take signs, spaces and
    underscores; the response fields are 64-bit)."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    if _DECIMAL.fullmatch(text) is None or int(text) > MAX_EPOCH:
        raise InvalidArgument(EPOCH_HEADER, f"{text[:40]!r} is not a decimal integer in [0, 2^63)")
    return int(text)


class EpochInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        refusal = admit(details.invocation_metadata or (), self._engine.cluster, details.method)
        return handler if refusal is None else _refusal(handler, refusal)


def _refusal(handler: grpc.RpcMethodHandler, error: VektraError) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await abort_with(context, error)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await abort_with(context, error)
        yield  # pragma: no cover - makes this an async generator

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **kwargs)
    return grpc.unary_unary_rpc_method_handler(refuse, **kwargs)
