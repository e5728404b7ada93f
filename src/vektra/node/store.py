"""The node's LMDB store: the single source of truth of a storage node.

One LMDB environment (`node.lmdb_env`) holds every database; each job has
its own module and object, reachable from here:

    catalog     node.catalog         node id, collection numbers, schemas, incarnations
    records     node.records         versioned objects, LWW by HLC, tombstones, docnos
    properties  node.property_index  secondary indexes of indexed properties
    hints       node.hints           writes held for members that could not take them
    log         node.change_log      per-node sequence of changes, for the HNSW indexes
    cluster     node.cluster_store   the cluster map as the coordinator last gave it

`Store` opens them in one place and does what spans several of them: a write
batch (records, property entries, change-log entries and hints in one
transaction, acknowledged only after the commit) and dropping or replacing a
collection incarnation (its records, property entries and hints at once).
It also answers the few questions almost every caller asks (`collection`,
`get`, `scan`, `last_seq`) so the gRPC edge need not know the parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from vektra.common.schema import CollectionSchema
from vektra.node.catalog import Catalog, CollectionMeta
from vektra.node.change_log import ChangeLog
from vektra.node.cluster_store import ClusterStore
from vektra.node.data_lock import DataDirLock
from vektra.node.hints import Hints
from vektra.node.lmdb_env import LmdbEnv, Txn
from vektra.node.property_index import PropertyIndex
from vektra.node.records import Record, Records, Write, WriteResult

__all__ = ["Store"]


class Store:
    def __init__(
        self,
        path: Path,
        *,
        initial_map_bytes: int = 64 << 20,
        max_map_bytes: int = 256 << 30,
        node_id: str | None = None,
    ) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        # One process at a time (node.data_lock): named for the data
        # directory the store lives in, which is what a user passed.
        self._lock = DataDirLock(path, shown_as=path.parent)
        try:
            self._env = LmdbEnv(
                path, initial_map_bytes=initial_map_bytes, max_map_bytes=max_map_bytes
            )
        except BaseException:
            self._lock.release()
            raise
        meta_db = self._env.open_db(b"meta")
        self.catalog = Catalog(self._env, meta_db, node_id)
        self.properties = PropertyIndex(self._env)
        self.hints = Hints(self._env)
        self.log = ChangeLog(self._env, meta_db)
        self.records = Records(self._env, meta_db, self.properties, self.log, self.hints)
        self.cluster = ClusterStore(self._env, meta_db)
        self.node_id = self.catalog.node_id

    def close(self) -> None:
        self._env.close()
        self._lock.release()

    @property
    def map_bytes(self) -> int:
        return self._env.map_bytes

    # ------------------------------------------------------------ what spans the parts

    def create_collection(self, schema: CollectionSchema) -> CollectionMeta:
        return self.catalog.create(schema)

    def drop_collection(self, name: str, incarnation: str | None = None) -> CollectionMeta | None:
        """Forget a collection and delete its records, property entries and
        hints in one transaction (with `incarnation`: only if it is the one
        held; None otherwise). Its change-log entries stay until the next
        trim (replay skips collections that are gone)."""
        return self.catalog.drop(name, self._purge, incarnation)

    def replace_collection(self, old: CollectionMeta, schema: CollectionSchema) -> CollectionMeta:
        """Discard collection `old` (a dropped incarnation) and create `schema`
        under the same name, in one transaction."""
        return self.catalog.replace(old, schema, self._purge)

    def _purge(self, txn: Txn, meta: CollectionMeta) -> None:
        self.records.purge(txn, meta)
        self.properties.purge(txn, meta)
        self.hints.purge(txn, meta.name, meta.incarnation)

    def apply(self, meta: CollectionMeta, writes: list[Write]) -> WriteResult:
        """Apply versioned writes in one transaction (last writer wins by HLC)."""
        return self.records.apply(meta, writes)

    # ------------------------------------------------------------ the common questions

    def collection(self, name: str) -> CollectionMeta:
        return self.catalog.collection(name)

    def get(self, meta: CollectionMeta, ids: list[str]) -> list[Record | None]:
        """Records (live or tombstone) for ids, in order; None when never written."""
        return self.records.get(meta, ids)

    def scan(
        self, meta: CollectionMeta, token_start: int, token_end: int | None
    ) -> Iterator[Record]:
        """Every record (tombstones too) whose token is in [start, end)."""
        return self.records.scan(meta, token_start, token_end)

    def last_seq(self) -> int:
        return self.log.last_seq()
