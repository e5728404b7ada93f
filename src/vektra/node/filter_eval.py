"""Evaluate a parsed filter to the exact set of matching docnos on one node.

Leaves on indexed properties are answered from the property index (`pidx`):
equality and `$in` by exact-value scans, ranges by one contiguous scan,
`$exists` by the presence entries. Leaves on unindexed properties are answered
by checking stored properties with `filters.matches` — inside an `$and`, only
over the candidates the indexed siblings left, when those are few.

The result is exact either way; its size is the filter's cardinality that
filtered search picks its strategy by.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Set

from vektra.common.filters import All, And, Exists, Filter, In, Not, Or, Range, matches
from vektra.common.schema import PropertyType
from vektra.common.values import INT64_MAX, INT64_MIN
from vektra.node import keys
from vektra.node.catalog import CollectionMeta
from vektra.node.records import Record
from vektra.node.store import Store

__all__ = ["FilterEvaluator"]

# Inside $and: check unindexed children record by record when the indexed
# siblings leave at most this share of the collection; otherwise scan once.
_CHECK_SHARE = 0.25


class FilterEvaluator:
    def __init__(
        self, store: Store, meta: CollectionMeta, universe: Callable[[], set[int]]
    ) -> None:
        self._store = store
        self._meta = meta
        self._universe_fn = universe
        self._universe: set[int] | None = None
        self._records: list[Record] | None = None

    def docnos(self, node: Filter) -> Set[int]:
        """The matching docnos; possibly a set the property index remembers
        (frozen), so never changed in place."""
        match node:
            case All():
                return set(self._all())
            case In() | Range() | Exists() if not node.prop.indexed:
                return self._scan(node)
            case In(prop, values):
                no = self._meta.schema.property_number(prop.name)
                if len(values) == 1:  # the index's own set, not a copy of it
                    (only,) = values
                    enc = keys.encode_index_value(prop.type, only)
                    return self._store.properties.docnos(self._meta, no, keys.TAG_VALUE, enc)
                out: set[int] = set()
                for v in values:
                    enc = keys.encode_index_value(prop.type, v)
                    out |= self._store.properties.docnos(self._meta, no, keys.TAG_VALUE, enc)
                return out
            case Range():
                return self._range(node)
            case Exists(prop, present):
                no = self._meta.schema.property_number(prop.name)
                have = self._store.properties.docnos(self._meta, no, keys.TAG_PRESENT)
                return have if present else self._all() - have
            case And(children):
                return self._and(children)
            case Or(children):
                out = set()
                for c in children:
                    out |= self.docnos(c)
                return out
            case Not(child):
                return self._all() - self.docnos(child)
        raise AssertionError(node)

    # ------------------------------------------------------------ helpers

    def _all(self) -> set[int]:
        if self._universe is None:
            self._universe = self._universe_fn()
        return self._universe

    def _and(self, children: tuple[Filter, ...]) -> Set[int]:
        indexed = [c for c in children if _indexable(c)]
        rest = [c for c in children if not _indexable(c)]
        current: Set[int] | None = None
        for c in indexed:
            found = self.docnos(c)
            current = found if current is None else current & found
            if not current:
                return set()
        if not rest:
            return current if current is not None else set(self._all())
        if current is not None and len(current) <= _CHECK_SHARE * max(1, len(self._all())):
            docnos = sorted(current)
            records = self._store.records.by_docnos(self._meta, docnos)
            return {
                d
                for d, rec in zip(docnos, records, strict=True)
                if rec is not None and all(matches(c, rec.properties) for c in rest)
            }
        for c in rest:
            found = self._scan(c)
            current = found if current is None else current & found
        return current if current is not None else set()

    def _scan(self, node: Filter) -> set[int]:
        if self._records is None:
            self._records = list(self._store.records.live(self._meta))
        return {
            r.docno for r in self._records if r.docno is not None and matches(node, r.properties)
        }

    def _range(self, node: Range) -> Set[int]:
        prop = node.prop
        lo, lo_inc, hi, hi_inc = node.lo, node.lo_inclusive, node.hi, node.hi_inclusive
        if prop.type in (PropertyType.INT, PropertyType.DATETIME):
            # Integer-valued: turn every bound into an inclusive integer bound.
            if lo is not None:
                lo = math.ceil(lo) if lo_inc else math.floor(lo) + 1
                lo_inc = True
            if hi is not None:
                hi = math.floor(hi) if hi_inc else math.ceil(hi) - 1
                hi_inc = True
            if lo is not None and hi is not None and lo > hi:
                return set()
            if (lo is not None and lo > INT64_MAX) or (hi is not None and hi < INT64_MIN):
                return set()
            lo = None if lo is None or lo <= INT64_MIN else lo
            hi = None if hi is None or hi >= INT64_MAX else hi
            lo_b = None if lo is None else keys.encode_index_value(prop.type, lo)
        else:
            lo_b = None
            if lo is not None:
                lo_b = (
                    keys.encode_index_value(prop.type, lo)
                    if lo_inc
                    else keys.float_successor_bytes(prop.type, lo)
                )
        hi_b = None if hi is None else keys.encode_index_value(prop.type, hi)
        if hi is None:
            hi_inc = True
        no = self._meta.schema.property_number(prop.name)
        return self._store.properties.range(self._meta, no, lo_b, hi_b, hi_inc)


def _indexable(node: Filter) -> bool:
    match node:
        case All():
            return True
        case In() | Range() | Exists():
            return node.prop.indexed
        case And(children) | Or(children):
            return all(_indexable(c) for c in children)
        case Not(child):
            return _indexable(child)
    raise AssertionError(node)
