"""Secondary indexes of indexed properties (the `pidx` database).

    pidx  coll(4) | prop(2) | tag(1) | value | docno(8) -> b""

Each live object has, per indexed property it sets, one "present" entry
(serves `$exists`) and one "value" entry per indexed value (serves equality,
`$in` and ranges: value encodings sort like the values, see `node.keys`).
Entries are written and removed in the same transaction as the record they
describe (`node.records`), so the index never disagrees with the objects.
Reads give sets of docnos; `node.filter_eval` combines them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from vektra.common.schema import CollectionSchema, PropertyType
from vektra.node import keys
from vektra.node.catalog import CollectionMeta
from vektra.node.lmdb_env import LmdbEnv, Txn

__all__ = ["PropertyIndex"]


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
    ) -> set[int]:
        """Docnos whose index entry is exactly `value` (or any, for TAG_PRESENT)."""
        prefix = keys.pidx_prefix(meta.no, prop_no, tag) + value
        found = self._keys_between(prefix, _successor(prefix))
        want = len(prefix) + keys.DOCNO_BYTES
        if set(map(len, found)) - {want}:
            found = [k for k in found if len(k) == want]  # exactly this value, not a longer one
        return _docnos_ending(found)

    def range(
        self,
        meta: CollectionMeta,
        prop_no: int,
        lo: bytes | None,
        hi: bytes | None,
        hi_inclusive: bool,
    ) -> set[int]:
        """Docnos with an 8-byte value encoding in [lo, hi] (or [lo, hi))."""
        prefix = keys.pidx_prefix(meta.no, prop_no, keys.TAG_VALUE)
        if hi is None:
            end = _successor(prefix)
        elif hi_inclusive:
            end = _successor(prefix + hi)
        else:
            end = prefix + hi
        return _docnos_ending(self._keys_between(prefix + (lo or b""), end))

    def _keys_between(self, start: bytes, end: bytes) -> list[bytes]:
        """The index's keys k with start <= k < end, in order. The cursor's
        iterator and bytes' own comparison run in C: no Python call per key
        (a 10% filter reads thousands)."""
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            if not cur.set_range(start):
                return []
            return list(itertools.takewhile(end.__gt__, cur.iternext(keys=True, values=False)))


def _successor(prefix: bytes) -> bytes:
    """The least key above every key that starts with `prefix`."""
    stem = prefix.rstrip(b"\xff")
    assert stem, "every key prefix starts with a collection number below 0xffffffff"
    return stem[:-1] + bytes([stem[-1] + 1])


def _docnos_ending(found: list[bytes]) -> set[int]:
    """The docnos that end these keys (their last 8 bytes), decoded in one
    numpy pass."""
    if not found:
        return set()
    sizes = set(map(len, found))
    if len(sizes) == 1:
        size = sizes.pop()
        rows = np.dtype([("head", f"V{size - keys.DOCNO_BYTES}"), ("docno", ">u8")])
        docnos = np.frombuffer(b"".join(found), dtype=rows)["docno"]
    else:
        docnos = np.frombuffer(b"".join(k[-keys.DOCNO_BYTES :] for k in found), dtype=">u8")
    return set(docnos.tolist())
