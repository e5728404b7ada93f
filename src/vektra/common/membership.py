"""Cluster membership as domain values: member states and the cluster map.

Shared by the coordinator (which owns the map), routers and nodes (which
watch it). Every member state is an enum value, and every predicate names
every state, so a new state forces a decision everywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, assert_never

from vektra.common.schema import CollectionSchema

__all__ = ["ClusterMap", "Member", "MemberState"]


class MemberState(enum.Enum):
    JOINING = "joining"  # known, not yet given ranges (rebalancing moves data to it)
    ACTIVE = "active"  # owns ranges, serves reads and writes
    DRAINING = "draining"  # handing its ranges over; still serves
    DOWN = "down"  # missed heartbeats; keeps its ring position, gets no traffic

    @property
    def in_ring(self) -> bool:
        """Whether the member holds positions on the ring (owns token ranges)."""
        match self:
            case MemberState.ACTIVE | MemberState.DRAINING | MemberState.DOWN:
                return True
            case MemberState.JOINING:
                return False
            case _:
                assert_never(self)

    @property
    def reachable(self) -> bool:
        """Whether routers send it requests."""
        match self:
            case MemberState.ACTIVE | MemberState.DRAINING | MemberState.JOINING:
                return True
            case MemberState.DOWN:
                return False
            case _:
                assert_never(self)


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    address: str
    state: MemberState
    misses: int = 0  # consecutive failed health checks (not part of the epoch)


@dataclass(frozen=True, slots=True)
class ClusterMap:
    epoch: int = 0
    members: tuple[Member, ...] = ()
    collections: tuple[CollectionSchema, ...] = ()
    vnodes: int = 64
    default_replication_factor: int = 1

    def member(self, member_id: str) -> Member | None:
        for m in self.members:
            if m.id == member_id:
                return m
        return None

    def member_at(self, address: str) -> Member | None:
        for m in self.members:
            if m.address == address:
                return m
        return None

    def collection(self, name: str) -> CollectionSchema | None:
        for c in self.collections:
            if c.name == name:
                return c
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "vnodes": self.vnodes,
            "default_replication_factor": self.default_replication_factor,
            "members": [
                {"id": m.id, "address": m.address, "state": m.state.value, "misses": m.misses}
                for m in self.members
            ],
            "collections": [c.to_dict() for c in self.collections],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClusterMap:
        return cls(
            epoch=int(d["epoch"]),
            vnodes=int(d.get("vnodes", 64)),
            default_replication_factor=int(d.get("default_replication_factor", 1)),
            members=tuple(
                Member(m["id"], m["address"], MemberState(m["state"]), int(m.get("misses", 0)))
                for m in d["members"]
            ),
            collections=tuple(CollectionSchema.from_dict(c) for c in d["collections"]),
        )
