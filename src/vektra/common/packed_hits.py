"""Search hits as columns (`vektra.v1.PackedHits`), and their merge.

A search's cost beyond the HNSW walk is per hit: a record read, a message
built, a message parsed, an object made. Packed, the hits of a whole batch
travel as a handful of columns — ids, float32 distances, 16-byte versions,
each row's length, and optionally each hit's properties as the msgpack
bytes the store holds — that nodes fill, routers merge and clients read
with numpy, in a few calls per batch rather than a few per hit.

    ids          one per hit, row after row
    distances    float32
    versions     VERSION_DTYPE: physical ms, logical, writer (an index into `writers`)
    row_lengths  hits per query row
    properties   msgpack map per hit, or None when not asked for

Used by the node's public API and shard search (`node.public_api`,
`node.service`), the router's scatter (`router.scatter`) and the SDK
(`client._convert`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, NamedTuple

import numpy as np

from vektra.common.errors import Internal
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

__all__ = [
    "VERSION_DTYPE",
    "DecodedObjects",
    "PackedColumns",
    "PackedObjectColumns",
    "PackedSearch",
    "as_merged",
    "from_pb",
    "merge",
    "newest_of",
    "objects_from_pb",
    "objects_to_pb",
    "records_as_objects",
    "records_from_pb",
    "records_to_pb",
    "sent_as_merged",
    "to_pb",
]

VERSION_DTYPE = np.dtype([("physical", "<i8"), ("logical", "<u4"), ("writer", "<u4")])


@dataclass(frozen=True, slots=True)
class PackedColumns:
    ids: list[str]
    distances: np.ndarray  # float32
    versions: np.ndarray  # VERSION_DTYPE
    writers: tuple[str, ...]
    row_lengths: np.ndarray  # int64, one per query row
    properties: list[bytes] | None

    def row_slices(self) -> list[slice]:
        if len(self.row_lengths) == 1:  # a single query's (the common call)
            return [slice(0, int(self.row_lengths[0]))]
        lengths = self.row_lengths.tolist()
        ends = accumulate(lengths)
        return [slice(e - n, e) for e, n in zip(ends, lengths, strict=True)]

    def newest(self) -> tuple[int, int] | None:
        """(physical, logical) of the newest version among the hits."""
        return newest_of(self.versions)


def newest_of(versions: np.ndarray) -> tuple[int, int] | None:
    """(physical, logical) of the newest of `versions` (VERSION_DTYPE)."""
    if not len(versions):
        return None
    top = np.lexsort((versions["logical"], versions["physical"]))[-1]
    return int(versions["physical"][top]), int(versions["logical"][top])


@dataclass(frozen=True, slots=True)
class PackedSearch:
    """The hits of a batch as columns, row after row: what a node's search
    returns when nobody needs the records themselves, read from its hit
    table without touching LMDB, or only the properties' bytes of each hit
    when they are asked for. The embedded client takes it as it is
    (`PublicApi.search_in_process`); a server packs it (`to_pb`)."""

    columns: PackedColumns
    strategy: str  # one per part searched, distinct ones joined by "+"
    candidates: int  # objects the filter matched, summed over the parts
    searched: int  # objects in the indexes the batch used


def to_pb(cols: PackedColumns) -> pb.PackedHits:
    return pb.PackedHits(
        ids=cols.ids,
        distances=cols.distances.astype("<f4", copy=False).tobytes(),
        versions=cols.versions.astype(VERSION_DTYPE, copy=False).tobytes(),
        writers=cols.writers,
        row_lengths=cols.row_lengths.tolist(),
        properties=cols.properties or (),
    )


class _CheckedHits(NamedTuple):
    """The numeric columns of a packed message, checked against each other."""

    distances: np.ndarray
    versions: np.ndarray
    row_lengths: np.ndarray


def _checked_hits(msg: pb.PackedHits, rows: int | None, who: str) -> _CheckedHits:
    """`msg`'s numeric columns once they line up with its ids, properties
    and writers: Internal otherwise (`who` sent a malformed answer). The ids
    are only counted, never made into strings."""
    n = len(msg.ids)
    distances = np.frombuffer(msg.distances, dtype="<f4")
    if len(msg.versions) % VERSION_DTYPE.itemsize:
        raise Internal(f"{who} sent malformed packed hits (versions)")
    versions = np.frombuffer(msg.versions, dtype=VERSION_DTYPE)
    row_lengths = list(msg.row_lengths) or [n]
    if len(distances) != n or len(versions) != n or sum(row_lengths) != n:
        raise Internal(f"{who} sent malformed packed hits (column lengths differ)")
    if rows is not None and len(row_lengths) != rows:
        raise Internal(f"{who} sent {len(row_lengths)} rows of packed hits for {rows} queries")
    if len(msg.properties) and len(msg.properties) != n:
        raise Internal(f"{who} sent malformed packed hits (properties)")
    # The writer is the last 4 bytes of each version (VERSION_DTYPE).
    if n and int(np.frombuffer(msg.versions, dtype="<u4")[3::4].max()) >= len(msg.writers):
        raise Internal(f"{who} sent malformed packed hits (writers)")
    return _CheckedHits(distances, versions, np.array(row_lengths, dtype=np.int64))


def from_pb(msg: pb.PackedHits, rows: int | None = None, who: str = "the server") -> PackedColumns:
    """The columns of `msg` (one row when it gives no row lengths), checked:
    Internal when they do not line up (`who` sent a malformed answer)."""
    c = _checked_hits(msg, rows, who)
    props = list(msg.properties) if len(msg.properties) else None
    return PackedColumns(
        list(msg.ids), c.distances, c.versions, tuple(msg.writers), c.row_lengths, props
    )


def sent_as_merged(msg: pb.PackedHits, rows: int, k: int, who: str) -> bool:
    """Whether `msg`, the whole answer of one node alone, is what `merge`
    would make of it: no row longer than k, nearest first, hits at one
    distance by id. Checked as `from_pb` checks (Internal when malformed),
    but only the tied hits' ids become strings: a router sends such an
    answer on untouched, and making 640 ids strings to look at a few cost
    more than the rest of its work on a batch. The caller vouches that no
    id repeats in a row, as for `as_merged`."""
    c = _checked_hits(msg, rows, who)
    runs = _tied_runs(c.distances, c.row_lengths, k)
    if runs is None:
        return False
    ids = msg.ids
    for lo, hi in runs:
        tied = ids[lo:hi]
        if tied != sorted(tied):
            return False
    return True


def _tied_runs(d: np.ndarray, lengths: np.ndarray, k: int) -> list[tuple[int, int]] | None:
    """The [lo, hi) spans of hits at one distance within a row, when every
    row holds at most k hits nearest first; None when it does not. A fixed
    handful of numpy calls per batch, however many runs (a router runs it
    on most batches it sends on)."""
    if len(lengths) and int(lengths.max()) > k:
        return None
    n = len(d)
    if n < 2:
        return []
    up, tied = d[1:] > d[:-1], d[1:] == d[:-1]  # pair i: hits i and i + 1
    # A pair across two rows compares nothing: count it as a step up.
    last = np.cumsum(lengths)[:-1] - 1  # each row's last hit (but the last row's)
    across = last[(last >= 0) & (last < n - 1)]
    up[across], tied[across] = True, False
    if not (up | tied).all():
        return None  # not nearest first (or a NaN)
    if not tied.any():
        return []
    at = np.flatnonzero(tied)
    breaks = np.flatnonzero(np.diff(at) != 1)
    los = at[np.concatenate(([0], breaks + 1))]
    his = at[np.concatenate((breaks, [len(at) - 1]))] + 2
    return list(zip(los.tolist(), his.tolist(), strict=True))


def merge(parts: Sequence[PackedColumns], rows: int, k: int) -> PackedColumns:
    """Each row's k nearest over every part (each part's rows hold its own
    top k), nearest first, ties by id — the order a node gives. An id in
    a row twice (a map change during the call) keeps its newest version."""
    joined = _join(parts, rows)
    # Row, then distance, with numbers only: two stable argsorts (a lexsort
    # with the ids as strings costs several times more on 2,000 hits).
    order = np.argsort(joined.distances, kind="stable")
    order = order[np.argsort(joined.row_of[order], kind="stable")]
    # That order is the answer except in rows where a distance ties (ties
    # go by id) or an id may repeat (the newest copy stays): those rows,
    # about one in ten on real embeddings (duplicate texts), are ordered by
    # comparing the ids themselves.
    odd = _odd_rows(joined, order, rows)
    if odd.any():
        in_odd = odd[joined.row_of[order]]
        both = np.concatenate([order[~in_odd], _by_id(joined, order[in_odd])])
        order = both[np.argsort(joined.row_of[both], kind="stable")]
    return _first_k(joined, order, rows, k)


def as_merged(cols: PackedColumns, k: int) -> PackedColumns | None:
    """What `merge([cols], rows, k)` gives, worked out without merging:
    `cols` itself when it is in merged order, or with only its runs of
    tied hits reordered by id; None when the merge must run (a row longer
    than k, or not nearest first). The caller vouches that no id repeats
    in a row (one node's answer for one position holds one copy of each
    object). A router sends such an answer on without merging it."""
    runs = _tied_runs(cols.distances, cols.row_lengths, k)
    if runs is None:
        return None
    # Hits at one distance go by id, as the merge orders them: about one
    # row in ten on real embeddings (duplicate texts), a few hits each.
    # Only the runs out of order are rewritten, in copies of the columns.
    ids = cols.ids
    moves = []
    for lo, hi in runs:
        by_id = sorted(range(lo, hi), key=ids.__getitem__)
        if by_id != [*range(lo, hi)]:
            moves.append((lo, hi, by_id))
    if not moves:
        return cols
    new_ids, versions = list(ids), cols.versions.copy()
    props = None if cols.properties is None else list(cols.properties)
    for lo, hi, by_id in moves:
        new_ids[lo:hi] = [ids[i] for i in by_id]
        versions[lo:hi] = cols.versions[by_id]
        if props is not None:
            props[lo:hi] = [cols.properties[i] for i in by_id]  # type: ignore[index]
    return PackedColumns(
        ids=new_ids,
        distances=cols.distances,  # equal within each run reordered
        versions=versions,
        writers=cols.writers,
        row_lengths=cols.row_lengths,
        properties=props,
    )


# An odd 64-bit constant (2^64 / golden ratio, as int64) spreading row
# numbers over the bits an id's hash is mixed with.
_ROW_MIX = np.int64(-7046029254386353131)


@dataclass(frozen=True, slots=True)
class _Joined:
    """Every part's hits in one set of columns, writers renumbered."""

    ids: list[str]
    distances: np.ndarray
    versions: np.ndarray
    writers: list[str]
    row_of: np.ndarray  # the query row of each hit
    properties: list[bytes] | None


def _join(parts: Sequence[PackedColumns], rows: int) -> _Joined:
    writers: dict[str, int] = {}
    ids: list[str] = []
    dist_parts, version_parts, row_parts = [], [], []
    # An empty column list reads back as "not asked for": one part with
    # properties means they were asked for.
    with_props = any(p.properties is not None for p in parts)
    props: list[bytes] | None = [] if with_props else None
    for part in parts:
        remap = np.asarray([writers.setdefault(w, len(writers)) for w in part.writers], np.uint32)
        versions = part.versions.copy()
        if len(versions):
            versions["writer"] = remap[versions["writer"]]
        ids += part.ids
        dist_parts.append(part.distances)
        version_parts.append(versions)
        row_parts.append(np.repeat(np.arange(rows), part.row_lengths))
        if props is not None:
            props += part.properties if part.properties is not None else [b""] * len(part.ids)
    return _Joined(
        ids=ids,
        distances=np.concatenate(dist_parts) if dist_parts else np.empty(0, np.float32),
        versions=np.concatenate(version_parts) if version_parts else np.empty(0, VERSION_DTYPE),
        writers=list(writers),
        row_of=np.concatenate(row_parts) if row_parts else np.empty(0, np.int64),
        properties=props,
    )


def _odd_rows(j: _Joined, order: np.ndarray, rows: int) -> np.ndarray:
    """Per row (bool): two of its hits at the same distance, or maybe one id
    twice — by hash, so a collision only costs the exact ordering."""
    odd = np.zeros(rows, dtype=bool)
    row_s, dist_s = j.row_of[order], j.distances[order]
    tied = (row_s[1:] == row_s[:-1]) & (dist_s[1:] == dist_s[:-1])
    odd[row_s[1:][tied]] = True
    if len(j.ids) > 1:
        hashes = np.fromiter(map(hash, j.ids), dtype=np.int64, count=len(j.ids))
        keys = hashes ^ (j.row_of.astype(np.int64) * _ROW_MIX)
        by_key = np.argsort(keys, kind="stable")
        same = keys[by_key][1:] == keys[by_key][:-1]
        odd[j.row_of[by_key[1:][same]]] = True
        odd[j.row_of[by_key[:-1][same]]] = True
    return odd


def _by_id(j: _Joined, hits: np.ndarray) -> np.ndarray:
    """`hits` by row, then distance, then id (as fixed-width strings), an
    id's older copies in a row dropped."""
    ids = np.asarray([j.ids[i] for i in hits.tolist()], dtype=str)
    ordered = hits[np.lexsort((ids, j.distances[hits], j.row_of[hits]))]
    return _newest_per_id(ordered, j.ids, j.versions, j.writers, j.row_of)


def _first_k(j: _Joined, order: np.ndarray, rows: int, k: int) -> PackedColumns:
    """The first k of each row of `order` (sorted by row, then nearest first)."""
    row_sorted = j.row_of[order]
    starts = np.searchsorted(row_sorted, np.arange(rows))
    rank = np.arange(len(order)) - starts[row_sorted]
    keep = order[rank < k]
    at = keep.tolist()
    return PackedColumns(
        ids=[j.ids[i] for i in at],
        distances=j.distances[keep],
        versions=j.versions[keep],
        writers=tuple(j.writers),
        row_lengths=np.bincount(j.row_of[keep], minlength=rows).astype(np.int64),
        properties=None if j.properties is None else [j.properties[i] for i in at],
    )


def _newest_per_id(
    order: np.ndarray, ids: list[str], versions: np.ndarray, writers: list[str], row_of: np.ndarray
) -> np.ndarray:
    """`order` without the older copies of an id met twice in one row (of
    equal versions, the first part's copy stays, as in `router.gather`)."""
    rows = row_of.tolist()
    at = order.tolist()
    if len({(rows[i], ids[i]) for i in at}) == len(at):
        return order  # every id once per row

    def newness(i: int) -> tuple[int, int, str, int]:
        physical, logical, writer = versions[i].tolist()
        return physical, logical, writers[writer], -i

    best: dict[tuple[int, str], int] = {}
    for i in at:
        key = (rows[i], ids[i])
        j = best.get(key)
        if j is None or newness(i) > newness(j):
            best[key] = i
    kept = set(best.values())
    return np.asarray([i for i in at if i in kept], dtype=np.int64)


# ---------------------------------------------------------------- objects


@dataclass(frozen=True, slots=True)
class PackedObjectColumns:
    """Objects as columns: a get's (`vektra.v1.PackedObjects`), or a node's
    records for a router (`vektra.v1.node.PackedRecords`, tombstones too)."""

    ids: list[str]
    versions: np.ndarray  # VERSION_DTYPE
    writers: tuple[str, ...]
    properties: list[bytes]  # msgpack map per object, as stored
    deleted: np.ndarray  # bool per object: a tombstone (never, in a get's reply)


@dataclass(frozen=True, slots=True)
class DecodedObjects:
    """A get's live objects with their properties decoded, handed from an
    engine to a client in the same process (`vektra.connect`): the reply
    `Get` would pack, without the packing and the decoding again."""

    ids: list[str]
    versions: list[list[Any]]  # [physical_ms, logical, writer] per object
    properties: list[dict[str, Any]]
    missing: list[str]  # ids not found or deleted, in request order


def objects_to_pb(
    ids: list[str], versions: Iterable[Sequence[Any]], properties: list[bytes]
) -> pb.PackedObjects:
    """Objects as columns: ids, each one's version as (physical_ms, logical,
    writer), and its properties (msgpack) as stored, all in the same order."""
    packed, writers = _version_column(versions, len(ids))
    if len(properties) != len(ids):
        raise ValueError("packed object columns differ in length")
    return pb.PackedObjects(ids=ids, versions=packed, writers=writers, properties=properties)


def objects_from_pb(msg: pb.PackedObjects, who: str = "the server") -> PackedObjectColumns:
    """The columns of `msg`, checked: Internal when they do not line up."""
    ids, versions, writers, props = _checked(msg, who, "packed objects")
    return PackedObjectColumns(ids, versions, writers, props, np.zeros(len(ids), dtype=bool))


def records_to_pb(
    ids: list[str],
    versions: Iterable[Sequence[Any]],
    deleted: list[bool],
    properties: list[bytes],
) -> npb.PackedRecords:
    """A node's records (tombstones flagged in `deleted`) as columns."""
    packed, writers = _version_column(versions, len(ids))
    if len(deleted) != len(ids) or len(properties) != len(ids):
        raise ValueError("packed record columns differ in length")
    return npb.PackedRecords(
        ids=ids,
        versions=packed,
        writers=writers,
        deleted=np.array(deleted, dtype=np.uint8).tobytes(),
        properties=properties,
    )


def records_from_pb(msg: npb.PackedRecords, who: str) -> PackedObjectColumns:
    ids, versions, writers, props = _checked(msg, who, "packed records")
    if len(msg.deleted) != len(ids):
        raise Internal(f"{who} sent malformed packed records (column lengths differ)")
    return PackedObjectColumns(
        ids, versions, writers, props, np.frombuffer(msg.deleted, dtype=np.uint8).astype(bool)
    )


def records_as_objects(msg: npb.PackedRecords, ids: list[str], who: str) -> pb.PackedObjects | None:
    """A get's packed objects straight from one node's packed records, when
    those are exactly `ids`, in order, every one live: the columns go on as
    the bytes they came in, with no object made per record. None when they
    are not (the caller reads them one by one). Internal when malformed."""
    got = list(msg.ids)
    if got != ids:
        return None
    n = len(got)
    lengths = (len(msg.versions), len(msg.properties), len(msg.deleted))
    if lengths != (n * VERSION_DTYPE.itemsize, n, n):
        raise Internal(f"{who} sent malformed packed records (column lengths differ)")
    if msg.deleted.count(0) != n:
        return None  # a tombstone among them
    if n and int(np.frombuffer(msg.versions, dtype="<u4")[3::4].max()) >= len(msg.writers):
        raise Internal(f"{who} sent malformed packed records (writers)")
    return pb.PackedObjects(
        ids=got, versions=msg.versions, writers=msg.writers, properties=msg.properties
    )


def _version_column(versions: Iterable[Sequence[Any]], n: int) -> tuple[bytes, list[str]]:
    """(physical_ms, logical, writer) per object as VERSION_DTYPE bytes, and
    the writers the column numbers."""
    writers: dict[str, int] = {}
    number = writers.setdefault
    rows = [
        (physical, logical, number(writer, len(writers))) for physical, logical, writer in versions
    ]
    if len(rows) != n:
        raise ValueError("packed object columns differ in length")
    return (np.array(rows, dtype=VERSION_DTYPE).tobytes() if rows else b""), list(writers)


def _checked(
    msg: pb.PackedObjects | npb.PackedRecords, who: str, what: str
) -> tuple[list[str], np.ndarray, tuple[str, ...], list[bytes]]:
    """ids, versions, writers and properties of a packed message, checked
    to line up: Internal (`who` sent a malformed `what`) when they do not."""
    ids = list(msg.ids)
    n = len(ids)
    if len(msg.versions) != n * VERSION_DTYPE.itemsize or len(msg.properties) != n:
        raise Internal(f"{who} sent malformed {what} (column lengths differ)")
    versions = np.frombuffer(msg.versions, dtype=VERSION_DTYPE)
    writers = tuple(msg.writers)
    if n and int(versions["writer"].max()) >= len(writers):
        raise Internal(f"{who} sent malformed {what} (writers)")
    return ids, versions, writers, list(msg.properties)
