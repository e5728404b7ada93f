"""What every server process does alike: gRPC server options, the health
service, the ready line, and running until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from vektra.common.failpoints import FailpointInterceptor, Failpoints, FaultsService
from vektra.common.interceptors import StatusInterceptor
from vektra.common.keepalive import Keepalive
from vektra.common.limits import Limits
from vektra.common.metrics import serve_metrics
from vektra.v1 import faults_pb2_grpc

__all__ = [
    "ListenError",
    "add_health",
    "grpc_server",
    "listen_on",
    "mark_serving",
    "run_server",
    "run_until_signalled",
    "server_options",
]

log = logging.getLogger(__name__)


def server_options(limits: Limits, keepalive: Keepalive) -> list[tuple[str, int]]:
    return [
        *keepalive.server_options(),
        ("grpc.max_send_message_length", limits.max_message_bytes),
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        # A second process on the same port must fail, not share it.
        ("grpc.so_reuseport", 0),
    ]


class ListenError(OSError):
    """The server cannot bind its address (in use, or not this machine's)."""


def listen_on(server: grpc.aio.Server, address: str) -> int:
    """Bind `address`; the bound port (port 0 picks one)."""
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc raises this when the port is taken
        raise ListenError(f"cannot listen on {address}: {_why(exc)}") from None
    if port == 0:
        raise ListenError(f"cannot listen on {address}")
    return int(port)


def _why(exc: RuntimeError) -> str:
    text = str(exc)
    return "address in use (is another server running there?)" if "bind" in text.lower() else text


def run_server(main: Coroutine[Any, Any, None]) -> int:
    """Run a server's main coroutine; a bind failure is one line, exit 2."""
    try:
        asyncio.run(main)
    except ListenError as exc:
        print(f"vektra: {exc}", file=sys.stderr)
        return 2
    return 0


def grpc_server(
    component: str,
    limits: Limits,
    keepalive: Keepalive,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    *,
    failpoints: bool = False,
) -> grpc.aio.Server:
    """A grpc.aio server with the options every role shares and, first of its
    interceptors, the one that maps errors to status codes and records metrics.
    With `failpoints` (tests only) it also serves `vektra.v1.Faults` and applies
    its rules to every call (see common/failpoints.py)."""
    chain: list[grpc.aio.ServerInterceptor] = [StatusInterceptor(component)]
    points = Failpoints() if failpoints else None
    if points is not None:
        chain.append(FailpointInterceptor(points))
    server = grpc.aio.server(
        options=server_options(limits, keepalive), interceptors=[*chain, *interceptors]
    )
    if points is not None:
        faults_pb2_grpc.add_FaultsServicer_to_server(FaultsService(points), server)  # type: ignore[no-untyped-call]
        log.warning("%s: fault injection is ON (a test setting)", component)
    return server


async def add_health(server: grpc.aio.Server) -> health.aio.HealthServicer:
    """Register the standard grpc.health.v1 service; `mark_serving` once started."""
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    return servicer


async def mark_serving(servicer: health.aio.HealthServicer, services: Sequence[str]) -> None:
    for name in ("", *services):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


async def run_until_signalled(
    role: str,
    server_id: str,
    address: str,
    metrics_listen: str | None,
    stop: Callable[[], Awaitable[None]],
) -> None:
    """Announce the server, wait for SIGTERM or SIGINT, then `stop()` it."""
    if metrics_listen:
        log.info("metrics on port %d", serve_metrics(metrics_listen))
    # Harnesses and scripts read this line to learn the bound port.
    print(f"VEKTRA_READY {role} {server_id} {address}", flush=True)
    log.info("%s %s serving on %s", role, server_id, address)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("%s %s stopping", role, server_id)
    await stop()
    log.info("%s %s stopped", role, server_id)
