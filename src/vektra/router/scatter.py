"""The router's scatter-gather: searches, filter queries and counts.

Each token range is answered by exactly one readable replica
(`replication.assign_ranges`): with every member readable, each node answers
for the ranges it leads, from its position-0 index, so each object is
searched once; the ranges of a replica that cannot be read go to the next
readable replica, which searches its index of that position for hits in
just those ranges. The answers are merged (top-k hits, ordered pages, sums)
and the coverage says which ranges were answered, by whom, and which not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vektra.common import packed_hits
from vektra.common.errors import InvalidArgument, Unavailable, VektraError
from vektra.common.hlc import HybridClock, Version
from vektra.common.limits import Limits
from vektra.common.packed_hits import PackedColumns
from vektra.common.packed_hits import merge as merge_packed
from vektra.common.ring import TOKEN_END, TokenRange
from vektra.common.validation import (
    decode_query_rows,
    parse_filter,
    resolve_field,
    validate_search,
)
from vektra.common.values import decode_vector
from vektra.router.calls import NodeCalls, client_error
from vektra.router.gather import (
    hit_rows,
    lone_page,
    merge_hits,
    merge_objects,
    object_rows,
    shard_columns,
)
from vektra.router.replication import RangeAssignment, Topology, assign_ranges
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = ["Coverage", "Scatter"]

_DEFAULT_QUERY_LIMIT = 10
_MAX_QUERY_WINDOW = 100_000


@dataclass(frozen=True, slots=True)
class Coverage:
    asked: tuple[str, ...]
    failed: tuple[str, ...]  # asked, did not answer
    unreadable: tuple[str, ...]  # ring members that could not be asked
    ranges_asked: int  # every range of the ring
    ranges_answered: int  # answered by a readable replica

    @property
    def complete(self) -> bool:
        return self.ranges_answered == self.ranges_asked

    def to_pb(self) -> pb.Coverage:
        return pb.Coverage(
            asked=len(self.asked),
            answered=len(self.asked) - len(self.failed),
            failed=[*self.failed, *self.unreadable],
            complete=self.complete,
            ranges_asked=self.ranges_asked,
            ranges_answered=self.ranges_answered,
        )


def _token_ranges(topo: Topology, indexes: Sequence[int]) -> list[npb.TokenRange]:
    out = []
    for i in indexes:
        r: TokenRange = topo.ring.ranges[i]
        out.append(npb.TokenRange(start=r.start, end=0 if r.end == TOKEN_END else r.end))
    return out


def _all(by_position: dict[int, tuple[int, ...]]) -> list[int]:
    return sorted(r for ranges in by_position.values() for r in ranges)


def _parts(
    topo: Topology, by_position: dict[int, tuple[int, ...]], first: bool
) -> list[npb.ShardPart]:
    # Asked first, a readable node answers every range it leads: its whole
    # position-0 index. Asked again (for a failed node's ranges) it searches
    # just the ranges given.
    return [
        npb.ShardPart(position=0, all=True)
        if position == 0 and first
        else npb.ShardPart(position=position, ranges=_token_ranges(topo, ranges))
        for position, ranges in sorted(by_position.items())
    ]


def _lone_node(assignment: RangeAssignment) -> str | None:
    """The node asked, when one node is asked for one replica position (a
    node alone: its answer holds each object once); else None."""
    by_node = assignment.by_node
    if len(by_node) == 1 and len(next(iter(by_node.values()))) == 1:
        return next(iter(by_node))
    return None


class _Merged:
    """A search's merged hits: as columns, or as the packed message a
    single node's answer came in when it needed no merging (then sent on as
    it is, its columns read only if a client wants one Hit per hit)."""

    def __init__(
        self, columns: PackedColumns | None, message: pb.PackedHits | None, rows: int
    ) -> None:
        assert columns is not None or message is not None
        self._columns = columns
        self._message = message
        self._rows = rows

    @property
    def columns(self) -> PackedColumns:
        if self._columns is None:
            assert self._message is not None
            self._columns = packed_hits.from_pb(self._message, self._rows)
        return self._columns

    def newest(self) -> tuple[int, int] | None:
        if self._message is not None:
            return packed_hits.newest_of(
                np.frombuffer(self._message.versions, dtype=packed_hits.VERSION_DTYPE)
            )
        return self.columns.newest()

    def to_pb(self) -> pb.PackedHits:
        return packed_hits.to_pb(self.columns) if self._message is None else self._message


class Scatter:
    def __init__(self, calls: NodeCalls, clock: HybridClock, limits: Limits) -> None:
        self._calls = calls
        self._clock = clock
        self._limits = limits

    async def _scatter(
        self,
        topo: Topology,
        method: str,
        request_for: Callable[[dict[int, tuple[int, ...]], bool], Any],
        assignment: RangeAssignment,
        timeout: float,
    ) -> tuple[list[Any], Coverage]:
        answers, coverage, _nodes = await self._scatter_named(
            topo, method, request_for, assignment, timeout
        )
        return answers, coverage

    async def _scatter_named(
        self,
        topo: Topology,
        method: str,
        request_for: Callable[[dict[int, tuple[int, ...]], bool], Any],
        assignment: RangeAssignment,
        timeout: float,
    ) -> tuple[list[Any], Coverage, list[str]]:
        """Ask each node of `assignment` (`request_for(its ranges by
        position, first round)` builds its request); the answers, and the
        node that gave each. The ranges of a node
        that fails to answer are asked once more of their next readable
        replica, so one unreachable node (say, a channel still reconnecting)
        does not make an answer partial while another replica can give it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        answers: list[Any] = []
        nodes: list[str] = []
        answered: set[int] = set()
        failed: set[str] = set()
        asked: set[str] = set()
        errors: dict[str, VektraError] = {}
        current = assignment
        for first in (True, False):
            requests = {n: request_for(ps, first) for n, ps in current.by_node.items()}
            asked.update(requests)
            got, errs = await self._calls.fanout(
                topo, method, requests, max(0.0, deadline - loop.time())
            )
            bad = client_error(errs)
            if bad is not None:
                raise bad
            for node, answer in got.items():
                answers.append(answer)
                nodes.append(node)
                answered.update(current.ranges_of(node))
            errors.update(errs)
            failed.update(errs)
            missed = [r for n in errs for r in current.ranges_of(n)]
            if not missed:
                break
            current = assign_ranges(topo, assignment.rf, missed, exclude=frozenset(failed))
            if not current.by_node:
                break
        unreadable = tuple(sorted(n for n in topo.ring.owners if not topo.readable(n)))
        coverage = Coverage(
            tuple(sorted(asked)),
            tuple(sorted(failed)),
            unreadable,
            assignment.total,
            len(answered),
        )
        if not answers and assignment.total:
            raise Unavailable(_no_answer(coverage, errors))
        return answers, coverage, nodes

    # ------------------------------------------------------------ search

    async def _search_rows(
        self, topo: Topology, batch: pb.SearchBatchRequest, timeout: float
    ) -> tuple[list[pb.SearchResponse] | _Merged, pb.SearchPlan | None, Coverage]:
        """Every row's merged hits: as columns (packed: the nodes pack them
        and they are merged with numpy) unless vectors are asked for, when
        they travel one Hit per hit."""
        schema = self._calls.schema(topo, batch.collection)
        assignment = topo.assignment(schema.replication_factor)
        alone = _lone_node(assignment)
        packed = not batch.include_vectors
        shard_batch = batch
        if packed != batch.packed_hits:
            shard_batch = pb.SearchBatchRequest()
            shard_batch.CopyFrom(batch)
            shard_batch.packed_hits = packed
        answers, coverage, nodes = await self._scatter_named(
            topo,
            "ShardSearch",
            lambda parts, first: npb.ShardSearchRequest(
                search=shard_batch,
                parts=_parts(topo, parts, first),
                incarnation=schema.incarnation,
            ),
            assignment,
            timeout,
        )
        plans = [a.plan for a in answers if a.HasField("plan")]
        plans += [r.plan for a in answers if not a.HasField("plan") for r in a.results[:1]]
        plan = max(plans, key=lambda p: p.candidates, default=None)
        if packed:
            merged = self._merge_packed(answers, nodes, alone, batch)
            newest = merged.newest()
            if newest is not None:
                self._clock.observe(Version(newest[0], newest[1], ""))
            return merged, plan, coverage
        self._observe(answers)
        rows = []
        for row in range(batch.rows):
            per_node = [a.results[row] for a in answers]
            row_plan = max((r.plan for r in per_node), key=lambda p: p.candidates, default=None)
            rows.append(
                pb.SearchResponse(
                    hits=merge_hits([r.hits for r in per_node], batch.k),
                    coverage=coverage.to_pb(),
                    plan=row_plan,
                )
            )
        return rows, plan, coverage

    @staticmethod
    def _merge_packed(
        answers: list[npb.ShardSearchResponse],
        nodes: list[str],
        alone: str | None,
        batch: pb.SearchBatchRequest,
    ) -> _Merged:
        """The nodes' packed answers merged; one node's answer alone goes on
        as it came when it is in merged order already (a node orders its
        hits as the merge does), and is only reordered when it is not."""
        columns = None
        if nodes == [alone] and answers[0].HasField("packed"):
            sent = answers[0].packed
            if packed_hits.sent_as_merged(sent, batch.rows, batch.k, who=f"node {alone}"):
                return _Merged(None, sent, batch.rows)
            columns = [shard_columns(answers[0], batch.rows, nodes[0])]
            reordered = packed_hits.as_merged(columns[0], batch.k)
            if reordered is not None:
                return _Merged(reordered, None, batch.rows)
        if columns is None:
            columns = [shard_columns(a, batch.rows, n) for a, n in zip(answers, nodes, strict=True)]
        return _Merged(merge_packed(columns, batch.rows, batch.k), None, batch.rows)

    async def search(self, request: pb.SearchRequest, timeout: float) -> pb.SearchResponse:
        async def run(topo: Topology) -> pb.SearchResponse:
            schema = self._calls.schema(topo, request.collection)
            spec = resolve_field(schema, request.field)
            validate_search(self._limits, request.k, request.ef)
            decode_vector(request.vector, spec, "vector")
            parse_filter(schema, self._limits, request.filter)
            batch = pb.SearchBatchRequest(
                collection=request.collection,
                field=request.field,
                vectors=request.vector,
                rows=1,
                k=request.k,
                ef=request.ef,
                filter=request.filter,
                include_properties=request.include_properties,
                include_vectors=request.include_vectors,
                packed_hits=request.packed_hits,
            )
            rows, plan, coverage = await self._search_rows(topo, batch, timeout)
            if not isinstance(rows, _Merged):
                return rows[0]
            if request.packed_hits:
                return pb.SearchResponse(packed=rows.to_pb(), coverage=coverage.to_pb(), plan=plan)
            (hits,) = hit_rows(rows.columns)
            return pb.SearchResponse(hits=hits, coverage=coverage.to_pb(), plan=plan)

        return await self._calls.routed(run)

    async def search_batch(
        self, request: pb.SearchBatchRequest, timeout: float
    ) -> pb.SearchBatchResponse:
        async def run(topo: Topology) -> pb.SearchBatchResponse:
            schema = self._calls.schema(topo, request.collection)
            spec = resolve_field(schema, request.field)
            validate_search(self._limits, request.k, request.ef)
            decode_query_rows(request.vectors, request.rows, spec, self._limits)
            parse_filter(schema, self._limits, request.filter)
            rows, plan, coverage = await self._search_rows(topo, request, timeout)
            if not isinstance(rows, _Merged):
                return pb.SearchBatchResponse(results=rows, coverage=coverage.to_pb())
            if request.packed_hits:
                return pb.SearchBatchResponse(
                    packed=rows.to_pb(), coverage=coverage.to_pb(), plan=plan
                )
            return pb.SearchBatchResponse(
                results=[
                    pb.SearchResponse(hits=hits, coverage=coverage.to_pb(), plan=plan)
                    for hits in hit_rows(rows.columns)
                ],
                coverage=coverage.to_pb(),
            )

        return await self._calls.routed(run)

    def _observe(self, answers: Sequence[npb.ShardSearchResponse]) -> None:
        """Move the clock past the newest version seen (a later write must
        win): one Version for the whole answer, not one per hit."""
        newest = max(
            (
                (h.version.physical_ms, h.version.logical)
                for a in answers
                for r in a.results
                for h in r.hits
            ),
            default=None,
        )
        if newest is not None:
            self._clock.observe(Version(newest[0], newest[1], ""))

    # ------------------------------------------------------------ queries and counts

    async def query(self, request: pb.QueryRequest, timeout: float) -> pb.QueryResponse:
        limit = request.limit or _DEFAULT_QUERY_LIMIT
        if limit > self._limits.max_query_limit:
            raise InvalidArgument(
                "limit", f"limit={limit} is above the limit of {self._limits.max_query_limit}"
            )
        if request.offset + limit > _MAX_QUERY_WINDOW:
            raise InvalidArgument("offset", f"offset + limit must stay within {_MAX_QUERY_WINDOW}")

        async def run(topo: Topology) -> pb.QueryResponse:
            schema = self._calls.schema(topo, request.collection)
            parse_filter(schema, self._limits, request.filter)
            if request.order_by and schema.property(request.order_by) is None:
                raise InvalidArgument("order_by", f"unknown property {request.order_by!r}")
            # Each node returns its first offset+limit; the page is among their union.
            window = pb.QueryRequest()
            window.CopyFrom(request)
            window.offset = 0
            window.limit = request.offset + limit
            assignment = topo.assignment(schema.replication_factor)
            alone = _lone_node(assignment)
            answers, coverage, nodes = await self._scatter_named(
                topo,
                "ShardQuery",
                lambda parts, _first: npb.ShardQueryRequest(
                    query=window,
                    ranges=_token_ranges(topo, _all(parts)),
                    incarnation=schema.incarnation,
                ),
                assignment,
                timeout,
            )
            response = pb.QueryResponse(coverage=coverage.to_pb())
            if request.packed and not request.include_vectors and nodes == [alone]:
                as_is = lone_page(
                    answers[0], nodes[0], request.order_by, request.descending,
                    request.offset, limit,
                )  # fmt: skip
                if as_is is not None:
                    response.packed.CopyFrom(as_is)
                    return response
            page = merge_objects(
                [object_rows(a, node) for a, node in zip(answers, nodes, strict=True)],
                schema,
                request.order_by,
                request.descending,
                request.offset,
                limit,
            )
            if request.packed and not request.include_vectors:
                response.packed.CopyFrom(
                    packed_hits.objects_to_pb(
                        [o.id for o in page],
                        [o.version for o in page],
                        [o.properties for o in page],
                    )
                )
                return response
            for row in page:
                if row.message is not None:  # with its vectors
                    response.objects.append(row.message)
                    continue
                msg = response.objects.add(id=row.id, properties=row.properties)
                v = msg.version
                v.physical_ms, v.logical, v.writer = row.version
            return response

        return await self._calls.routed(run)

    async def count(self, request: pb.CountRequest, timeout: float) -> pb.CountResponse:
        async def run(topo: Topology) -> pb.CountResponse:
            schema = self._calls.schema(topo, request.collection)
            parse_filter(schema, self._limits, request.filter)
            answers, coverage = await self._scatter(
                topo,
                "CountRanges",
                lambda parts, _first: npb.CountRangesRequest(
                    collection=schema.name,
                    filter=request.filter,
                    ranges=_token_ranges(topo, _all(parts)),
                    incarnation=schema.incarnation,
                ),
                topo.assignment(schema.replication_factor),
                timeout,
            )
            return pb.CountResponse(count=sum(a.count for a in answers), coverage=coverage.to_pb())

        return await self._calls.routed(run)


def _no_answer(coverage: Coverage, errors: dict[str, VektraError]) -> str:
    failed = "; ".join(f"{n}: {e.message}" for n, e in sorted(errors.items()))
    return (
        f"no node answered ({len(coverage.asked)} asked, "
        f"{len(coverage.unreadable)} not readable){': ' + failed if failed else ''}"
    )
