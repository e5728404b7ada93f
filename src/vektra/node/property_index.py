"""Secondary indexes of indexed properties (the `pidx` database).

    pidx  coll(4) | prop(2) | tag(1) | value | docno(8) -> b""

Each live object has, per indexed property it sets, one "present" entry
(serves `$exists`) and one "value" entry per indexed value (serves equality,
`$in` and ranges: value encodings sort like the values, see `node.keys`).
Entries are written and removed in the same transaction as the record they
describe (`node.records`), so the index never disagrees with the objects.
Reads give sets of docnos; `node.filter_eval` combines them.

Reads are remembered (`_PostingCache`): a repeated filter (a dashboard's,
an application's fixed tenant or category) otherwise scans the same
thousands of keys on every query. A remembered set is dated by the
environment's count of ended write transactions (`LmdbEnv.writes`) read
before its transaction opened, and is used only while that count is
unchanged: any write since, to any collection, makes it stale. Sets are
handed out frozen (`DocnoSet`, which also holds its docnos as a sorted
array for the searches that want one), so no caller can change what
another will be given.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator, Set
from typing import Any, NamedTuple

import numpy as np

from vektra.common.schema import CollectionSchema, PropertyType
from vektra.node import keys
from vektra.node.catalog import CollectionMeta
from vektra.node.lmdb_env import LmdbEnv, Txn

__all__ = ["DocnoSet", "PropertyIndex", "sorted_docnos"]

# What the cache of index reads may hold: sets, and docnos over all of them
# (about 60 bytes each, as a frozenset of ints and a sorted array: ~30 MiB).
_CACHE_MAX_SETS = 256
_CACHE_MAX_DOCNOS = 1 << 19


class _Indexed(NamedTuple):
    name: str
    type: PropertyType
    present: bytes  # key prefix of the "present" entries
    value: bytes  # key prefix of the value entries


class PropertyIndex:
    def __init__(self, env: LmdbEnv) -> None:
        self._env = env
        self._db = env.open_db(b"pidx")
        self._prefixes: dict[int, tuple[CollectionSchema, list[_Indexed]]] = {}
        self._cache = _PostingCache(_CACHE_MAX_SETS, _CACHE_MAX_DOCNOS)

    # ------------------------------------------------------------ writes (in a caller's txn)

    def add(self, txn: Txn, meta: CollectionMeta, docno: int, props: dict[str, Any]) -> None:
        for k in self._keys(meta, docno, props):
            txn.put(k, b"", db=self._db)

    def remove(self, txn: Txn, meta: CollectionMeta, docno: int, props: dict[str, Any]) -> None:
        for k in self._keys(meta, docno, props):
            txn.delete(k, db=self._db)

    def purge(self, txn: Txn, meta: CollectionMeta) -> None:
        """Every entry of a collection being dropped."""
        prefix = keys.coll_prefix(meta.no)
        cur = txn.cursor(db=self._db)
        if cur.set_range(prefix):
            while cur.key().startswith(prefix):
                if not cur.delete():
                    break

    def _keys(self, meta: CollectionMeta, docno: int, props: dict[str, Any]) -> Iterator[bytes]:
        suffix = keys.docno_bytes(docno)
        for name, ptype, present, base in self._indexed(meta):
            value = props.get(name)
            if value is None:
                continue
            yield present + suffix
            for enc in keys.index_values(ptype, value):
                yield base + enc + suffix

    def _indexed(self, meta: CollectionMeta) -> list[_Indexed]:
        """The indexed properties of `meta` with their key prefixes, made once
        per collection (and schema): every write of a batch needs them."""
        held = self._prefixes.get(meta.no)
        if held is not None and held[0] is meta.schema:
            return held[1]
        indexed = [
            _Indexed(
                spec.name,
                spec.type,
                keys.pidx_prefix(meta.no, prop_no, keys.TAG_PRESENT),
                keys.pidx_prefix(meta.no, prop_no, keys.TAG_VALUE),
            )
            for prop_no, spec in enumerate(meta.schema.properties)
            if spec.indexed
        ]
        self._prefixes[meta.no] = (meta.schema, indexed)
        return indexed

    # ------------------------------------------------------------ reads

    def docnos(
        self, meta: CollectionMeta, prop_no: int, tag: bytes, value: bytes = b""
    ) -> DocnoSet:
        """Docnos whose index entry is exactly `value` (or any, for TAG_PRESENT)."""
        prefix = keys.pidx_prefix(meta.no, prop_no, tag) + value
        return self._read(prefix, _successor(prefix), len(prefix) + keys.DOCNO_BYTES)

    def range(
        self,
        meta: CollectionMeta,
        prop_no: int,
        lo: bytes | None,
        hi: bytes | None,
        hi_inclusive: bool,
    ) -> DocnoSet:
        """Docnos with an 8-byte value encoding in [lo, hi] (or [lo, hi))."""
        prefix = keys.pidx_prefix(meta.no, prop_no, keys.TAG_VALUE)
        if hi is None:
            end = _successor(prefix)
        elif hi_inclusive:
            end = _successor(prefix + hi)
        else:
            end = prefix + hi
        return self._read(prefix + (lo or b""), end, None)

    def _read(self, start: bytes, end: bytes, size: int | None) -> DocnoSet:
        """Docnos of the keys in [start, end) (only those `size` bytes long,
        when given: exactly one value, not a longer one it prefixes)."""
        key = (start, end, size)
        writes = self._env.writes  # before the transaction opens: see the module doc
        found = self._cache.get(key, writes)
        if found is None:
            keys_ = self._keys_between(start, end)
            if size is not None and set(map(len, keys_)) - {size}:
                keys_ = [k for k in keys_ if len(k) == size]
            found = _docnos_ending(keys_)
            self._cache.put(key, writes, found)
        return found

    def _keys_between(self, start: bytes, end: bytes) -> list[bytes]:
        """The index's keys k with start <= k < end, in order. The cursor's
        iterator and bytes' own comparison run in C: no Python call per key
        (a 10% filter reads thousands)."""
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            if not cur.set_range(start):
                return []
            return list(itertools.takewhile(end.__gt__, cur.iternext(keys=True, values=False)))


class _PostingCache:
    """Sets of docnos read from the index, each with the `LmdbEnv.writes`
    it was read at; least recently used dropped first past either bound."""

    def __init__(self, max_sets: int, max_docnos: int) -> None:
        self._max_sets = max_sets
        self._max_docnos = max_docnos
        self._held: OrderedDict[tuple[bytes, bytes, int | None], tuple[int, DocnoSet]] = (
            OrderedDict()
        )
        self._docnos = 0
        self._lock = threading.Lock()  # readers run on several threads

    def get(self, key: tuple[bytes, bytes, int | None], writes: int) -> DocnoSet | None:
        with self._lock:
            held = self._held.get(key)
            if held is None:
                return None
            if held[0] != writes:  # written since: stale
                self._drop(key)
                return None
            self._held.move_to_end(key)
            return held[1]

    def put(self, key: tuple[bytes, bytes, int | None], writes: int, found: DocnoSet) -> None:
        if len(found) > self._max_docnos:
            return
        with self._lock:
            if key in self._held:
                self._drop(key)
            self._held[key] = (writes, found)
            self._docnos += len(found)
            while len(self._held) > self._max_sets or self._docnos > self._max_docnos:
                self._drop(next(iter(self._held)))

    def _drop(self, key: tuple[bytes, bytes, int | None]) -> None:
        _, found = self._held.pop(key)
        self._docnos -= len(found)


def _successor(prefix: bytes) -> bytes:
    """The least key above every key that starts with `prefix`."""
    stem = prefix.rstrip(b"\xff")
    assert stem, "every key prefix starts with a collection number below 0xffffffff"
    return stem[:-1] + bytes([stem[-1] + 1])


class DocnoSet(frozenset[int]):
    """Docnos read from the index: a frozen set that also holds them as a
    sorted, read-only uint64 array (`sorted_docnos`), made once when read
    rather than on every search that a remembered set answers. Set
    operations on it give plain sets."""

    array: np.ndarray


def sorted_docnos(found: Set[int]) -> np.ndarray:
    """`found` as a sorted uint64 array; the array it holds when it came
    from the index as is (read-only: shared by every caller)."""
    if isinstance(found, DocnoSet):
        return found.array
    return np.sort(np.fromiter(found, np.uint64, len(found)))


def _docno_set(docnos: np.ndarray) -> DocnoSet:
    out = DocnoSet(docnos.tolist())
    array = np.sort(docnos.astype(np.uint64))
    array.flags.writeable = False
    out.array = array
    return out


def _docnos_ending(found: list[bytes]) -> DocnoSet:
    """The docnos that end these keys (their last 8 bytes), decoded in one
    numpy pass."""
    if not found:
        return _docno_set(np.empty(0, dtype=np.uint64))
    sizes = set(map(len, found))
    if len(sizes) == 1:
        size = sizes.pop()
        rows = np.dtype([("head", f"V{size - keys.DOCNO_BYTES}"), ("docno", ">u8")])
        docnos = np.frombuffer(b"".join(found), dtype=rows)["docno"]
    else:
        docnos = np.frombuffer(b"".join(k[-keys.DOCNO_BYTES :] for k in found), dtype=">u8")
    return _docno_set(docnos)
