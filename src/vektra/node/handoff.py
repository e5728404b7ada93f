"""Hinted handoff: writes this node holds for a member that could not take
them (it was down, or failed during the write) go to that member once the
cluster map says it is reachable again.

Hints are durable (LMDB, written in the same transaction as the write) and
name only the object: what is handed over is the newest record this node has
for it, tombstones included, so the member ends with the highest version.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import grpc

from vektra.common.channels import NodeChannels, epoch_metadata
from vektra.common.errors import NotFound
from vektra.common.hlc import Version
from vektra.common.pb import version_to_pb
from vektra.common.values import pack
from vektra.node.engine import Engine
from vektra.v1 import node_pb2 as npb

__all__ = ["Handoff"]

log = logging.getLogger(__name__)


class Handoff:
    def __init__(
        self, engine: Engine, channels: NodeChannels, batch: int = 256, timeout_s: float = 10.0
    ) -> None:
        self._engine = engine
        self._channels = channels
        self._batch = batch
        self._timeout_s = timeout_s

    async def run_forever(self, interval_s: float = 1.0) -> None:
        while True:
            try:
                while await self.deliver_once():
                    pass  # more waiting: keep going without sleeping
            except Exception:
                log.exception("hinted handoff failed; will retry")
            await asyncio.sleep(interval_s)

    async def deliver_once(self) -> int:
        """Hand over one batch per reachable target; returns writes handed over."""
        store = self._engine.store
        handed = 0
        for target in await asyncio.to_thread(store.hints.targets):
            member = self._engine.members.get(target)
            if member is None or not member.state.reachable:
                continue
            hints = await asyncio.to_thread(store.hints.pending, target, self._batch)
            by_collection: dict[str, list[str]] = defaultdict(list)
            for collection, object_id in hints:
                by_collection[collection].append(object_id)
            for collection, ids in by_collection.items():
                handed += await self._hand_over(target, member.address, collection, ids)
        return handed

    async def _hand_over(self, target: str, address: str, collection: str, ids: list[str]) -> int:
        store = self._engine.store
        try:
            meta = store.collection(collection)
        except NotFound:  # dropped since: nothing to hand over
            await asyncio.to_thread(store.hints.drop, target, [(collection, i, _MAX) for i in ids])
            return 0
        records = [r for r in await asyncio.to_thread(store.get, meta, ids) if r is not None]
        objects = [
            npb.VersionedObject(
                id=r.id,
                properties=b"" if r.deleted else pack(r.properties),
                vectors={} if r.deleted else r.vectors,
                version=version_to_pb(r.version),
                deleted=r.deleted,
            )
            for r in records
        ]
        try:
            await self._channels.internal(address).Apply(
                npb.ApplyRequest(collection=collection, objects=objects),
                timeout=self._timeout_s,
                metadata=epoch_metadata(self._engine.epoch),
            )
        except grpc.aio.AioRpcError as exc:
            log.info("handoff of %d writes to %s failed: %s", len(objects), target, exc.code().name)
            return 0
        await asyncio.to_thread(
            store.hints.drop, target, [(collection, r.id, r.version) for r in records]
        )
        log.info("handed %d writes of %s over to %s", len(records), collection, target)
        return len(records)


_MAX = Version(2**63, 2**31, "\U0010ffff")
