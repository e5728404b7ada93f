"""Bring a collection's HNSW indexes back after a start or a crash.

`open_collection` is how the engine opens every collection at start. The
`docs` table gives every live docno with its token; the node's ring places
each at a replica position (`node.placement`). For each (vector field,
position) that holds vectors: verify and load the last checkpoint, replay
the change log after its `applied_seq`, and check that the index's live
labels are exactly the docnos the store puts at that position. On any
mismatch — missing, truncated or corrupted files, a checkpoint ahead of the
store, a change log trimmed past it, a checkpoint taken under another ring —
rebuild the index from LMDB, the source of truth. Every index that needs a
rebuild is filled from one scan of the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vektra.common.schema import VectorSpec
from vektra.node.catalog import CollectionMeta
from vektra.node.change_log import Change
from vektra.node.checkpoint import CheckpointError, load_checkpoint
from vektra.node.cluster_view import ClusterView
from vektra.node.doc_table import DocTable
from vektra.node.hit_table import HitTable
from vektra.node.index_build import (
    IndexKey,
    expected_members,
    index_name,
    rebuild_indexes,
    scan_docs,
)
from vektra.node.open_collections import OpenCollection
from vektra.node.placement import Placement
from vektra.node.position_indexes import FieldIndexes
from vektra.node.store import Store
from vektra.node.vector_index import VectorIndex

__all__ = ["open_collection"]

log = logging.getLogger(__name__)

_BATCH = 2048


def open_collection(
    store: Store, meta: CollectionMeta, folder: Path, view: ClusterView
) -> tuple[OpenCollection, dict[str, str]]:
    """The collection with its indexes recovered, and per index how
    ("loaded", "replayed ..." or "rebuilt: <reason>"), keyed by `index_name`."""
    placement = Placement.of(view, meta.schema.replication_factor)
    scan = scan_docs(store, meta)
    positions = placement.positions(scan.tokens)
    docs = DocTable.of(scan.docnos, scan.tokens, positions)
    expected = expected_members(scan, positions)
    specs = {v.name: v for v in meta.schema.vectors}
    recovered: dict[IndexKey, VectorIndex] = {}
    how: dict[IndexKey, str] = {}
    tail = _LogTail(store, meta)
    for key, wanted in expected.items():
        try:
            spec = specs[key[0]]
            recovered[key], how[key] = _recover(store, meta, spec, key[1], folder, wanted, tail)
        except CheckpointError as exc:
            reason = str(exc)
            if reason != "no checkpoint":
                name = index_name(meta, key)
                log.warning("index %s: %s; rebuilding from the store", name, reason)
            how[key] = f"rebuilt: {reason}"
    missing = {k: len(expected[k]) for k in expected if k not in recovered}
    recovered.update(rebuild_indexes(store, meta, placement, docs, missing))
    indexes = {
        name: FieldIndexes(spec, {p: i for (f, p), i in recovered.items() if f == name})
        for name, spec in specs.items()
    }
    for key, h in how.items():
        log.info("index %s: %s (%d vectors)", index_name(meta, key), h, recovered[key].live_count)
    hits = HitTable.load(store.records.live_heads(meta))
    coll = OpenCollection(meta, placement, docs, indexes, set(scan.docnos.tolist()), hits)
    return coll, {index_name(meta, k): h for k, h in sorted(how.items())}


def _recover(
    store: Store,
    meta: CollectionMeta,
    spec: VectorSpec,
    position: int,
    folder: Path,
    expected: set[int],
    tail: _LogTail,
) -> tuple[VectorIndex, str]:
    """The checkpointed index of one position, replayed to the store's last
    seq; CheckpointError when it cannot be trusted."""
    ck = load_checkpoint(folder, meta.no, spec, position)
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
        replayed = _replay(store, meta, spec, ck.index, tail.after(ck.applied_seq), expected)
    live = ck.index.live_labels()
    if live != expected:
        # Also how a checkpoint taken under another ring shows: other keys
        # belong at this position now.
        raise CheckpointError(
            f"index holds {len(live)} live vectors, the store {len(expected)} "
            f"({len(live - expected)} extra, {len(expected - live)} missing)"
        )
    return ck.index, f"replayed {replayed} changes" if replayed else "loaded"


@dataclass(frozen=True, slots=True)
class _Changes:
    """What the change log says happened to a collection after some seq."""

    entries: int
    touched: set[int]  # docnos indexed or retired
    # Per docno indexed: the vector fields every one of its entries left as
    # they were (the write path did not touch those indexes).
    kept: dict[int, frozenset[str]]


class _LogTail:
    """The collection's change-log entries after some seq, read from the log
    once for every index of the collection (their checkpoints are normally
    all at one seq)."""

    def __init__(self, store: Store, meta: CollectionMeta) -> None:
        self._store = store
        self._meta = meta
        self._from: int | None = None
        self._entries: list[Change] = []

    def after(self, seq: int) -> _Changes:
        if self._from is None or seq < self._from:
            self._entries = [c for c in self._store.log.after(seq) if c.coll_no == self._meta.no]
            self._from = seq
        touched: set[int] = set()
        kept: dict[int, frozenset[str]] = {}
        n = 0
        for c in self._entries:
            if c.seq <= seq:
                continue
            n += 1
            if c.removed is not None:
                touched.add(c.removed)
            if c.docno is not None:
                touched.add(c.docno)
                kept[c.docno] = kept[c.docno] & c.kept if c.docno in kept else c.kept
        return _Changes(n, touched, kept)


def _replay(
    store: Store,
    meta: CollectionMeta,
    spec: VectorSpec,
    index: VectorIndex,
    changes: _Changes,
    expected: set[int],
) -> int:
    # The log says which docnos changed; the store says what they are now.
    # Applying the current state is idempotent and independent of order
    # (docnos are never reused), so replaying twice is harmless. A docno
    # whose every update since the checkpoint left this field's vector as it
    # was is skipped while the index holds it, as the write path skipped it:
    # replay ends in the index state the node had before it stopped.
    touched = changes.touched
    index.remove([d for d in touched if d not in expected])
    present = sorted(
        d
        for d in touched
        if d in expected and not (index.is_live(d) and spec.name in changes.kept.get(d, ()))
    )
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
    return changes.entries
