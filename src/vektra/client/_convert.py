"""Protobuf <-> SDK values. With `vektra.client._requests`, which builds the
request messages, the only SDK module that touches `vektra.v1` messages, so
protobuf stays at the edge.

Conversions go both ways even where the SDK only needs one, so tests (and
fake servers) can round-trip values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from vektra.client.models import (
    ClusterStatus,
    Coverage,
    DeleteResult,
    Hit,
    NodeState,
    NodeStatus,
    Object,
    PackedHits,
    QueryResult,
    SearchPlan,
    SearchResult,
    UpsertResult,
    make_objects,
    make_search_results,
)
from vektra.common import packed_hits
from vektra.common.errors import Internal, InvalidArgument
from vektra.common.hlc import Version
from vektra.common.pb import schema_from_pb, schema_to_pb
from vektra.common.schema import CollectionSchema
from vektra.common.values import encode_vector, pack, unpack, unpack_each
from vektra.v1 import vektra_pb2 as pb

__all__ = [
    "CONSISTENCY",
    "cluster_status_from_proto",
    "cluster_status_to_proto",
    "consistency_to_proto",
    "count_result_from_proto",
    "coverage_from_proto",
    "coverage_to_proto",
    "delete_result_from_proto",
    "encode_document",
    "hit_from_proto",
    "hit_to_proto",
    "object_from_proto",
    "object_to_proto",
    "properties_from_proto",
    "query_result_from_proto",
    "schema_from_proto",
    "schema_to_proto",
    "search_batch_from_proto",
    "search_result_from_proto",
    "upsert_result_from_proto",
    "vectors_from_proto",
    "vectors_to_proto",
    "version_from_proto",
    "version_to_proto",
]

CONSISTENCY: dict[str, pb.Consistency] = {
    "one": pb.CONSISTENCY_ONE,
    "quorum": pb.CONSISTENCY_QUORUM,
    "all": pb.CONSISTENCY_ALL,
}

_STATE_FROM_PB: dict[pb.NodeState, NodeState] = {
    pb.NODE_STATE_JOINING: "joining",
    pb.NODE_STATE_ACTIVE: "active",
    pb.NODE_STATE_DRAINING: "draining",
    pb.NODE_STATE_DOWN: "down",
    pb.NODE_STATE_RECOVERING: "recovering",
    pb.NODE_STATE_LEFT: "left",
}
_STATE_TO_PB = {v: k for k, v in _STATE_FROM_PB.items()}


# ---------------------------------------------------------------- scalars


def consistency_to_proto(consistency: str | None) -> pb.Consistency:
    """Map "one", "quorum" or "all" (any case) to the enum; None = server default."""
    if consistency is None:
        return pb.CONSISTENCY_UNSPECIFIED
    if isinstance(consistency, str):
        value: pb.Consistency | None = CONSISTENCY.get(consistency.strip().lower())
        if value is not None:
            return value
    raise InvalidArgument(
        "consistency", f"{consistency!r} is not one of 'one', 'quorum', 'all' (or None)"
    )


def version_from_proto(msg: pb.Version) -> Version:
    return Version(msg.physical_ms, msg.logical, msg.writer)


def version_to_proto(version: Version) -> pb.Version:
    return pb.Version(
        physical_ms=version.physical_ms, logical=version.logical, writer=version.writer
    )


def _version_of(msg: Any) -> Version | None:
    # An unset message field reads as all zeros; report that as "no version".
    return version_from_proto(msg.version) if msg.HasField("version") else None


# Types msgpack packs as they are (subclasses, such as numpy's float64, are not).
_PLAIN = frozenset({str, int, float, bool, bytes, type(None)})


def _plain(value: Any, where: str) -> Any:
    """Make a value msgpack can pack: numpy scalars and arrays become Python
    values, tuples become lists, and naive datetimes are taken as UTC (msgpack
    refuses them; the server reads naive datetimes as UTC anyway)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidArgument(where, f"keys must be strings, got {k!r}")
            # Most values are plain already: no recursion, no field name made.
            out[k] = v if type(v) in _PLAIN else _plain(v, f"{where}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), where)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def encode_document(doc: Mapping[str, Any] | None, where: str) -> bytes:
    """A properties map or filter document as msgpack; None -> empty bytes."""
    if doc is None:
        return b""
    if not isinstance(doc, Mapping):
        raise InvalidArgument(where, f"must be a mapping, got {type(doc).__name__}")
    try:
        encoded: bytes = pack(_plain(dict(doc), where))
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgument(where, f"cannot be encoded: {exc}") from None
    return encoded


def properties_from_proto(data: bytes) -> dict[str, Any]:
    if not data:
        return {}
    value = unpack(data)
    return value if isinstance(value, dict) else {}


def vectors_from_proto(vectors: Mapping[str, bytes]) -> dict[str, np.ndarray]:
    if not vectors:
        return {}  # the usual case (vectors not asked for), without the sort
    # astype copies into a writable, native-order float32 array the caller owns.
    return {
        name: np.frombuffer(data, dtype="<f4").astype(np.float32)
        for name, data in sorted(vectors.items())
    }


def vectors_to_proto(vectors: Mapping[str, Any]) -> dict[str, bytes]:
    return {name: encode_vector(np.asarray(v)) for name, v in vectors.items()}


# ---------------------------------------------------------------- objects and hits


def object_to_proto(obj: Object, where: str = "object") -> pb.Object:
    """`where` names the object in errors, e.g. ``objects[3]``."""
    msg = pb.Object(
        id=obj.id,
        properties=encode_document(obj.properties, f"{where}.properties")
        if obj.properties
        else b"",
        vectors=vectors_to_proto(obj.vectors),
    )
    if obj.version is not None:
        msg.version.CopyFrom(version_to_proto(obj.version))
    return msg


def object_from_proto(msg: pb.Object) -> Object:
    # Positional: a batch get makes one of these per object.
    return Object(
        msg.id,
        properties_from_proto(msg.properties),
        vectors_from_proto(msg.vectors),
        _version_of(msg),
    )


def objects_from_get(
    msg: pb.GetResponse | pb.QueryResponse | packed_hits.DecodedObjects,
) -> list[Object]:
    """A Get (or Query) reply's objects, in order, whichever form it came in
    (decoded already: from an engine in this process)."""
    if isinstance(msg, packed_hits.DecodedObjects):
        return _objects(msg.ids, msg.properties, msg.versions, None)
    if not msg.HasField("packed"):
        return [object_from_proto(o) for o in msg.objects]
    cols = packed_hits.objects_from_pb(msg.packed)
    try:
        # One msgpack pass over every object's properties.
        maps = unpack_each(cols.properties)
    except ValueError:  # an empty or malformed one among them: each on its own
        maps = [properties_from_proto(p) for p in cols.properties]
    return _objects(cols.ids, maps, cols.versions.tolist(), cols.writers)


def _objects(
    ids: list[str],
    maps: list[Any],
    versions: Iterable[Sequence[Any]],
    writers: tuple[str, ...] | None,
) -> list[Object]:
    """Objects from columns; each version (physical, logical, writer), the
    writer an index into `writers` when given."""
    # Objects written in one batch share a version: one Version for each.
    made: dict[tuple[Any, ...], Version] = {}

    def version_of(v: tuple[Any, ...]) -> Version:
        writer = v[2] if writers is None else writers[v[2]]
        version = made[v] = Version(v[0], v[1], writer)
        return version

    keys = map(tuple, versions)
    return make_objects(ids, maps, [made.get(v) or version_of(v) for v in keys])


def hit_to_proto(hit: Hit, where: str = "hit") -> pb.Hit:
    msg = pb.Hit(
        id=hit.id,
        distance=hit.distance,
        properties=encode_document(hit.properties, f"{where}.properties")
        if hit.properties
        else b"",
        vectors=vectors_to_proto(hit.vectors),
    )
    if hit.version is not None:
        msg.version.CopyFrom(version_to_proto(hit.version))
    return msg


def hit_from_proto(msg: pb.Hit) -> Hit:
    return Hit(
        id=msg.id,
        distance=float(msg.distance),
        properties=properties_from_proto(msg.properties),
        vectors=vectors_from_proto(msg.vectors),
        version=_version_of(msg),
    )


# ---------------------------------------------------------------- results


def coverage_from_proto(msg: pb.Coverage) -> Coverage:
    return Coverage(
        asked=msg.asked,
        answered=msg.answered,
        failed=tuple(msg.failed),
        complete=msg.complete,
        ranges_asked=msg.ranges_asked,
        ranges_answered=msg.ranges_answered,
    )


def coverage_to_proto(coverage: Coverage) -> pb.Coverage:
    return pb.Coverage(
        asked=coverage.asked,
        answered=coverage.answered,
        failed=list(coverage.failed),
        complete=coverage.complete,
        ranges_asked=coverage.ranges_asked,
        ranges_answered=coverage.ranges_answered,
    )


# A response without coverage (a node answering for itself may leave it out)
# reports nothing missing; the proto default (complete=False) would claim loss.
_NO_COVERAGE = Coverage(asked=0, answered=0, failed=(), complete=True)


def _coverage_of(msg: Any, fallback: Coverage = _NO_COVERAGE) -> Coverage:
    return coverage_from_proto(msg.coverage) if msg.HasField("coverage") else fallback


def _plan_of(msg: Any) -> SearchPlan | None:
    if not msg.HasField("plan"):
        return None
    return SearchPlan(strategy=msg.plan.strategy, candidates=msg.plan.candidates)


# What an engine in this process covers: everything, as a node alone says
# (`node.public_api.coverage_pb`).
_IN_PROCESS = Coverage(asked=1, answered=1, failed=(), complete=True)


def _packed_rows(cols: packed_hits.PackedColumns) -> list[PackedHits]:
    """Packed columns as one lazy hit sequence per row. Columns are sliced,
    not copied per hit."""
    ids, distances, versions, writers = cols.ids, cols.distances, cols.versions, cols.writers
    props = cols.properties
    if props is None:
        return [
            PackedHits(ids[at], distances[at], versions[at], writers, None, properties_from_proto)
            for at in cols.row_slices()
        ]
    return [
        PackedHits(ids[at], distances[at], versions[at], writers, props[at], properties_from_proto)
        for at in cols.row_slices()
    ]


def _in_process_plan(found: packed_hits.PackedSearch) -> SearchPlan:
    return SearchPlan(strategy=found.strategy, candidates=found.candidates)


def search_result_from_proto(
    msg: pb.SearchResponse | packed_hits.PackedSearch,
    fallback_coverage: Coverage = _NO_COVERAGE,
) -> SearchResult:
    """`fallback_coverage` is used when the response has none of its own: a
    SearchBatch row inherits the batch's coverage. A `PackedSearch` is an
    engine's answer in this process (`vektra.connect`), taken as it is."""
    hits: tuple[Hit, ...] | PackedHits
    if isinstance(msg, packed_hits.PackedSearch):
        (hits,) = _packed_rows(msg.columns)
        return SearchResult(hits=hits, coverage=_IN_PROCESS, plan=_in_process_plan(msg))
    if msg.HasField("packed"):
        (hits,) = _packed_rows(packed_hits.from_pb(msg.packed, 1))
    else:
        hits = tuple(hit_from_proto(h) for h in msg.hits)
    return SearchResult(
        hits=hits, coverage=_coverage_of(msg, fallback_coverage), plan=_plan_of(msg)
    )


def search_batch_from_proto(
    msg: pb.SearchBatchResponse | packed_hits.PackedSearch, rows: int | None = None
) -> list[SearchResult]:
    """One result per query row (`rows` of them, when known), whichever form
    the server sent (or an engine in this process handed over)."""
    if isinstance(msg, packed_hits.PackedSearch):
        return make_search_results(_packed_rows(msg.columns), _IN_PROCESS, _in_process_plan(msg))
    batch_coverage = _coverage_of(msg)
    if msg.HasField("packed"):
        return make_search_results(
            _packed_rows(packed_hits.from_pb(msg.packed, rows)), batch_coverage, _plan_of(msg)
        )
    return [search_result_from_proto(r, batch_coverage) for r in msg.results]


def query_result_from_proto(msg: pb.QueryResponse | packed_hits.DecodedObjects) -> QueryResult:
    """A Query reply's page, or an engine's in this process (`vektra.connect`)."""
    if isinstance(msg, packed_hits.DecodedObjects):
        return QueryResult(objects=tuple(objects_from_get(msg)), coverage=_IN_PROCESS)
    return QueryResult(objects=tuple(objects_from_get(msg)), coverage=_coverage_of(msg))


def count_result_from_proto(msg: pb.CountResponse) -> tuple[int, Coverage]:
    return int(msg.count), _coverage_of(msg)


def upsert_result_from_proto(msg: pb.UpsertResponse) -> UpsertResult:
    return UpsertResult(
        upserted=msg.upserted, acknowledged=msg.acknowledged, version=_version_of(msg)
    )


def delete_result_from_proto(msg: pb.DeleteResponse) -> DeleteResult:
    return DeleteResult(
        deleted=msg.deleted, acknowledged=msg.acknowledged, version=_version_of(msg)
    )


# ---------------------------------------------------------------- cluster


def cluster_status_from_proto(msg: pb.ClusterStatusResponse) -> ClusterStatus:
    return ClusterStatus(
        epoch=msg.epoch,
        nodes=tuple(
            NodeStatus(
                id=n.id,
                address=n.address,
                state=_STATE_FROM_PB.get(n.state, "unknown"),
                # Unset: the node could not be asked, so its count is unknown.
                objects=n.objects if n.HasField("objects") else None,
            )
            for n in msg.nodes
        ),
    )


def cluster_status_to_proto(status: ClusterStatus) -> pb.ClusterStatusResponse:
    return pb.ClusterStatusResponse(
        epoch=status.epoch,
        nodes=[
            pb.NodeStatus(
                id=n.id,
                address=n.address,
                state=_STATE_TO_PB.get(n.state, pb.NODE_STATE_UNSPECIFIED),
                objects=n.objects,  # None leaves the optional field unset
            )
            for n in status.nodes
        ],
    )


# ---------------------------------------------------------------- schema

# The servers' own conversion (vektra.common.pb), so the SDK and the service
# edges read and write schemas identically; zeros (HNSW parameters, and
# replication factor 0 = the cluster's default) pass through both ways.


def schema_to_proto(schema: CollectionSchema) -> pb.CollectionSchema:
    """Zeros (hnsw parameters, replication factor) ask for the server default."""
    return schema_to_pb(schema)


def schema_from_proto(msg: pb.CollectionSchema) -> CollectionSchema:
    """A schema the server sent. One this SDK cannot read (an enum value from
    a newer server) is not the caller's bad input, so it surfaces as
    `Internal`, not as the `InvalidArgument` the servers' reader raises."""
    try:
        return schema_from_pb(msg)
    except InvalidArgument as exc:
        raise Internal(exc.message) from None
