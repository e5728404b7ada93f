"""The storage engine of one node: collections, writes, reads and search.

Ties the LMDB store (truth) to one HNSW index per (collection, vector field)
(derived). Writes are serialized: one LMDB transaction per batch, then the
indexes, under one lock, so index order is commit order and a checkpoint taken
under the same lock is exactly "every change up to seq N". Reads run
concurrently with each other and with writes.

No protobuf here: `node.service` converts at the edge.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from vektra.common import filters
from vektra.common.errors import AlreadyExists, InvalidArgument, NotFound
from vektra.common.hlc import HybridClock, Version
from vektra.common.membership import Member
from vektra.common.schema import CollectionSchema, VectorSpec
from vektra.common.validation import ObjectIn
from vektra.node.catalog import CollectionMeta
from vektra.node.checkpoint import remove_checkpoints, save_checkpoint
from vektra.node.config import EngineConfig
from vektra.node.filter_eval import FilterEvaluator
from vektra.node.records import IndexChange, Record, Write, WriteResult
from vektra.node.recovery import rebuild_index, recover_index
from vektra.node.store import Store
from vektra.node.vector_index import VectorIndex, exact_distances

__all__ = ["Engine", "Hit", "SearchResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hit:
    record: Record
    distance: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Hit]
    strategy: str
    candidates: int


@dataclass
class _Collection:
    meta: CollectionMeta
    indexes: dict[str, VectorIndex]
    live: set[int]  # docnos of live objects
    live_lock: threading.Lock = field(default_factory=threading.Lock)

    def universe(self) -> set[int]:
        with self.live_lock:
            return set(self.live)


def _hits(records: dict[int, Record | None], labels: np.ndarray, dists: np.ndarray) -> list[Hit]:
    # A docno deleted since the index answered has no record: skip it.
    found = ((records.get(int(x)), float(d)) for x, d in zip(labels, dists, strict=True))
    return [Hit(rec, d) for rec, d in found if rec is not None]


def count_in_ranges(tokens: np.ndarray, ranges: list[tuple[int, int | None]]) -> int:
    """How many tokens fall in the union of half-open [start, end) ranges."""
    if not ranges or not len(tokens):
        return 0
    top = (1 << 64) - 1  # end None: the top of the ring (tokens never reach it)
    spans = sorted((start, top if end is None else end) for start, end in ranges)
    starts = np.asarray([a for a, _ in spans], dtype=np.uint64)
    ends = np.asarray([b for _, b in spans], dtype=np.uint64)
    # Each token against the last range starting at or before it; ranges from
    # one ring do not overlap, so that is the only one that can hold it.
    at = np.searchsorted(starts, tokens, side="right") - 1
    inside = (at >= 0) & (tokens < ends[np.maximum(at, 0)])
    return int(inside.sum())


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
        self._colls_lock = threading.Lock()
        self._colls: dict[str, _Collection] = {}
        self._dirty = 0  # changes since the last checkpoint
        self.epoch = 0  # newest cluster-map epoch seen (in memory; the coordinator re-sends it)
        self.members: dict[str, Member] = {}  # as of `epoch`, for hinted handoff
        self.recovery: dict[str, str] = {}  # "collection.field" -> how its index came back
        for meta in self._store.catalog.collections():
            self._colls[meta.name] = self._open_collection(meta)
        if any(how != "loaded" for how in self.recovery.values()):
            self.checkpoint()

    def _open_collection(self, meta: CollectionMeta) -> _Collection:
        live: set[int] = set()
        per_field: dict[str, set[int]] = {v.name: set() for v in meta.schema.vectors}
        for docno, fields in self._store.records.docs(meta):
            live.add(docno)
            for f in fields:
                if f in per_field:
                    per_field[f].add(docno)
        indexes = {}
        for spec in meta.schema.vectors:
            rec = recover_index(self._store, meta, spec, self._index_dir, per_field[spec.name])
            self.recovery[f"{meta.name}.{spec.name}"] = rec.how
            log.info(
                "index %s.%s: %s (%d vectors)", meta.name, spec.name, rec.how, rec.index.live_count
            )
            indexes[spec.name] = rec.index
        return _Collection(meta, indexes, live)

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

    def _coll(self, name: str) -> _Collection:
        with self._colls_lock:
            coll = self._colls.get(name)
        if coll is None:
            raise NotFound(f"collection {name!r} does not exist")
        return coll

    def schema(self, name: str) -> CollectionSchema:
        return self._coll(name).meta.schema

    def create_collection(self, schema: CollectionSchema) -> CollectionSchema:
        schema = schema.validated()
        with self._write_lock:
            meta = self._store.create_collection(schema)
            indexes = {v.name: VectorIndex.empty(v) for v in schema.vectors}
            with self._colls_lock:
                self._colls[schema.name] = _Collection(meta, indexes, set())
            self._dirty += 1
        return schema

    def ensure_collection(self, schema: CollectionSchema) -> bool:
        """Create if missing; True if created. An existing collection must have the same schema."""
        schema = schema.validated()
        with self._write_lock:
            with self._colls_lock:
                existing = self._colls.get(schema.name)
            if existing is None:
                self.create_collection(schema)
                return True
            if existing.meta.schema != schema:
                raise AlreadyExists(f"collection {schema.name!r} exists with a different schema")
            return False

    def drop_collection(self, name: str) -> None:
        with self._write_lock:
            meta = self._store.drop_collection(name)
            with self._colls_lock:
                self._colls.pop(name, None)
            for spec in meta.schema.vectors:
                remove_checkpoints(self._index_dir, meta.no, spec.name)

    def list_collections(self) -> list[CollectionSchema]:
        with self._colls_lock:
            return [c.meta.schema for c in sorted(self._colls.values(), key=lambda c: c.meta.name)]

    def count_all(self, name: str) -> int:
        coll = self._coll(name)
        with coll.live_lock:
            return len(coll.live)

    # ------------------------------------------------------------ writes

    def upsert(self, name: str, objects: list[ObjectIn]) -> tuple[WriteResult, Version]:
        """Write validated objects, stamped with one new version from this node's clock."""
        coll = self._coll(name)
        version = self.clock.now()
        writes = [Write(o.id, version, False, o.properties, o.vectors) for o in objects]
        return self._commit(coll, writes), version

    def delete(self, name: str, ids: list[str]) -> tuple[int, Version]:
        """Tombstone ids; returns how many were live."""
        coll = self._coll(name)
        version = self.clock.now()
        result = self._commit(coll, [Write(i, version, True) for i in ids])
        return len(result.removed_ids), version

    def apply(self, name: str, writes: list[Write]) -> WriteResult:
        """Replica write path: versions were stamped by the writer."""
        coll = self._coll(name)
        seen: set[str] = set()
        for i, w in enumerate(writes):
            if w.id in seen:
                raise InvalidArgument(f"objects[{i}].id", f"duplicate id {w.id!r} in one batch")
            seen.add(w.id)
            self.clock.observe(w.version)
        return self._commit(coll, writes)

    def _commit(self, coll: _Collection, writes: list[Write]) -> WriteResult:
        with self._write_lock:
            result = self._store.apply(coll.meta, writes)
            try:
                self._apply_to_indexes(coll, result.changes)
            except Exception:
                # The write is committed (LMDB is the truth); the derived index
                # is not. Rebuild it rather than serve searches that miss it.
                log.exception("index update failed after commit; rebuilding %s", coll.meta.name)
                for spec in coll.meta.schema.vectors:
                    coll.indexes[spec.name] = rebuild_index(
                        self._store, coll.meta, spec, len(coll.live) + len(writes)
                    )
            with coll.live_lock:
                for c in result.changes:
                    if c.removed is not None:
                        coll.live.discard(c.removed)
                    if c.docno is not None:
                        coll.live.add(c.docno)
            self._dirty += result.applied
        return result

    def _apply_to_indexes(self, coll: _Collection, changes: list[IndexChange]) -> None:
        for spec in coll.meta.schema.vectors:
            index = coll.indexes[spec.name]
            drop = [c.removed for c in changes if c.removed is not None]
            drop += [c.docno for c in changes if c.docno is not None and spec.name not in c.vectors]
            index.remove(drop)
            put = [c for c in changes if c.docno is not None and spec.name in c.vectors]
            if put:
                index.put(
                    np.asarray([c.docno for c in put], dtype=np.uint64),
                    np.stack([c.vectors[spec.name] for c in put]),
                )

    # ------------------------------------------------------------ reads

    def get(self, name: str, ids: list[str]) -> list[Record | None]:
        """Live records for ids, in order; None for missing or deleted."""
        coll = self._coll(name)
        return [
            r if r is not None and not r.deleted else None for r in self._store.get(coll.meta, ids)
        ]

    def get_versions(self, name: str, ids: list[str]) -> list[Record | None]:
        """Records including tombstones (for replicas comparing versions)."""
        return self._store.get(self._coll(name).meta, ids)

    def _matching(self, coll: _Collection, flt: filters.Filter) -> set[int] | None:
        if isinstance(flt, filters.All):
            return None
        return FilterEvaluator(self._store, coll.meta, coll.universe).docnos(flt)

    def count(self, name: str, flt: filters.Filter) -> int:
        coll = self._coll(name)
        docnos = self._matching(coll, flt)
        return self.count_all(name) if docnos is None else len(docnos)

    def count_in_ranges(
        self, name: str, flt: filters.Filter, ranges: list[tuple[int, int | None]]
    ) -> int:
        """Matching live objects whose token lies in any [start, end) range
        (end None: to the end of the ring)."""
        coll = self._coll(name)
        docnos = self._matching(coll, flt)
        tokens = np.asarray(
            self._store.records.tokens(coll.meta, None if docnos is None else sorted(docnos)),
            dtype=np.uint64,
        )
        return count_in_ranges(tokens, ranges)

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
        coll = self._coll(name)
        if order_by:
            spec = coll.meta.schema.property(order_by)
            if spec is None:
                raise InvalidArgument("order_by", f"unknown property {order_by!r}")
            if spec.type.value in ("keyword[]", "text"):
                raise InvalidArgument("order_by", f"cannot order by a {spec.type.value} property")
        docnos = self._matching(coll, flt)
        if docnos is None:
            docnos = coll.universe()
        records = [
            r for r in self._store.records.by_docnos(coll.meta, sorted(docnos)) if r is not None
        ]
        records.sort(key=lambda r: r.id, reverse=descending and not order_by)
        if order_by:
            spec = coll.meta.schema.property(order_by)
            assert spec is not None
            present = [r for r in records if r.properties.get(order_by) is not None]
            missing = [r for r in records if r.properties.get(order_by) is None]
            present.sort(
                key=lambda r: filters.comparable(spec.type, r.properties[order_by]),
                reverse=descending,
            )
            records = present + missing
        return records[offset : offset + limit]

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
        coll = self._coll(name)
        index = coll.indexes[spec.name]
        ef = ef or spec.hnsw.ef
        matching = self._matching(coll, flt)
        if matching is None:
            candidates = None
            n = index.live_count
        else:
            candidates = np.fromiter((d for d in matching if index.is_live(d)), dtype=np.uint64)
            n = len(candidates)
        k_eff = min(k, n)
        if k_eff == 0:
            return [SearchResult([], "empty", 0) for _ in range(len(queries))]

        labels: list[np.ndarray]
        dists: list[np.ndarray]
        if candidates is None:
            if n <= self.config.exact_search_max:
                strategy = "exact"
                labels, dists = self._exact(
                    index, np.fromiter(index.live_labels(), dtype=np.uint64), queries, k_eff
                )
            else:
                strategy = "hnsw"
                try:
                    lab, dis = index.knn(queries, k_eff, ef)
                    labels, dists = list(lab), list(dis)
                except RuntimeError:
                    strategy = "exact_fallback"
                    labels, dists = self._exact(
                        index, np.fromiter(index.live_labels(), dtype=np.uint64), queries, k_eff
                    )
        elif n <= self.config.exact_search_max:
            strategy = "exact"
            labels, dists = self._exact(index, candidates, queries, k_eff)
        elif n >= self.config.post_filter_min_share * index.live_count:
            strategy = "hnsw_post_filter"
            found = self._post_filter(index, candidates, queries, k_eff, ef)
            if found is None:
                strategy = "exact_fallback"
                labels, dists = self._exact(index, candidates, queries, k_eff)
            else:
                labels, dists = found
        else:
            strategy = "hnsw_filtered"
            allowed = set(candidates.tolist())
            try:
                lab, dis = index.knn(queries, k_eff, ef, allow=allowed.__contains__)
                labels, dists = list(lab), list(dis)
            except RuntimeError:
                strategy = "exact_fallback"
                labels, dists = self._exact(index, candidates, queries, k_eff)
        # One read of every distinct hit for all rows (batches repeat neighbours).
        wanted = sorted({int(x) for lab in labels for x in lab})
        records = dict(zip(wanted, self._store.records.by_docnos(coll.meta, wanted), strict=True))
        return [
            SearchResult(_hits(records, lab, dis), strategy, n)
            for lab, dis in zip(labels, dists, strict=True)
        ]

    def _exact(
        self, index: VectorIndex, labels: np.ndarray, queries: np.ndarray, k: int
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        stored = index.vectors(labels)
        out_l, out_d = [], []
        for q in queries:
            d = exact_distances(index.spec.metric, stored, q.astype(np.float32, copy=False))
            top = np.argpartition(d, k - 1)[:k] if k < len(d) else np.arange(len(d))
            top = top[np.argsort(d[top], kind="stable")]
            out_l.append(labels[top])
            out_d.append(d[top])
        return out_l, out_d

    def _post_filter(
        self, index: VectorIndex, candidates: np.ndarray, queries: np.ndarray, k: int, ef: int
    ) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
        """Oversample HNSW and drop non-matches, widening until every row has k."""
        allowed = set(candidates.tolist())
        total = index.live_count
        want = min(total, math.ceil(k * total / len(candidates) * 1.5) + 8)
        while True:
            try:
                lab, dis = index.knn(queries, want, max(ef, want))
            except RuntimeError:
                return None
            out_l, out_d = [], []
            for row_l, row_d in zip(lab, dis, strict=True):
                mask = np.fromiter((int(x) in allowed for x in row_l), dtype=bool, count=len(row_l))
                out_l.append(row_l[mask][:k])
                out_d.append(row_d[mask][:k])
            if all(len(x) >= k for x in out_l):
                return out_l, out_d
            if want >= total:
                return None
            want = min(total, want * 4)

    # ------------------------------------------------------------ checkpoints

    @property
    def dirty(self) -> int:
        return self._dirty

    def checkpoint(self) -> int:
        """Save every index as of the current change-log seq, then trim the log.
        Returns the seq checkpointed."""
        with self._write_lock:
            seq = self._store.last_seq()
            with self._colls_lock:
                colls = list(self._colls.values())
            for coll in colls:
                for spec in coll.meta.schema.vectors:
                    save_checkpoint(
                        self._index_dir, coll.meta.no, spec, coll.indexes[spec.name], seq
                    )
            self._store.log.trim(seq)
            self._dirty = 0
            return seq
