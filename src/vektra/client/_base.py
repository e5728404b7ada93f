"""The state both clients share: options, the addresses with their lazily
opened channels, fail-over between them, and the schema cache.

`Client` and `AsyncClient` add only the transport on top: how a request is
sent (blocking or awaited), how to pause between attempts, and how channels
are closed. Everything they send is built in `vektra.client._requests`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import grpc

from vektra.client._requests import Call
from vektra.client._retry import Attempts, is_unavailable
from vektra.client._shaping import LIMITS, check_client_options, parse_addresses
from vektra.common.keepalive import Keepalive
from vektra.common.schema import CollectionSchema
from vektra.v1 import vektra_pb2_grpc as pb_grpc

__all__ = ["CHANNEL_OPTIONS", "ClientBase", "CollectionBase"]

ChannelT = TypeVar("ChannelT")
ClientT = TypeVar("ClientT")

# The default channels' options (both clients): 64 MiB messages either way,
# and the keepalive policy every Vektra server accepts.
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", LIMITS.max_message_bytes),
    ("grpc.max_receive_message_length", LIMITS.max_message_bytes),
    *Keepalive().channel_options(),
]

# The generated stub module is untyped and mypy skips it; calling the class
# through `Any` type-checks whether or not mypy reads that module, so no
# `type: ignore` can go stale (`warn_unused_ignores` is on).
_VektraStub: Any = pb_grpc.VektraStub


class ClientBase(Generic[ChannelT]):
    """The transport-free half of a client; `ChannelT` is a blocking or a
    `grpc.aio` channel."""

    def __init__(
        self,
        addresses: str | Sequence[str],
        *,
        timeout_s: float,
        retries: int,
        channel_factory: Callable[[str], ChannelT],
    ) -> None:
        check_client_options(timeout_s, retries)
        self._addresses = parse_addresses(addresses)
        self._timeout_s = float(timeout_s)
        self._retries = retries
        self._factory = channel_factory
        self._channels: dict[int, ChannelT] = {}
        self._stubs: dict[int, Any] = {}
        self._current = 0
        self._closed = False
        # Guards the tables above. Held only where nothing blocks or awaits,
        # so the asyncio client shares it without ever stalling its loop.
        self._lock = threading.Lock()
        self._schemas: dict[str, CollectionSchema] = {}

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({','.join(self._addresses)!r}, timeout_s={self._timeout_s})"

    def _detach_channels(self) -> list[ChannelT]:
        """Mark the client closed and hand over its channels to be closed."""
        with self._lock:
            self._closed = True
            channels, self._channels, self._stubs = list(self._channels.values()), {}, {}
        return channels

    def _stub(self) -> tuple[int, Any]:
        """The current address's index and stub, opening its channel on first
        use (for `grpc.aio`, inside the running event loop)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the Vektra client is closed")
            index = self._current
            stub = self._stubs.get(index)
            if stub is None:
                channel = self._factory(self._addresses[index])
                self._channels[index] = channel
                stub = self._stubs[index] = _VektraStub(channel)
            return index, stub

    def _attempts(self, call: Call) -> Attempts:
        return Attempts(
            call.method,
            timeout_s=self._timeout_s,
            retries=self._retries,
            addresses=len(self._addresses),
            idempotent=call.idempotent,
        )

    def _failed(self, attempts: Attempts, index: int, exc: grpc.RpcError) -> float:
        """After a failed attempt on address `index`: fail over if it looks
        down, then raise or return the pause before the next attempt."""
        if is_unavailable(exc):
            # Only move on if no other caller already did, so concurrent
            # failures on one dead address skip it once, not once per caller.
            with self._lock:
                if self._current == index:
                    self._current = (index + 1) % len(self._addresses)
        return attempts.failed(exc)


class CollectionBase(Generic[ClientT]):
    """A handle on one collection of a client; makes no call by itself."""

    def __init__(self, client: ClientT, name: str) -> None:
        self._client = client
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"
