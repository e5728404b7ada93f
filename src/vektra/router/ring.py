"""A router's view of the ring: which nodes hold a key, and which node counts
each token range.

Built from a cluster map with uhashring (virtual nodes per member, our 64-bit
`hash64` as the ring's hash, so ring positions are the tokens nodes store).
Members that are DOWN keep their positions — their ranges do not move — but
get no traffic: writes go to the first RF *reachable* nodes clockwise (the
down replica's share goes to the next node, a stand-in), reads and counts to
the reachable ones.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from uhashring import HashRing

from vektra.common.membership import ClusterMap, Member
from vektra.common.ring import hash64

__all__ = ["RingView", "TokenRange"]

TOKEN_END = 1 << 64


@dataclass(frozen=True, slots=True)
class TokenRange:
    start: int  # inclusive
    end: int  # exclusive; TOKEN_END for the top of the ring
    preference: tuple[str, ...]  # distinct member ids clockwise from this range


class RingView:
    def __init__(self, cluster: ClusterMap) -> None:
        self.cluster = cluster
        self.epoch = cluster.epoch
        owners = [m for m in cluster.members if m.state.in_ring]
        self._members: dict[str, Member] = {m.id: m for m in cluster.members}
        self.reachable: frozenset[str] = frozenset(m.id for m in owners if m.state.reachable)
        self.owners: tuple[str, ...] = tuple(m.id for m in owners)
        self._ring = HashRing(
            nodes={m.id: {"vnodes": cluster.vnodes} for m in owners}, hash_fn=hash64
        )
        points = self._ring.get_points() if owners else []
        self._positions = [p for p, _ in points]
        self._point_nodes = [n for _, n in points]
        self._ranges: tuple[TokenRange, ...] | None = None

    def member(self, member_id: str) -> Member:
        return self._members[member_id]

    def address(self, member_id: str) -> str:
        return self._members[member_id].address

    def preference(self, collection: str, object_id: str) -> list[str]:
        """Every owner, distinct, clockwise from the key's token."""
        if not self.owners:
            return []
        return list(self._ring.iterate_nodes(f"{collection}/{object_id}"))

    def replicas(self, collection: str, object_id: str, rf: int) -> list[str]:
        """Where a key is written and read: its first `rf` owners, with any that
        are down replaced by the next reachable owners clockwise."""
        return [node for node, _ in self.placement(collection, object_id, rf)]

    def placement(self, collection: str, object_id: str, rf: int) -> list[tuple[str, str | None]]:
        """(node, member it stands in for or None) for each replica of a key."""
        preference = self.preference(collection, object_id)
        primary = preference[:rf]
        up = [n for n in primary if n in self.reachable]
        down = [n for n in primary if n not in self.reachable]
        stand_ins = [n for n in preference[rf:] if n in self.reachable]
        return [(n, None) for n in up] + list(zip(stand_ins, down, strict=False))

    def ranges(self) -> tuple[TokenRange, ...]:
        """The ring cut at every point: [previous point, point) belongs to the
        point's node (a token maps to the first point above it), and the wrap
        range [last point, end) plus [0, first point) to the first point's node.
        Computed once per map: every search, query and count uses it."""
        if self._ranges is None:
            self._ranges = tuple(self._cut())
        return self._ranges

    def _cut(self) -> list[TokenRange]:
        pts = self._positions
        if not pts:
            return []
        out = []
        n = len(pts)
        for i in range(n):
            pref = self._walk(i)
            if i == 0:
                out.append(TokenRange(0, pts[0], pref))
            else:
                out.append(TokenRange(pts[i - 1], pts[i], pref))
        out.append(TokenRange(pts[-1], TOKEN_END, self._walk(0)))
        return [r for r in out if r.start < r.end]

    def count_owner(self, r: TokenRange, rf: int) -> str | None:
        """The node that counts a range: its first reachable replica, or None
        when every replica of the range is down."""
        for node in r.preference[:rf]:
            if node in self.reachable:
                return node
        return None

    def _walk(self, index: int) -> tuple[str, ...]:
        seen: list[str] = []
        n = len(self._point_nodes)
        for step in range(n):
            node = self._point_nodes[(index + step) % n]
            if node not in seen:
                seen.append(node)
                if len(seen) == len(self.owners):
                    break
        return tuple(seen)

    def owner_of_token(self, token: int) -> str:
        """The first node clockwise from a token (for tests and tools)."""
        i = bisect.bisect_right(self._positions, token)
        node: str = self._point_nodes[i % len(self._point_nodes)]
        return node
