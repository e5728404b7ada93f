"""Commit and indexing: the write path of a node after validation.

A batch is committed to LMDB in one transaction (`Store.apply`), then the
collection's derived state — each docno's token and position, its HNSW
indexes and live docnos — is brought in line with what committed. Each
object is indexed at its replica position by the node's ring (or not at
all when this node is not one of its replicas). The caller (`Engine`) holds
its write lock across both, so index order is commit order and a checkpoint
taken under the same lock holds exactly "every change up to seq N".

LMDB is the truth: if updating an index fails after the commit, the
collection's indexes are rebuilt from the store rather than left missing the
write.
"""

from __future__ import annotations

import logging

import numpy as np

from vektra.node.open_collections import OpenCollection
from vektra.node.records import IndexChange, Write, WriteResult
from vektra.node.repartition import rebuild_all
from vektra.node.store import Store

__all__ = ["commit", "index_changes"]

log = logging.getLogger(__name__)


def commit(store: Store, coll: OpenCollection, writes: list[Write]) -> WriteResult:
    """Commit `writes` and index what changed. The caller holds the write lock."""
    result = store.apply(coll.meta, writes)
    try:
        index_changes(coll, result.changes)
    except Exception:
        log.exception("index update failed after commit; rebuilding %s", coll.meta.name)
        rebuild_all(store, coll)
    with coll.live_lock:
        for c in result.changes:
            if c.removed is not None:
                coll.live.discard(c.removed)
            if c.docno is not None:
                coll.live.add(c.docno)
    return result


def index_changes(coll: OpenCollection, changes: list[IndexChange]) -> None:
    """Apply committed changes to the doc table, then to every vector field's
    indexes, one batch per (field, position); a vector an update left
    byte-identical (`IndexChange.kept`) is not touched."""
    put = [c for c in changes if c.docno is not None]
    gone = np.asarray([c.removed for c in changes if c.removed is not None], dtype=np.uint64)
    gone_at = coll.docs.positions_of(gone)
    docnos = np.asarray([c.docno for c in put], dtype=np.uint64)
    tokens = np.asarray([c.token for c in put], dtype=np.uint64)
    # A docno keeps its token, so an update lands at the position it had.
    positions = coll.placement.positions(tokens)
    # The table before the indexes: a search that finds a docno in an index
    # must find its token (searches by range filter hits by it).
    coll.docs.clear(gone)
    coll.docs.set(docnos, tokens, positions)
    coll.hits.clear(gone.tolist())
    coll.hits.set(docnos.tolist(), [c.id for c in put], [c.version for c in put])
    for spec in coll.meta.schema.vectors:
        field = coll.indexes[spec.name]
        field.remove(gone_at, gone)
        has = np.fromiter((spec.name in c.vectors for c in put), dtype=bool, count=len(put))
        kept = np.fromiter((spec.name in c.kept for c in put), dtype=bool, count=len(put))
        # An update that no longer sets this field drops its old vector.
        field.remove(positions[~has], docnos[~has])
        # One that sets it as it was leaves the index as it is (the docno
        # keeps its token, hence its position, and its vector).
        rows = np.flatnonzero(has & ~kept)
        if len(rows):
            vectors = np.stack([put[i].vectors[spec.name] for i in rows.tolist()])
            field.put(positions[rows], docnos[rows], vectors)
