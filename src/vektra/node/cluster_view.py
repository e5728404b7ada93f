"""The cluster map as this node was last given it by the coordinator.

A node takes map changes only from the coordinator (SetEpoch) and persists
them, so that after a restart it still knows its cluster (and refuses any
other), its epoch (and refuses callers routed by an older map), the members
(to hand hints to) and the ring (which replica position each key it stores
has). A node that has never been given a map serves alone: it is the only
member of its ring, so every key it holds is at position 0.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from vektra.common.membership import Member, MemberState
from vektra.common.ring import Ring

__all__ = ["ClusterView"]


@functools.lru_cache(maxsize=8)
def _ring(owners: tuple[str, ...], vnodes: int) -> Ring:
    return Ring(owners, vnodes)


@dataclass(frozen=True, slots=True)
class ClusterView:
    node_id: str
    cluster_id: str = ""  # "" = given no map yet: the node serves alone
    epoch: int = 0
    members: tuple[Member, ...] = ()
    vnodes: int = 64

    @property
    def standalone(self) -> bool:
        return not self.cluster_id

    def member(self, member_id: str) -> Member | None:
        for m in self.members:
            if m.id == member_id:
                return m
        return None

    @property
    def own_state(self) -> MemberState | None:
        m = self.member(self.node_id)
        return None if m is None else m.state

    @property
    def ring(self) -> Ring:
        """The ring of the members that own ranges (alone: this node only)."""
        if self.standalone:
            return _ring((self.node_id,), self.vnodes)
        owners = tuple(sorted(m.id for m in self.members if m.state.in_ring))
        return _ring(owners, self.vnodes)

    def position(self, tok: int, rf: int) -> int | None:
        """This node's replica position for a key (0 leads), None if it is not
        one of the key's replicas."""
        return self.ring.position(tok, self.node_id, rf)
