"""The protobuf form of a node's versioned records, both ways: shared by
the node's service (Apply, Fetch, ScanRange), hinted handoff (Apply to the
member a hint is for) and anti-entropy (records pulled from and pushed to a
peer replica)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from vektra.common.errors import InvalidArgument
from vektra.common.hlc import Version
from vektra.common.limits import Limits
from vektra.common.pb import version_from_pb, version_to_pb
from vektra.common.schema import CollectionSchema
from vektra.common.validation import validate_objects
from vektra.common.values import check_id, pack
from vektra.node.records import StoredObject, Write
from vektra.v1 import node_pb2 as npb

__all__ = ["add_stored", "versioned_pb", "writes_from_pb"]


class Versioned(Protocol):
    """A record or a hint: what a VersionedObject carries."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> Version: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def properties(self) -> dict[str, Any]: ...
    @property
    def vectors(self) -> dict[str, bytes]: ...


def versioned_pb(rec: Versioned, include_vectors: bool = True) -> npb.VersionedObject:
    return npb.VersionedObject(
        id=rec.id,
        properties=b"" if rec.deleted else pack(rec.properties),
        vectors=rec.vectors if include_vectors and not rec.deleted else {},
        version=version_to_pb(rec.version),
        deleted=rec.deleted,
    )


def add_stored(out: Any, objects: Iterable[StoredObject | None], deleted: bool = False) -> None:
    """Append stored objects (None skipped) to `out`, a repeated Object or
    VersionedObject field, properties passed on as stored; `deleted`: with
    each one's tombstone flag (VersionedObject). Each is filled in place:
    messages built first and then handed to the field cost several times
    more (each one is copied in), per object of every get, fetch or query."""
    for o in objects:
        if o is None:
            continue
        msg = out.add(id=o.id, properties=o.properties)
        if o.vectors:
            msg.vectors.update(o.vectors)
        if deleted:
            msg.deleted = o.deleted
        v, version = msg.version, o.version
        v.physical_ms, v.logical, v.writer = version.physical_ms, version.logical, version.writer


def writes_from_pb(
    schema: CollectionSchema, limits: Limits, objects: Sequence[npb.VersionedObject]
) -> list[Write]:
    """Versioned writes as a replica receives them, checked like any input
    (INVALID_ARGUMENT naming the field) before anything is written."""
    live = [o for o in objects if not o.deleted]
    checked = (
        validate_objects(schema, limits, [(o.id, o.properties, dict(o.vectors)) for o in live])
        if live
        else []
    )
    by_id = {o.id: o for o in checked}
    writes = []
    for i, o in enumerate(objects):
        version = version_from_pb(o.version, f"objects[{i}].version")
        hint_for = o.hint_for or None
        if o.deleted:
            check_id(o.id, f"objects[{i}].id", limits)
            writes.append(Write(o.id, version, True, hint_for=hint_for))
        else:
            v = by_id[o.id]
            writes.append(Write(o.id, version, False, v.properties, v.vectors, hint_for=hint_for))
    if len(writes) > limits.max_batch_objects:
        raise InvalidArgument("objects", f"above the batch limit of {limits.max_batch_objects}")
    return writes
