"""Pure merging of scattered answers: top-k hits and ordered query pages.
Each range is answered by one replica, so an id appears once; should one
appear twice (a map change during the call) the highest version is kept."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vektra.common.filters import comparable
from vektra.common.hlc import ZERO, Version
from vektra.common.schema import CollectionSchema
from vektra.common.values import unpack_map
from vektra.v1 import vektra_pb2 as pb

__all__ = ["merge_hits", "merge_objects", "version_of"]


def version_of(msg: Any) -> Version:
    v = msg.version
    return Version(v.physical_ms, v.logical, v.writer) if msg.HasField("version") else ZERO


def _dedupe(items: Iterable[Any]) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for item in items:
        current = best.get(item.id)
        if current is None or version_of(item) > version_of(current):
            best[item.id] = item
    return best


def merge_hits(per_node: Sequence[Sequence[pb.Hit]], k: int) -> list[pb.Hit]:
    """The k nearest over all nodes. Each node's own top k contains every
    object of the global top k it holds, so the union is enough."""
    best = _dedupe(h for hits in per_node for h in hits)
    return sorted(best.values(), key=lambda h: (h.distance, h.id))[:k]


def merge_objects(
    per_node: Sequence[Sequence[pb.Object]],
    schema: CollectionSchema,
    order_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> list[pb.Object]:
    """The same order a node uses: by the property (missing values last, ties
    by id), or by id alone."""
    objects = sorted(_dedupe(o for objs in per_node for o in objs).values(), key=lambda o: o.id)
    if not order_by:
        if descending:
            objects.reverse()
        return objects[offset : offset + limit]
    spec = schema.property(order_by)
    assert spec is not None
    keyed = [(unpack_map(o.properties, "properties").get(order_by), o) for o in objects]
    present = [(comparable(spec.type, v), o) for v, o in keyed if v is not None]
    missing = [o for v, o in keyed if v is None]
    present.sort(key=lambda p: p[0], reverse=descending)  # stable: ties keep id order
    return ([o for _, o in present] + missing)[offset : offset + limit]
