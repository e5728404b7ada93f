"""Versioned object records: last writer wins by HLC version, tombstones,
docnos (the `objects` and `docs` databases).

    objects  coll(4) | token(8) | id   -> [version, deleted, docno, properties, vectors]
    docs     coll(4) | docno(8)        -> [token, id, vector fields present]
    meta     docno:<coll(4)>           -> the collection's next docno
    meta     hlc                       -> the highest version stored (the clock resumes past it)

A batch of writes is one LMDB transaction: for each write the record, its
property-index entries (`node.property_index`) and its change-log entry
(`node.change_log`) commit together or not at all, and `apply` returns only
after the commit. A write with `hint_for` is not this node's copy: it is kept
in the hints database (`node.hints`) instead, in the same transaction, and
touches no record, index or log entry. Each write gets an `ObjectOutcome`:
APPLIED, STALE (with the version held) or HINTED.

A write older than or equal to the stored version (a live object or a
tombstone) is stale and changes nothing, so applying the same writes in any
order, any number of times, ends in the same state. A live object keeps its
docno across updates; a tombstone retires it (docnos are never reused, which
keeps change-log replay order-independent). An update says which of its
vectors are byte-identical to the ones it replaces (`IndexChange.kept`, and
the change-log entry): those stay in the HNSW indexes as they are.

Objects are keyed by token so a token range is one contiguous scan (`scan`):
rebalancing streams ranges, and a later issue's anti-entropy digests of
(id, version) per range read them the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgpack
import numpy as np

from vektra.common.errors import Internal
from vektra.common.hlc import ZERO, Version
from vektra.common.packed_hits import DecodedObjects
from vektra.common.ring import token
from vektra.common.values import pack, unpack, unpack_joined
from vektra.node import keys
from vektra.node.catalog import CollectionMeta
from vektra.node.change_log import ChangeLog
from vektra.node.hints import Hints
from vektra.node.lmdb_env import Db, LmdbEnv, Txn
from vektra.node.property_index import PropertyIndex
from vektra.node.repair_plan import Entry

__all__ = [
    "IndexChange",
    "ObjectOutcome",
    "Outcome",
    "Record",
    "RecordColumns",
    "Records",
    "StoredObject",
    "Write",
    "WriteResult",
]

_F32 = np.dtype("<f4")


@dataclass(frozen=True, slots=True)
class Write:
    """One versioned write of a batch: an upsert, or a tombstone if `deleted`."""

    id: str
    version: Version
    deleted: bool = False
    properties: dict[str, Any] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    # Keep this write as a hint for that member only (not as this node's copy).
    hint_for: str | None = None


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
class StoredObject:
    """A record as a read by id returns it: properties left as the msgpack
    bytes stored (a reply carries them as they are), vectors only when asked
    for. A tombstone has neither."""

    id: str
    version: Version
    deleted: bool
    properties: bytes
    vectors: dict[str, bytes]


@dataclass(frozen=True, slots=True)
class RecordColumns:
    """Records read by id, as columns: what a get's packed reply (or a
    node's packed Fetch) is made of, with no Version or StoredObject built
    per record."""

    ids: list[str]
    versions: list[list[Any]]  # [physical_ms, logical, writer] as stored
    deleted: list[bool]  # all False unless tombstones were asked for
    properties: list[bytes]  # the msgpack map per record as stored (b"" for a tombstone)
    missing: list[str]  # ids not answered (never written; deleted unless tombstones), in order


@dataclass(frozen=True, slots=True)
class IndexChange:
    """What the HNSW indexes must do after a committed write."""

    removed: int | None  # docno to drop from every field's index
    docno: int | None  # docno to (re)index; None for a tombstone
    vectors: dict[str, np.ndarray]  # field -> vector of `docno`; fields absent are dropped
    token: int  # the object's ring token: which replica position it is indexed at
    id: str  # the object's id and the version written (`node.hit_table`)
    version: Version
    # Fields of `vectors` byte-identical to what `docno` already had: their
    # indexes already hold that vector under `docno` and are left untouched.
    kept: frozenset[str] = frozenset()


class Outcome(enum.Enum):
    """What became of one write of a batch."""

    APPLIED = "applied"  # stored: newer than what the node held
    STALE = "stale"  # ignored: the node holds this version or a newer one
    HINTED = "hinted"  # kept as a hint for the member it names


@dataclass(frozen=True, slots=True)
class ObjectOutcome:
    outcome: Outcome
    # STALE: the version held (>= the write's): the record's, or for a hinted
    # write the newer hint already kept for that member.
    held: Version | None = None


_APPLIED = ObjectOutcome(Outcome.APPLIED)
_HINTED = ObjectOutcome(Outcome.HINTED)


@dataclass(frozen=True, slots=True)
class WriteResult:
    applied: int
    stale: int
    changes: list[IndexChange]
    last_seq: int
    removed_ids: list[str] = field(default_factory=list)  # live objects now tombstoned
    outcomes: list[ObjectOutcome] = field(default_factory=list)  # one per write, in order


def _encode(
    version: Version,
    deleted: bool,
    docno: int | None,
    props: dict[str, Any],
    vectors: dict[str, bytes],
) -> bytes:
    return pack([list(version.as_tuple()), deleted, docno, props, vectors])


def _decode(object_id: str, raw: bytes) -> Record:
    v, deleted, docno, props, vectors = unpack(raw)
    return Record(object_id, Version.from_tuple(v), deleted, docno, props, vectors)


class _Parts(NamedTuple):
    version: list[Any]
    deleted: bool
    docno: int | None
    properties: bytes  # the msgpack map as stored, not decoded
    vectors: dict[str, bytes]  # empty unless asked for


class _PartReader:
    """Reads a stored record ([version, deleted, docno, properties, vectors])
    decoding only its head: the properties are cut out as bytes, the vectors
    (the bulk of a record) decoded only when asked for. One unpacker serves
    a whole pass."""

    def __init__(self) -> None:
        self._head = msgpack.Unpacker(raw=False, timestamp=3, strict_map_key=False)

    def read(self, raw: bytes, vectors: bool = False) -> _Parts:
        head = self._head
        # tell() counts every byte this unpacker has read, records before
        # this one included: offsets in `raw` are relative to `base`.
        base = head.tell()
        head.feed(raw)
        head.read_array_header()
        version, deleted, docno = head.unpack(), head.unpack(), head.unpack()
        start = head.tell() - base
        head.skip()  # properties
        end = head.tell() - base
        if vectors:
            found: dict[str, bytes] = head.unpack()
        else:
            head.skip()
            found = {}
        return _Parts(version, deleted, docno, raw[start:end], found)

    def head(self, raw: bytes) -> tuple[list[Any], bool, bytes]:
        """(version, deleted, properties as stored): `read` for a get that
        wants no vectors, with nothing else built."""
        head = self._head
        base = head.tell()
        head.feed(raw)
        head.read_array_header()
        version, deleted = head.unpack(), head.unpack()
        head.skip()  # docno
        start = head.tell() - base
        head.skip()
        end = head.tell() - base
        head.skip()  # vectors
        return version, deleted, raw[start:end]


def _object_keys(meta: CollectionMeta, ids: list[str], tokens: list[int] | None) -> list[bytes]:
    """The ids' record keys, hashed in one pass (or made from the ids'
    `tokens` when the caller has them)."""
    if tokens is None:
        return keys.object_keys(meta.no, meta.name, ids)
    no = meta.no
    return [keys.object_key(no, t, i) for t, i in zip(tokens, ids, strict=True)]


def _vector_bytes(vectors: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {name: v.astype(_F32, copy=False).tobytes() for name, v in vectors.items()}


def _docno_key(meta: CollectionMeta) -> bytes:
    return b"docno:" + keys.coll_prefix(meta.no)


class Records:
    def __init__(
        self,
        env: LmdbEnv,
        meta_db: Db,
        properties: PropertyIndex,
        log: ChangeLog,
        hints: Hints,
    ) -> None:
        self._env = env
        self._meta = meta_db
        self._objects = env.open_db(b"objects")
        self._docs = env.open_db(b"docs")
        self._properties = properties
        self._log = log
        self._hints = hints

    def high_version(self, txn: Txn | None = None) -> Version:
        """The highest version this node has stored (its clock resumes past it)."""
        if txn is None:
            with self._env.reader() as t:
                return self.high_version(t)
        raw = txn.get(b"hlc", db=self._meta)
        return ZERO if raw is None else Version.from_tuple(unpack(raw))

    # ------------------------------------------------------------ writes

    def apply(self, meta: CollectionMeta, writes: list[Write]) -> WriteResult:
        """Apply versioned writes in one transaction (last writer wins by HLC)."""
        return self._env.write(lambda txn: self._apply_txn(txn, meta, writes))

    def _apply_txn(self, txn: Txn, meta: CollectionMeta, writes: list[Write]) -> WriteResult:
        schema = meta.schema
        seq = self._log.last_seq(txn)
        raw = txn.get(_docno_key(meta), db=self._meta)
        next_docno = 1 if raw is None else int(unpack(raw))
        high = self.high_version(txn)
        applied = stale = 0
        changes: list[IndexChange] = []
        removed_ids: list[str] = []
        outcomes: list[ObjectOutcome] = []
        for w in writes:
            if w.version > high:
                high = w.version  # a hinted version too: the clock resumes past it
            if w.hint_for:
                held = self._hint(txn, meta, w)
                outcomes.append(_HINTED if held is None else ObjectOutcome(Outcome.STALE, held))
                stale += held is not None
                continue
            tok = token(schema.name, w.id)
            okey = keys.object_key(meta.no, tok, w.id)
            old_raw = txn.get(okey, db=self._objects)
            old = None if old_raw is None else _decode(w.id, old_raw)
            if old is not None and old.version >= w.version:
                stale += 1
                outcomes.append(ObjectOutcome(Outcome.STALE, old.version))
                continue
            applied += 1
            outcomes.append(_APPLIED)
            removed: int | None = None
            if old is not None and not old.deleted:
                if old.docno is None:
                    raise Internal(f"live record {old.id!r} has no docno")
                self._properties.remove(txn, meta, old.docno, old.properties)
                if w.deleted:
                    removed = old.docno
                    txn.delete(keys.doc_key(meta.no, old.docno), db=self._docs)
            seq += 1
            if w.deleted:
                txn.put(okey, _encode(w.version, True, None, {}, {}), db=self._objects)
                self._log.put(txn, seq, meta.no, w.id, None, removed)
                if removed is not None:
                    changes.append(IndexChange(removed, None, {}, tok, w.id, w.version))
                    removed_ids.append(w.id)
                continue
            if old is not None and not old.deleted and old.docno is not None:
                docno = old.docno
            else:
                docno = next_docno
                next_docno += 1
            vec_bytes = _vector_bytes(w.vectors)
            # An update keeps its docno, so a vector it leaves as it was is
            # already indexed: re-indexing it would cost an HNSW update for nothing.
            kept = (
                frozenset(f for f, b in vec_bytes.items() if old.vectors.get(f) == b)
                if old is not None and not old.deleted
                else frozenset()
            )
            txn.put(
                okey, _encode(w.version, False, docno, w.properties, vec_bytes), db=self._objects
            )
            txn.put(
                keys.doc_key(meta.no, docno),
                pack([tok, w.id, sorted(vec_bytes)]),
                db=self._docs,
            )
            self._properties.add(txn, meta, docno, w.properties)
            self._log.put(txn, seq, meta.no, w.id, docno, None, kept)
            changes.append(IndexChange(None, docno, dict(w.vectors), tok, w.id, w.version, kept))
        txn.put(_docno_key(meta), pack(next_docno), db=self._meta)
        self._log.set_last_seq(txn, seq)
        txn.put(b"hlc", pack(list(high.as_tuple())), db=self._meta)
        return WriteResult(applied, stale, changes, seq, removed_ids, outcomes)

    def _hint(self, txn: Txn, meta: CollectionMeta, w: Write) -> Version | None:
        """Keep `w` for its member; the newer hint's version if one is kept."""
        assert w.hint_for
        vectors = {} if w.deleted else _vector_bytes(w.vectors)
        properties = {} if w.deleted else w.properties
        return self._hints.record(
            txn,
            w.hint_for,
            meta.name,
            meta.incarnation,
            w.id,
            w.version,
            w.deleted,
            properties,
            vectors,
        )

    def purge(self, txn: Txn, meta: CollectionMeta) -> None:
        """Every record and docno of a collection being dropped (in the caller's txn)."""
        txn.delete(_docno_key(meta), db=self._meta)
        prefix = keys.coll_prefix(meta.no)
        for db in (self._objects, self._docs):
            cur = txn.cursor(db=db)
            if cur.set_range(prefix):
                while cur.key().startswith(prefix):
                    if not cur.delete():
                        break

    # ------------------------------------------------------------ reads

    def get(self, meta: CollectionMeta, ids: list[str]) -> list[Record | None]:
        """Records (live or tombstone) for ids, in order; None when never written."""
        out: list[Record | None] = []
        with self._env.reader() as txn:
            for object_id in ids:
                raw = txn.get(
                    keys.object_key(meta.no, token(meta.name, object_id), object_id),
                    db=self._objects,
                )
                out.append(None if raw is None else _decode(object_id, raw))
        return out

    def get_stored(
        self,
        meta: CollectionMeta,
        ids: list[str],
        with_vectors: bool,
        tokens: list[int] | None = None,
    ) -> list[StoredObject | None]:
        """`get` without decoding what a reply passes through: each record's
        properties are cut out as stored, its vectors decoded only when
        `with_vectors`. None when never written. `tokens`: the ids' tokens
        when the caller has them (else computed)."""
        if tokens is None:
            tokens = [token(meta.name, i) for i in ids]
        out: list[StoredObject | None] = []
        parts = _PartReader()
        with self._env.reader() as txn:
            for tok, object_id in zip(tokens, ids, strict=True):
                raw = txn.get(keys.object_key(meta.no, tok, object_id), db=self._objects)
                if raw is None:
                    out.append(None)
                    continue
                p = parts.read(raw, vectors=with_vectors)
                version = Version.from_tuple(p.version)
                if p.deleted:
                    out.append(StoredObject(object_id, version, True, b"", {}))
                else:
                    out.append(StoredObject(object_id, version, False, p.properties, p.vectors))
        return out

    def _raw(
        self, meta: CollectionMeta, ids: list[str], tokens: list[int] | None = None
    ) -> list[bytes | None]:
        """Each id's stored record as bytes (None: never written), in one
        read transaction, read through a cursor (its get skips the db
        argument)."""
        object_keys = _object_keys(meta, ids, tokens)
        with self._env.reader() as txn:
            get = txn.cursor(db=self._objects).get
            return [get(key) for key in object_keys]

    def columns(
        self,
        meta: CollectionMeta,
        ids: list[str],
        tombstones: bool = False,
        tokens: list[int] | None = None,
    ) -> RecordColumns:
        """The records of ids, without vectors, as columns: the live ones,
        and with `tombstones` the deleted ones too. One key, one LMDB read
        and one record head per id. `tokens`: the ids' tokens when the
        caller has them."""
        found_ids: list[str] = []
        versions: list[list[Any]] = []
        deleted: list[bool] = []
        props: list[bytes] = []
        missing: list[str] = []
        parts = _PartReader()
        for object_id, raw in zip(ids, self._raw(meta, ids, tokens), strict=True):
            if raw is not None:
                version, gone, properties = parts.head(raw)
                if not gone or tombstones:
                    found_ids.append(object_id)
                    versions.append(version)
                    deleted.append(gone)
                    props.append(b"" if gone else properties)
                    continue
            missing.append(object_id)
        return RecordColumns(found_ids, versions, deleted, props, missing)

    def decoded(
        self, meta: CollectionMeta, ids: list[str], tokens: list[int] | None = None
    ) -> DecodedObjects:
        """The live objects among ids with their properties decoded: a get
        (or a query's page) for a caller in this process (the embedded
        client), which would decode them anyway. Every record is decoded in
        one msgpack pass. `tokens`: the ids' tokens when the caller has them."""
        object_keys = _object_keys(meta, ids, tokens)
        # Read as views into the map and joined once inside the transaction:
        # one copy of each record instead of two.
        with self._env.view_reader() as txn:
            get = txn.cursor(db=self._objects).get
            raws = [get(key) for key in object_keys]
            found = [i for i, raw in zip(ids, raws, strict=True) if raw is not None]
            joined = b"".join([raw for raw in raws if raw is not None])
        records = unpack_joined(joined, len(found))
        # [version, deleted, docno, properties, vectors] each; columns taken
        # whole, the usual case (every id found, none deleted) in one pass.
        if any(r[1] for r in records):
            kept = [(i, r) for i, r in zip(found, records, strict=True) if not r[1]]
            found, records = [i for i, _ in kept], [r for _, r in kept]
        missing = []
        if len(found) < len(ids):
            live = set(found)
            missing = [i for i in ids if i not in live]  # in request order
        return DecodedObjects(found, [r[0] for r in records], [r[3] for r in records], missing)

    def raw_properties(
        self, meta: CollectionMeta, tokens: list[int], ids: list[str]
    ) -> list[bytes | None]:
        """The stored msgpack properties of live objects by (token, id); None
        for an id no longer live."""
        found = self.get_stored(meta, ids, False, tokens)
        return [None if o is None or o.deleted else o.properties for o in found]

    def by_docnos(self, meta: CollectionMeta, docnos: list[int]) -> list[Record | None]:
        """Live records for docnos, in order; None for a docno no longer live."""
        out: list[Record | None] = []
        with self._env.reader() as txn:
            for docno in docnos:
                out.append(self._by_docno(txn, meta, docno))
        return out

    def _by_docno(self, txn: Txn, meta: CollectionMeta, docno: int) -> Record | None:
        doc = txn.get(keys.doc_key(meta.no, docno), db=self._docs)
        if doc is None:
            return None
        tok, object_id, _fields = unpack(doc)
        raw = txn.get(keys.object_key(meta.no, tok, object_id), db=self._objects)
        return None if raw is None else _decode(object_id, raw)

    def tokens(self, meta: CollectionMeta, docnos: list[int] | None) -> list[int]:
        """Ring tokens of the given live docnos (all live objects when None)."""
        out: list[int] = []
        with self._env.reader() as txn:
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

    def docs(self, meta: CollectionMeta) -> Iterator[tuple[int, int, list[str]]]:
        """(docno, token, vector fields present) of every live object."""
        prefix = keys.coll_prefix(meta.no)
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._docs)
            if not cur.set_range(prefix):
                return
            for k, v in cur:
                if not k.startswith(prefix):
                    return
                tok, _id, fields = unpack(v)
                yield keys.docno_of(k), tok, fields

    def live(self, meta: CollectionMeta) -> Iterator[Record]:
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
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._objects)
            if not cur.set_range(start):
                return
            for k, v in cur:
                if not k.startswith(prefix) or (end is not None and k >= end):
                    return
                yield _decode(keys.split_object_key(k)[2], v)

    # ------------------------------------------------------------ anti-entropy

    def entries(self, meta: CollectionMeta, token_start: int, token_end: int | None) -> list[Entry]:
        """(id, version, deleted) of every record whose token is in [start,
        end), in key order. Only the head of each record is decoded: its
        properties and vectors are skipped, not built."""
        prefix = keys.coll_prefix(meta.no)
        start = prefix + keys.token_bytes(token_start)
        end = None if token_end is None else prefix + keys.token_bytes(token_end)
        out: list[Entry] = []
        parts = _PartReader()
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._objects)
            if not cur.set_range(start):
                return out
            for k, v in cur:
                if not k.startswith(prefix) or (end is not None and k >= end):
                    break
                p = parts.read(v)
                out.append(
                    Entry(keys.split_object_key(k)[2], Version.from_tuple(p.version), p.deleted)
                )
        return out

    def live_heads(self, meta: CollectionMeta) -> Iterator[tuple[int, str, Version]]:
        """(docno, id, version) of every live object, decoding only the head
        of each record (`node.hit_table` is loaded from these)."""
        prefix = keys.coll_prefix(meta.no)
        parts = _PartReader()
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._objects)
            if not cur.set_range(prefix):
                return
            for k, v in cur:
                if not k.startswith(prefix):
                    return
                p = parts.read(v)
                if not p.deleted and p.docno is not None:
                    yield p.docno, keys.split_object_key(k)[2], Version.from_tuple(p.version)

    def purge_tombstones(self, meta: CollectionMeta, tombstones: list[Entry]) -> int:
        """Forget tombstones that every replica holds (anti-entropy decided):
        only those still exactly as given; returns how many went."""

        def txn_fn(txn: Txn) -> int:
            n = 0
            for e in tombstones:
                okey = keys.object_key(meta.no, token(meta.name, e.id), e.id)
                raw = txn.get(okey, db=self._objects)
                if raw is None:
                    continue
                rec = _decode(e.id, raw)
                if rec.deleted and rec.version == e.version:
                    txn.delete(okey, db=self._objects)
                    n += 1
            return n

        return self._env.write(txn_fn)
