"""The server interceptor every role installs first: error mapping and
metrics for every handler, unary and streaming alike.

A handler raises the typed `vektra.common.errors` exceptions; this turns each
into its gRPC status (through `grpc_errors.CODE_OF`, the one mapping), turns
anything else into INTERNAL (logged with its traceback: it is a bug), and
counts and times every call by component, method and status code. Handlers
stay free of cross-cutting code, and a new handler cannot forget either.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc

from vektra.common import errors
from vektra.common.grpc_errors import CODE_OF
from vektra.common.metrics import REQUEST_SECONDS, REQUESTS

__all__ = ["StatusInterceptor"]

log = logging.getLogger(__name__)

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Continuation: TypeAlias = Callable[
    [grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler | None"]
]


class StatusInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Maps errors to status codes and records `vektra_requests_total` and
    `vektra_request_duration_seconds` for `component` ("node", "router", ...)."""

    def __init__(self, component: str) -> None:
        self._component = component
        # method -> (the handler seen, its wrapped twin). Handlers are looked up
        # per call; wrapping the same one again each time would cost a closure
        # per call. A different handler for the method (say, another
        # interceptor's refusal) is wrapped afresh.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None:
            return None
        cached = self._wrapped.get(details.method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = _wrap(handler, self._component, details.method.rpartition("/")[2])
        self._wrapped[details.method] = (handler, wrapped)
        return wrapped


class _Call:
    """One call's bookkeeping: its status code and timing."""

    __slots__ = ("code", "component", "method", "start")

    def __init__(self, component: str, method: str) -> None:
        self.component = component
        self.method = method
        self.code = "OK"
        self.start = time.perf_counter()

    async def fail(self, exc: BaseException, context: Ctx) -> None:
        """Abort the call with the status `exc` stands for (raises AbortError)."""
        if isinstance(exc, errors.VektraError):
            code = CODE_OF.get(type(exc), grpc.StatusCode.UNKNOWN)
            self.code = code.name
            await context.abort(code, exc.message)
        if isinstance(exc, grpc.aio.AbortError | grpc.aio.UsageError):
            status = context.code()
            self.code = status.name if isinstance(status, grpc.StatusCode) else "UNKNOWN"
            raise exc
        if isinstance(exc, Exception):
            log.error("internal error in %s.%s", self.component, self.method, exc_info=exc)
            self.code = "INTERNAL"
            await context.abort(
                grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"
            )
        # CancelledError (the client went away) and other BaseExceptions.
        self.code = "CANCELLED"
        raise exc

    def done(self) -> None:
        # Each labelled child looked up once: `labels()` takes a lock and
        # builds its key on every call (a few us a call, in every server).
        key = (self.component, self.method, self.code)
        counter = _COUNTERS.get(key)
        if counter is None:
            counter = _COUNTERS[key] = REQUESTS.labels(*key)
        timer = _TIMERS.get(key[:2])
        if timer is None:
            timer = _TIMERS[key[:2]] = REQUEST_SECONDS.labels(*key[:2])
        counter.inc()
        timer.observe(time.perf_counter() - self.start)


# (component, method, code) -> its counter; (component, method) -> its
# histogram. Bounded: the methods and status codes are a fixed set.
_COUNTERS: dict[tuple[str, str, str], Any] = {}
_TIMERS: dict[tuple[str, str], Any] = {}


def _wrap(handler: grpc.RpcMethodHandler, component: str, method: str) -> grpc.RpcMethodHandler:
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _unary(handler.unary_unary, component, method), **kwargs
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            _unary(handler.stream_unary, component, method), **kwargs
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _responses(handler.unary_stream, component, method), **kwargs
        )
    return grpc.stream_stream_rpc_method_handler(
        _responses(handler.stream_stream, component, method), **kwargs
    )


def _responses(behaviour: Any, component: str, method: str) -> Any:
    # A streaming handler either yields its responses or, as the standard
    # health service's Watch does, awaits `context.write` and returns.
    if inspect.isasyncgenfunction(behaviour):
        return _streaming(behaviour, component, method)
    return _unary(behaviour, component, method)


def _unary(
    behaviour: Callable[[Any, Ctx], Awaitable[Any]], component: str, method: str
) -> Callable[[Any, Ctx], Awaitable[Any]]:
    async def call(request: Any, context: Ctx) -> Any:
        record = _Call(component, method)
        try:
            return await behaviour(request, context)
        except BaseException as exc:
            await record.fail(exc, context)
        finally:
            record.done()

    return call


def _streaming(
    behaviour: Callable[[Any, Ctx], AsyncIterator[Any]], component: str, method: str
) -> Callable[[Any, Ctx], AsyncIterator[Any]]:
    async def call(request: Any, context: Ctx) -> AsyncIterator[Any]:
        record = _Call(component, method)
        try:
            async for response in behaviour(request, context):
                yield response
        except BaseException as exc:
            await record.fail(exc, context)
        finally:
            record.done()

    return call
