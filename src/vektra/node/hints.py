"""Durable hints: writes this node keeps for a member that could not take them
(the `hints` database).

    hints  target | 0x00 | collection | 0x00 | id
           -> [version, deleted, properties, vectors, collection incarnation]

A hint is the full write, not a pointer to this node's copy: a stand-in for a
replica that is down holds no copy of the key at all (DESIGN.md: stand-ins
never hold searchable copies, or a stand-in would answer with copies no
replica holds, deleted objects included), so what it hands over later
(`node.handoff`) is exactly what it was given. Per (target, collection, id)
only the newest version is kept: the target ends with the highest version
either way. Hints are recorded in the transaction of the batch they come in
(`node.records`), so an acknowledged hinted write is never lost, and they
are purged with the collection incarnation they belong to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vektra.common.hlc import Version
from vektra.common.values import pack, unpack
from vektra.node.lmdb_env import LmdbEnv, Txn

__all__ = ["Hint", "Hints"]

_SEP = b"\x00"


@dataclass(frozen=True, slots=True)
class Hint:
    """One write kept for `target`: what the target is to apply, as it came."""

    target: str
    collection: str
    incarnation: str
    id: str
    version: Version
    deleted: bool
    properties: dict[str, Any]
    vectors: dict[str, bytes]  # packed little-endian float32, as stored


def _prefix(target: str, collection: str | None = None) -> bytes:
    if collection is None:
        return target.encode() + _SEP
    return target.encode() + _SEP + collection.encode() + _SEP


def _key(target: str, collection: str, object_id: str) -> bytes:
    return _prefix(target, collection) + object_id.encode()


def _decode(key: bytes, raw: bytes) -> Hint:
    target, collection, object_id = key.split(_SEP, 2)
    version, deleted, properties, vectors, incarnation = unpack(raw)
    return Hint(
        target.decode(),
        collection.decode(),
        incarnation,
        object_id.decode(),
        Version.from_tuple(version),
        deleted,
        properties,
        vectors,
    )


class Hints:
    def __init__(self, env: LmdbEnv) -> None:
        self._env = env
        self._db = env.open_db(b"hints")

    # ------------------------------------------------------------ writes (in a caller's txn)

    def record(
        self,
        txn: Txn,
        target: str,
        collection: str,
        incarnation: str,
        object_id: str,
        version: Version,
        deleted: bool,
        properties: dict[str, Any],
        vectors: dict[str, bytes],
    ) -> Version | None:
        """Keep a write as a hint for `target`. Returns None when kept, or the
        version of the hint already kept when that one is the same or newer
        (the write is then stale for the target: it will get a newer one)."""
        key = _key(target, collection, object_id)
        raw = txn.get(key, db=self._db)
        if raw is not None:
            held = _decode(key, raw)
            if held.incarnation == incarnation and held.version >= version:
                return held.version
        value = [list(version.as_tuple()), deleted, properties, vectors, incarnation]
        txn.put(key, pack(value), db=self._db)
        return None

    def purge(self, txn: Txn, collection: str, incarnation: str) -> int:
        """Forget every hint of one collection incarnation (it is dropped
        here); returns how many."""
        n = 0
        for target in list(self._targets(txn)):
            prefix = _prefix(target, collection)
            cur = txn.cursor(db=self._db)
            if not cur.set_range(prefix):
                continue
            while cur.key().startswith(prefix):
                if _decode(cur.key(), cur.value()).incarnation == incarnation:
                    n += 1
                    if not cur.delete():
                        break
                elif not cur.next():
                    break
        return n

    # ------------------------------------------------------------ reads

    def _targets(self, txn: Txn) -> Iterator[str]:
        cur = txn.cursor(db=self._db)
        found = cur.first()
        while found:
            target = cur.key().split(_SEP, 1)[0]
            yield target.decode()
            # Jump past every key of this target.
            found = cur.set_range(target + b"\x01")

    def targets(self) -> list[str]:
        """Members this node holds hints for."""
        with self._env.reader() as txn:
            return list(self._targets(txn))

    def counts(self) -> dict[str, int]:
        """Hints held per target (targets with none are absent). Counted by a
        key scan: hints are few, kept only while a member is away."""
        out: dict[str, int] = {}
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            for k in cur.iternext(keys=True, values=False):
                target = k.split(_SEP, 1)[0].decode()
                out[target] = out.get(target, 0) + 1
        return out

    def collections(self, target: str) -> list[str]:
        """Collections with hints for `target`."""
        prefix = _prefix(target)
        out: list[str] = []
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            found = cur.set_range(prefix)
            while found and cur.key().startswith(prefix):
                collection = cur.key()[len(prefix) :].split(_SEP, 1)[0]
                out.append(collection.decode())
                found = cur.set_range(prefix + collection + b"\x01")
        return out

    def pending(self, target: str, collection: str, limit: int) -> list[Hint]:
        """Up to `limit` hints of one collection for `target`, in id order."""
        prefix = _prefix(target, collection)
        out: list[Hint] = []
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            if not cur.set_range(prefix):
                return out
            for k, v in cur:
                if not k.startswith(prefix) or len(out) >= limit:
                    break
                out.append(_decode(k, v))
        return out

    def get(self, target: str, collection: str, ids: list[str]) -> list[Hint | None]:
        """The hints kept for `target` of these ids, in order; None for none."""
        out: list[Hint | None] = []
        with self._env.reader() as txn:
            for object_id in ids:
                key = _key(target, collection, object_id)
                raw = txn.get(key, db=self._db)
                out.append(None if raw is None else _decode(key, raw))
        return out

    # ------------------------------------------------------------ handed over

    def drop(self, handed: list[Hint]) -> int:
        """Forget hints whose write the target took (applied, or held a newer
        version already). A hint kept since for a newer write (or another
        incarnation) stays. Returns how many were dropped."""

        def txn_fn(txn: Txn) -> int:
            n = 0
            for h in handed:
                key = _key(h.target, h.collection, h.id)
                raw = txn.get(key, db=self._db)
                if raw is None:
                    continue
                held = _decode(key, raw)
                if held.incarnation == h.incarnation and held.version <= h.version:
                    txn.delete(key, db=self._db)
                    n += 1
            return n

        return self._env.write(txn_fn)
