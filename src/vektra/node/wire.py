"""The protobuf form of a node's versioned records, shared by the two places
that send them: the node's service (Fetch, ScanRange) and hinted handoff
(Apply to the member a hint is for)."""

from __future__ import annotations

from typing import Any, Protocol

from vektra.common.hlc import Version
from vektra.common.pb import version_to_pb
from vektra.common.values import pack
from vektra.v1 import node_pb2 as npb

__all__ = ["versioned_pb"]


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
