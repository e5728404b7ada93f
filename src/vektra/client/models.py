"""Values the SDK returns: plain frozen dataclasses, no protobuf.

Vectors are 1-D ``numpy.float32`` arrays keyed by vector-field name;
properties are plain dicts (datetimes come back as aware UTC datetimes).
Result lists (`SearchResult`, `QueryResult`) are immutable sequences that also
carry how the request was served (`coverage`, `plan`), so ``for hit in res``,
``res[0]`` and ``len(res)`` work as on a tuple.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

from vektra.common.hlc import Version

__all__ = [
    "ClusterStatus",
    "Coverage",
    "DeleteResult",
    "Hit",
    "NodeState",
    "NodeStatus",
    "Object",
    "QueryResult",
    "SearchPlan",
    "SearchResult",
    "UpsertResult",
    "Version",
]

NodeState = Literal["joining", "active", "recovering", "draining", "down", "left", "unknown"]


def _vectors_equal(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    # Arrays do not compare to a single bool, so the generated __eq__ would raise.
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@dataclass(frozen=True, slots=True, eq=False)
class Object:
    """A stored object. `vectors` is empty unless asked for; `version` is the
    HLC version the server holds (None if the server did not report one).
    Unhashable (defining __eq__ drops __hash__): it holds dicts and arrays."""

    id: str
    properties: dict[str, Any]
    vectors: dict[str, np.ndarray]
    version: Version | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Object):
            return NotImplemented
        return (
            self.id == other.id
            and self.properties == other.properties
            and self.version == other.version
            and _vectors_equal(self.vectors, other.vectors)
        )


@dataclass(frozen=True, slots=True, eq=False)
class Hit:
    """One search result. `distance` is in the field's metric (smaller is
    closer: 1 - cosine for cosine, squared L2, 1 - dot for ip)."""

    id: str
    distance: float
    properties: dict[str, Any]
    vectors: dict[str, np.ndarray]
    version: Version | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        return (
            self.id == other.id
            and self.distance == other.distance
            and self.properties == other.properties
            and self.version == other.version
            and _vectors_equal(self.vectors, other.vectors)
        )


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of the data a scatter-gather answer covers. `asked` and
    `answered` count nodes; `ranges_asked` and `ranges_answered` count the
    ring's token ranges (a range is answered when one of its replicas
    answered; both are 0 from a server that does not count ranges, such as a
    single node answering for itself). `failed` names the nodes that were asked
    and did not answer, or could not be asked. `complete` is False when some
    data was not covered: results may then be missing."""

    asked: int
    answered: int
    failed: tuple[str, ...] = ()
    complete: bool = True
    ranges_asked: int = 0
    ranges_answered: int = 0


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """How the search was served: strategy is "hnsw", "exact", "hnsw_filtered"
    or "hnsw_post_filter"; candidates is how many objects matched the filter."""

    strategy: str
    candidates: int


@dataclass(frozen=True, slots=True)
class SearchResult(Sequence[Hit]):
    """The hits of one search, nearest first."""

    hits: tuple[Hit, ...]
    coverage: Coverage
    plan: SearchPlan | None = None

    @overload
    def __getitem__(self, index: int) -> Hit: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Hit, ...]: ...
    def __getitem__(self, index: int | slice) -> Hit | tuple[Hit, ...]:
        return self.hits[index]

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]


@dataclass(frozen=True, slots=True)
class QueryResult(Sequence[Object]):
    """The objects a filter query matched, in the requested order."""

    objects: tuple[Object, ...]
    coverage: Coverage

    @overload
    def __getitem__(self, index: int) -> Object: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Object, ...]: ...
    def __getitem__(self, index: int | slice) -> Object | tuple[Object, ...]:
        return self.objects[index]

    def __len__(self) -> int:
        return len(self.objects)

    def __iter__(self) -> Iterator[Object]:
        return iter(self.objects)

    @property
    def ids(self) -> list[str]:
        return [o.id for o in self.objects]


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One cluster member. `objects` is the number of objects the node holds
    (replicas included), or None when it could not be asked (down or
    unreachable): unknown, not 0."""

    id: str
    address: str
    state: NodeState
    objects: int | None


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    epoch: int
    nodes: tuple[NodeStatus, ...]


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """`upserted`: objects whose write won (a write older than the stored
    version loses). `acknowledged`: replicas that acknowledged — when the call
    was split into batches, the smallest count over the batches. `version`: the
    version stamped on the (last) batch."""

    upserted: int
    acknowledged: int
    version: Version | None = None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """`deleted`: ids that existed and are now tombstoned; `acknowledged` and
    `version` as for `UpsertResult`."""

    deleted: int
    acknowledged: int
    version: Version | None = None
