"""The router's copy of the cluster map: watched from the coordinator over a
server stream, kept (and served from) while the coordinator is away."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc

from vektra.common.channels import channel_options
from vektra.common.errors import Unavailable
from vektra.common.keepalive import Keepalive
from vektra.common.limits import Limits
from vektra.common.pb_cluster import map_from_pb
from vektra.router.replication import Topology
from vektra.v1 import coordinator_pb2 as cpb
from vektra.v1 import coordinator_pb2_grpc

__all__ = ["MapWatcher"]

log = logging.getLogger(__name__)


class MapWatcher:
    def __init__(self, coordinator: str, keepalive: Keepalive) -> None:
        self._channel = grpc.aio.insecure_channel(
            coordinator, options=channel_options(Limits(), keepalive)
        )
        self.coordinator = coordinator_pb2_grpc.CoordinatorStub(self._channel)  # type: ignore[no-untyped-call]
        self._view: Topology | None = None
        self._why_none = "is the coordinator up?"
        self.changed = asyncio.Event()
        self.has_map = asyncio.Event()  # set once a map with members arrived

    @property
    def epoch(self) -> int:
        return 0 if self._view is None else self._view.epoch

    def current(self) -> Topology:
        view = self._view
        if view is None or view.epoch == 0:
            raise Unavailable(f"the router has no cluster map yet ({self._why_none})")
        return view

    def _adopt(self, msg: cpb.ClusterMap) -> None:
        if msg.epoch > self.epoch:
            self._view = Topology(map_from_pb(msg))
            log.info("cluster map epoch %d adopted", msg.epoch)
            self.has_map.set()
            self.changed.set()
            self.changed = asyncio.Event()

    async def refresh(self, timeout_s: float = 5.0) -> Topology:
        """Fetch the map now (after a node said our epoch is stale)."""
        try:
            self._adopt(await self.coordinator.GetMap(cpb.GetMapRequest(), timeout=timeout_s))
        except grpc.aio.AioRpcError as exc:
            self._note(exc)
            log.warning("cannot refresh the cluster map: %s", exc.code().name)
        return self.current()

    async def wait_for(self, epoch: int, timeout_s: float) -> Topology:
        """A map of at least `epoch` (a node said it is there), fetched and
        watched for until `timeout_s`: the coordinator gives nodes a new map
        before routers, so a node can be a moment ahead of every router.
        Returns the newest map had by then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.epoch < epoch:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            changed = self.changed
            await self.refresh(timeout_s=remaining)
            if self.epoch >= epoch:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(0.2, max(remaining, 0.0)))
        return self.current()

    def _note(self, exc: grpc.aio.AioRpcError) -> None:
        if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
            self._why_none = exc.details() or "the coordinator refuses"

    async def watch_forever(self) -> None:
        while True:
            try:
                stream = self.coordinator.WatchMap(cpb.WatchMapRequest(known_epoch=self.epoch))
                async for msg in stream:
                    self._adopt(msg)
            except grpc.aio.AioRpcError as exc:
                # Keep serving on the last map; reconnect quietly.
                self._note(exc)
                log.debug("map watch interrupted: %s", exc.code().name)
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        await self._channel.close()
