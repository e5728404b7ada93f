"""Reads without a vector: by id, counts, counts per token range, and filter
queries ordered by a property.

Filters are evaluated to exact docno sets from the property indexes
(`node.filter_eval`); records come from the store. Nothing here takes the
write lock: reads run concurrently with each other and with writes.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

import numpy as np

from vektra.common import filters
from vektra.common.errors import InvalidArgument
from vektra.common.packed_hits import DecodedObjects
from vektra.common.schema import PropertySpec
from vektra.common.values import unpack
from vektra.node.filter_eval import FilterEvaluator
from vektra.node.open_collections import OpenCollection
from vektra.node.property_index import DocnoSet
from vektra.node.records import Record, RecordColumns, StoredObject
from vektra.node.store import Store
from vektra.node.token_ranges import Span, count_in_ranges, in_ranges

# count_in_ranges moved to node.token_ranges; re-exported for its callers.
__all__ = [
    "count",
    "count_in_ranges",
    "count_matching_in_ranges",
    "get_live",
    "matching",
    "query",
    "query_decoded",
]


def matching(store: Store, coll: OpenCollection, flt: filters.Filter) -> Set[int] | None:
    """Docnos of live objects matching `flt`; None for "all of them", which
    callers can often answer without listing them."""
    if isinstance(flt, filters.All):
        return None
    return FilterEvaluator(store, coll.meta, coll.universe).docnos(flt)


def get_live(store: Store, coll: OpenCollection, ids: list[str]) -> list[Record | None]:
    """Live records for ids, in order; None for missing or deleted."""
    return [r if r is not None and not r.deleted else None for r in store.get(coll.meta, ids)]


def count(store: Store, coll: OpenCollection, flt: filters.Filter) -> int:
    docnos = matching(store, coll, flt)
    return coll.live_count() if docnos is None else len(docnos)


def count_matching_in_ranges(
    store: Store, coll: OpenCollection, flt: filters.Filter, ranges: Sequence[Span]
) -> int:
    """Matching live objects whose token lies in any [start, end) range
    (end None: to the end of the ring)."""
    return len(_in_ranges(coll, _live_matching(store, coll, flt), ranges))


def _live_matching(store: Store, coll: OpenCollection, flt: filters.Filter) -> np.ndarray:
    docnos = matching(store, coll, flt)
    if docnos is None:
        docnos = coll.universe()
    if isinstance(docnos, DocnoSet):  # the index's own array: no pass per docno
        return docnos.array
    return np.fromiter(docnos, dtype=np.uint64, count=len(docnos))


def _in_ranges(coll: OpenCollection, docnos: np.ndarray, ranges: Sequence[Span]) -> np.ndarray:
    # Tokens from the in-memory doc table: one numpy pass, no LMDB read per
    # docno. A docno the table does not know yet is one committing right now:
    # left out, as if the query had run a moment earlier.
    keep = coll.docs.known(docnos) & in_ranges(coll.docs.tokens_of(docnos), ranges)
    inside: np.ndarray = docnos[keep]
    return inside


@dataclass(frozen=True, slots=True)
class _Page:
    """The objects of one page of a query, in order: ids and tokens (from
    the in-memory tables, read before their records)."""

    ids: list[str]
    tokens: list[int]


def _page_by_id(
    coll: OpenCollection,
    docnos: np.ndarray,
    limit: int,
    offset: int,
    descending: bool,
) -> _Page:
    """One page in id order: the ids of every match come from the hit table
    (`node.hit_table`), not from LMDB."""
    docnos = np.asarray(docnos, dtype=np.uint64)
    found = coll.hits.lookup(docnos)
    docnos, ids = docnos[found.live], found.ids
    order = sorted(range(len(ids)), key=ids.__getitem__, reverse=descending)
    return _page_of(coll, docnos, ids, order[offset : offset + limit])


def _page_of(coll: OpenCollection, docnos: np.ndarray, ids: list[str], at: list[int]) -> _Page:
    page = docnos[np.asarray(at, dtype=np.int64)]
    return _Page([ids[i] for i in at], coll.docs.tokens_of(page).tolist())


def query(
    store: Store,
    coll: OpenCollection,
    flt: filters.Filter,
    limit: int,
    offset: int = 0,
    order_by: str = "",
    descending: bool = False,
    ranges: Sequence[Span] | None = None,
    with_vectors: bool = False,
) -> list[StoredObject]:
    """Matching objects ordered by a property (missing values last) then id,
    or by id alone; with `ranges`, only those whose token lies in them. As
    a reply passes them on: properties as stored, vectors only when
    `with_vectors` (`Records.get_stored`). An object deleted since the page
    was chosen is left out."""
    page = _page(store, coll, flt, limit, offset, order_by, descending, ranges)
    found = store.records.get_stored(coll.meta, page.ids, with_vectors, page.tokens)
    return [o for o in found if o is not None and not o.deleted]


def query_columns(
    store: Store,
    coll: OpenCollection,
    flt: filters.Filter,
    limit: int,
    order_by: str,
    descending: bool,
    ranges: Sequence[Span] | None,
) -> RecordColumns:
    """`query`'s page without vectors as columns (`Records.columns`), for a
    packed reply: each record's head read, no object built per match."""
    page = _page(store, coll, flt, limit, 0, order_by, descending, ranges)
    return store.records.columns(coll.meta, page.ids, tokens=page.tokens)


def query_decoded(
    store: Store,
    coll: OpenCollection,
    flt: filters.Filter,
    limit: int,
    offset: int = 0,
    order_by: str = "",
    descending: bool = False,
) -> DecodedObjects:
    """`query`'s page without vectors, properties decoded, for a caller in
    this process (`Records.decoded`); `missing` lists the page's objects
    deleted since it was chosen, which are left out as `query` leaves them."""
    page = _page(store, coll, flt, limit, offset, order_by, descending, None)
    return store.records.decoded(coll.meta, page.ids, page.tokens)


def _page(
    store: Store,
    coll: OpenCollection,
    flt: filters.Filter,
    limit: int,
    offset: int,
    order_by: str,
    descending: bool,
    ranges: Sequence[Span] | None,
) -> _Page:
    """The ids (and tokens) of one page of a query."""
    spec = None
    if order_by:
        spec = coll.meta.schema.property(order_by)
        if spec is None:
            raise InvalidArgument("order_by", f"unknown property {order_by!r}")
        if spec.type.value in ("keyword[]", "text"):
            raise InvalidArgument("order_by", f"cannot order by a {spec.type.value} property")
    docnos = _live_matching(store, coll, flt)
    if ranges is not None:
        docnos = _in_ranges(coll, docnos, ranges)
    if spec is None:
        return _page_by_id(coll, docnos, limit, offset, descending)
    return _page_by_property(store, coll, docnos, spec, limit, offset, descending)


def _page_by_property(
    store: Store,
    coll: OpenCollection,
    docnos: np.ndarray,
    spec: PropertySpec,
    limit: int,
    offset: int,
    descending: bool,
) -> _Page:
    """One page by a property (missing values last) then id. Every match's
    properties are read to sort them, but not its vectors."""
    docnos = np.asarray(docnos, dtype=np.uint64)
    found = coll.hits.lookup(docnos)
    docnos, ids = docnos[found.live], found.ids
    raw = store.records.raw_properties(coll.meta, coll.docs.tokens_of(docnos).tolist(), ids)
    values = [None if r is None else unpack(r).get(spec.name) for r in raw]
    by_id = sorted(
        (i for i in range(len(ids)) if raw[i] is not None), key=ids.__getitem__
    )  # ties keep id order
    present = [i for i in by_id if values[i] is not None]
    missing = [i for i in by_id if values[i] is None]
    present.sort(key=lambda i: filters.comparable(spec.type, values[i]), reverse=descending)
    return _page_of(coll, docnos, ids, (present + missing)[offset : offset + limit])
