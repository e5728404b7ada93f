"""The cluster map as this node was last given it by the coordinator.

A node takes map changes only from the coordinator (SetEpoch) and persists
them, so that after a restart it still knows its cluster (and refuses any
other), its epoch (and refuses callers routed by an older map), the members
(to hand hints to) and the ring (which replica position each key it stores
has). A node that has never been given a map serves alone: it is the only
member of its ring, so every key it holds is at position 0.

`take_map` is the whole decision of a SetEpoch, pure: the node's view and
the map it is given in, the view it keeps out (`node.cluster_store` persists
it, the engine swaps it in).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from vektra.common.errors import FailedPrecondition, InvalidArgument
from vektra.common.membership import Member, MemberState
from vektra.common.ring import Ring

__all__ = ["DEFAULT_VNODES", "ClusterView", "take_map"]

DEFAULT_VNODES = 64


@functools.lru_cache(maxsize=8)
def _ring(owners: tuple[str, ...], vnodes: int) -> Ring:
    return Ring(owners, vnodes)


@dataclass(frozen=True, slots=True)
class ClusterView:
    node_id: str
    cluster_id: str = ""  # "" = given no map yet: the node serves alone
    epoch: int = 0
    members: tuple[Member, ...] = ()
    vnodes: int = DEFAULT_VNODES

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


def take_map(
    view: ClusterView, cluster_id: str, epoch: int, members: tuple[Member, ...], vnodes: int
) -> ClusterView:
    """The view a node keeps after being given map `epoch` of `cluster_id`.

    A node of no cluster yet joins the one the map names; a node of a cluster
    refuses another's map (FailedPrecondition naming both). A map older than
    the view is ignored (the view comes back unchanged: the caller answers the
    node's epoch, so the coordinator learns it is behind); an equal or newer
    one replaces the view whole. vnodes 0 means the default."""
    if not cluster_id:
        raise InvalidArgument("cluster_id", "a map names the cluster it is of")
    if view.cluster_id and cluster_id != view.cluster_id:
        raise FailedPrecondition(
            f"this node belongs to cluster {view.cluster_id}, not to cluster {cluster_id}"
        )
    if epoch < view.epoch:
        return view
    return ClusterView(view.node_id, cluster_id, epoch, members, vnodes or DEFAULT_VNODES)
