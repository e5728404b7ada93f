"""Cached gRPC channels and stubs to storage nodes, and the epoch header.

Routers and the coordinator talk to many nodes; one channel per address is
kept and reused (channels multiplex calls and reconnect by themselves).
"""

from __future__ import annotations

import grpc

from vektra.common.keepalive import Keepalive
from vektra.common.limits import Limits
from vektra.v1 import node_pb2_grpc, vektra_pb2_grpc

__all__ = ["EPOCH_HEADER", "NodeChannels", "epoch_metadata"]

EPOCH_HEADER = "x-vektra-epoch"


def epoch_metadata(epoch: int) -> tuple[tuple[str, str], ...]:
    return ((EPOCH_HEADER, str(epoch)),)


def channel_options(limits: Limits, keepalive: Keepalive) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", limits.max_message_bytes),
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        *keepalive.channel_options(),
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 2_000),
    ]


class NodeChannels:
    """One grpc.aio channel per node address, with its stubs."""

    def __init__(self, limits: Limits | None = None, keepalive: Keepalive | None = None) -> None:
        self._options = channel_options(limits or Limits(), keepalive or Keepalive())
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = grpc.aio.insecure_channel(address, options=self._options)
            self._channels[address] = channel
        return channel

    def public(self, address: str) -> vektra_pb2_grpc.VektraStub:
        return vektra_pb2_grpc.VektraStub(self._channel(address))  # type: ignore[no-untyped-call]

    def internal(self, address: str) -> node_pb2_grpc.NodeStub:
        return node_pb2_grpc.NodeStub(self._channel(address))  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
