"""The router's reads by id: each id from the sources `router.replication`
names (readable replicas, and the stand-ins that keep hints for replicas
that cannot be read), at the requested consistency level; the highest
version wins, tombstones included, so a deleted object stays deleted."""

from __future__ import annotations

import asyncio

from vektra.common import packed_hits
from vektra.common.errors import Unavailable, VektraError
from vektra.common.hlc import ZERO, HybridClock, Version
from vektra.common.limits import Limits
from vektra.common.validation import check_ids
from vektra.router.calls import NodeCalls, Stale, client_error
from vektra.router.replication import Topology, plan_read
from vektra.router.writes import level_of
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = ["Reads"]


class Reads:
    def __init__(self, calls: NodeCalls, clock: HybridClock, limits: Limits) -> None:
        self._calls = calls
        self._clock = clock
        self._limits = limits

    async def get(self, request: pb.GetRequest, timeout: float) -> pb.GetResponse:
        ids = list(request.ids)
        check_ids(ids, self._limits, allow_duplicates=True)
        level = level_of(request.consistency)

        async def run(topo: Topology) -> pb.GetResponse:
            schema = self._calls.schema(topo, request.collection)
            plan = plan_read(topo, schema.name, ids, schema.replication_factor, level)
            keys = list(plan.requests)
            results = await asyncio.gather(
                *(
                    self._calls.call(
                        topo,
                        node,
                        "Fetch",
                        npb.FetchRequest(
                            collection=schema.name,
                            incarnation=schema.incarnation,
                            ids=plan.requests[(node, hints_for)],
                            include_vectors=request.include_vectors,
                            hints_for=hints_for or "",
                        ),
                        timeout,
                    )
                    for node, hints_for in keys
                ),
                return_exceptions=True,
            )
            answered: list[tuple[str, str | None]] = []
            errors: dict[str, VektraError] = {}
            # id -> (its newest version as a tuple, the object): tuples
            # compare as Versions do, without a Version per object.
            best: dict[str, tuple[tuple[int, int, str], npb.VersionedObject]] = {}
            newest: tuple[int, int, str] | None = None
            for key, result in zip(keys, results, strict=True):
                if isinstance(result, Stale):
                    raise result
                if isinstance(result, BaseException):
                    errors[_name(key)] = (
                        result
                        if isinstance(result, VektraError)
                        else Unavailable(f"{type(result).__name__}: {result}")
                    )
                    continue
                answered.append(key)
                for obj in result.objects:
                    v = _version_key(obj)
                    cur = best.get(obj.id)
                    if cur is None or v > cur[0]:
                        best[obj.id] = (v, obj)
                    if newest is None or v > newest:
                        newest = v
            if newest is not None:
                # Past the newest version read, once: a later write must win.
                self._clock.observe(Version(*newest))
            bad = client_error(errors)
            if bad is not None:
                raise bad
            replied = set(answered)
            for object_id in plan.sources:
                got = plan.answered_enough(object_id, replied)
                if got < plan.need:
                    failed = "; ".join(f"{n}: {e.message}" for n, e in sorted(errors.items()))
                    raise Unavailable(
                        f"consistency {level.value} not met: {got} of {plan.rf} replicas of "
                        f"{object_id!r} answered, {plan.need} needed ({failed or 'no answer'})"
                    )
            response = pb.GetResponse()
            entries = [best.get(i) for i in ids]
            response.missing.extend(
                i for i, e in zip(ids, entries, strict=True) if e is None or e[1].deleted
            )
            live = [e for e in entries if e is not None and not e[1].deleted]
            if request.packed and not request.include_vectors:
                # Columns: no message per object, here or in the client.
                response.packed.CopyFrom(
                    packed_hits.objects_to_pb(
                        [obj.id for _, obj in live],
                        [version for version, _ in live],
                        [obj.properties for _, obj in live],
                    )
                )
                return response
            # Filled in place: a message built first is copied again into
            # the field (several times the cost, per object).
            found = response.objects
            for _, obj in live:
                msg = found.add(id=obj.id, properties=obj.properties)
                if obj.vectors:
                    msg.vectors.update(obj.vectors)
                msg.version.CopyFrom(obj.version)
            return response

        return await self._calls.routed(run)


def _version_key(obj: npb.VersionedObject) -> tuple[int, int, str]:
    """`gather.version_of` as a tuple (an unset version is ZERO's)."""
    if not obj.HasField("version"):
        return ZERO.as_tuple()
    v = obj.version
    return v.physical_ms, v.logical, v.writer


def _name(key: tuple[str, str | None]) -> str:
    node, hints_for = key
    return node if hints_for is None else f"{node} (hints for {hints_for})"
