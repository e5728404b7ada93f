"""The router's reads by id: each id from the sources `router.replication`
names (readable replicas, and the stand-ins that keep hints for replicas
that cannot be read), at the requested consistency level; the highest
version wins, tombstones included, so a deleted object stays deleted."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

import numpy as np

from vektra.common import packed_hits
from vektra.common.errors import Unavailable, VektraError
from vektra.common.hlc import HybridClock, Version
from vektra.common.limits import Limits
from vektra.common.validation import check_ids
from vektra.router.calls import NodeCalls, Stale, client_error
from vektra.router.gather import keep_newest, version_key
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
            # One node asked for every id (each once), answering columns:
            # sent on as they are when they hold exactly the ids, all live.
            lone = len(keys) == 1 and len(plan.sources) == len(ids) and request.packed and packed
            sent: pb.PackedObjects | None = None
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
                if lone and result.HasField("packed"):
                    sent = packed_hits.records_as_objects(result.packed, ids, _name(key))
                    if sent is not None:
                        continue
                keep_newest(best, _reads_of(result, _name(key)))
            # Past the newest version read, once: a later write must win.
            if sent is not None:
                newest = packed_hits.newest_of(
                    np.frombuffer(sent.versions, dtype=packed_hits.VERSION_DTYPE)
                )
                if newest is not None:
                    self._clock.observe(Version(newest[0], newest[1], ""))
            elif best:
                self._clock.observe(Version(*max(r.version for r in best.values())))
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
            if sent is not None:
                return pb.GetResponse(packed=sent)
            entries = [best.get(i) for i in ids]
            response = pb.GetResponse(
                missing=[i for i, e in zip(ids, entries, strict=True) if e is None or e.deleted]
            )
            live = [e for e in entries if e is not None and not e.deleted]
            if request.packed and packed:
                # Columns: no message per object, here or in the client.
                response.packed.CopyFrom(
                    packed_hits.objects_to_pb(
                        [e.id for e in live],
                        [e.version for e in live],
                        [e.properties for e in live],
                    )
                )
                return response
            # Filled in place: a message built first is copied again into
            # the field (several times the cost, per object).
            found = response.objects
            for e in live:
                msg = found.add(id=e.id, properties=e.properties)
                if e.vectors:
                    msg.vectors.update(e.vectors)
                v = msg.version
                v.physical_ms, v.logical, v.writer = e.version
            return response

        return await self._calls.routed(run)


class _Read(NamedTuple):
    """What one source answered for an id: its version as a tuple, whether
    it is a tombstone, its properties as stored, and its vectors (None when
    it came as columns)."""

    id: str
    version: tuple[int, int, str]
    deleted: bool
    properties: bytes
    vectors: Any


def _reads_of(result: npb.FetchResponse, who: str) -> list[_Read]:
    """The records of a Fetch reply, whichever form it came in."""
    if result.HasField("packed"):
        cols = packed_hits.records_from_pb(result.packed, who)
        writers = cols.writers
        return [
            _Read(object_id, (physical, logical, writers[w]), deleted, properties, None)
            for object_id, (physical, logical, w), deleted, properties in zip(
                cols.ids,
                cols.versions.tolist(),
                cols.deleted.tolist(),
                cols.properties,
                strict=True,
            )
        ]
    return [_Read(o.id, version_key(o), o.deleted, o.properties, o.vectors) for o in result.objects]


def _name(key: tuple[str, str | None]) -> str:
    node, hints_for = key
    return node if hints_for is None else f"{node} (hints for {hints_for})"
