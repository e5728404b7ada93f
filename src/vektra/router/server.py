"""The router process: stateless; serves the public API for the cluster on
the map it watches from the coordinator, and keeps serving on its last map
while the coordinator is away."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid

import grpc
from grpc_health.v1 import health

from vektra.common.channels import NodeChannels
from vektra.common.hlc import HybridClock, wall_clock_ms
from vektra.common.limits import Limits
from vektra.common.serving import (
    add_health,
    grpc_server,
    listen_on,
    mark_serving,
    run_until_signalled,
)
from vektra.router.cluster_map import MapWatcher
from vektra.router.config import RouterConfig
from vektra.router.service import RouterService
from vektra.v1 import vektra_pb2_grpc

__all__ = ["serve", "start"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RunningRouter:
    server: grpc.aio.Server
    port: int
    router_id: str
    maps: MapWatcher
    channels: NodeChannels
    watch: asyncio.Task[None]
    health: health.aio.HealthServicer

    async def stop(self, grace_s: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)
        self.watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.watch
        await self.channels.close()
        await self.maps.close()


async def start(config: RouterConfig) -> RunningRouter:
    router_id = config.router_id or f"router-{uuid.uuid4().hex[:8]}"
    maps = MapWatcher(config.coordinator, config.keepalive)
    channels = NodeChannels(router_id, Limits(), config.keepalive)
    server = grpc_server("router", Limits(), config.keepalive, failpoints=config.failpoints)
    port = listen_on(server, config.listen)
    # The router stamps writes: its HLC is the writer of every version it issues.
    clock = HybridClock(router_id, wall_clock_ms(config.clock_offset_s))
    service = RouterService(maps, channels, clock, config.request_budget_s)
    vektra_pb2_grpc.add_VektraServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    health_servicer = await add_health(server)
    await server.start()
    watch = asyncio.create_task(maps.watch_forever())

    async def serving_once_mapped() -> None:
        # Healthy means able to route: not before the first cluster map.
        await maps.has_map.wait()
        await mark_serving(health_servicer, ("vektra.v1.Vektra",))

    ready = asyncio.create_task(serving_once_mapped())
    watch.add_done_callback(lambda _: ready.cancel())
    return RunningRouter(server, port, router_id, maps, channels, watch, health_servicer)


async def serve(config: RouterConfig) -> None:
    running = await start(config)
    host = config.listen.rpartition(":")[0]
    await run_until_signalled(
        "router",
        running.router_id,
        f"{host}:{running.port}",
        config.metrics_listen,
        lambda: running.stop(config.grace_s),
    )
