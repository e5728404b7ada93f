"""Values the SDK returns: plain frozen dataclasses, no protobuf.

Vectors are 1-D ``numpy.float32`` arrays keyed by vector-field name;
properties are plain dicts (datetimes come back as aware UTC datetimes).
Result lists (`SearchResult`, `QueryResult`) are immutable sequences that also
carry how the request was served (`coverage`, `plan`), so ``for hit in res``,
``res[0]`` and ``len(res)`` work as on a tuple.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
    "PackedHits",
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


_OBJECT_FIELDS = tuple(
    Object.__dict__[name].__set__ for name in ("id", "properties", "vectors", "version")
)


def make_objects(
    ids: Iterable[str], properties: Iterable[Any], versions: Iterable[Version | None]
) -> list[Object]:
    """`Object(id, properties, {}, version)` for each id, for the SDK's
    decoders, at about half the cost: a frozen dataclass's __init__ sets each
    field through object.__setattr__, and a get builds one Object per id.
    Sets the same slots and checks nothing more, but that properties that
    are not a map (an undecodable record) read as none."""
    new = object.__new__
    set_id, set_properties, set_vectors, set_version = _OBJECT_FIELDS
    out: list[Object] = []
    append = out.append
    for object_id, props, version in zip(ids, properties, versions, strict=True):
        obj = new(Object)
        set_id(obj, object_id)
        set_properties(obj, props if type(props) is dict else {})
        set_vectors(obj, {})
        set_version(obj, version)
        append(obj)
    return out


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


class PackedHits(Sequence[Hit]):
    """The hits of one search as columns, as a server packs them: a sequence
    of `Hit` built one at a time on first access (and kept), so a caller that
    reads only `ids` and `distances` never pays for per-hit objects."""

    __slots__ = ("_built", "_decode", "_properties", "_versions", "_writers", "distances", "ids")

    def __init__(
        self,
        ids: list[str],
        distances: np.ndarray,
        versions: np.ndarray,
        writers: tuple[str, ...],
        properties: Sequence[bytes] | None,
        decode: Callable[[bytes], dict[str, Any]],
    ) -> None:
        self.ids = ids
        self.distances = distances
        self._versions = versions  # (physical, logical, writer index) per hit
        self._writers = writers
        self._properties = properties
        self._decode = decode
        self._built: list[Hit | None] | None = None  # made on first access

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Hit: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Hit, ...]: ...
    def __getitem__(self, index: int | slice) -> Hit | tuple[Hit, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        built = self._built
        if built is None:
            built = self._built = [None] * len(self.ids)
        hit = built[index]
        if hit is None:
            physical, logical, writer = self._versions[index].tolist()
            props = self._properties
            hit = built[index] = Hit(
                id=self.ids[index],
                distance=float(self.distances[index]),
                properties={} if props is None else self._decode(props[index]),
                vectors={},
                version=Version(physical, logical, self._writers[writer]),
            )
        return hit

    def __iter__(self) -> Iterator[Hit]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(tuple(self))


@dataclass(frozen=True, slots=True)
class SearchResult(Sequence[Hit]):
    """The hits of one search, nearest first. `ids` and `distances` read
    them as columns (no `Hit` built when the server packed them)."""

    hits: tuple[Hit, ...] | PackedHits
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
        if isinstance(self.hits, PackedHits):
            return list(self.hits.ids)
        return [h.id for h in self.hits]

    @property
    def distances(self) -> np.ndarray:
        """float32, one per hit."""
        if isinstance(self.hits, PackedHits):
            return self.hits.distances.copy()
        return np.fromiter((h.distance for h in self.hits), dtype=np.float32, count=len(self.hits))


_RESULT_FIELDS = tuple(SearchResult.__dict__[name].__set__ for name in ("hits", "coverage", "plan"))


def make_search_results(
    rows: Iterable[PackedHits], coverage: Coverage, plan: SearchPlan | None
) -> list[SearchResult]:
    """`SearchResult(hits, coverage, plan)` per row of a batch, through the
    slots as `make_objects` does (a frozen dataclass's __init__ costs about
    twice as much, and a batch of 64 queries makes 64)."""
    new = object.__new__
    set_hits, set_coverage, set_plan = _RESULT_FIELDS
    out: list[SearchResult] = []
    for hits in rows:
        result = new(SearchResult)
        set_hits(result, hits)
        set_coverage(result, coverage)
        set_plan(result, plan)
        out.append(result)
    return out


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
