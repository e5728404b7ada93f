"""Bring a collection's HNSW indexes back after a start or a crash.

`open_collection` is how the engine opens every collection at start. For each
vector field: verify and load the last checkpoint, replay the change
log after its `applied_seq`, and check that the index's live labels are
exactly the store's. On any mismatch — missing, truncated or corrupted files,
a checkpoint ahead of the store, a change log trimmed past it — rebuild the
index from LMDB, the source of truth.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vektra.common.schema import VectorSpec
from vektra.node.catalog import CollectionMeta
from vektra.node.checkpoint import CheckpointError, load_checkpoint
from vektra.node.open_collections import OpenCollection
from vektra.node.store import Store
from vektra.node.vector_index import VectorIndex

__all__ = ["RecoveredIndex", "open_collection", "rebuild_index", "recover_index"]

log = logging.getLogger(__name__)

_BATCH = 2048


class RecoveredIndex:
    def __init__(self, index: VectorIndex, how: str) -> None:
        self.index = index
        self.how = how  # "loaded", "replayed" or "rebuilt: <reason>"


def open_collection(
    store: Store, meta: CollectionMeta, folder: Path
) -> tuple[OpenCollection, dict[str, str]]:
    """The collection with its indexes recovered, and per vector field how
    ("loaded", "replayed ..." or "rebuilt: <reason>")."""
    live: set[int] = set()
    per_field: dict[str, set[int]] = {v.name: set() for v in meta.schema.vectors}
    for docno, fields in store.records.docs(meta):
        live.add(docno)
        for f in fields:
            if f in per_field:
                per_field[f].add(docno)
    indexes: dict[str, VectorIndex] = {}
    how: dict[str, str] = {}
    for spec in meta.schema.vectors:
        rec = recover_index(store, meta, spec, folder, per_field[spec.name])
        how[spec.name] = rec.how
        log.info(
            "index %s.%s: %s (%d vectors)", meta.name, spec.name, rec.how, rec.index.live_count
        )
        indexes[spec.name] = rec.index
    return OpenCollection(meta, indexes, live), how


def recover_index(
    store: Store, meta: CollectionMeta, spec: VectorSpec, folder: Path, expected: set[int]
) -> RecoveredIndex:
    """expected: docnos of live objects that have a vector for this field."""
    try:
        ck = load_checkpoint(folder, meta.no, spec)
        last_seq = store.last_seq()
        if ck.applied_seq > last_seq:
            raise CheckpointError(
                f"checkpoint at seq {ck.applied_seq} is ahead of the store ({last_seq})"
            )
        replayed = 0
        if ck.applied_seq < last_seq:
            first = store.log.first_seq()
            if first is None or first > ck.applied_seq + 1:
                raise CheckpointError("the change log no longer reaches back to the checkpoint")
            replayed = _replay(store, meta, spec, ck.index, ck.applied_seq, expected)
        live = ck.index.live_labels()
        if live != expected:
            raise CheckpointError(
                f"index holds {len(live)} live vectors, the store {len(expected)} "
                f"({len(live - expected)} extra, {len(expected - live)} missing)"
            )
        return RecoveredIndex(ck.index, f"replayed {replayed} changes" if replayed else "loaded")
    except CheckpointError as exc:
        reason = str(exc)
        if reason != "no checkpoint":
            log.warning("index %s.%s: %s; rebuilding from the store", meta.name, spec.name, reason)
        return RecoveredIndex(rebuild_index(store, meta, spec, len(expected)), f"rebuilt: {reason}")


def _replay(
    store: Store,
    meta: CollectionMeta,
    spec: VectorSpec,
    index: VectorIndex,
    after: int,
    expected: set[int],
) -> int:
    # The log says which docnos changed; the store says what they are now.
    # Applying the current state is idempotent and independent of order
    # (docnos are never reused), so replaying twice is harmless.
    touched: set[int] = set()
    n = 0
    for change in store.log.after(after):
        if change.coll_no != meta.no:
            continue
        n += 1
        for d in (change.docno, change.removed):
            if d is not None:
                touched.add(d)
    gone = [d for d in touched if d not in expected]
    index.remove(gone)
    present = sorted(d for d in touched if d in expected)
    for start in range(0, len(present), _BATCH):
        chunk = present[start : start + _BATCH]
        labels, vectors = [], []
        for d, rec in zip(chunk, store.records.by_docnos(meta, chunk), strict=True):
            vec = None if rec is None else rec.vector(spec.name)
            if vec is None:
                raise CheckpointError(f"docno {d} is live but its vector cannot be read")
            labels.append(d)
            vectors.append(vec)
        if labels:
            index.put(np.asarray(labels, dtype=np.uint64), np.stack(vectors))
    return n


def rebuild_index(
    store: Store, meta: CollectionMeta, spec: VectorSpec, expected_count: int
) -> VectorIndex:
    index = VectorIndex.empty(spec, capacity=int(expected_count * 1.25) + 1)
    labels: list[int] = []
    vectors: list[np.ndarray] = []

    def flush() -> None:
        if labels:
            index.put(np.asarray(labels, dtype=np.uint64), np.stack(vectors))
            labels.clear()
            vectors.clear()

    for rec in store.records.live(meta):
        vec = rec.vector(spec.name)
        if vec is None or rec.docno is None:
            continue
        labels.append(rec.docno)
        vectors.append(vec)
        if len(labels) >= _BATCH:
            flush()
    flush()
    return index
