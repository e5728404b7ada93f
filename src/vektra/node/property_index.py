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

from collections.abc import Iterator
from typing import Any, NamedTuple

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
        want = len(prefix) + keys.DOCNO_BYTES
        out: set[int] = set()
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            if not cur.set_range(prefix):
                return out
            for k in cur.iternext(keys=True, values=False):
                if not k.startswith(prefix):
                    break
                if len(k) == want:  # exactly this value, not a longer one
                    out.add(keys.docno_of(k))
        return out

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
        n = len(prefix)
        out: set[int] = set()
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            if not cur.set_range(prefix + (lo or b"")):
                return out
            for k in cur.iternext(keys=True, values=False):
                if not k.startswith(prefix):
                    break
                if hi is not None:
                    v = k[n : n + 8]
                    if v > hi or (v == hi and not hi_inclusive):
                        break
                out.add(keys.docno_of(k))
        return out
