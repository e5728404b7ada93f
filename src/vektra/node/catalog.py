"""The node's catalog: its own id and the collections it holds.

Owns these keys of the `meta` database:

    node_id            this node's id, generated once and kept
    coll_next          the next collection number to give out
    coll:<name>        [collection number, schema (with its incarnation)]

A collection's number prefixes every key of its objects, docs and property
index entries (see `node.keys`), so dropping it is a prefix delete and a
re-created collection gets a new number and starts empty. The table is also
kept in memory: every request looks a collection up by name.

The number is this node's own; the incarnation (in the schema) names one
life of the collection across the cluster: a collection dropped and created
again under the same name is another incarnation, so a node that missed the
drop recognises its copy as the dropped one (`replace`), and a call routed
by the old incarnation is refused. A collection stored before incarnations
existed is given one when the catalog is opened.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from vektra.common.errors import AlreadyExists, FailedPrecondition, NotFound
from vektra.common.schema import CollectionSchema
from vektra.common.values import pack, unpack
from vektra.node.lmdb_env import Db, LmdbEnv, Txn

__all__ = [
    "INCARNATION_MISMATCH",
    "Catalog",
    "CollectionMeta",
    "Purge",
    "new_incarnation",
    "require_incarnation",
]

# In the message of the FAILED_PRECONDITION refusing a call routed by another
# incarnation of a collection than the node holds: callers match on it.
INCARNATION_MISMATCH = "incarnation mismatch"

_PREFIX = b"coll:"

# Deletes a collection's data in the caller's transaction.
Purge = Callable[[Txn, "CollectionMeta"], None]


def new_incarnation() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class CollectionMeta:
    no: int
    schema: CollectionSchema

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def incarnation(self) -> str:
        return self.schema.incarnation


def require_incarnation(meta: CollectionMeta, incarnation: str) -> None:
    """Refuse a request routed by another incarnation of the collection than
    the one held ("" names none: not checked)."""
    if incarnation and incarnation != meta.incarnation:
        raise FailedPrecondition(
            f"collection {meta.name} {INCARNATION_MISMATCH}: the call names incarnation "
            f"{incarnation}, this node holds {meta.incarnation}"
        )


class Catalog:
    def __init__(self, env: LmdbEnv, meta_db: Db, node_id: str | None = None) -> None:
        self._env = env
        self._meta = meta_db
        self.node_id = self._load_node_id(node_id)
        self._lock = threading.Lock()  # guards the in-memory table
        self._collections = self._load()

    def _load_node_id(self, wanted: str | None) -> str:
        with self._env.reader() as txn:
            stored = txn.get(b"node_id", db=self._meta)
        if stored is not None:
            return stored.decode()
        new_id = wanted or f"node-{uuid.uuid4().hex[:8]}"
        self._env.write(lambda txn: txn.put(b"node_id", new_id.encode(), db=self._meta))
        return new_id

    def _load(self) -> dict[str, CollectionMeta]:
        found: dict[str, CollectionMeta] = {}
        with self._env.reader() as txn:
            cur = txn.cursor(db=self._meta)
            if cur.set_range(_PREFIX):
                for k, v in cur:
                    if not k.startswith(_PREFIX):
                        break
                    no, schema = unpack(v)
                    meta = CollectionMeta(no, CollectionSchema.from_dict(schema))
                    found[meta.name] = meta
        legacy = [m for m in found.values() if not m.incarnation]
        if legacy:
            given = [
                CollectionMeta(m.no, replace(m.schema, incarnation=new_incarnation()))
                for m in legacy
            ]

            def txn_fn(txn: Txn) -> None:
                for m in given:
                    self._put(txn, m)

            self._env.write(txn_fn)
            found.update({m.name: m for m in given})
        return found

    def _put(self, txn: Txn, meta: CollectionMeta) -> None:
        txn.put(_PREFIX + meta.name.encode(), pack([meta.no, meta.schema.to_dict()]), db=self._meta)

    def _next_no(self, txn: Txn) -> int:
        raw = txn.get(b"coll_next", db=self._meta)
        no = 1 if raw is None else int(unpack(raw))
        txn.put(b"coll_next", pack(no + 1), db=self._meta)
        return no

    def collections(self) -> list[CollectionMeta]:
        with self._lock:
            return sorted(self._collections.values(), key=lambda m: m.name)

    def collection(self, name: str) -> CollectionMeta:
        with self._lock:
            meta = self._collections.get(name)
        if meta is None:
            raise NotFound(f"collection {name!r} does not exist")
        return meta

    def create(self, schema: CollectionSchema) -> CollectionMeta:
        def txn_fn(txn: Txn) -> CollectionMeta:
            if txn.get(_PREFIX + schema.name.encode(), db=self._meta) is not None:
                raise AlreadyExists(f"collection {schema.name!r} already exists")
            meta = CollectionMeta(self._next_no(txn), schema)
            self._put(txn, meta)
            return meta

        with self._lock:
            meta = self._env.write(txn_fn)
            self._collections[schema.name] = meta
        return meta

    def replace(
        self, old: CollectionMeta, schema: CollectionSchema, purge: Purge
    ) -> CollectionMeta:
        """Replace collection `old` by a new one of the same name (another
        incarnation): `purge` deletes the old one's data in the same
        transaction, so a crash leaves the old collection or the new one."""

        def txn_fn(txn: Txn) -> CollectionMeta:
            purge(txn, old)
            meta = CollectionMeta(self._next_no(txn), schema)
            self._put(txn, meta)
            return meta

        with self._lock:
            meta = self._env.write(txn_fn)
            self._collections[schema.name] = meta
        return meta

    def drop(
        self, name: str, purge: Purge, incarnation: str | None = None
    ) -> CollectionMeta | None:
        """Forget a collection; `purge` deletes its data in the same transaction,
        so a crash leaves either all of it or none. With `incarnation`, only
        that incarnation is dropped: None if the node holds another or none
        (without it, a missing collection is NotFound)."""
        if incarnation is not None:
            with self._lock:
                meta = self._collections.get(name)
            if meta is None or meta.incarnation != incarnation:
                return None
        else:
            meta = self.collection(name)
        dropped = meta

        def txn_fn(txn: Txn) -> None:
            txn.delete(_PREFIX + name.encode(), db=self._meta)
            purge(txn, dropped)

        with self._lock:
            self._env.write(txn_fn)
            self._collections.pop(name, None)
        return meta
