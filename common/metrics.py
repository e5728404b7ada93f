"""Prometheus metrics shared by every server role.

Named `vektra_<component>_<what>_<unit>`. `instrumented` wraps a unary
servicer method to count requests by status code and time them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from prometheus_client import Counter, Histogram, start_http_server

__all__ = ["REQUESTS", "REQUEST_SECONDS", "instrumented", "serve_metrics"]

SelfT = TypeVar("SelfT")
ReqT = TypeVar("ReqT")
CtxT = TypeVar("CtxT")
R = TypeVar("R")

REQUESTS = Counter(
    "vektra_requests_total",
    "RPCs handled, by component, method and status code",
    ["component", "method", "code"],
)
REQUEST_SECONDS = Histogram(
    "vektra_request_duration_seconds",
    "RPC handling time",
    ["component", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def instrumented(
    component: str, method: str
) -> Callable[
    [Callable[[SelfT, ReqT, CtxT], Awaitable[R]]], Callable[[SelfT, ReqT, CtxT], Awaitable[R]]
]:
    def decorate(
        handler: Callable[[SelfT, ReqT, CtxT], Awaitable[R]],
    ) -> Callable[[SelfT, ReqT, CtxT], Awaitable[R]]:
        @functools.wraps(handler)
        async def wrapper(self: SelfT, request: ReqT, context: CtxT) -> R:
            start = time.perf_counter()
            code = "OK"
            try:
                return await handler(self, request, context)
            except BaseException:
                status = context.code() if hasattr(context, "code") else None
                code = status.name if isinstance(status, grpc.StatusCode) else "UNKNOWN"
                raise
            finally:
                REQUESTS.labels(component, method, code).inc()
                REQUEST_SECONDS.labels(component, method).observe(time.perf_counter() - start)

        return wrapper

    return decorate


def serve_metrics(listen: str) -> int:
    """Expose /metrics over HTTP on host:port; returns the bound port."""
    host, _, port = listen.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host or "0.0.0.0")
    return int(server.server_port)
