"""Commit and indexing: the write path of a node after validation.

A batch is committed to LMDB in one transaction (`Store.apply`), then the
collection's derived state — its HNSW indexes and live docnos — is brought
in line with what committed. The caller (`Engine`) holds its write lock
across both, so index order is commit order and a checkpoint taken under the
same lock holds exactly "every change up to seq N".

LMDB is the truth: if updating an index fails after the commit, the index is
rebuilt from the store rather than left missing the write.
"""

from __future__ import annotations

import logging

import numpy as np

from vektra.node.open_collections import OpenCollection
from vektra.node.records import IndexChange, Write, WriteResult
from vektra.node.recovery import rebuild_index
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
        for spec in coll.meta.schema.vectors:
            coll.indexes[spec.name] = rebuild_index(
                store, coll.meta, spec, len(coll.live) + len(writes)
            )
    with coll.live_lock:
        for c in result.changes:
            if c.removed is not None:
                coll.live.discard(c.removed)
            if c.docno is not None:
                coll.live.add(c.docno)
    return result


def index_changes(coll: OpenCollection, changes: list[IndexChange]) -> None:
    """Apply committed changes to every vector field's index, one batch per field."""
    for spec in coll.meta.schema.vectors:
        index = coll.indexes[spec.name]
        drop = [c.removed for c in changes if c.removed is not None]
        # An update that no longer sets this field drops its old vector.
        drop += [c.docno for c in changes if c.docno is not None and spec.name not in c.vectors]
        index.remove(drop)
        put = [c for c in changes if c.docno is not None and spec.name in c.vectors]
        if put:
            index.put(
                np.asarray([c.docno for c in put], dtype=np.uint64),
                np.stack([c.vectors[spec.name] for c in put]),
            )
