"""The storage engine of one node: the one object the gRPC edge and hinted
handoff talk to (and, later, the embedded client).

It owns what must be decided in one place — the write lock, the node's
clock, the open collections, their incarnations and the cluster map last
given to the node — and hands each job to its module:

    node.store              LMDB, the truth (catalog, records, indexes, hints, log)
    node.open_collections   derived in-memory state: per-position HNSW indexes, live docnos
    node.placement          which replica position each key has, by the node's ring
    node.commit             commit a batch, then index it at its position
    node.repartition        re-place the indexes when the ring changes
    node.query              reads by id, counts, filter queries (by token range too)
    node.search             vector search over parts, as `node.search_planner` decides
    node.checkpoint         index checkpoints; `node.recovery` loads them at start
    node.cluster_view       what a SetEpoch does to the node's map (`take_map`)

Writes are serialized: one LMDB transaction per batch, then the indexes,
under one lock, so index order is commit order and a checkpoint taken under
the same lock is exactly "every change up to seq N". Reads run concurrently
with each other and with writes.

No protobuf here: `node.service` converts at the edge.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from vektra.common import filters
from vektra.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from vektra.common.hlc import HybridClock, Version
from vektra.common.membership import Member
from vektra.common.packed_hits import DecodedObjects
from vektra.common.schema import CollectionSchema, VectorSpec
from vektra.common.validation import ObjectIn
from vektra.node import query as reads
from vektra.node import search as vector_search
from vektra.node.catalog import CollectionMeta, new_incarnation, require_incarnation
from vektra.node.checkpoint import remove_checkpoints, save_checkpoint
from vektra.node.cluster_view import ClusterView, take_map
from vektra.node.commit import commit
from vektra.node.config import EngineConfig
from vektra.node.doc_table import DocTable
from vektra.node.node_info import CollectionInfo, NodeInfo
from vektra.node.open_collections import OpenCollection, OpenCollections
from vektra.node.placement import Placement
from vektra.node.position_indexes import FieldIndexes
from vektra.node.records import Record, RecordColumns, StoredObject, Write, WriteResult
from vektra.node.recovery import open_collection
from vektra.node.repair_plan import Entry
from vektra.node.repartition import repartition
from vektra.node.search import PackedSearch, SearchPart, SearchResult
from vektra.node.store import Store
from vektra.node.token_ranges import Span
from vektra.node.vector_rows import use_scratch_dir

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, config: EngineConfig, cluster: ClusterView | None = None) -> None:
        """`cluster`: the map to open the collections under (their indexes
        are partitioned by its ring); None: the map persisted in the store
        (none: the node serves alone until the coordinator gives it one)."""
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
        # The HNSW graphs' row files (node.vector_rows), on the data's file
        # system; made once the store holds the data directory's lock.
        use_scratch_dir(config.data_dir / "scratch")
        self.clock = HybridClock(self.node_id)
        self.clock.observe(self._store.records.high_version())
        self._write_lock = threading.RLock()
        self._colls = OpenCollections()
        self._dirty = 0  # changes since the last checkpoint
        # The map the coordinator last gave this node (node.cluster_view), as
        # persisted: changed only by `set_epoch`, swapped whole (readers take
        # the attribute once and see one consistent view). It is known before
        # the collections open: their indexes are partitioned by its ring (a
        # checkpoint taken under another ring is rebuilt).
        self._cluster_lock = threading.Lock()
        self.cluster: ClusterView = self._own(cluster or self._store.cluster.load(self.node_id))
        self.boot_id = uuid.uuid4().hex  # tells the coordinator this process from the last
        # The epoch at which this node's last full anti-entropy pass started
        # (node.repair); 0 until one finished since this process started.
        self.repaired_epoch = 0
        # Objects in the indexes searches used, since start (NodeInfo reports it).
        self.searched_objects = 0
        self._searched_lock = threading.Lock()
        # "collection.field.p{position}" -> how that index came back
        self.recovery: dict[str, str] = {}
        for meta in self._store.catalog.collections():
            coll, how = open_collection(self._store, meta, self._index_dir, self.cluster)
            self._colls.add(coll)
            self.recovery.update(how)
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
        """The public API's create, for a node serving alone: the collection
        gets a fresh incarnation. A node of a cluster takes collections only
        from the coordinator (`ensure_collection`)."""
        self._require_alone()
        schema = replace(schema.validated(), incarnation=new_incarnation())
        with self._write_lock:
            self._open_new(self._store.create_collection(schema))
        return schema

    def ensure_collection(self, schema: CollectionSchema) -> bool:
        """The coordinator's create: True if created. The same incarnation must
        have the same schema; a collection of that name with another
        incarnation is a dropped one, discarded (objects, indexes, hints,
        checkpoints) for this one."""
        schema = schema.validated()
        if not schema.incarnation:
            raise InvalidArgument("schema.incarnation", "the coordinator names the incarnation")
        with self._write_lock:
            existing = self._colls.find(schema.name)
            if existing is None:
                self._open_new(self._store.create_collection(schema))
                return True
            old = existing.meta
            if old.incarnation == schema.incarnation:
                if old.schema != schema:
                    raise AlreadyExists(
                        f"collection {schema.name!r} exists with a different schema"
                    )
                return False
            log.warning(
                "collection %s: discarding incarnation %s for %s",
                schema.name,
                old.incarnation,
                schema.incarnation,
            )
            meta = self._store.replace_collection(old, schema)
            self._forget(old)
            self._open_new(meta)
            return True

    def drop_collection(self, name: str) -> None:
        """The public API's drop, for a node serving alone."""
        self._require_alone()
        with self._write_lock:
            meta = self._store.drop_collection(name)
            if meta is not None:
                self._forget(meta)

    def drop_incarnation(self, name: str, incarnation: str) -> bool:
        """The coordinator's recorded drop: drop the collection only if it is
        that incarnation. False when the node holds another or none."""
        with self._write_lock:
            meta = self._store.drop_collection(name, incarnation)
            if meta is None:
                return False
            self._forget(meta)
            return True

    def check_incarnation(self, name: str, incarnation: str) -> None:
        """Refuse (FailedPrecondition) a request routed by another incarnation
        of `name` than this node holds; "" is not checked. NotFound when the
        node holds none: it may not have been given the collection yet."""
        if incarnation:
            require_incarnation(self._colls.get(name).meta, incarnation)

    def _require_alone(self, what: str = "change collections") -> None:
        cluster_id = self.cluster.cluster_id
        if cluster_id:
            raise FailedPrecondition(
                f"this node belongs to cluster {cluster_id}; {what} through a router"
            )

    def _open_new(self, meta: CollectionMeta) -> None:
        """Open a collection just created in the store (the caller holds the write lock)."""
        placement = Placement.of(self.cluster, meta.schema.replication_factor)
        indexes = {v.name: FieldIndexes(v) for v in meta.schema.vectors}
        self._colls.add(OpenCollection(meta, placement, DocTable(), indexes, set()))
        self._dirty += 1

    def _forget(self, meta: CollectionMeta) -> None:
        """Close a collection gone from the store, and delete its checkpoints."""
        found = self._colls.find(meta.name)
        if found is not None and found.meta.no == meta.no:
            self._colls.remove(meta.name)
        for spec in meta.schema.vectors:
            remove_checkpoints(self._index_dir, meta.no, spec.name)

    def list_collections(self) -> list[CollectionSchema]:
        return [c.meta.schema for c in self._colls.all()]

    def count_all(self, name: str) -> int:
        return self._colls.get(name).live_count()

    # ------------------------------------------------------------ writes

    def upsert(self, name: str, objects: list[ObjectIn]) -> tuple[WriteResult, Version]:
        """The public API's write, for a node serving alone: validated objects
        stamped with one new version from this node's clock. A node of a
        cluster is written through routers only (replicas, levels, hints)."""
        self._require_alone("write objects")
        self._colls.get(name)
        version = self.clock.now()
        writes = [Write(o.id, version, False, o.properties, o.vectors) for o in objects]
        return self._commit(name, writes), version

    def delete(self, name: str, ids: list[str]) -> tuple[int, Version]:
        """Tombstone ids (a node serving alone); returns how many were live."""
        self._require_alone("delete objects")
        self._colls.get(name)
        version = self.clock.now()
        result = self._commit(name, [Write(i, version, True) for i in ids])
        return len(result.removed_ids), version

    def apply(self, name: str, writes: list[Write], incarnation: str = "") -> WriteResult:
        """Replica write path: versions were stamped by the writer. A write
        with `hint_for` is kept as a hint for that member only (HINTED), not
        as this node's copy; one naming this node is its own copy after all.
        `incarnation` (if given) must be the one held, checked under the
        write lock so a replaced collection never takes the old one's writes."""
        self._colls.get(name)
        seen: set[str] = set()
        for i, w in enumerate(writes):
            if w.id in seen:
                raise InvalidArgument(f"objects[{i}].id", f"duplicate id {w.id!r} in one batch")
            seen.add(w.id)
            self.clock.observe(w.version)
        writes = [replace(w, hint_for=None) if w.hint_for == self.node_id else w for w in writes]
        return self._commit(name, writes, incarnation)

    def _commit(self, name: str, writes: list[Write], incarnation: str = "") -> WriteResult:
        with self._write_lock:
            coll = self._colls.get(name)
            require_incarnation(coll.meta, incarnation)
            result = commit(self._store, coll, writes)
            self._dirty += result.applied
        return result

    # ------------------------------------------------------------ reads

    def get(self, name: str, ids: list[str]) -> list[Record | None]:
        """Live records for ids, in order; None for missing or deleted."""
        return reads.get_live(self._store, self._colls.get(name), ids)

    def get_stored(
        self, name: str, ids: list[str], with_vectors: bool, live_only: bool = True
    ) -> list[StoredObject | None]:
        """`get` (or with tombstones, `get_versions`) as stored: properties
        not decoded, vectors read only when asked for."""
        found = self._store.records.get_stored(self._colls.get(name).meta, ids, with_vectors)
        if not live_only:
            return found
        return [o if o is not None and not o.deleted else None for o in found]

    def get_columns(self, name: str, ids: list[str], tombstones: bool = False) -> RecordColumns:
        """`get` (or with tombstones, `get_versions`) as columns, without
        vectors: a packed reply."""
        return self._store.records.columns(self._colls.get(name).meta, ids, tombstones)

    def get_decoded(self, name: str, ids: list[str]) -> DecodedObjects:
        """`get` without vectors, properties decoded (a caller in this process)."""
        return self._store.records.decoded(self._colls.get(name).meta, ids)

    def get_versions(self, name: str, ids: list[str]) -> list[Record | None]:
        """Records including tombstones (for replicas comparing versions)."""
        return self._store.get(self._colls.get(name).meta, ids)

    def range_entries(self, name: str, start: int, end: int | None) -> list[Entry]:
        """(id, version, deleted) of every record in a token range (anti-entropy)."""
        return self._store.records.entries(self._colls.get(name).meta, start, end)

    def purge_tombstones(self, name: str, tombstones: list[Entry]) -> int:
        """Forget tombstones every replica holds past the grace period (anti-entropy)."""
        meta = self._colls.get(name).meta
        with self._write_lock:
            return self._store.records.purge_tombstones(meta, tombstones)

    def get_hints(self, name: str, target: str, ids: list[str]) -> list[Record | None]:
        """The writes this node keeps as hints for `target` (a stand-in reading
        in place of a replica that cannot be read), as records in id order;
        None where it keeps none."""
        incarnation = self._colls.get(name).meta.incarnation
        return [
            None
            if h is None or h.incarnation != incarnation
            else Record(h.id, h.version, h.deleted, None, h.properties, h.vectors)
            for h in self._store.hints.get(target, name, ids)
        ]

    def count(self, name: str, flt: filters.Filter) -> int:
        return reads.count(self._store, self._colls.get(name), flt)

    def count_in_ranges(self, name: str, flt: filters.Filter, ranges: Sequence[Span]) -> int:
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
        ranges: Sequence[Span] | None = None,
        with_vectors: bool = False,
    ) -> list[StoredObject]:
        """Matching objects ordered by a property (missing values last) then id,
        or by id alone; with `ranges`, only objects whose token lies in them
        (end None: to the end of the ring). As stored: properties not
        decoded, vectors read only when asked for."""
        coll = self._colls.get(name)
        return reads.query(
            self._store, coll, flt, limit, offset, order_by, descending, ranges, with_vectors
        )

    def query_columns(
        self,
        name: str,
        flt: filters.Filter,
        limit: int,
        order_by: str = "",
        descending: bool = False,
        ranges: Sequence[Span] | None = None,
    ) -> RecordColumns:
        """`query` from the first match, without vectors, as columns (a
        packed reply)."""
        coll = self._colls.get(name)
        return reads.query_columns(self._store, coll, flt, limit, order_by, descending, ranges)

    def query_decoded(
        self,
        name: str,
        flt: filters.Filter,
        limit: int,
        offset: int = 0,
        order_by: str = "",
        descending: bool = False,
    ) -> DecodedObjects:
        """`query` without vectors, properties decoded (a caller in this process)."""
        coll = self._colls.get(name)
        return reads.query_decoded(self._store, coll, flt, limit, offset, order_by, descending)

    def search(
        self,
        name: str,
        spec: VectorSpec,
        queries: np.ndarray,
        k: int,
        ef: int | None,
        flt: filters.Filter,
        parts: Sequence[SearchPart] | None = None,
    ) -> list[SearchResult]:
        """k nearest live objects for each row of `queries` (one filter for
        all) among `parts` of this node's copies, merged into one top-k per
        row; None: every replica position whole (a node serving alone holds
        only position 0). `SearchResult.searched` counts the objects in the
        indexes used, once per call however many rows."""
        coll = self._colls.get(name)
        results = vector_search.search(
            self._store, coll, spec, queries, k, ef, flt, self.config, parts
        )
        self._count_searched(results[0].searched if results else 0)
        return results

    def search_packed(
        self,
        name: str,
        spec: VectorSpec,
        queries: np.ndarray,
        k: int,
        ef: int | None,
        flt: filters.Filter,
        parts: Sequence[SearchPart] | None = None,
        properties: bool = False,
        ties_by_id: bool = False,
    ) -> PackedSearch:
        """`search` as columns (ids, distances, versions, and each hit's
        properties as msgpack when `properties`), read without decoding a
        record: the fast path of searches that return no vectors. With
        `ties_by_id` (a router's ShardSearch), hits at one distance come in
        id order."""
        coll = self._colls.get(name)
        packed = vector_search.search_packed(
            self._store, coll, spec, queries, k, ef, flt, self.config, parts, properties,
            ties_by_id,
        )  # fmt: skip
        self._count_searched(packed.searched)
        return packed

    def _count_searched(self, n: int) -> None:
        with self._searched_lock:
            self.searched_objects += n

    # ------------------------------------------------------------ the ring

    def set_cluster(self, view: ClusterView) -> list[str]:
        """Take the map the coordinator gave this node. When its ring moves
        keys between this node's replica positions, the indexes of the
        positions affected are rebuilt from the store (ring changes are
        membership changes, and rare). Returns the indexes rebuilt
        ("collection.field.p{position}")."""
        with self._write_lock:
            self.cluster = self._own(view)
            rebuilt: list[str] = []
            for coll in self._colls.all():
                placement = Placement.of(view, coll.meta.schema.replication_factor)
                rebuilt += repartition(self._store, coll, placement)
            self._dirty += len(rebuilt)  # the next checkpoint saves them
            return rebuilt

    def _own(self, view: ClusterView) -> ClusterView:
        if view.node_id != self.node_id:
            # Positions are this node's place on the ring: another's view would
            # index every key at the wrong position.
            raise ValueError(f"cluster view of {view.node_id!r} given to node {self.node_id!r}")
        return view

    # ------------------------------------------------------------ the cluster

    def set_epoch(
        self, cluster_id: str, epoch: int, members: tuple[Member, ...], vnodes: int
    ) -> int:
        """Take map `epoch` from the coordinator (see `take_map`): persisted
        before it is used, so a restart comes back with it. Returns the
        node's epoch after it (its own when the map was older)."""
        with self._cluster_lock:
            view = take_map(self.cluster, cluster_id, epoch, members, vnodes)
            if view != self.cluster:
                self._store.cluster.save(view)
                rebuilt = self.set_cluster(view)
                if rebuilt:
                    log.info("ring changed: rebuilt %s", ", ".join(rebuilt))
                log.info(
                    "node %s: map epoch %d of cluster %s, %d members",
                    self.node_id,
                    view.epoch,
                    view.cluster_id,
                    len(view.members),
                )
            return self.cluster.epoch

    def info(self) -> NodeInfo:
        """What the node reports to the coordinator's health checks."""
        cluster = self.cluster
        return NodeInfo(
            node_id=self.node_id,
            boot_id=self.boot_id,
            last_seq=self._store.last_seq(),
            cluster_id=cluster.cluster_id,
            epoch=cluster.epoch,
            collections=tuple(
                CollectionInfo(c.meta.name, c.meta.incarnation, c.live_count())
                for c in self._colls.all()
            ),
            hints=tuple(sorted((t, n) for t, n in self._store.hints.counts().items() if n)),
            repaired_epoch=self.repaired_epoch,
            searched_objects=self.searched_objects,
        )

    # ------------------------------------------------------------ index upkeep

    def settle(self) -> int:
        """Fold back into one graph each index that replaced vectors into a
        graph of their own and took no write since the last call
        (`VectorIndex.settle`); the next checkpoint saves them. Returns how
        many were folded. The node calls it every checkpoint interval."""
        with self._write_lock:
            folded = 0
            for coll in self._colls.all():
                for spec in coll.meta.schema.vectors:
                    for _, index in coll.indexes[spec.name].items():
                        folded += index.settle()
            self._dirty += folded
            return folded

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
                    saved = coll.indexes[spec.name].items()
                    for position, index in saved:
                        save_checkpoint(self._index_dir, coll.meta.no, spec, position, index, seq)
                    # Positions the ring took away, and the layout before positions.
                    remove_checkpoints(
                        self._index_dir, coll.meta.no, spec.name, {p for p, _ in saved}
                    )
            self._store.log.trim(seq)
            self._dirty = 0
            return seq
