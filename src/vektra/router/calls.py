"""How a router calls its nodes: every downstream call carries the map's
epoch, the cluster id and the router's id, has a deadline, and is retried
once with a fresh map when a node says the map it was routed by is stale.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import grpc

from vektra.common.channels import NodeChannels
from vektra.common.errors import (
    DeadlineExceeded,
    NotFound,
    Unavailable,
    VektraError,
)
from vektra.common.grpc_errors import from_rpc_error
from vektra.common.schema import CollectionSchema
from vektra.node.epoch import STALE_EPOCH
from vektra.router.cluster_map import MapWatcher
from vektra.router.replication import Topology

__all__ = ["Ctx", "NodeCalls", "Stale", "client_error"]

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
T = TypeVar("T")


class Stale(Exception):
    """A node knows a newer cluster map than the one this call routed by."""

    @property
    def node_epoch(self) -> int:
        """The epoch the node said it is at (0 if it did not say)."""
        found = _AT_EPOCH.search(str(self))
        return int(found.group(1)) if found else 0


_AT_EPOCH = re.compile(r"at epoch (\d+)")
_MAP_WAIT_S = 5.0  # at most, for the coordinator to publish what nodes have
_MAP_TRIES = 4  # maps one call is routed by before it gives up (UNAVAILABLE)


def client_error(errors: dict[str, VektraError]) -> VektraError | None:
    """A node's refusal of the request itself (bad input), if any: passed on
    as is. Unavailability, deadlines, bugs and a node that is not in step with
    the map (FAILED_PRECONDITION; NOT_FOUND for a collection the router's map
    has, so the node has not been given it yet) are the node's trouble, not
    the caller's."""
    for err in errors.values():
        if not isinstance(err, Unavailable) and err.code not in (
            "DEADLINE_EXCEEDED",
            "INTERNAL",
            "FAILED_PRECONDITION",
            "NOT_FOUND",
        ):
            return err
    return None


class NodeCalls:
    def __init__(self, maps: MapWatcher, channels: NodeChannels, budget_s: float) -> None:
        self.maps = maps
        self.channels = channels
        self._budget_s = budget_s

    def timeout(self, context: Ctx) -> float:
        """The smaller of the caller's remaining time and the router's budget."""
        remaining = context.time_remaining()
        return self._budget_s if remaining is None else max(0.0, min(remaining, self._budget_s))

    async def routed(self, fn: Callable[[Topology], Awaitable[T]]) -> T:
        """Run with the current map; again with a fresh one each time a node
        says it is stale, up to `_MAP_TRIES` maps. A map that keeps changing
        under the call (a returning node goes RECOVERING and ACTIVE again
        within a second) is the cluster's churn, not the caller's mistake:
        the call ends UNAVAILABLE, which clients retry, never acknowledged."""
        loop = asyncio.get_running_loop()
        wait_until = loop.time() + _MAP_WAIT_S  # for all the maps together
        topo = self.maps.current()
        tried: list[int] = []
        while True:
            tried.append(topo.epoch)
            try:
                return await fn(topo)
            except Stale as stale:
                if len(tried) >= _MAP_TRIES:
                    raise Unavailable(
                        "the cluster map kept changing during the call (routed by epochs "
                        f"{', '.join(map(str, tried))}; {stale}); retry"
                    ) from None
                wanted = max(stale.node_epoch, topo.epoch + 1)
                topo = await self.maps.wait_for(wanted, max(0.0, wait_until - loop.time()))

    async def call(
        self, topo: Topology, node: str, method: str, request: Any, timeout: float
    ) -> Any:
        """One node-internal call; a node's error as its typed VektraError,
        `Stale` when the node knows a newer map."""
        stub = self.channels.internal(topo.addresses[node])
        md = self.channels.metadata(topo.epoch, topo.cluster.cluster_id)
        try:
            return await getattr(stub, method)(request, timeout=timeout, metadata=md)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION and STALE_EPOCH in (
                exc.details() or ""
            ):
                raise Stale(exc.details()) from None
            raise from_rpc_error(exc) from None

    async def fanout(
        self, topo: Topology, method: str, requests: dict[str, Any], timeout: float
    ) -> tuple[dict[str, Any], dict[str, VektraError]]:
        """Call `method` on each node with its request, concurrently;
        (answers, errors) by node id."""
        ids = list(requests)
        try:
            # Each call has its own deadline; this only guards against a hang.
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(self.call(topo, i, method, requests[i], timeout) for i in ids),
                    return_exceptions=True,
                ),
                timeout + 1.0,
            )
        except TimeoutError:
            raise DeadlineExceeded(
                f"nodes {', '.join(ids)} did not answer within {timeout:.1f} s"
            ) from None
        answers: dict[str, Any] = {}
        errors: dict[str, VektraError] = {}
        for node_id, result in zip(ids, results, strict=True):
            if isinstance(result, Stale):
                raise result
            if isinstance(result, VektraError):
                errors[node_id] = result
            elif isinstance(result, BaseException):
                errors[node_id] = Unavailable(f"{type(result).__name__}: {result}")
            else:
                answers[node_id] = result
        return answers, errors

    def schema(self, topo: Topology, name: str) -> CollectionSchema:
        schema = topo.cluster.collection(name)
        if schema is None:
            raise NotFound(f"collection {name!r} does not exist")
        return schema
