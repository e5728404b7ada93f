"""The router's write path: each object to its replicas at the requested
consistency level, hints for replicas that are down or failed.

A write is acknowledged when `required_acks` replicas applied it; a stand-in
for a down replica keeps the write as a hint to hand over, and a replica that
failed a write which still met its level gets a hint kept for it by one that
took it.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any

from vektra.common.errors import InvalidArgument, Unavailable, VektraError
from vektra.common.hlc import HybridClock
from vektra.common.limits import Limits
from vektra.common.pb import version_to_pb
from vektra.common.schema import CollectionSchema
from vektra.common.validation import check_ids, validate_objects
from vektra.common.values import pack
from vektra.router.calls import NodeCalls, client_error
from vektra.router.ring import RingView
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = ["Writes", "required_acks"]


def required_acks(level: int, rf: int) -> int:
    """Replicas that must answer: ONE 1, QUORUM a majority, ALL every one."""
    if level == pb.CONSISTENCY_ONE:
        return 1
    if level == pb.CONSISTENCY_ALL:
        return rf
    if level in (pb.CONSISTENCY_QUORUM, pb.CONSISTENCY_UNSPECIFIED):
        return rf // 2 + 1
    raise InvalidArgument("consistency", f"unknown consistency level {level}")


class Writes:
    def __init__(self, calls: NodeCalls, clock: HybridClock, limits: Limits) -> None:
        self._calls = calls
        self._clock = clock
        self._limits = limits

    async def upsert(self, request: pb.UpsertRequest, timeout: float) -> pb.UpsertResponse:

        async def run(view: RingView) -> pb.UpsertResponse:
            schema = self._calls.schema(view, request.collection)
            checked = validate_objects(
                schema,
                self._limits,
                [(o.id, o.properties, dict(o.vectors)) for o in request.objects],
            )
            version = self._clock.now()
            vpb = version_to_pb(version)
            objects = [
                npb.VersionedObject(
                    id=c.id, properties=pack(c.properties), vectors=dict(o.vectors), version=vpb
                )
                for c, o in zip(checked, request.objects, strict=True)
            ]
            acks, _ = await self._write(view, schema, objects, request.consistency, timeout)
            return pb.UpsertResponse(upserted=len(objects), acknowledged=acks, version=vpb)

        return await self._calls.routed(run)

    async def delete(self, request: pb.DeleteRequest, timeout: float) -> pb.DeleteResponse:
        ids = list(request.ids)
        check_ids(ids, self._limits)

        async def run(view: RingView) -> pb.DeleteResponse:
            schema = self._calls.schema(view, request.collection)
            vpb = version_to_pb(self._clock.now())
            tombstones = [npb.VersionedObject(id=i, version=vpb, deleted=True) for i in ids]
            acks, removed = await self._write(
                view, schema, tombstones, request.consistency, timeout
            )
            return pb.DeleteResponse(deleted=len(removed), acknowledged=acks, version=vpb)

        return await self._calls.routed(run)

    async def _write(
        self,
        view: RingView,
        schema: CollectionSchema,
        objects: list[npb.VersionedObject],
        level: int,
        timeout: float,
    ) -> tuple[int, set[str]]:
        """Send versioned objects to their replicas; (lowest ack count, ids removed)."""
        rf = schema.replication_factor
        need = required_acks(level, rf)
        per_node: dict[str, list[npb.VersionedObject]] = defaultdict(list)
        replicas: dict[str, list[str]] = {}
        for i, obj in enumerate(objects):
            placement = view.placement(schema.name, obj.id, rf)
            if len(placement) < need:
                raise Unavailable(
                    f"objects[{i}]: {len(placement)} of {rf} replicas reachable, "
                    f"the consistency level needs {need}; nothing was written"
                )
            replicas[obj.id] = [node for node, _ in placement]
            for node_id, stands_for in placement:
                # A stand-in for a down replica keeps a hint to hand it over.
                per_node[node_id].append(_hinted(obj, stands_for) if stands_for else obj)

        answers, errors = await self._calls.fanout(
            view, "Apply", _apply_requests(schema, per_node), timeout
        )
        bad = client_error(errors)
        if bad is not None:
            raise bad
        acks = {oid: sum(1 for n in reps if n in answers) for oid, reps in replicas.items()}
        lowest = min(acks.values())
        if lowest < need:
            short = sum(1 for a in acks.values() if a < need)
            failed = ", ".join(f"{n}: {e.message}" for n, e in sorted(errors.items()))
            raise Unavailable(
                f"consistency level not met: {short} of {len(acks)} objects acknowledged by "
                f"{lowest} of {rf} replicas, {need} needed ({failed})"
            )
        if errors:
            await self._hint_failed(view, schema, objects, replicas, answers, errors, timeout)
        removed = {i for a in answers.values() for i in a.removed_ids}
        return lowest, removed

    async def _hint_failed(
        self,
        view: RingView,
        schema: CollectionSchema,
        objects: list[npb.VersionedObject],
        replicas: dict[str, list[str]],
        answers: dict[str, Any],
        errors: dict[str, VektraError],
        timeout: float,
    ) -> None:
        """The write met its level but some replicas failed: ask a replica that
        took it to keep a hint for each one that did not (best effort)."""
        per_node: dict[str, list[npb.VersionedObject]] = defaultdict(list)
        for obj in objects:
            reps = replicas[obj.id]
            holder = next((n for n in reps if n in answers), None)
            if holder is None:
                continue
            for failed in (n for n in reps if n in errors):
                per_node[holder].append(_hinted(obj, failed))

        with contextlib.suppress(Exception):
            await self._calls.fanout(view, "Apply", _apply_requests(schema, per_node), timeout)


def _hinted(obj: npb.VersionedObject, member: str) -> npb.VersionedObject:
    copy = npb.VersionedObject()
    copy.CopyFrom(obj)
    copy.hint_for = member
    return copy


def _apply_requests(
    schema: CollectionSchema, per_node: dict[str, list[npb.VersionedObject]]
) -> dict[str, npb.ApplyRequest]:
    return {
        n: npb.ApplyRequest(collection=schema.name, objects=objs) for n, objs in per_node.items()
    }
