"""Anti-entropy: this node compares every token range it holds with the
other replicas of the range and exchanges the differences.

Per collection and per peer replica: one RangeDigest call for every range
the two share; for each range whose digests differ, the peer's (id, version)
entries (RangeVersions), then the records each side lacks or holds older —
pulled with Fetch and applied here, pushed with Apply — so both end with the
newest version of every id (`node.repair_plan` decides). The exchange is
throttled (objects per second). Tombstones older than the grace period that
every other replica of their range holds are purged, but only while every
member of the map is active (`repair_plan.purge_allowed`).

A pass runs at once while the node's map says it is RECOVERING (and again
whenever a newer map arrives meanwhile), and every `interval_s` otherwise.
A pass that compared every range with every other replica that is up sets
`engine.repaired_epoch` to the epoch it started at: the coordinator makes a
RECOVERING node ACTIVE only after such a pass that started once it was
RECOVERING (and when no hints for it remain).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import grpc

from vektra.common.channels import NodeChannels
from vektra.common.grpc_errors import from_rpc_error
from vektra.common.hlc import Version
from vektra.common.membership import MemberState
from vektra.common.ring import TOKEN_END, TokenRange
from vektra.common.schema import CollectionSchema
from vektra.node.cluster_view import ClusterView
from vektra.node.config import RepairConfig
from vektra.node.engine import Engine
from vektra.node.repair_plan import (
    Entry,
    Reconciliation,
    expired_tombstones,
    purge_allowed,
    purgeable,
    range_digest,
    reconcile,
)
from vektra.node.wire import versioned_pb, writes_from_pb
from vektra.v1 import node_pb2 as npb

__all__ = ["Repair"]

log = logging.getLogger(__name__)


class _Throttle:
    """At most `per_s` objects a second, on average (0: unthrottled)."""

    def __init__(self, per_s: float) -> None:
        self._per_s = per_s
        self._next = time.monotonic()  # when the next batch may start

    async def take(self, n: int) -> None:
        if self._per_s <= 0 or n <= 0:
            return
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(self._next, now) + n / self._per_s


class _PeerFailed(Exception):
    pass


def _pb_range(r: TokenRange) -> npb.TokenRange:
    return npb.TokenRange(start=r.start, end=0 if r.end == TOKEN_END else r.end)


class Repair:
    def __init__(self, engine: Engine, channels: NodeChannels, config: RepairConfig) -> None:
        self._engine = engine
        self._channels = channels
        self._config = config
        self._throttle = _Throttle(config.max_objects_per_s)
        self.passes = 0
        self.exchanged = 0  # records pulled + pushed since start
        self.scans = 0  # ranges read whole to look for tombstones to purge
        # (collection, incarnation) -> when its single-replica ranges were
        # last read for expired tombstones (see `_collection`).
        self._solo_scanned: dict[tuple[str, str], float] = {}

    async def run_forever(self, poll_s: float = 0.2, retry_s: float = 1.0) -> None:
        """A pass at once while recovering and behind (but no sooner than
        `retry_s` after the last one: a peer that fails at once must not make
        this a busy loop), and every `interval_s` otherwise."""
        last_pass = float("-inf")
        while True:
            view = self._engine.cluster
            recovering = view.own_state is MemberState.RECOVERING
            since = time.monotonic() - last_pass
            behind = recovering and self._engine.repaired_epoch < view.epoch and since >= retry_s
            due = since >= self._config.interval_s
            if not view.standalone and (behind or due):
                last_pass = time.monotonic()
                try:
                    await self.run_pass()
                except Exception:
                    log.exception("anti-entropy pass failed; will retry")
            await asyncio.sleep(poll_s)

    async def run_pass(self) -> bool:
        """One pass over every collection; True when it was complete."""
        view = self._engine.cluster
        started = view.epoch
        complete = True
        for schema in self._engine.list_collections():
            complete &= await self._collection(view, schema)
        self.passes += 1
        if complete and self._engine.cluster.epoch >= started:
            self._engine.repaired_epoch = max(self._engine.repaired_epoch, started)
            log.info(
                "node %s: anti-entropy pass complete at epoch %d", self._engine.node_id, started
            )
        return complete

    async def _collection(self, view: ClusterView, schema: CollectionSchema) -> bool:
        me = self._engine.node_id
        rf = schema.replication_factor
        ring = view.ring
        mine = [i for i, r in enumerate(ring.ranges) if me in r.replicas(rf)]
        # Peers per range; a replica that is not up cannot be compared (the
        # range then neither counts as settled nor has its tombstones purged).
        shared: dict[str, list[int]] = {}
        peers_down: set[int] = set()
        for i in mine:
            for peer in ring.ranges[i].replicas(rf):
                if peer == me:
                    continue
                m = view.member(peer)
                if m is not None and m.state.writable:
                    shared.setdefault(peer, []).append(i)
                else:
                    peers_down.add(i)
        now_ms = time.time_ns() // 1_000_000
        grace_ms = int(self._config.tombstone_grace_s * 1000)
        settled: dict[int, list[Reconciliation]] = {}
        local: dict[int, list[Entry]] = {}
        complete = True
        for peer, indexes in shared.items():
            try:
                results = await self._with_peer(
                    view, schema, peer, indexes, local, now_ms, grace_ms
                )
            except _PeerFailed as exc:
                log.info("anti-entropy of %s with %s incomplete: %s", schema.name, peer, exc)
                complete = False
                continue
            for i, r in results.items():
                settled.setdefault(i, []).append(r)
        # Tombstones every other replica holds (rf 1: none to ask) and older
        # than the grace period are forgotten, while every member is active:
        # otherwise a hint of an older write may still be on its way.
        purge: list[Entry] = []
        may_purge = purge_allowed(m.state for m in view.members)
        # With one replica, only age frees a tombstone, and it is kept "at
        # least" the grace period: reading every record each pass (every
        # `interval_s`) to find the expired ones is a full scan of the node
        # every 30 s, so those ranges are read at most every quarter grace.
        solo_key = (schema.name, schema.incarnation)
        solo_due = time.monotonic() - self._solo_scanned.get(solo_key, float("-inf")) >= max(
            self._config.interval_s, self._config.tombstone_grace_s / 4
        )
        for i in mine:
            if i in peers_down or not may_purge:
                continue
            entries = local.get(i)
            if entries is None:
                # Not compared with its peers this pass: with rf > 1 nothing
                # of it may be purged (`purgeable` needs every peer settled),
                # so there is nothing to read it for.
                if rf > 1 or not solo_due:
                    continue
                self._solo_scanned[solo_key] = time.monotonic()
                self.scans += 1
                span = ring.ranges[i]
                entries = await asyncio.to_thread(
                    self._engine.range_entries,
                    schema.name,
                    span.start,
                    None if span.end == TOKEN_END else span.end,
                )
            if rf == 1:
                ids = expired_tombstones(entries, now_ms, grace_ms)
            else:
                ids = purgeable(settled.get(i, []), rf)
            purge += [e for e in entries if e.id in ids]
        if purge:
            n = await asyncio.to_thread(self._engine.purge_tombstones, schema.name, purge)
            log.info("%s: purged %d tombstones every replica holds", schema.name, n)
        return complete

    async def _with_peer(
        self,
        view: ClusterView,
        schema: CollectionSchema,
        peer: str,
        indexes: Sequence[int],
        local: dict[int, list[Entry]],
        now_ms: int,
        grace_ms: int,
    ) -> dict[int, Reconciliation]:
        ring = view.ring
        ranges = [ring.ranges[i] for i in indexes]
        digests = await self._call(
            view,
            peer,
            "RangeDigest",
            npb.RangeDigestRequest(
                collection=schema.name,
                incarnation=schema.incarnation,
                ranges=[_pb_range(r) for r in ranges],
            ),
        )
        if len(digests.digests) != len(ranges):
            raise _PeerFailed(f"{peer} answered {len(digests.digests)} digests for {len(ranges)}")
        out: dict[int, Reconciliation] = {}
        for i, r, theirs in zip(indexes, ranges, digests.digests, strict=True):
            if i not in local:
                local[i] = await asyncio.to_thread(
                    self._engine.range_entries,
                    schema.name,
                    r.start,
                    None if r.end == TOKEN_END else r.end,
                )
            mine = local[i]
            if range_digest(mine) == theirs:
                # Equal: every expired tombstone of ours the peer holds too.
                out[i] = reconcile(mine, mine, now_ms, grace_ms)
                continue
            peer_entries = await self._call(
                view,
                peer,
                "RangeVersions",
                npb.RangeVersionsRequest(
                    collection=schema.name, incarnation=schema.incarnation, range=_pb_range(r)
                ),
            )
            theirs_entries = [
                Entry(o.id, _version(o.version), o.deleted) for o in peer_entries.objects
            ]
            plan = reconcile(mine, theirs_entries, now_ms, grace_ms)
            await self._pull(view, schema, peer, plan.pull)
            await self._push(view, schema, peer, plan.push)
            if plan.pull:
                local.pop(i)  # changed here: read again if needed
            out[i] = plan
        return out

    async def _pull(
        self, view: ClusterView, schema: CollectionSchema, peer: str, ids: Sequence[str]
    ) -> None:
        for start in range(0, len(ids), self._config.batch):
            chunk = list(ids[start : start + self._config.batch])
            await self._throttle.take(len(chunk))
            got = await self._call(
                view,
                peer,
                "Fetch",
                npb.FetchRequest(
                    collection=schema.name,
                    incarnation=schema.incarnation,
                    ids=chunk,
                    include_vectors=True,
                ),
            )
            writes = writes_from_pb(schema, self._engine.limits, got.objects)
            if writes:
                await asyncio.to_thread(self._engine.apply, schema.name, writes, schema.incarnation)
                self.exchanged += len(writes)

    async def _push(
        self, view: ClusterView, schema: CollectionSchema, peer: str, ids: Sequence[str]
    ) -> None:
        for start in range(0, len(ids), self._config.batch):
            chunk = list(ids[start : start + self._config.batch])
            await self._throttle.take(len(chunk))
            records = await asyncio.to_thread(self._engine.get_versions, schema.name, chunk)
            objects = [versioned_pb(r) for r in records if r is not None]
            if not objects:
                continue
            await self._call(
                view,
                peer,
                "Apply",
                npb.ApplyRequest(
                    collection=schema.name, incarnation=schema.incarnation, objects=objects
                ),
            )
            self.exchanged += len(objects)

    async def _call(self, view: ClusterView, peer: str, method: str, request: object) -> Any:
        member = view.member(peer)
        if member is None:
            raise _PeerFailed(f"{peer} is not a member")
        stub = self._channels.internal(member.address)
        try:
            return await getattr(stub, method)(
                request,
                timeout=self._config.timeout_s,
                metadata=self._channels.metadata(view.epoch, view.cluster_id),
            )
        except grpc.aio.AioRpcError as exc:
            raise _PeerFailed(f"{method}: {from_rpc_error(exc).message}") from None


def _version(v: Any) -> Version:
    return Version(v.physical_ms, v.logical, v.writer)
