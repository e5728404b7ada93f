"""Building HNSW indexes from the store, the source of truth: what the
`docs` table says of a collection's live objects, and fresh per-position
indexes filled from one scan of the records.

Used when recovery cannot trust a checkpoint (`node.recovery`), when the
ring moves keys between positions (`node.repartition`) and when an index
update failed after a commit (`node.commit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from vektra.common.ring import TOKEN_END
from vektra.node.catalog import CollectionMeta
from vektra.node.doc_table import DocTable
from vektra.node.placement import NO_POSITION, Placement
from vektra.node.records import Record
from vektra.node.store import Store
from vektra.node.vector_index import VectorIndex

__all__ = ["DocsScan", "IndexKey", "expected_members", "index_name", "rebuild_indexes", "scan_docs"]

_BATCH = 2048

IndexKey = tuple[str, int]  # (vector field, replica position)


def index_name(meta: CollectionMeta, key: IndexKey) -> str:
    """How logs and `Engine.recovery` name one index: collection.field.p{position}."""
    return f"{meta.name}.{key[0]}.p{key[1]}"


@dataclass(frozen=True, slots=True)
class DocsScan:
    """What the `docs` table says about a collection's live objects."""

    docnos: np.ndarray  # uint64
    tokens: np.ndarray  # uint64, per docno
    with_field: dict[str, np.ndarray]  # vector field -> bool mask over `docnos`


def scan_docs(store: Store, meta: CollectionMeta) -> DocsScan:
    docnos: list[int] = []
    tokens: list[int] = []
    fields_of: list[list[str]] = []
    for docno, tok, fields in store.records.docs(meta):
        docnos.append(docno)
        tokens.append(tok)
        fields_of.append(fields)
    with_field = {
        v.name: np.fromiter((v.name in f for f in fields_of), dtype=bool, count=len(fields_of))
        for v in meta.schema.vectors
    }
    return DocsScan(
        np.asarray(docnos, dtype=np.uint64), np.asarray(tokens, dtype=np.uint64), with_field
    )


def expected_members(scan: DocsScan, positions: np.ndarray) -> dict[IndexKey, set[int]]:
    """The docnos each (field, position) index must hold, for the positions of
    `scan.docnos`; keys with nothing to hold are left out."""
    out: dict[IndexKey, set[int]] = {}
    for name, has in scan.with_field.items():
        for p in np.unique(positions[has]).tolist():
            if p != NO_POSITION:
                out[(name, p)] = set(scan.docnos[has & (positions == p)].tolist())
    return out


def rebuild_indexes(
    store: Store,
    meta: CollectionMeta,
    placement: Placement,
    docs: DocTable,
    sizes: dict[IndexKey, int],
) -> dict[IndexKey, VectorIndex]:
    """Fresh indexes for these (field, position) keys from one pass over the
    store, placing each object by `docs` (which must hold the positions of
    `placement`). `sizes`: the vectors expected in each, to size it.

    Only the token ranges where this node holds a wanted position are read:
    the ring's ranges are contiguous LMDB scans."""
    if not sizes:
        return {}
    specs = {v.name: v for v in meta.schema.vectors}
    out = {
        key: VectorIndex.empty(specs[key[0]], capacity=int(n * 1.25) + 1)
        for key, n in sizes.items()
    }
    fields = sorted({f for f, _ in sizes})
    spans = _spans(placement, {p for _, p in sizes})
    for batch in _batches(r for a, b in spans for r in store.records.scan(meta, a, b)):
        docnos = np.asarray([r.docno for r in batch], dtype=np.uint64)
        positions = docs.positions_of(docnos)
        for name in fields:
            for p in np.unique(positions).tolist():
                index = out.get((name, p))
                if index is None:
                    continue
                rows = np.flatnonzero(positions == p).tolist()
                vecs = [(int(docnos[i]), batch[i].vector(name)) for i in rows]
                present = [(d, v) for d, v in vecs if v is not None]
                if present:
                    index.put(
                        np.asarray([d for d, _ in present], dtype=np.uint64),
                        np.stack([v for _, v in present]),
                    )
    return out


def _spans(placement: Placement, positions: set[int]) -> list[tuple[int, int | None]]:
    """The ring's ranges where this node holds one of `positions`, adjacent
    ones merged (end None: the top of the ring)."""
    out: list[tuple[int, int | None]] = []
    for r, p in zip(placement.ring.ranges, placement.by_range.tolist(), strict=True):
        if p not in positions:
            continue
        end = None if r.end >= TOKEN_END else r.end
        if out and out[-1][1] == r.start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((r.start, end))
    return out


def _batches(records: Iterable[Record]) -> Iterator[list[Record]]:
    """Live records in lists of _BATCH (tombstones skipped)."""
    batch: list[Record] = []
    for rec in records:
        if rec.deleted:
            continue
        batch.append(rec)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
