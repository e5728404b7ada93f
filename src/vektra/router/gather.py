"""Pure merging of scattered answers: top-k hits and ordered query pages.
Each range is answered by one replica, so an id appears once; should one
appear twice (a map change during the call) the highest version is kept."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

import numpy as np

from vektra.common import packed_hits
from vektra.common.errors import Internal
from vektra.common.filters import comparable
from vektra.common.hlc import ZERO, Version
from vektra.common.packed_hits import PackedColumns
from vektra.common.schema import CollectionSchema
from vektra.common.values import unpack_map
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = [
    "ObjectRow",
    "hit_rows",
    "keep_newest",
    "lone_page",
    "merge_hits",
    "merge_objects",
    "object_rows",
    "shard_columns",
    "version_key",
    "version_of",
]


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


def shard_columns(answer: npb.ShardSearchResponse, rows: int, node: str) -> PackedColumns:
    """A node's answer to ShardSearch as columns: packed as asked, or (a node
    of an older version) one Hit per hit, packed here."""
    if answer.HasField("packed"):
        return packed_hits.from_pb(answer.packed, rows, who=f"node {node}")
    if len(answer.results) != rows:
        raise Internal(f"node {node} answered {len(answer.results)} rows for {rows} queries")
    hits = [h for r in answer.results for h in r.hits]
    writers: dict[str, int] = {}

    def version(v: pb.Version) -> tuple[int, int, int]:
        return v.physical_ms, v.logical, writers.setdefault(v.writer, len(writers))

    versions = np.array([version(h.version) for h in hits], dtype=packed_hits.VERSION_DTYPE)
    return PackedColumns(
        ids=[h.id for h in hits],
        distances=np.asarray([h.distance for h in hits], dtype=np.float32),
        versions=versions,
        writers=tuple(writers),
        row_lengths=np.asarray([len(r.hits) for r in answer.results], dtype=np.int64),
        properties=[h.properties for h in hits],
    )


def hit_rows(cols: PackedColumns) -> list[list[pb.Hit]]:
    """Merged columns as one Hit per hit, for a client that did not ask for
    packed hits."""
    phys = cols.versions["physical"].tolist()
    logical = cols.versions["logical"].tolist()
    writer = cols.versions["writer"].tolist()
    dists = cols.distances.tolist()
    props = cols.properties
    return [
        [
            pb.Hit(
                id=cols.ids[i],
                distance=dists[i],
                properties=b"" if props is None else props[i],
                version=pb.Version(
                    physical_ms=phys[i], logical=logical[i], writer=cols.writers[writer[i]]
                ),
            )
            for i in range(at.start, at.stop)
        ]
        for at in cols.row_slices()
    ]


class ObjectRow(NamedTuple):
    """One object of a node's query answer: its version as a tuple (tuples
    compare as Versions do, without a Version per object), its properties
    as stored, and its message when the node sent one (it has the vectors)."""

    id: str
    version: tuple[int, int, str]
    properties: bytes
    message: pb.Object | None


class _Versioned(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def version(self) -> tuple[int, int, str]: ...


R = TypeVar("R", bound=_Versioned)


def keep_newest(best: dict[str, R], rows: Iterable[R]) -> None:
    """Into `best` (id -> row), each row unless a newer version of its id is
    there: version tuples compare as Versions do, without one per row."""
    for row in rows:
        current = best.get(row.id)
        if current is None or row.version > current.version:
            best[row.id] = row


def version_key(msg: Any) -> tuple[int, int, str]:
    """`version_of` as a tuple (an unset version is ZERO's)."""
    if not msg.HasField("version"):
        return ZERO.as_tuple()
    v = msg.version
    return v.physical_ms, v.logical, v.writer


def object_rows(answer: npb.ShardQueryResponse, node: str) -> list[ObjectRow]:
    """A node's ShardQuery answer as rows, whichever form it came in."""
    if answer.HasField("packed"):
        cols = packed_hits.objects_from_pb(answer.packed, who=f"node {node}")
        writers = cols.writers
        return [
            ObjectRow(object_id, (physical, logical, writers[w]), properties, None)
            for object_id, (physical, logical, w), properties in zip(
                cols.ids, cols.versions.tolist(), cols.properties, strict=True
            )
        ]
    return [ObjectRow(o.id, version_key(o), o.properties, o) for o in answer.objects]


def merge_objects(
    per_node: Sequence[Sequence[ObjectRow]],
    schema: CollectionSchema,
    order_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> list[ObjectRow]:
    """The same order a node uses: by the property (missing values last, ties
    by id), or by id alone. An id answered twice keeps its newest version."""
    best: dict[str, ObjectRow] = {}
    for rows in per_node:
        keep_newest(best, rows)
    objects = sorted(best.values(), key=lambda o: o.id)
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


def lone_page(
    answer: npb.ShardQueryResponse,
    node: str,
    order_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> pb.PackedObjects | None:
    """The packed answer of a node asked alone for every range, when it is
    already the page `merge_objects` would make of it (then the router sends
    it on as it came, without a row per object): ordered by id, no offset,
    at most `limit` objects, ids strictly in order. None when the merge must
    run. Internal when the columns do not line up, as `object_rows`."""
    if order_by or offset or not answer.HasField("packed"):
        return None
    ids = packed_hits.objects_from_pb(answer.packed, who=f"node {node}").ids
    if len(ids) > limit or len(set(ids)) != len(ids):
        return None
    if ids != sorted(ids, reverse=descending):
        return None
    return answer.packed
