"""Keep a collection's per-position indexes in step with the node's ring.

When a membership change moves keys between this node's replica positions
(or makes it a replica of keys it was not, or no longer), the positions
whose set of keys changed are rebuilt from LMDB and swapped in; the others
are kept as they are. Ring changes are rare (membership only: a member
going DOWN or RECOVERING keeps its ring positions), so a rebuild is a fair
price for indexes as good as freshly built ones.

While a rebuild runs the old indexes keep answering. A field's indexes are
swapped all at once, so a search sees either the old set or the new one and
never a moved key twice; the doc table takes the new positions just before,
so a filtered search running at that very moment may miss a moved key.
The caller holds the engine's write lock.
"""

from __future__ import annotations

import logging

import numpy as np

from vektra.node.doc_table import ABSENT, DocTable
from vektra.node.hit_table import HitTable
from vektra.node.index_build import expected_members, index_name, rebuild_indexes, scan_docs
from vektra.node.open_collections import OpenCollection
from vektra.node.placement import NO_POSITION, Placement
from vektra.node.position_indexes import FieldIndexes
from vektra.node.store import Store

__all__ = ["rebuild_all", "repartition"]

log = logging.getLogger(__name__)


def repartition(store: Store, coll: OpenCollection, placement: Placement) -> list[str]:
    """Place the collection's keys by `placement`; returns the names of the
    indexes rebuilt (`index_build.index_name`)."""
    if coll.placement.same_as(placement):
        return []
    with coll.live_lock:
        live = np.fromiter(coll.live, dtype=np.uint64, count=len(coll.live))
    tokens = coll.docs.tokens_of(live)
    new = placement.positions(tokens)
    old = coll.docs.positions_of(live)
    moved = old != new
    if not moved.any():
        coll.placement = placement
        return []
    affected = (set(old[moved].tolist()) | set(new[moved].tolist())) - {NO_POSITION, ABSENT}
    # The new positions go into a table of their own first: the indexes are
    # built from it while searches still use the current one.
    docs = DocTable.of(live, tokens, new)
    counts = {p: int((new == p).sum()) for p in affected}
    sizes = {(v.name, p): n for v in coll.meta.schema.vectors for p, n in counts.items() if n > 0}
    fresh = rebuild_indexes(store, coll.meta, placement, docs, sizes)
    coll.docs.reposition(live, new)
    coll.placement = placement
    for v in coll.meta.schema.vectors:
        # An index left empty (no object at p has this field) is not kept.
        swap = {p: fresh.get((v.name, p)) for p in affected}
        kept = {p: i if i is not None and i.live_count else None for p, i in swap.items()}
        coll.indexes[v.name].replace(kept)
    rebuilt = sorted(index_name(coll.meta, k) for k in fresh)
    log.info("%s: ring change moved %d keys; rebuilt %s", coll.meta.name, int(moved.sum()), rebuilt)
    return rebuilt


def rebuild_all(store: Store, coll: OpenCollection) -> None:
    """Every index of the collection, and its doc and hit tables, afresh from the store
    (an index update failed after a commit)."""
    scan = scan_docs(store, coll.meta)
    positions = coll.placement.positions(scan.tokens)
    docs = DocTable.of(scan.docnos, scan.tokens, positions)
    sizes = {k: len(v) for k, v in expected_members(scan, positions).items()}
    fresh = rebuild_indexes(store, coll.meta, coll.placement, docs, sizes)
    coll.docs = docs
    coll.hits = HitTable.load(store.records.live_heads(coll.meta))
    coll.indexes = {
        v.name: FieldIndexes(v, {p: i for (f, p), i in fresh.items() if f == v.name})
        for v in coll.meta.schema.vectors
    }
    with coll.live_lock:
        coll.live = set(scan.docnos.tolist())
