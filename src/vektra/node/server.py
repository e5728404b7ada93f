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
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health

from vektra.common.channels import NodeChannels
from vektra.common.keepalive import Keepalive
from vektra.common.serving import (
    add_health,
    grpc_server,
    listen_on,
    mark_serving,
    run_until_signalled,
)
from vektra.node.config import NodeConfig
from vektra.node.engine import Engine
from vektra.node.epoch import EpochInterceptor
from vektra.node.handoff import Handoff
from vektra.node.incarnation import IncarnationInterceptor
from vektra.node.repair import Repair
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


async def create_server(
    engine: Engine,
    listen: str,
    advertise: str | None = None,
    keepalive: Keepalive | None = None,
    *,
    failpoints: bool = False,
) -> NodeServer:
    server = grpc_server(
        "node",
        engine.limits,
        keepalive or Keepalive(),
        [EpochInterceptor(engine), IncarnationInterceptor(engine)],
        failpoints=failpoints,
    )
    port = listen_on(server, listen)
    host = listen.rpartition(":")[0]
    address = advertise or f"{host}:{port}"
    # the generated *_pb2_grpc modules are untyped
    vektra_pb2_grpc.add_VektraServicer_to_server(VektraService(engine, address), server)  # type: ignore[no-untyped-call]
    node_pb2_grpc.add_NodeServicer_to_server(NodeService(engine), server)  # type: ignore[no-untyped-call]
    health_servicer = await add_health(server)
    await server.start()
    await mark_serving(health_servicer, SERVICES)
    return NodeServer(server, port, health_servicer)


async def _checkpoint_loop(engine: Engine, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            # Indexes quiet for a whole interval fold their graphs back into
            # one first, so the checkpoint below saves them folded.
            await asyncio.to_thread(engine.settle)
        except Exception:
            log.exception("folding index graphs failed; will retry")
        if engine.dirty:
            try:
                seq = await asyncio.to_thread(engine.checkpoint)
                log.info("checkpointed indexes at seq %d", seq)
            except Exception:
                log.exception("checkpoint failed; will retry")


async def serve(config: NodeConfig) -> None:
    engine = await asyncio.to_thread(Engine, config.engine_config())
    node = await create_server(
        engine, config.listen, config.advertise, config.keepalive, failpoints=config.failpoints
    )
    log.info("node %s indexes: %s", engine.node_id, engine.recovery)
    checkpoints = asyncio.create_task(_checkpoint_loop(engine, config.checkpoint_interval_s))
    channels = NodeChannels(engine.node_id, engine.limits, config.keepalive)
    tasks = [checkpoints, asyncio.create_task(Handoff(engine, channels).run_forever())]
    if config.repair.enabled:
        tasks.append(asyncio.create_task(Repair(engine, channels, config.repair).run_forever()))

    async def stop() -> None:
        await node.health.enter_graceful_shutdown()
        await node.server.stop(config.grace_s)  # in-flight requests get grace_s to finish
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await channels.close()
        await asyncio.to_thread(engine.close)  # a last checkpoint, then the store

    host = config.listen.rpartition(":")[0]
    await run_until_signalled(
        "node", engine.node_id, f"{host}:{node.port}", config.metrics_listen, stop
    )
