"""The storage engine of one node: the one object the gRPC edge and hinted
handoff talk to (and, later, the embedded client).

It owns what must be decided in one place — the write lock, the node's
clock, the open collections and the cluster map last given to the node — and
hands each job to its module:

    node.store              LMDB, the truth (catalog, records, indexes, hints, log)
    node.open_collections   derived in-memory state: HNSW indexes, live docnos
    node.commit             commit a batch, then index it
    node.query              reads by id, counts, filter queries
    node.search             vector search, as `node.search_planner` decides
    node.checkpoint         index checkpoints; `node.recovery` loads them at start

Writes are serialized: one LMDB transaction per batch, then the indexes,
under one lock, so index order is commit order and a checkpoint taken under
the same lock is exactly "every change up to seq N". Reads run concurrently
with each other and with writes.

No protobuf here: `node.service` converts at the edge.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from vektra.common import filters
from vektra.common.errors import AlreadyExists, InvalidArgument
from vektra.common.hlc import HybridClock, Version
from vektra.common.schema import CollectionSchema, VectorSpec
from vektra.common.validation import ObjectIn
from vektra.node import query as reads
from vektra.node import search as vector_search
from vektra.node.checkpoint import remove_checkpoints, save_checkpoint
from vektra.node.cluster_view import ClusterView
from vektra.node.commit import commit
from vektra.node.config import EngineConfig
from vektra.node.open_collections import OpenCollection, OpenCollections
from vektra.node.records import Record, Write, WriteResult
from vektra.node.recovery import open_collection
from vektra.node.search import SearchResult
from vektra.node.store import Store
from vektra.node.vector_index import VectorIndex

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.limits = config.limits
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._index_dir = config.data_dir / "index"
        self._store = Store(
            config.data_dir / "lmdb",
            initial_map_bytes=config.initial_map_bytes,
            max_map_bytes=config.max_map_bytes,
            node_id=config.node_id,
        )
        self.node_id = self._store.node_id
        self.clock = HybridClock(self.node_id)
        self.clock.observe(self._store.records.high_version())
        self._write_lock = threading.RLock()
        self._colls = OpenCollections()
        self._dirty = 0  # changes since the last checkpoint
        # The map the coordinator last gave this node (see node.cluster_view).
        # TODO(issue 8): persisted in the store's meta and restored here.
        self.cluster = ClusterView(self.node_id)
        self.recovery: dict[str, str] = {}  # "collection.field" -> how its index came back
        for meta in self._store.catalog.collections():
            coll, how = open_collection(self._store, meta, self._index_dir)
            self._colls.add(coll)
            self.recovery.update({f"{meta.name}.{field}": h for field, h in how.items()})
        if any(how != "loaded" for how in self.recovery.values()):
            self.checkpoint()

    @property
    def store(self) -> Store:
        return self._store

    def close(self) -> None:
        try:
            self.checkpoint()
        except OSError:
            # Indexes are derived state: the next start replays or rebuilds them.
            log.exception("closing checkpoint failed (disk full?); the store is intact")
        self._store.close()

    # ------------------------------------------------------------ collections

    def schema(self, name: str) -> CollectionSchema:
        return self._colls.get(name).meta.schema

    def create_collection(self, schema: CollectionSchema) -> CollectionSchema:
        schema = schema.validated()
        with self._write_lock:
            meta = self._store.create_collection(schema)
            indexes = {v.name: VectorIndex.empty(v) for v in schema.vectors}
            self._colls.add(OpenCollection(meta, indexes, set()))
            self._dirty += 1
        return schema

    def ensure_collection(self, schema: CollectionSchema) -> bool:
        """Create if missing; True if created. An existing collection must have the same schema."""
        schema = schema.validated()
        with self._write_lock:
            existing = self._colls.find(schema.name)
            if existing is None:
                self.create_collection(schema)
                return True
            if existing.meta.schema != schema:
                raise AlreadyExists(f"collection {schema.name!r} exists with a different schema")
            return False

    def drop_collection(self, name: str) -> None:
        with self._write_lock:
            meta = self._store.drop_collection(name)
            self._colls.remove(name)
            for spec in meta.schema.vectors:
                remove_checkpoints(self._index_dir, meta.no, spec.name)

    def list_collections(self) -> list[CollectionSchema]:
        return [c.meta.schema for c in self._colls.all()]

    def count_all(self, name: str) -> int:
        return self._colls.get(name).live_count()

    # ------------------------------------------------------------ writes

    def upsert(self, name: str, objects: list[ObjectIn]) -> tuple[WriteResult, Version]:
        """Write validated objects, stamped with one new version from this node's clock."""
        coll = self._colls.get(name)
        version = self.clock.now()
        writes = [Write(o.id, version, False, o.properties, o.vectors) for o in objects]
        return self._commit(coll, writes), version

    def delete(self, name: str, ids: list[str]) -> tuple[int, Version]:
        """Tombstone ids; returns how many were live."""
        coll = self._colls.get(name)
        version = self.clock.now()
        result = self._commit(coll, [Write(i, version, True) for i in ids])
        return len(result.removed_ids), version

    def apply(self, name: str, writes: list[Write]) -> WriteResult:
        """Replica write path: versions were stamped by the writer."""
        coll = self._colls.get(name)
        seen: set[str] = set()
        for i, w in enumerate(writes):
            if w.id in seen:
                raise InvalidArgument(f"objects[{i}].id", f"duplicate id {w.id!r} in one batch")
            seen.add(w.id)
            self.clock.observe(w.version)
        return self._commit(coll, writes)

    def _commit(self, coll: OpenCollection, writes: list[Write]) -> WriteResult:
        with self._write_lock:
            result = commit(self._store, coll, writes)
            self._dirty += result.applied
        return result

    # ------------------------------------------------------------ reads

    def get(self, name: str, ids: list[str]) -> list[Record | None]:
        """Live records for ids, in order; None for missing or deleted."""
        return reads.get_live(self._store, self._colls.get(name), ids)

    def get_versions(self, name: str, ids: list[str]) -> list[Record | None]:
        """Records including tombstones (for replicas comparing versions)."""
        return self._store.get(self._colls.get(name).meta, ids)

    def count(self, name: str, flt: filters.Filter) -> int:
        return reads.count(self._store, self._colls.get(name), flt)

    def count_in_ranges(
        self, name: str, flt: filters.Filter, ranges: list[tuple[int, int | None]]
    ) -> int:
        """Matching live objects whose token lies in any [start, end) range
        (end None: to the end of the ring)."""
        return reads.count_matching_in_ranges(self._store, self._colls.get(name), flt, ranges)

    def query(
        self,
        name: str,
        flt: filters.Filter,
        limit: int,
        offset: int = 0,
        order_by: str = "",
        descending: bool = False,
    ) -> list[Record]:
        """Matching objects ordered by a property (missing values last) then id,
        or by id alone."""
        coll = self._colls.get(name)
        return reads.query(self._store, coll, flt, limit, offset, order_by, descending)

    def search(
        self,
        name: str,
        spec: VectorSpec,
        queries: np.ndarray,
        k: int,
        ef: int | None,
        flt: filters.Filter,
    ) -> list[SearchResult]:
        """k nearest live objects for each row of `queries` (one filter for all)."""
        coll = self._colls.get(name)
        return vector_search.search(self._store, coll, spec, queries, k, ef, flt, self.config)

    # ------------------------------------------------------------ checkpoints

    @property
    def dirty(self) -> int:
        return self._dirty

    def checkpoint(self) -> int:
        """Save every index as of the current change-log seq, then trim the log.
        Returns the seq checkpointed."""
        with self._write_lock:
            seq = self._store.last_seq()
            for coll in self._colls.all():
                for spec in coll.meta.schema.vectors:
                    save_checkpoint(
                        self._index_dir, coll.meta.no, spec, coll.indexes[spec.name], seq
                    )
            self._store.log.trim(seq)
            self._dirty = 0
            return seq
