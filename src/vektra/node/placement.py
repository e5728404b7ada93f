"""Which replica position each key a node stores has, by the node's ring.

A key's replicas are the first `rf` entries of its token range's preference
list (`common.ring`); this node's position among them (0 leads) says which
of its per-position indexes the key's vectors go in. A key this node is not
a replica of (possible after a membership change, until the data is handed
over and dropped) has no position: it stays in LMDB, where anti-entropy and
validation find it, and is never searched.

The ring is cut into a few hundred ranges, so the position of every range is
computed once and a whole array of tokens is placed with one `searchsorted`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from vektra.common.ring import Ring
from vektra.node.cluster_view import ClusterView

__all__ = ["NO_POSITION", "Placement", "effective_rf"]

NO_POSITION = -1  # not a replica of the key


def effective_rf(replication_factor: int) -> int:
    """A schema's replication factor as positions: 0 (the cluster default,
    resolved by the coordinator) on a node that was never told counts as 1."""
    return max(1, replication_factor)


@dataclass(frozen=True, slots=True, eq=False)
class Placement:
    node_id: str
    ring: Ring
    rf: int
    by_range: np.ndarray  # int8: this node's position in each ring range, or NO_POSITION

    @staticmethod
    def of(view: ClusterView, replication_factor: int) -> Placement:
        return _placement(view.ring, view.node_id, effective_rf(replication_factor))

    @property
    def key(self) -> tuple[Ring, str, int]:
        """Two placements with equal keys place every token alike."""
        return (self.ring, self.node_id, self.rf)

    def same_as(self, other: Placement) -> bool:
        return self.key == other.key

    def positions(self, tokens: np.ndarray) -> np.ndarray:
        """int8 position of each uint64 token, NO_POSITION where this node is
        not one of its replicas."""
        if not len(self.by_range):
            return np.full(len(tokens), NO_POSITION, dtype=np.int8)
        at = self.ring.range_indexes(np.asarray(tokens, dtype=np.uint64))
        out: np.ndarray = self.by_range[at]
        return out

    def position(self, tok: int) -> int | None:
        p = int(self.positions(np.asarray([tok], dtype=np.uint64))[0])
        return None if p == NO_POSITION else p


@functools.lru_cache(maxsize=32)
def _placement(ring: Ring, node_id: str, rf: int) -> Placement:
    by_range = np.asarray(
        [
            r.replicas(rf).index(node_id) if node_id in r.replicas(rf) else NO_POSITION
            for r in ring.ranges
        ],
        dtype=np.int8,
    )
    return Placement(node_id, ring, rf, by_range)
