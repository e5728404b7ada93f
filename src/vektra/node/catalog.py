"""The node's catalog: its own id and the collections it holds.

Owns these keys of the `meta` database:

    node_id            this node's id, generated once and kept
    coll_next          the next collection number to give out
    coll:<name>        [collection number, schema]

A collection's number prefixes every key of its objects, docs and property
index entries (see `node.keys`), so dropping it is a prefix delete and a
re-created collection gets a new number and starts empty. The table is also
kept in memory: every request looks a collection up by name.

A later issue's collection incarnations (telling a dropped-and-re-created
collection from the old one across the cluster) belong here, next to the
number they generalise.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from vektra.common.errors import AlreadyExists, NotFound
from vektra.common.schema import CollectionSchema
from vektra.common.values import pack, unpack
from vektra.node.lmdb_env import Db, LmdbEnv, Txn

__all__ = ["Catalog", "CollectionMeta"]

_PREFIX = b"coll:"


@dataclass(frozen=True, slots=True)
class CollectionMeta:
    no: int
    schema: CollectionSchema

    @property
    def name(self) -> str:
        return self.schema.name


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
        return found

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
            key = _PREFIX + schema.name.encode()
            if txn.get(key, db=self._meta) is not None:
                raise AlreadyExists(f"collection {schema.name!r} already exists")
            raw = txn.get(b"coll_next", db=self._meta)
            no = 1 if raw is None else int(unpack(raw))
            txn.put(b"coll_next", pack(no + 1), db=self._meta)
            txn.put(key, pack([no, schema.to_dict()]), db=self._meta)
            return CollectionMeta(no, schema)

        with self._lock:
            meta = self._env.write(txn_fn)
            self._collections[schema.name] = meta
        return meta

    def drop(self, name: str, purge: Callable[[Txn, CollectionMeta], None]) -> CollectionMeta:
        """Forget a collection; `purge` deletes its data in the same transaction,
        so a crash leaves either all of it or none."""
        meta = self.collection(name)

        def txn_fn(txn: Txn) -> None:
            txn.delete(_PREFIX + name.encode(), db=self._meta)
            purge(txn, meta)

        with self._lock:
            self._env.write(txn_fn)
            self._collections.pop(name, None)
        return meta
