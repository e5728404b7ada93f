"""The coordinator process: the cluster map's home.

On first start it waits until every configured initial node answers, then
publishes epoch 1 of a new cluster (a fresh cluster id) with all of them
ACTIVE, unless a node already belongs to a cluster: then it refuses. From
then on the map persisted in its data folder rules; health checks drive the
members' states (DOWN, RECOVERING, ACTIVE).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid

import grpc
from grpc_health.v1 import health

from vektra.common.channels import NodeChannels
from vektra.common.errors import FailedPrecondition
from vektra.common.limits import Limits
from vektra.common.membership import ClusterMap
from vektra.common.serving import (
    add_health,
    grpc_server,
    listen_on,
    mark_serving,
    run_until_signalled,
)
from vektra.coordinator.config import CoordinatorConfig
from vektra.coordinator.core import Coordinator, MapFile
from vektra.coordinator.executor import Executor
from vektra.coordinator.health import Probed, health_loop, probe
from vektra.coordinator.planner import AddNode, Bootstrap, Policy
from vektra.coordinator.service import CoordinatorService
from vektra.v1 import coordinator_pb2_grpc

__all__ = ["serve", "start"]

log = logging.getLogger(__name__)


async def _bootstrap(
    coordinator: Coordinator, channels: NodeChannels, config: CoordinatorConfig
) -> None:
    """Make the configured nodes members, then keep checking health.

    A coordinator without a map bootstraps a new cluster only over nodes
    that belong to none; over nodes of an existing cluster it refuses, says so
    at ERROR level every 30 s and touches nothing (its map is what was lost,
    not their data)."""
    if coordinator.state.epoch == 0 and config.nodes:
        found: dict[str, Probed] = {}
        while len(found) < len(config.nodes):
            for address in config.nodes:
                if address not in found:
                    probed = await probe(channels, address, 2.0)
                    if probed is not None:
                        found[address] = probed
            if len(found) < len(config.nodes):
                waiting = [a for a in config.nodes if a not in found]
                log.info("waiting for initial nodes: %s", ", ".join(waiting))
                await asyncio.sleep(0.5)
        nodes = tuple((p.node_id, a, p.report) for a, p in found.items())
        while True:
            try:
                await coordinator.handle(Bootstrap(uuid.uuid4().hex, nodes))
                break
            except FailedPrecondition as exc:
                coordinator.refusal = exc.message
                log.error("REFUSING TO BOOTSTRAP: %s", exc.message)
                await asyncio.sleep(30)
    else:
        for address in config.nodes:
            if coordinator.state.member_at(address) is None:
                probed = await probe(channels, address, 2.0)
                if probed is not None:
                    await coordinator.handle(AddNode(probed.node_id, address, probed.report))
    await health_loop(coordinator, channels, config.heartbeat_interval_s)


@dataclasses.dataclass
class RunningCoordinator:
    server: grpc.aio.Server
    port: int
    coordinator: Coordinator
    channels: NodeChannels
    tasks: list[asyncio.Task[None]]
    health: health.aio.HealthServicer

    async def stop(self, grace_s: float) -> None:
        await self.health.enter_graceful_shutdown()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.server.stop(grace_s)
        await self.channels.close()


async def start(config: CoordinatorConfig) -> RunningCoordinator:
    channels = NodeChannels("coordinator", Limits(), config.keepalive)
    executor = Executor(channels)
    initial = ClusterMap(
        vnodes=config.vnodes, default_replication_factor=config.default_replication_factor
    )
    coordinator = Coordinator(
        MapFile(config.data_dir / "cluster.json"),
        Policy(failure_threshold=config.failure_threshold),
        initial,
        executor.run,
    )
    server = grpc_server("coordinator", Limits(), config.keepalive, failpoints=config.failpoints)
    port = listen_on(server, config.listen)
    coordinator_pb2_grpc.add_CoordinatorServicer_to_server(
        CoordinatorService(coordinator, channels), server
    )  # type: ignore[no-untyped-call]
    health_servicer = await add_health(server)
    await server.start()
    await mark_serving(health_servicer, ("vektra.v1.Coordinator",))
    tasks = [asyncio.create_task(_bootstrap(coordinator, channels, config))]
    return RunningCoordinator(server, port, coordinator, channels, tasks, health_servicer)


async def serve(config: CoordinatorConfig) -> None:
    running = await start(config)
    host = config.listen.rpartition(":")[0]
    log.info("cluster map at epoch %d", running.coordinator.state.epoch)
    await run_until_signalled(
        "coordinator",
        "coordinator",
        f"{host}:{running.port}",
        config.metrics_listen,
        lambda: running.stop(config.grace_s),
    )
