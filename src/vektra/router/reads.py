"""The router's reads by id: each id from the sources `router.replication`
names (readable replicas, and the stand-ins that keep hints for replicas
that cannot be read), at the requested consistency level; the highest
version wins, tombstones included, so a deleted object stays deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias

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
        # Nodes answer columns unless vectors are wanted (or they read hints).
        packed = not request.include_vectors

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
                            packed=packed and not hints_for,
                        ),
                        timeout,
                    )
                    for node, hints_for in keys
                ),
                return_exceptions=True,
            )
            answered: list[tuple[str, str | None]] = []
            errors: dict[str, VektraError] = {}
            best: dict[str, _Read] = {}
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
                _keep_newest(best, _reads_of(result, _name(key)))
            if best:
                # Past the newest version read, once: a later write must win.
                self._clock.observe(Version(*max(r[0] for r in best.values())))
            bad = client_error(errors)
            if bad is not None:
                raise bad
            short = plan.shortfall(set(answered))
            if short is not None:
                object_id, got = short
                failed = "; ".join(f"{n}: {e.message}" for n, e in sorted(errors.items()))
                raise Unavailable(
                    f"consistency {level.value} not met: {got} of {plan.rf} replicas of "
                    f"{object_id!r} answered, {plan.need} needed ({failed or 'no answer'})"
                )
            entries = [best.get(i) for i in ids]
            response = pb.GetResponse(
                missing=[i for i, e in zip(ids, entries, strict=True) if e is None or e[1]]
            )
            live = [(i, e) for i, e in zip(ids, entries, strict=True) if e is not None and not e[1]]
            if request.packed and packed:
                # Columns: no message per object, here or in the client.
                response.packed.CopyFrom(
                    packed_hits.objects_to_pb(
                        [i for i, _ in live], [e[0] for _, e in live], [e[2] for _, e in live]
                    )
                )
                return response
            # Filled in place: a message built first is copied again into
            # the field (several times the cost, per object).
            found = response.objects
            for object_id, (version, _, properties, vectors) in live:
                msg = found.add(id=object_id, properties=properties)
                if vectors:
                    msg.vectors.update(vectors)
                v = msg.version
                v.physical_ms, v.logical, v.writer = version
            return response

        return await self._calls.routed(run)


# What one source answered for an id: its version as a tuple (tuples
# compare as Versions do, without a Version per object), whether it is a
# tombstone, its properties as stored, and its vectors (None in columns).
_Read: TypeAlias = tuple[tuple[int, int, str], bool, bytes, Any]


def _reads_of(result: npb.FetchResponse, who: str) -> Iterator[tuple[str, _Read]]:
    """(id, read) per record of a Fetch reply, whichever form it came in."""
    if result.HasField("packed"):
        cols = packed_hits.records_from_pb(result.packed, who)
        writers = cols.writers
        for object_id, (physical, logical, w), deleted, properties in zip(
            cols.ids, cols.versions.tolist(), cols.deleted.tolist(), cols.properties, strict=True
        ):
            yield object_id, ((physical, logical, writers[w]), deleted, properties, None)
        return
    for obj in result.objects:
        yield obj.id, (_version_key(obj), obj.deleted, obj.properties, obj.vectors)


def _keep_newest(best: dict[str, _Read], reads: Iterable[tuple[str, _Read]]) -> None:
    for object_id, read in reads:
        cur = best.get(object_id)
        if cur is None or read[0] > cur[0]:
            best[object_id] = read


def _version_key(obj: npb.VersionedObject) -> tuple[int, int, str]:
    """`gather.version_of` as a tuple (an unset version is ZERO's)."""
    if not obj.HasField("version"):
        return ZERO.as_tuple()
    v = obj.version
    return v.physical_ms, v.logical, v.writer


def _name(key: tuple[str, str | None]) -> str:
    node, hints_for = key
    return node if hints_for is None else f"{node} (hints for {hints_for})"
