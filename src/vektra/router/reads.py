"""The router's reads by id: each id from the sources `router.replication`
names (readable replicas, and the stand-ins that keep hints for replicas
that cannot be read), at the requested consistency level; the highest
version wins, tombstones included, so a deleted object stays deleted."""

from __future__ import annotations

from vektra.common.errors import Unavailable, VektraError
from vektra.common.hlc import Version
from vektra.common.limits import Limits
from vektra.common.validation import check_ids
from vektra.router.calls import NodeCalls, client_error
from vektra.router.gather import version_of
from vektra.router.replication import Topology, plan_read
from vektra.router.writes import level_of
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
        level = level_of(request.consistency)

        async def run(topo: Topology) -> pb.GetResponse:
            schema = self._calls.schema(topo, request.collection)
            plan = plan_read(topo, schema.name, ids, schema.replication_factor, level)
            keys = list(plan.requests)
            fetches = {
                f"{node}\x00{hints_for or ''}": npb.FetchRequest(
                    collection=schema.name,
                    incarnation=schema.incarnation,
                    ids=plan.requests[(node, hints_for)],
                    include_vectors=request.include_vectors,
                    hints_for=hints_for or "",
                )
                for node, hints_for in keys
            }
            answers, errors = await self._fanout(topo, fetches, timeout)
            bad = client_error(errors)
            if bad is not None:
                raise bad
            answered = [k for k in keys if f"{k[0]}\x00{k[1] or ''}" in answers]
            best: dict[str, npb.VersionedObject] = {}
            for resp in answers.values():
                for obj in resp.objects:
                    v = version_of(obj)
                    self._calls.clock_observe(v)
                    cur = best.get(obj.id)
                    if cur is None or v > version_of(cur):
                        best[obj.id] = obj
            for object_id in plan.sources:
                got = plan.answered_enough(object_id, answered)
                if got < plan.need:
                    failed = "; ".join(f"{n}: {e.message}" for n, e in sorted(errors.items()))
                    raise Unavailable(
                        f"consistency {level.value} not met: {got} of {plan.rf} replicas of "
                        f"{object_id!r} answered, {plan.need} needed ({failed or 'no answer'})"
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

    async def _fanout(
        self, topo: Topology, fetches: dict[str, npb.FetchRequest], timeout: float
    ) -> tuple[dict[str, npb.FetchResponse], dict[str, VektraError]]:
        """Fetch calls keyed "node\\0hints_for" (one node may be asked for its
        own copies and for hints it keeps)."""
        by_node: dict[str, dict[str, npb.FetchRequest]] = {}
        for key, req in fetches.items():
            by_node.setdefault(key.partition("\x00")[0], {})[key] = req
        answers: dict[str, npb.FetchResponse] = {}
        errors: dict[str, VektraError] = {}
        # One fan-out per round of distinct nodes: a node asked twice (its
        # copies and its hints) is asked in two rounds, side by side otherwise.
        while by_node:
            round_ = {node: reqs.popitem() for node, reqs in by_node.items()}
            by_node = {n: r for n, r in by_node.items() if r}
            got, failed = await self._calls.fanout(
                topo, "Fetch", {n: req for n, (_k, req) in round_.items()}, timeout
            )
            for node, (key, _req) in round_.items():
                if node in got:
                    answers[key] = got[node]
                if node in failed:
                    errors[key] = failed[node]
        return answers, errors


_ = Version
