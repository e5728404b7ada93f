"""One vector field's HNSW indexes on a node: one per replica position.

Position 0 holds the keys this node leads, position p the keys it is the
p-th replica of (`node.placement`). Every vector is in exactly one of them
(or in none, for a key this node is not a replica of), so a search that asks
every node for position 0 searches every object once, and a router covering
for a replica that cannot be read asks another node for just the position
holding those keys. An index is created when its position gets its first
vector.

The map of positions is replaced, never mutated in place, so a reader
iterating it never sees it change under it (the indexes themselves take
their own readers-writer lock).
"""

from __future__ import annotations

import numpy as np

from vektra.common.schema import VectorSpec
from vektra.node.vector_index import VectorIndex

__all__ = ["FieldIndexes"]


class FieldIndexes:
    def __init__(self, spec: VectorSpec, by_position: dict[int, VectorIndex] | None = None) -> None:
        self.spec = spec
        self._by_position: dict[int, VectorIndex] = dict(by_position or {})

    def get(self, position: int) -> VectorIndex | None:
        return self._by_position.get(position)

    def items(self) -> list[tuple[int, VectorIndex]]:
        """(position, index) by position."""
        return sorted(self._by_position.items())

    def positions(self) -> list[int]:
        return sorted(self._by_position)

    @property
    def live_count(self) -> int:
        return sum(i.live_count for i in self._by_position.values())

    # ------------------------------------------------------------ writer only

    def put(self, positions: np.ndarray, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Index each label's vector at its position; NO_POSITION: not indexed."""
        for p in np.unique(positions).tolist():
            if p < 0:  # NO_POSITION: this node is not one of the key's replicas
                continue
            rows = np.flatnonzero(positions == p)
            self._ensure(int(p)).put(labels[rows], vectors[rows])

    def remove(self, positions: np.ndarray, labels: np.ndarray) -> None:
        for p in np.unique(positions).tolist():
            index = self._by_position.get(int(p))
            if index is not None:
                index.remove(labels[positions == p].tolist())

    def replace(self, indexes: dict[int, VectorIndex | None]) -> None:
        """Swap in rebuilt indexes, all at once (None: the position is gone)."""
        by_position = dict(self._by_position)
        for position, index in indexes.items():
            if index is None:
                by_position.pop(position, None)
            else:
                by_position[position] = index
        self._by_position = by_position

    def _ensure(self, position: int) -> VectorIndex:
        index = self._by_position.get(position)
        if index is None:
            index = VectorIndex.empty(self.spec)
            self.replace({position: index})
        return index
