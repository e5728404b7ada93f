"""The router's write path: each object to its replicas (or their
stand-ins, as hints) at the requested consistency level, as
`router.replication` plans it.

The write returns as soon as its level is met; the calls to the other
replicas go on in the background, and a replica that fails gets a hint kept
for it by one that applied the write. A replica that refuses the map the
write was routed by as stale gets none: the write goes again, by the newer
map, to the replicas that map names. A replica that holds a newer version
than the write's (another router's clock is ahead) makes the router move its
clock past that version and write again with a newer one, so writes one
client makes one after the other keep their order whichever routers they pass,
and a write no replica applied is never reported as applied.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from vektra.common.errors import InvalidArgument, Unavailable, VektraError
from vektra.common.hlc import HybridClock, Version
from vektra.common.limits import Limits
from vektra.common.pb import version_to_pb
from vektra.common.schema import CollectionSchema
from vektra.common.validation import check_ids, validate_objects
from vektra.common.values import pack
from vektra.router.calls import NodeCalls, Stale, client_error
from vektra.router.replication import Level, Outcome, Topology, WriteTally, plan_write
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = ["Writes", "level_of"]

log = logging.getLogger(__name__)

# A write found older than a replica's copy is stamped anew this many times
# at most (each time past everything seen): more means writers racing.
_MAX_STAMPS = 3

_LEVELS = {
    pb.CONSISTENCY_UNSPECIFIED: Level.QUORUM,
    pb.CONSISTENCY_ONE: Level.ONE,
    pb.CONSISTENCY_QUORUM: Level.QUORUM,
    pb.CONSISTENCY_ALL: Level.ALL,
}

_OUTCOMES = {
    npb.APPLY_OUTCOME_APPLIED: Outcome.APPLIED,
    npb.APPLY_OUTCOME_STALE: Outcome.STALE,
    npb.APPLY_OUTCOME_HINTED: Outcome.HINTED,
}


def level_of(consistency: int) -> Level:
    level = _LEVELS.get(consistency)  # type: ignore[call-overload]
    if level is None:
        raise InvalidArgument("consistency", f"unknown consistency level {consistency}")
    return level  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Written:
    version: Version
    acknowledged: int  # the fewest replicas any object was acknowledged by
    removed: frozenset[str]  # ids that were live and are now tombstoned


class Writes:
    def __init__(self, calls: NodeCalls, clock: HybridClock, limits: Limits) -> None:
        self._calls = calls
        self._clock = clock
        self._limits = limits
        self._background: set[asyncio.Task[None]] = set()

    async def upsert(self, request: pb.UpsertRequest, timeout: float) -> pb.UpsertResponse:
        level = level_of(request.consistency)

        async def run(topo: Topology) -> pb.UpsertResponse:
            schema = self._calls.schema(topo, request.collection)
            checked = validate_objects(
                schema,
                self._limits,
                [(o.id, o.properties, dict(o.vectors)) for o in request.objects],
            )
            objects = [
                npb.VersionedObject(id=c.id, properties=pack(c.properties), vectors=dict(o.vectors))
                for c, o in zip(checked, request.objects, strict=True)
            ]
            done = await self._write(topo, schema, objects, level, timeout)
            return pb.UpsertResponse(
                upserted=len(objects),
                acknowledged=done.acknowledged,
                version=version_to_pb(done.version),
            )

        return await self._calls.routed(run)

    async def delete(self, request: pb.DeleteRequest, timeout: float) -> pb.DeleteResponse:
        level = level_of(request.consistency)
        ids = list(request.ids)
        check_ids(ids, self._limits)

        async def run(topo: Topology) -> pb.DeleteResponse:
            schema = self._calls.schema(topo, request.collection)
            tombstones = [npb.VersionedObject(id=i, deleted=True) for i in ids]
            done = await self._write(topo, schema, tombstones, level, timeout)
            return pb.DeleteResponse(
                deleted=len(done.removed),
                acknowledged=done.acknowledged,
                version=version_to_pb(done.version),
            )

        return await self._calls.routed(run)

    # ------------------------------------------------------------ one write

    async def _write(
        self,
        topo: Topology,
        schema: CollectionSchema,
        objects: list[npb.VersionedObject],
        level: Level,
        timeout: float,
    ) -> Written:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        plan = plan_write(
            topo, schema.name, [o.id for o in objects], schema.replication_factor, level
        )
        for _ in range(_MAX_STAMPS):
            version = self._clock.now()
            vpb = version_to_pb(version)
            for o in objects:
                o.version.CopyFrom(vpb)
            tally = WriteTally(plan, version)
            requests = {
                node: npb.ApplyRequest(
                    collection=schema.name,
                    incarnation=schema.incarnation,
                    objects=[_as_sent(objects[i], hint_for) for i, hint_for in sent],
                )
                for node, sent in plan.per_node.items()
            }
            calls: dict[asyncio.Future[Any], str] = {
                asyncio.ensure_future(
                    self._calls.call(topo, node, "Apply", req, max(0.0, deadline - loop.time()))
                ): node
                for node, req in requests.items()
            }
            removed: set[str] = set()
            newer_epoch, bad = await self._collect(calls, tally, removed, deadline)
            if bad is not None:
                self._finish(calls, tally, None, removed)
                raise bad
            if tally.stale:
                if tally.newest_held is not None:
                    self._clock.observe(tally.newest_held)
                log.info(
                    "%s: %d objects older than a replica's copy; stamping them anew",
                    schema.name,
                    len(tally.stale),
                )
                self._finish(calls, tally, None, removed)  # superseded: no hints
                continue
            if not tally.met() and newer_epoch:
                # Written again by the newer map, so no hints: hints planned
                # by an old map can name the wrong replicas, and a hint kept
                # for a member makes the coordinator mark it RECOVERING, one
                # more map change on top of the one this call just met.
                self._finish(calls, tally, None, removed)
                raise Stale(f"a replica knows a newer cluster map: it is at epoch {newer_epoch}")
            self._finish(calls, tally, (schema, objects, topo), removed)
            if tally.met():
                return Written(version, tally.lowest_acks(), frozenset(removed))
            raise Unavailable(tally.shortfall(level))
        raise Unavailable(
            f"{schema.name}: replicas kept holding newer versions than this write after "
            f"{_MAX_STAMPS} stamps (writers racing on the same objects); nothing was "
            "acknowledged"
        )

    async def _collect(
        self,
        calls: dict[asyncio.Future[Any], str],
        tally: WriteTally,
        removed: set[str],
        deadline: float,
    ) -> tuple[int, VektraError | None]:
        """Feed answers into the tally until it is decided or time is up.
        Returns (the newest epoch a node said it is at when it refused the
        call's map, 0 if none did; a refusal of the request itself)."""
        loop = asyncio.get_running_loop()
        pending = set(calls)
        newer_epoch = 0
        while pending and not tally.decided():
            done, pending = await asyncio.wait(
                pending,
                timeout=max(0.0, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                break
            for fut in done:
                node = calls[fut]
                newer_epoch = max(newer_epoch, self._record(fut, node, tally, removed))
                exc = fut.exception()
                if isinstance(exc, VektraError) and (refused := client_error({node: exc})):
                    return newer_epoch, refused
        return newer_epoch, None

    def _record(
        self, fut: asyncio.Future[Any], node: str, tally: WriteTally, removed: set[str]
    ) -> int:
        """One node's answer into the tally; the epoch it is at if it refused
        the call's map as stale (at least 1), else 0."""
        exc = fut.exception()
        if exc is not None:
            tally.fail(node, exc.message if isinstance(exc, VektraError) else repr(exc))
            return max(exc.node_epoch, 1) if isinstance(exc, Stale) else 0
        resp = fut.result()
        assert isinstance(resp, npb.ApplyResponse)
        outcomes = []
        for o in resp.outcomes:
            held = _version(o.held) if o.HasField("held") else None
            if held is not None:
                self._clock.observe(held)
            outcomes.append((_OUTCOMES.get(o.outcome, Outcome.STALE), held))
        tally.record(node, outcomes)
        removed.update(resp.removed_ids)
        return 0

    def _finish(
        self,
        calls: dict[asyncio.Future[Any], str],
        tally: WriteTally,
        hint: tuple[CollectionSchema, list[npb.VersionedObject], Topology] | None,
        removed: set[str],
    ) -> None:
        """Let the calls still running finish in the background; then, unless
        the write was superseded or goes again by a newer map (`hint` None),
        ask a replica that applied it to keep a hint for each replica that
        failed it."""
        pending = {f: n for f, n in calls.items() if not f.done()}
        if not pending and (hint is None or not tally.failed):
            return
        task = asyncio.ensure_future(self._complete(pending, tally, hint, removed))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _complete(
        self,
        pending: dict[asyncio.Future[Any], str],
        tally: WriteTally,
        hint: tuple[CollectionSchema, list[npb.VersionedObject], Topology] | None,
        removed: set[str],
    ) -> None:
        if pending:
            await asyncio.wait(pending)
            for fut, node in pending.items():
                self._record(fut, node, tally, removed)
        if hint is None:
            return
        schema, objects, topo = hint
        for holder, missed in tally.hints_for_failures().items():
            request = npb.ApplyRequest(
                collection=schema.name,
                incarnation=schema.incarnation,
                objects=[_as_sent(objects[i], failed) for i, failed in missed],
            )
            try:
                await self._calls.call(topo, holder, "Apply", request, 10.0)
            except (VektraError, Stale) as exc:
                # Anti-entropy repairs what a lost hint would have.
                log.warning("could not leave hints on %s: %s", holder, exc)

    async def drain(self) -> None:
        """Wait for the background completions (a stopping router)."""
        if self._background:
            await asyncio.wait(set(self._background))


def _as_sent(obj: npb.VersionedObject, hint_for: str | None) -> npb.VersionedObject:
    if hint_for is None:
        return obj
    copy = npb.VersionedObject()
    copy.CopyFrom(obj)
    copy.hint_for = hint_for
    return copy


def _version(v: pb.Version) -> Version:
    return Version(v.physical_ms, v.logical, v.writer)
