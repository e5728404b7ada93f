"""The router's scatter-gather: searches, filter queries and counts go to
the nodes, and their answers are merged (top-k hits, ordered pages, counts
per token range) with a coverage saying how much of the data answered."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from vektra.common.errors import InvalidArgument, Unavailable
from vektra.common.limits import Limits
from vektra.common.schema import CollectionSchema
from vektra.common.validation import (
    decode_query_rows,
    parse_filter,
    resolve_field,
    validate_search,
)
from vektra.common.values import decode_vector
from vektra.router.calls import NodeCalls, client_error
from vektra.router.gather import Coverage, merge_hits, merge_objects
from vektra.router.ring import TOKEN_END, RingView
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = ["Scatter"]

_DEFAULT_QUERY_LIMIT = 10
_MAX_QUERY_WINDOW = 100_000


class Scatter:
    def __init__(self, calls: NodeCalls, limits: Limits) -> None:
        self._calls = calls
        self._limits = limits

    def _targets(self, view: RingView, schema: CollectionSchema) -> tuple[list[str], Coverage]:
        asked = sorted(view.reachable)
        down = tuple(sorted(set(view.owners) - view.reachable))
        rf = schema.replication_factor
        return asked, Coverage(tuple(asked), (), down, rf, view.ranges())

    async def _scatter(
        self, view: RingView, schema: CollectionSchema, method: str, req: Any, timeout: float
    ) -> tuple[dict[str, Any], Coverage]:
        asked, coverage = self._targets(view, schema)
        answers, errors = await self._calls.fanout(
            view, method, dict.fromkeys(asked, req), timeout, public=True
        )
        bad = client_error(errors)
        if bad is not None:
            raise bad
        coverage = dataclasses.replace(coverage, failed=tuple(sorted(errors)))
        if not answers:
            raise Unavailable(f"no node answered ({len(asked)} asked, {len(coverage.down)} down)")
        return answers, coverage

    async def search(self, request: pb.SearchRequest, timeout: float) -> pb.SearchResponse:

        async def run(view: RingView) -> pb.SearchResponse:
            schema = self._calls.schema(view, request.collection)
            spec = resolve_field(schema, request.field)
            validate_search(self._limits, request.k, request.ef)
            decode_vector(request.vector, spec, "vector")
            parse_filter(schema, self._limits, request.filter)
            answers, coverage = await self._scatter(view, schema, "Search", request, timeout)
            hits = merge_hits([a.hits for a in answers.values()], request.k)
            plan = next(iter(answers.values())).plan
            return pb.SearchResponse(hits=hits, coverage=coverage.to_pb(), plan=plan)

        return await self._calls.routed(run)

    async def search_batch(
        self, request: pb.SearchBatchRequest, timeout: float
    ) -> pb.SearchBatchResponse:

        async def run(view: RingView) -> pb.SearchBatchResponse:
            schema = self._calls.schema(view, request.collection)
            spec = resolve_field(schema, request.field)
            validate_search(self._limits, request.k, request.ef)
            decode_query_rows(request.vectors, request.rows, spec, self._limits)
            parse_filter(schema, self._limits, request.filter)
            answers, coverage = await self._scatter(view, schema, "SearchBatch", request, timeout)
            cov = coverage.to_pb()
            results = []
            for row in range(request.rows):
                per_node = [a.results[row] for a in answers.values()]
                results.append(
                    pb.SearchResponse(
                        hits=merge_hits([r.hits for r in per_node], request.k),
                        coverage=cov,
                        plan=per_node[0].plan,
                    )
                )
            return pb.SearchBatchResponse(results=results, coverage=cov)

        return await self._calls.routed(run)

    async def query(self, request: pb.QueryRequest, timeout: float) -> pb.QueryResponse:
        limit = request.limit or _DEFAULT_QUERY_LIMIT
        if limit > self._limits.max_query_limit:
            raise InvalidArgument(
                "limit", f"limit={limit} is above the limit of {self._limits.max_query_limit}"
            )
        if request.offset + limit > _MAX_QUERY_WINDOW:
            raise InvalidArgument("offset", f"offset + limit must stay within {_MAX_QUERY_WINDOW}")

        async def run(view: RingView) -> pb.QueryResponse:
            schema = self._calls.schema(view, request.collection)
            parse_filter(schema, self._limits, request.filter)
            if request.order_by and schema.property(request.order_by) is None:
                raise InvalidArgument("order_by", f"unknown property {request.order_by!r}")
            # Each node returns its first offset+limit; the page is among their union.
            window = pb.QueryRequest()
            window.CopyFrom(request)
            window.offset = 0
            window.limit = request.offset + limit
            answers, coverage = await self._scatter(view, schema, "Query", window, timeout)
            page = merge_objects(
                [a.objects for a in answers.values()],
                schema,
                request.order_by,
                request.descending,
                request.offset,
                limit,
            )
            return pb.QueryResponse(objects=page, coverage=coverage.to_pb())

        return await self._calls.routed(run)

    async def count(self, request: pb.CountRequest, timeout: float) -> pb.CountResponse:

        async def run(view: RingView) -> pb.CountResponse:
            schema = self._calls.schema(view, request.collection)
            parse_filter(schema, self._limits, request.filter)
            # Each range is counted once, by its first reachable replica.
            per_node: dict[str, list[npb.TokenRange]] = defaultdict(list)
            uncounted = 0
            for r in view.ranges():
                owner = view.count_owner(r, schema.replication_factor)
                if owner is None:
                    uncounted += 1
                    continue
                per_node[owner].append(
                    npb.TokenRange(start=r.start, end=0 if r.end == TOKEN_END else r.end)
                )

            counts = {
                n: npb.CountRangesRequest(
                    collection=schema.name, filter=request.filter, ranges=ranges
                )
                for n, ranges in per_node.items()
            }
            answers, errors = await self._calls.fanout(view, "CountRanges", counts, timeout)
            bad = client_error(errors)
            if bad is not None:
                raise bad
            if errors:
                failed = ", ".join(f"{n}: {e.message}" for n, e in sorted(errors.items()))
                raise Unavailable(f"count incomplete: {failed}")
            down = tuple(sorted(set(view.owners) - view.reachable))
            asked = tuple(sorted(per_node))
            n_ranges = sum(len(r) for r in per_node.values()) + uncounted
            return pb.CountResponse(
                count=sum(a.count for a in answers.values()),
                coverage=pb.Coverage(
                    asked=len(asked),
                    answered=len(answers),
                    failed=list(down),
                    complete=uncounted == 0,
                    ranges_asked=n_ranges,
                    ranges_answered=n_ranges - uncounted,
                ),
            )

        return await self._calls.routed(run)
