"""Durable hints: which writes this node holds for a member that could not
take them (the `hints` database).

    hints  target | 0x00 | collection | 0x00 | id -> version (msgpack)

A hint names only the object and the newest version hinted for it; what is
handed over later is the newest record this node has for it (`node.handoff`).
Hints are recorded in the same transaction as the write they come with
(`node.records`), so an acknowledged hinted write is never lost.
"""

from __future__ import annotations

from vektra.common.hlc import Version
from vektra.common.values import pack, unpack
from vektra.node.lmdb_env import LmdbEnv, Txn

__all__ = ["Hints"]


def _key(target: str, collection: str, object_id: str) -> bytes:
    return b"\x00".join((target.encode(), collection.encode(), object_id.encode()))


class Hints:
    def __init__(self, env: LmdbEnv) -> None:
        self._env = env
        self._db = env.open_db(b"hints")

    def record(
        self, txn: Txn, target: str, collection: str, object_id: str, version: Version
    ) -> None:
        """Hint a write for `target` in the caller's transaction. Recorded even
        when this node already holds a newer version: the member it stands for
        must get the newest one."""
        key = _key(target, collection, object_id)
        held = txn.get(key, db=self._db)
        if held is None or Version.from_tuple(unpack(held)) < version:
            txn.put(key, pack(list(version.as_tuple())), db=self._db)

    def targets(self) -> list[str]:
        """Members this node holds hinted writes for."""
        out: list[str] = []
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            found = cur.first()
            while found:
                target = cur.key().split(b"\x00", 1)[0]
                out.append(target.decode())
                # Jump past every key of this target.
                found = cur.set_range(target + b"\x01")
        return out

    def pending(self, target: str, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (collection, id) hinted for `target`."""
        prefix = target.encode() + b"\x00"
        out: list[tuple[str, str]] = []
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._db)
            if not cur.set_range(prefix):
                return out
            for k in cur.iternext(keys=True, values=False):
                if not k.startswith(prefix) or len(out) >= limit:
                    break
                collection, _, object_id = k[len(prefix) :].partition(b"\x00")
                out.append((collection.decode(), object_id.decode()))
        return out

    def drop(self, target: str, handed: list[tuple[str, str, Version]]) -> None:
        """Forget hints whose write was handed over: those not newer than the
        version sent (a newer write may have been hinted meanwhile)."""

        def txn_fn(txn: Txn) -> None:
            for collection, object_id, sent in handed:
                key = _key(target, collection, object_id)
                held = txn.get(key, db=self._db)
                if held is not None and Version.from_tuple(unpack(held)) <= sent:
                    txn.delete(key, db=self._db)

        self._env.write(txn_fn)
