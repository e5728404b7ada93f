"""The storage node process: gRPC server (grpc.aio), health, checkpoints,
graceful stop.

`create_server` binds (port 0 in tests) and returns the bound port. `serve`
runs a node until SIGTERM or SIGINT: it stops taking requests, lets in-flight
ones finish within the grace period, checkpoints the indexes and closes the
store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from vektra.common.limits import Limits
from vektra.common.metrics import serve_metrics
from vektra.node.config import NodeConfig
from vektra.node.engine import Engine
from vektra.node.epoch import EpochInterceptor
from vektra.node.service import NodeService, VektraService
from vektra.v1 import node_pb2_grpc, vektra_pb2_grpc

__all__ = ["NodeServer", "create_server", "serve"]

log = logging.getLogger(__name__)

SERVICES = ("vektra.v1.Vektra", "vektra.v1.Node")


@dataclass
class NodeServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer


def grpc_options(limits: Limits) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", limits.max_message_bytes),
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]


async def create_server(engine: Engine, listen: str, advertise: str | None = None) -> NodeServer:
    server = grpc.aio.server(
        options=grpc_options(engine.limits), interceptors=[EpochInterceptor(engine)]
    )
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    host = listen.rpartition(":")[0]
    address = advertise or f"{host}:{port}"
    # the generated *_pb2_grpc modules are untyped
    vektra_pb2_grpc.add_VektraServicer_to_server(VektraService(engine, address), server)  # type: ignore[no-untyped-call]
    node_pb2_grpc.add_NodeServicer_to_server(NodeService(engine), server)  # type: ignore[no-untyped-call]
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await server.start()
    for name in ("", *SERVICES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return NodeServer(server, port, health_servicer)


async def _checkpoint_loop(engine: Engine, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        if engine.dirty:
            try:
                seq = await asyncio.to_thread(engine.checkpoint)
                log.info("checkpointed indexes at seq %d", seq)
            except Exception:
                log.exception("checkpoint failed; will retry")


async def serve(config: NodeConfig) -> None:
    engine = await asyncio.to_thread(Engine, config.engine_config())
    node = await create_server(engine, config.listen, config.advertise)
    host = config.listen.rpartition(":")[0]
    if config.metrics_listen:
        metrics_port = serve_metrics(config.metrics_listen)
        log.info("metrics on port %d", metrics_port)
    # The harness and scripts read this line to learn the bound port.
    print(f"VEKTRA_READY node {engine.node_id} {host}:{node.port}", flush=True)
    log.info(
        "node %s serving on %s:%d (indexes: %s)", engine.node_id, host, node.port, engine.recovery
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    checkpoints = asyncio.create_task(_checkpoint_loop(engine, config.checkpoint_interval_s))
    await stop.wait()
    log.info("stopping: draining requests for up to %.1f s", config.grace_s)
    await node.health.enter_graceful_shutdown()
    await node.server.stop(config.grace_s)
    checkpoints.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await checkpoints
    await asyncio.to_thread(engine.close)
    log.info("node %s stopped", engine.node_id)
