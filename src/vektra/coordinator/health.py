"""Health checks: every interval, ask each member for its NodeInfo and turn
the answers into planner events (the report carries what the planner needs
to notice a restart, a wipe, pending hints, a finished repair or a node that
is behind the map)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc

from vektra.common.channels import NodeChannels
from vektra.coordinator.core import Coordinator
from vektra.coordinator.planner import Event, HealthFailed, HealthOk, NodeReport
from vektra.v1 import node_pb2 as npb

__all__ = ["Probed", "health_loop", "probe", "report_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Probed:
    node_id: str
    report: NodeReport


def report_of(info: npb.NodeInfoResponse) -> NodeReport:
    return NodeReport(
        cluster_id=info.cluster_id,
        epoch=info.epoch,
        boot_id=info.boot_id,
        collections=tuple(sorted((c.name, c.incarnation) for c in info.collections)),
        hints_for=tuple(sorted(h.target for h in info.hints if h.hints)),
        repaired_epoch=info.repaired_epoch,
    )


async def probe(channels: NodeChannels, address: str, timeout_s: float) -> Probed | None:
    """Who answers at `address` and what it reports, or None if nothing answers."""
    try:
        info = await channels.internal(address).NodeInfo(npb.NodeInfoRequest(), timeout=timeout_s)
    except grpc.aio.AioRpcError:
        return None
    return Probed(str(info.node_id), report_of(info))


async def health_loop(coordinator: Coordinator, channels: NodeChannels, interval_s: float) -> None:
    while True:
        started = asyncio.get_running_loop().time()
        members = [m for m in coordinator.state.members if m.state.health_checked]
        answers = await asyncio.gather(*(probe(channels, m.address, interval_s) for m in members))
        for member, answered in zip(members, answers, strict=True):
            # A different node answering at the address is not this member.
            event: Event = (
                HealthOk(member.id, answered.report)
                if answered is not None and answered.node_id == member.id
                else HealthFailed(member.id)
            )
            try:
                await coordinator.handle(event)
            except Exception:
                log.exception("health event %s failed", event)
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(max(0.0, interval_s - elapsed))
