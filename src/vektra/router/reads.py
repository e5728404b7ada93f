"""The router's reads by id: each id from its replicas, at the requested
consistency level, the highest version winning."""

from __future__ import annotations

from collections import defaultdict

from vektra.common.errors import Unavailable
from vektra.common.limits import Limits
from vektra.common.validation import check_ids
from vektra.router.calls import NodeCalls, client_error
from vektra.router.gather import version_of
from vektra.router.ring import RingView
from vektra.router.writes import required_acks
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = ["Reads"]


class Reads:
    def __init__(self, calls: NodeCalls, limits: Limits) -> None:
        self._calls = calls
        self._limits = limits

    async def get(self, request: pb.GetRequest, timeout: float) -> pb.GetResponse:
        ids = list(request.ids)
        check_ids(ids, self._limits, allow_duplicates=True)

        async def run(view: RingView) -> pb.GetResponse:
            schema = self._calls.schema(view, request.collection)
            rf = schema.replication_factor
            need = required_acks(request.consistency, rf)
            per_node: dict[str, list[str]] = defaultdict(list)
            replicas: dict[str, list[str]] = {}
            for object_id in dict.fromkeys(ids):
                reps = view.replicas(schema.name, object_id, rf)
                if len(reps) < need:
                    raise Unavailable(
                        f"{len(reps)} of {rf} replicas of {object_id!r} reachable, {need} needed"
                    )
                replicas[object_id] = reps
                for n in reps:
                    per_node[n].append(object_id)

            fetches = {
                n: npb.FetchRequest(
                    collection=schema.name, ids=ids_, include_vectors=request.include_vectors
                )
                for n, ids_ in per_node.items()
            }
            answers, errors = await self._calls.fanout(view, "Fetch", fetches, timeout)
            bad = client_error(errors)
            if bad is not None:
                raise bad
            best: dict[str, npb.VersionedObject] = {}
            for resp in answers.values():
                for obj in resp.objects:
                    cur = best.get(obj.id)
                    if cur is None or version_of(obj) > version_of(cur):
                        best[obj.id] = obj
            for object_id, reps in replicas.items():
                got = sum(1 for n in reps if n in answers)
                if got < need:
                    raise Unavailable(
                        f"consistency level not met: {got} of {rf} replicas of {object_id!r} "
                        f"answered, {need} needed"
                    )
            found, missing = [], []
            for object_id in ids:
                obj = best.get(object_id)
                if obj is None or obj.deleted:
                    missing.append(object_id)
                else:
                    found.append(
                        pb.Object(
                            id=obj.id,
                            properties=obj.properties,
                            vectors=obj.vectors,
                            version=obj.version,
                        )
                    )
            return pb.GetResponse(objects=found, missing=missing)

        return await self._calls.routed(run)
