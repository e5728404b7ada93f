"""Health checks: every interval, ask each member for its NodeInfo and turn
the answers into planner events."""

from __future__ import annotations

import asyncio
import logging

import grpc

from vektra.common.channels import NodeChannels
from vektra.coordinator.core import Coordinator
from vektra.coordinator.planner import Event, HealthFailed, HealthOk
from vektra.v1 import node_pb2 as npb

__all__ = ["health_loop", "probe"]

log = logging.getLogger(__name__)


async def probe(channels: NodeChannels, address: str, timeout_s: float) -> str | None:
    """The node id answering at `address`, or None if it does not answer."""
    try:
        info = await channels.internal(address).NodeInfo(npb.NodeInfoRequest(), timeout=timeout_s)
    except grpc.aio.AioRpcError:
        return None
    return str(info.node_id)


async def health_loop(coordinator: Coordinator, channels: NodeChannels, interval_s: float) -> None:
    while True:
        started = asyncio.get_running_loop().time()
        members = coordinator.state.members
        answers = await asyncio.gather(*(probe(channels, m.address, interval_s) for m in members))
        for member, answered in zip(members, answers, strict=True):
            # A different node answering at the address is not this member.
            event: Event = HealthOk(member.id) if answered == member.id else HealthFailed(member.id)
            try:
                await coordinator.handle(event)
            except Exception:
                log.exception("health event %s failed", event)
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(max(0.0, interval_s - elapsed))
