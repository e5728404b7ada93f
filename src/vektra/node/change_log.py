"""The node's change log: one entry per applied write, numbered by a per-node
sequence (the `log` database and the `seq` key of `meta`).

    log   seq(8) -> [collection number, id, indexed docno | None, removed docno | None,
                     vector fields kept as they were]
    meta  seq    -> the last seq given out

Entries are appended in the same transaction as the write (`node.records`).
The log exists for the derived HNSW indexes: a checkpoint records the seq it
holds every change up to, recovery replays the entries after it, and the
checkpoint then trims what it no longer needs. It says which docnos changed,
not what they became: the records say that; and which vector fields of an
update were left byte-identical (their indexes were not touched, so replay
need not touch them either). Entries written before that field existed have
four elements and are read as keeping none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from vektra.common.values import pack, unpack
from vektra.node import keys
from vektra.node.lmdb_env import Db, LmdbEnv, Txn

__all__ = ["Change", "ChangeLog"]


class Change(NamedTuple):
    seq: int
    coll_no: int
    id: str
    docno: int | None  # the docno (re)indexed; None for a tombstone
    removed: int | None  # the docno a tombstone retired
    kept: frozenset[str] = frozenset()  # vector fields of `docno` left as they were


class ChangeLog:
    def __init__(self, env: LmdbEnv, meta_db: Db) -> None:
        self._env = env
        self._meta = meta_db
        self._db = env.open_db(b"log")

    def last_seq(self, txn: Txn | None = None) -> int:
        if txn is None:
            with self._env.reader() as t:
                return self.last_seq(t)
        raw = txn.get(b"seq", db=self._meta)
        return 0 if raw is None else int(unpack(raw))

    # ------------------------------------------------------------ writes (in a caller's txn)

    def put(
        self,
        txn: Txn,
        seq: int,
        coll_no: int,
        object_id: str,
        docno: int | None,
        removed: int | None,
        kept: frozenset[str] = frozenset(),
    ) -> None:
        entry = [coll_no, object_id, docno, removed, sorted(kept)]
        txn.put(keys.log_key(seq), pack(entry), db=self._db)

    def set_last_seq(self, txn: Txn, seq: int) -> None:
        txn.put(b"seq", pack(seq), db=self._meta)

    # ------------------------------------------------------------ reads and trimming

    def after(self, seq: int) -> Iterator[Change]:
        """Changes after `seq`, in order."""
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            if not cur.set_range(keys.log_key(seq + 1)):
                return
            for k, v in cur:
                coll_no, object_id, docno, removed, *rest = unpack(v)
                kept = frozenset(rest[0]) if rest else frozenset()  # older: four elements
                yield Change(keys.seq_of(k), coll_no, object_id, docno, removed, kept)

    def first_seq(self) -> int | None:
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            return keys.seq_of(cur.key()) if cur.first() else None

    def trim(self, upto_seq: int) -> int:
        """Drop entries with seq <= upto_seq; returns how many."""

        def txn_fn(txn: Txn) -> int:
            cur = txn.cursor(db=self._db)
            n = 0
            if cur.first():
                while cur.key() and keys.seq_of(cur.key()) <= upto_seq:
                    n += 1
                    if not cur.delete():
                        break
            return n

        return self._env.write(txn_fn)
