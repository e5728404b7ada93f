"""The shard requests a router sends a node (ShardSearch, ShardQuery) at the
protobuf edge: checked field by field and turned into domain values —
`SearchPart`s and token spans — before the engine sees them. Bad input is
INVALID_ARGUMENT naming the field, as for the public API.
"""

from __future__ import annotations

from collections.abc import Sequence

from vektra.common.errors import InvalidArgument
from vektra.common.schema import CollectionSchema
from vektra.node.placement import effective_rf
from vektra.node.search import SearchPart
from vektra.node.token_ranges import Span
from vektra.v1 import node_pb2 as npb

__all__ = ["parts_from_pb", "ranges_from_pb"]


def ranges_from_pb(ranges: Sequence[npb.TokenRange], where: str) -> tuple[Span, ...]:
    """[start, end) spans; end 0 on the wire is "to the end of the ring"."""
    out: list[Span] = []
    for i, r in enumerate(ranges):
        if r.end and r.start >= r.end:
            raise InvalidArgument(
                f"{where}[{i}]", f"start {r.start} must be below end {r.end} (0: the end)"
            )
        out.append((r.start, r.end or None))
    return tuple(out)


def parts_from_pb(parts: Sequence[npb.ShardPart], schema: CollectionSchema) -> list[SearchPart]:
    if not parts:
        raise InvalidArgument("parts", "no part to search")
    rf = effective_rf(schema.replication_factor)
    seen: set[int] = set()
    out: list[SearchPart] = []
    for i, part in enumerate(parts):
        where = f"parts[{i}]"
        if part.position >= rf:
            raise InvalidArgument(
                f"{where}.position",
                f"position {part.position} is not below the replication factor {rf}",
            )
        if part.position in seen:
            # Two parts of one index would count and search it twice.
            raise InvalidArgument(f"{where}.position", f"position {part.position} is listed twice")
        seen.add(part.position)
        if part.all == bool(part.ranges):
            raise InvalidArgument(where, "give either all or ranges")
        ranges = None if part.all else ranges_from_pb(part.ranges, f"{where}.ranges")
        out.append(SearchPart(part.position, ranges))
    return out
