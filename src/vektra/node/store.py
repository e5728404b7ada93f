"""The node's LMDB store: the single source of truth of a storage node.

One LMDB environment per node with five named databases (layouts in
`node.keys`): meta, objects, docs, pidx and log. A batch of writes is one
LMDB transaction — objects, property-index entries and change-log entries
commit together or not at all — and `apply` returns only after the commit,
so an acknowledged write is durable.

The map grows by doubling when a transaction hits its end, up to
`max_map_bytes`; past that, or when the disk is full, the transaction is
aborted whole and `ResourceExhausted` names the limit.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import lmdb
import numpy as np

from vektra.common.errors import AlreadyExists, Internal, NotFound, ResourceExhausted
from vektra.common.hlc import ZERO, Version
from vektra.common.ring import token
from vektra.common.schema import CollectionSchema
from vektra.common.values import pack, unpack
from vektra.node import keys
from vektra.node.rwlock import RWLock

__all__ = ["CollectionMeta", "IndexChange", "Record", "Store", "Write", "WriteResult"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Transactions are never opened with buffers=True, so keys and values are bytes.
_Txn: TypeAlias = "lmdb.Transaction[bytes]"

_F32 = np.dtype("<f4")


@dataclass(frozen=True, slots=True)
class CollectionMeta:
    no: int
    schema: CollectionSchema

    @property
    def name(self) -> str:
        return self.schema.name


@dataclass(frozen=True, slots=True)
class Write:
    """One versioned write of a batch: an upsert, or a tombstone if `deleted`."""

    id: str
    version: Version
    deleted: bool = False
    properties: dict[str, Any] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    hint_for: str | None = None  # keep a hint to hand this write to that member


@dataclass(frozen=True, slots=True)
class Record:
    """What the store holds for an id: a live object or a tombstone."""

    id: str
    version: Version
    deleted: bool
    docno: int | None
    properties: dict[str, Any]
    vectors: dict[str, bytes]

    def vector(self, field_name: str) -> np.ndarray | None:
        data = self.vectors.get(field_name)
        return None if data is None else np.frombuffer(data, dtype=_F32)


@dataclass(frozen=True, slots=True)
class IndexChange:
    """What the HNSW indexes must do after a committed write."""

    removed: int | None  # docno to drop from every field's index
    docno: int | None  # docno to (re)index; None for a tombstone
    vectors: dict[str, np.ndarray]  # field -> vector of `docno`; fields absent are dropped


@dataclass(frozen=True, slots=True)
class WriteResult:
    applied: int
    stale: int
    changes: list[IndexChange]
    last_seq: int
    removed_ids: list[str] = field(default_factory=list)  # live objects now tombstoned


def _encode_record(
    version: Version,
    deleted: bool,
    docno: int | None,
    props: dict[str, Any],
    vectors: dict[str, bytes],
) -> bytes:
    return pack([list(version.as_tuple()), deleted, docno, props, vectors])


def _hint_key(target: str, collection: str, object_id: str) -> bytes:
    return b"\x00".join((target.encode(), collection.encode(), object_id.encode()))


def _decode_record(object_id: str, raw: bytes) -> Record:
    v, deleted, docno, props, vectors = unpack(raw)
    return Record(object_id, Version.from_tuple(v), deleted, docno, props, vectors)


class Store:
    def __init__(
        self,
        path: Path,
        *,
        initial_map_bytes: int = 64 << 20,
        max_map_bytes: int = 256 << 30,
        node_id: str | None = None,
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._max_map_bytes = max_map_bytes
        # sync and metasync on: a commit is on disk when it returns.
        self._env = lmdb.open(
            str(path),
            map_size=min(initial_map_bytes, max_map_bytes),
            max_dbs=8,
            sync=True,
            metasync=True,
            readahead=False,
            max_readers=512,
        )
        # The env lock lets the map grow: LMDB requires that no transaction
        # is open in this process while the map size changes.
        self._env_lock = RWLock()
        self._meta = self._env.open_db(b"meta")
        self._objects = self._env.open_db(b"objects")
        self._docs = self._env.open_db(b"docs")
        self._pidx = self._env.open_db(b"pidx")
        self._log = self._env.open_db(b"log")
        self._hints = self._env.open_db(b"hints")
        self._lock = threading.Lock()  # guards the in-memory collection table
        self._collections: dict[str, CollectionMeta] = {}
        with self.reader() as txn:
            stored_id = txn.get(b"node_id", db=self._meta)
        if stored_id is None:
            new_id = node_id or f"node-{uuid.uuid4().hex[:8]}"
            self._write(lambda txn: txn.put(b"node_id", new_id.encode(), db=self._meta))
            stored_id = new_id.encode()
        self.node_id = stored_id.decode()
        self._load_collections()

    def close(self) -> None:
        with self._env_lock.exclusive():
            self._env.close()

    # ------------------------------------------------------------ transactions

    @contextmanager
    def reader(self) -> Iterator[_Txn]:
        with self._env_lock.shared(), self._env.begin(buffers=False) as txn:
            yield txn

    def _write(self, fn: Callable[[_Txn], T]) -> T:
        """Run `fn` in one write transaction, growing the map and retrying when
        it fills. `fn` must have no effects outside the transaction."""
        while True:
            try:
                with self._env_lock.shared(), self._env.begin(write=True) as txn:
                    return fn(txn)
            except lmdb.MapFullError:
                self._grow()
            except (lmdb.DiskError, lmdb.TxnFullError) as exc:
                raise ResourceExhausted("disk", f"the store cannot write: {exc}") from exc
            except lmdb.Error as exc:
                # LMDB reports a short page write on a full disk as EIO. The
                # transaction was aborted either way: the store is unchanged.
                if "No space left" in str(exc) or (
                    "Input/output error" in str(exc) and self._disk_nearly_full()
                ):
                    free = shutil.disk_usage(self.path).free
                    raise ResourceExhausted(
                        "disk",
                        f"the disk is full ({free} bytes free); nothing of this batch was written",
                    ) from exc
                raise

    def _disk_nearly_full(self) -> bool:
        return shutil.disk_usage(self.path).free < 16 << 20

    def _grow(self) -> None:
        with self._env_lock.exclusive():
            current = self._env.info()["map_size"]
            if current >= self._max_map_bytes:
                raise ResourceExhausted(
                    "max_map_bytes",
                    f"the store is full at {current} bytes (limit {self._max_map_bytes}); "
                    "nothing of this batch was written",
                )
            new = min(current * 2, self._max_map_bytes)
            log.info("growing LMDB map from %d to %d bytes", current, new)
            self._env.set_mapsize(new)

    @property
    def map_bytes(self) -> int:
        return int(self._env.info()["map_size"])

    # ------------------------------------------------------------ meta

    def last_seq(self, txn: _Txn | None = None) -> int:
        if txn is None:
            with self.reader() as t:
                return self.last_seq(t)
        raw = txn.get(b"seq", db=self._meta)
        return 0 if raw is None else int(unpack(raw))

    def high_version(self, txn: _Txn | None = None) -> Version:
        """The highest version this node has stored (its clock resumes past it)."""
        if txn is None:
            with self.reader() as t:
                return self.high_version(t)
        raw = txn.get(b"hlc", db=self._meta)
        return ZERO if raw is None else Version.from_tuple(unpack(raw))

    # ------------------------------------------------------------ collections

    def _load_collections(self) -> None:
        found: dict[str, CollectionMeta] = {}
        with self.reader() as txn:
            cur = txn.cursor(db=self._meta)
            if cur.set_range(b"coll:"):
                for k, v in cur:
                    if not k.startswith(b"coll:"):
                        break
                    no, schema = unpack(v)
                    meta = CollectionMeta(no, CollectionSchema.from_dict(schema))
                    found[meta.name] = meta
        self._collections = found

    def collections(self) -> list[CollectionMeta]:
        with self._lock:
            return sorted(self._collections.values(), key=lambda m: m.name)

    def collection(self, name: str) -> CollectionMeta:
        with self._lock:
            meta = self._collections.get(name)
        if meta is None:
            raise NotFound(f"collection {name!r} does not exist")
        return meta

    def create_collection(self, schema: CollectionSchema) -> CollectionMeta:
        def txn_fn(txn: _Txn) -> CollectionMeta:
            key = b"coll:" + schema.name.encode()
            if txn.get(key, db=self._meta) is not None:
                raise AlreadyExists(f"collection {schema.name!r} already exists")
            raw = txn.get(b"coll_next", db=self._meta)
            no = 1 if raw is None else int(unpack(raw))
            txn.put(b"coll_next", pack(no + 1), db=self._meta)
            txn.put(key, pack([no, schema.to_dict()]), db=self._meta)
            return CollectionMeta(no, schema)

        with self._lock:
            meta = self._write(txn_fn)
            self._collections[schema.name] = meta
        return meta

    def drop_collection(self, name: str) -> CollectionMeta:
        meta = self.collection(name)
        prefix = keys.coll_prefix(meta.no)

        def txn_fn(txn: _Txn) -> None:
            txn.delete(b"coll:" + name.encode(), db=self._meta)
            txn.delete(b"docno:" + prefix, db=self._meta)
            for db in (self._objects, self._docs, self._pidx):
                cur = txn.cursor(db=db)
                if cur.set_range(prefix):
                    while cur.key().startswith(prefix):
                        if not cur.delete():
                            break

        with self._lock:
            self._write(txn_fn)
            self._collections.pop(name, None)
        return meta

    # ------------------------------------------------------------ writes

    def apply(self, meta: CollectionMeta, writes: list[Write]) -> WriteResult:
        """Apply versioned writes in one transaction (last writer wins by HLC)."""
        return self._write(lambda txn: self._apply_txn(txn, meta, writes))

    def _apply_txn(self, txn: _Txn, meta: CollectionMeta, writes: list[Write]) -> WriteResult:
        schema = meta.schema
        seq = self.last_seq(txn)
        docno_key = b"docno:" + keys.coll_prefix(meta.no)
        raw = txn.get(docno_key, db=self._meta)
        next_docno = 1 if raw is None else int(unpack(raw))
        high = self.high_version(txn)
        applied = stale = 0
        changes: list[IndexChange] = []
        removed_ids: list[str] = []
        for w in writes:
            if w.hint_for:
                # Recorded even when this node already holds a newer version:
                # the member it stands for must get the newest one.
                hkey = _hint_key(w.hint_for, schema.name, w.id)
                held = txn.get(hkey, db=self._hints)
                if held is None or Version.from_tuple(unpack(held)) < w.version:
                    txn.put(hkey, pack(list(w.version.as_tuple())), db=self._hints)
            tok = token(schema.name, w.id)
            okey = keys.object_key(meta.no, tok, w.id)
            old_raw = txn.get(okey, db=self._objects)
            old = None if old_raw is None else _decode_record(w.id, old_raw)
            if old is not None and old.version >= w.version:
                stale += 1
                continue
            applied += 1
            if w.version > high:
                high = w.version
            removed: int | None = None
            if old is not None and not old.deleted:
                self._unindex_properties(txn, meta, old)
                if w.deleted:
                    removed = old.docno
                    txn.delete(keys.doc_key(meta.no, old.docno), db=self._docs)  # type: ignore[arg-type]
            seq += 1
            if w.deleted:
                txn.put(okey, _encode_record(w.version, True, None, {}, {}), db=self._objects)
                txn.put(keys.log_key(seq), pack([meta.no, w.id, None, removed]), db=self._log)
                if removed is not None:
                    changes.append(IndexChange(removed=removed, docno=None, vectors={}))
                    removed_ids.append(w.id)
                continue
            if old is not None and not old.deleted and old.docno is not None:
                docno = old.docno
            else:
                docno = next_docno
                next_docno += 1
            vec_bytes = {
                name: v.astype(_F32, copy=False).tobytes() for name, v in w.vectors.items()
            }
            rec = _encode_record(w.version, False, docno, w.properties, vec_bytes)
            txn.put(okey, rec, db=self._objects)
            txn.put(
                keys.doc_key(meta.no, docno),
                pack([tok, w.id, sorted(vec_bytes)]),
                db=self._docs,
            )
            self._index_properties(txn, meta, docno, w.properties)
            txn.put(keys.log_key(seq), pack([meta.no, w.id, docno, None]), db=self._log)
            changes.append(IndexChange(removed=None, docno=docno, vectors=dict(w.vectors)))
        txn.put(docno_key, pack(next_docno), db=self._meta)
        txn.put(b"seq", pack(seq), db=self._meta)
        txn.put(b"hlc", pack(list(high.as_tuple())), db=self._meta)
        return WriteResult(applied, stale, changes, seq, removed_ids)

    def _pidx_keys(
        self, meta: CollectionMeta, docno: int, props: dict[str, Any]
    ) -> Iterator[bytes]:
        suffix = keys.doc_key(0, docno)[4:]
        for prop_no, spec in enumerate(meta.schema.properties):
            if not spec.indexed or props.get(spec.name) is None:
                continue
            yield keys.pidx_prefix(meta.no, prop_no, keys.TAG_PRESENT) + suffix
            base = keys.pidx_prefix(meta.no, prop_no, keys.TAG_VALUE)
            for enc in keys.index_values(spec.type, props[spec.name]):
                yield base + enc + suffix

    def _index_properties(
        self, txn: _Txn, meta: CollectionMeta, docno: int, props: dict[str, Any]
    ) -> None:
        for k in self._pidx_keys(meta, docno, props):
            txn.put(k, b"", db=self._pidx)

    def _unindex_properties(self, txn: _Txn, meta: CollectionMeta, old: Record) -> None:
        if old.docno is None:
            raise Internal(f"live record {old.id!r} has no docno")
        for k in self._pidx_keys(meta, old.docno, old.properties):
            txn.delete(k, db=self._pidx)

    # ------------------------------------------------------------ reads

    def get(self, meta: CollectionMeta, ids: list[str]) -> list[Record | None]:
        """Records (live or tombstone) for ids, in order; None when never written."""
        out: list[Record | None] = []
        with self.reader() as txn:
            for object_id in ids:
                raw = txn.get(
                    keys.object_key(meta.no, token(meta.name, object_id), object_id),
                    db=self._objects,
                )
                out.append(None if raw is None else _decode_record(object_id, raw))
        return out

    def by_docnos(self, meta: CollectionMeta, docnos: list[int]) -> list[Record | None]:
        """Live records for docnos, in order; None for a docno no longer live."""
        out: list[Record | None] = []
        with self.reader() as txn:
            for docno in docnos:
                out.append(self._by_docno(txn, meta, docno))
        return out

    def _by_docno(self, txn: _Txn, meta: CollectionMeta, docno: int) -> Record | None:
        doc = txn.get(keys.doc_key(meta.no, docno), db=self._docs)
        if doc is None:
            return None
        tok, object_id, _fields = unpack(doc)
        raw = txn.get(keys.object_key(meta.no, tok, object_id), db=self._objects)
        return None if raw is None else _decode_record(object_id, raw)

    def tokens(self, meta: CollectionMeta, docnos: list[int] | None) -> list[int]:
        """Ring tokens of the given live docnos (all live objects when None)."""
        out: list[int] = []
        with self.reader() as txn:
            if docnos is None:
                prefix = keys.coll_prefix(meta.no)
                cur = txn.cursor(db=self._docs)
                if cur.set_range(prefix):
                    for k, v in cur:
                        if not k.startswith(prefix):
                            break
                        out.append(unpack(v)[0])
                return out
            for docno in docnos:
                doc = txn.get(keys.doc_key(meta.no, docno), db=self._docs)
                if doc is not None:
                    out.append(unpack(doc)[0])
        return out

    def docs(self, meta: CollectionMeta) -> Iterator[tuple[int, list[str]]]:
        """(docno, vector fields present) of every live object."""
        prefix = keys.coll_prefix(meta.no)
        with self.reader() as txn:
            cur = txn.cursor(db=self._docs)
            if not cur.set_range(prefix):
                return
            for k, v in cur:
                if not k.startswith(prefix):
                    return
                yield keys.docno_of(k), unpack(v)[2]

    def live_records(self, meta: CollectionMeta) -> Iterator[Record]:
        """Every live object of the collection, in token order."""
        for rec in self.scan(meta, 0, None):
            if not rec.deleted:
                yield rec

    def scan(
        self, meta: CollectionMeta, token_start: int, token_end: int | None
    ) -> Iterator[Record]:
        """Every record (tombstones too) whose token is in [start, end)."""
        prefix = keys.coll_prefix(meta.no)
        start = prefix + keys.token_bytes(token_start)
        end = None if token_end is None else prefix + keys.token_bytes(token_end)
        with self.reader() as txn:
            cur = txn.cursor(db=self._objects)
            if not cur.set_range(start):
                return
            for k, v in cur:
                if not k.startswith(prefix) or (end is not None and k >= end):
                    return
                yield _decode_record(keys.split_object_key(k)[2], v)

    def pidx_docnos(
        self, meta: CollectionMeta, prop_no: int, tag: bytes, value: bytes = b""
    ) -> set[int]:
        """Docnos whose index entry is exactly `value` (or any, for TAG_PRESENT)."""
        prefix = keys.pidx_prefix(meta.no, prop_no, tag) + value
        want = len(prefix) + keys.DOCNO_BYTES
        out: set[int] = set()
        with self.reader() as txn:
            cur = txn.cursor(db=self._pidx)
            if not cur.set_range(prefix):
                return out
            for k in cur.iternext(keys=True, values=False):
                if not k.startswith(prefix):
                    break
                if len(k) == want:  # exactly this value, not a longer one
                    out.add(keys.docno_of(k))
        return out

    def pidx_range(
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
        with self.reader() as txn:
            cur = txn.cursor(db=self._pidx)
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

    # ------------------------------------------------------------ hints

    def hint_targets(self) -> list[str]:
        """Members this node holds hinted writes for."""
        out: list[str] = []
        with self.reader() as txn:
            cur = txn.cursor(db=self._hints)
            found = cur.first()
            while found:
                target = cur.key().split(b"\x00", 1)[0]
                out.append(target.decode())
                # Jump past every key of this target.
                found = cur.set_range(target + b"\x01")
        return out

    def hints(self, target: str, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (collection, id) hinted for `target`."""
        prefix = target.encode() + b"\x00"
        out: list[tuple[str, str]] = []
        with self.reader() as txn:
            cur = txn.cursor(db=self._hints)
            if not cur.set_range(prefix):
                return out
            for k in cur.iternext(keys=True, values=False):
                if not k.startswith(prefix) or len(out) >= limit:
                    break
                collection, _, object_id = k[len(prefix) :].partition(b"\x00")
                out.append((collection.decode(), object_id.decode()))
        return out

    def drop_hints(self, target: str, handed: list[tuple[str, str, Version]]) -> None:
        """Forget hints whose write was handed over: those not newer than the
        version sent (a newer write may have been hinted meanwhile)."""

        def txn_fn(txn: _Txn) -> None:
            for collection, object_id, sent in handed:
                key = _hint_key(target, collection, object_id)
                held = txn.get(key, db=self._hints)
                if held is not None and Version.from_tuple(unpack(held)) <= sent:
                    txn.delete(key, db=self._hints)

        self._write(txn_fn)

    # ------------------------------------------------------------ change log

    def log_after(self, seq: int) -> Iterator[tuple[int, int, str, int | None, int | None]]:
        """(seq, coll_no, id, indexed docno, removed docno) of changes after `seq`."""
        with self.reader() as txn:
            cur = txn.cursor(db=self._log)
            if not cur.set_range(keys.log_key(seq + 1)):
                return
            for k, v in cur:
                coll_no, object_id, docno, removed = unpack(v)
                yield keys.seq_of(k), coll_no, object_id, docno, removed

    def first_log_seq(self) -> int | None:
        with self.reader() as txn:
            cur = txn.cursor(db=self._log)
            return keys.seq_of(cur.key()) if cur.first() else None

    def trim_log(self, upto_seq: int) -> int:
        """Drop change-log entries with seq <= upto_seq; returns how many."""

        def txn_fn(txn: _Txn) -> int:
            cur = txn.cursor(db=self._log)
            n = 0
            if cur.first():
                while cur.key() and keys.seq_of(cur.key()) <= upto_seq:
                    n += 1
                    if not cur.delete():
                        break
            return n

        return self._write(txn_fn)
