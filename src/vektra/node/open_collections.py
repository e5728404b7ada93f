"""The in-memory side of the collections a node has open: derived state that
LMDB does not hold in a form a search can use.

Per collection: its catalog entry, the placement of its keys by the node's
ring (`node.placement`), each docno's token and position (`node.doc_table`)
and its id and version (`node.hit_table`),
per vector field one HNSW index per replica position
(`node.position_indexes`), and the set of live docnos (the universe a
filter's `$not` or `$exists: false` is taken against, and what `count_all`
counts). All of it is rebuilt from LMDB at start (`node.recovery`) and kept
in step by the write path (`node.commit`) and by ring changes
(`node.repartition`); the query, search and checkpoint modules only read it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from vektra.common.errors import NotFound
from vektra.node.catalog import CollectionMeta
from vektra.node.doc_table import DocTable
from vektra.node.hit_table import HitTable
from vektra.node.placement import Placement
from vektra.node.position_indexes import FieldIndexes

__all__ = ["OpenCollection", "OpenCollections"]


@dataclass
class OpenCollection:
    meta: CollectionMeta
    placement: Placement
    docs: DocTable
    indexes: dict[str, FieldIndexes]  # vector field -> its per-position indexes
    live: set[int]  # docnos of live objects
    hits: HitTable = field(default_factory=HitTable)  # docno -> id, version
    live_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rf(self) -> int:
        return self.placement.rf

    def universe(self) -> set[int]:
        with self.live_lock:
            return set(self.live)

    def live_count(self) -> int:
        with self.live_lock:
            return len(self.live)


class OpenCollections:
    """Open collections by name; safe to read while a writer adds or drops one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, OpenCollection] = {}

    def get(self, name: str) -> OpenCollection:
        with self._lock:
            coll = self._by_name.get(name)
        if coll is None:
            raise NotFound(f"collection {name!r} does not exist")
        return coll

    def find(self, name: str) -> OpenCollection | None:
        with self._lock:
            return self._by_name.get(name)

    def add(self, coll: OpenCollection) -> None:
        with self._lock:
            self._by_name[coll.meta.name] = coll

    def remove(self, name: str) -> None:
        with self._lock:
            self._by_name.pop(name, None)

    def all(self) -> list[OpenCollection]:
        """Every open collection, by name."""
        with self._lock:
            return sorted(self._by_name.values(), key=lambda c: c.meta.name)
