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

__all__ = ["ClusterMap", "DroppedCollection", "Member", "MemberState"]


class MemberState(enum.Enum):
    """A member's state; each predicate names every state, so a new state
    forces a decision everywhere (see DESIGN.md, "Replica states")."""

    JOINING = "joining"  # known, being filled; not an owner yet (holds no ring positions)
    ACTIVE = "active"  # owns its ranges; read and written
    # Back from DOWN, restarted, wiped, or behind on writes (hints are pending
    # for it): written, but not read until its hints are handed over and it
    # has compared every range it holds with the other replicas.
    RECOVERING = "recovering"
    DOWN = "down"  # missed heartbeats: keeps its ring positions, gets no traffic
    DRAINING = "draining"  # handing its ranges over; still read and written
    LEFT = "left"  # gone for good; holds nothing

    @property
    def in_ring(self) -> bool:
        """Whether the member holds positions on the ring (owns token ranges)."""
        match self:
            case (
                MemberState.ACTIVE
                | MemberState.RECOVERING
                | MemberState.DOWN
                | MemberState.DRAINING
            ):
                return True
            case MemberState.JOINING | MemberState.LEFT:
                return False
            case _:
                assert_never(self)

    @property
    def writable(self) -> bool:
        """Whether writes are sent to it (and it is otherwise up: health-checked
        members that take calls)."""
        match self:
            case (
                MemberState.ACTIVE
                | MemberState.RECOVERING
                | MemberState.DRAINING
                | MemberState.JOINING
            ):
                return True
            case MemberState.DOWN | MemberState.LEFT:
                return False
            case _:
                assert_never(self)

    @property
    def readable(self) -> bool:
        """Whether reads (gets, searches, queries, counts) may be answered by it."""
        match self:
            case MemberState.ACTIVE | MemberState.DRAINING:
                return True
            case MemberState.RECOVERING | MemberState.DOWN | MemberState.JOINING | MemberState.LEFT:
                return False
            case _:
                assert_never(self)

    @property
    def lets_tombstones_go(self) -> bool:
        """Whether tombstones may be purged anywhere while a member is in this
        state. A member that is down may hold hints it cannot hand over (or be
        owed them); one recovering is still owed hints; joining and draining
        members stream older versions. Any of those, arriving at a replica
        after its tombstone went, would bring a deleted object back."""
        match self:
            case MemberState.ACTIVE | MemberState.LEFT:
                return True
            case (
                MemberState.RECOVERING
                | MemberState.DOWN
                | MemberState.JOINING
                | MemberState.DRAINING
            ):
                return False
            case _:
                assert_never(self)

    @property
    def health_checked(self) -> bool:
        """Whether the coordinator keeps asking it for its NodeInfo."""
        match self:
            case (
                MemberState.ACTIVE
                | MemberState.RECOVERING
                | MemberState.DOWN
                | MemberState.DRAINING
                | MemberState.JOINING
            ):
                return True
            case MemberState.LEFT:
                return False
            case _:
                assert_never(self)


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    address: str
    state: MemberState
    # Bookkeeping of the coordinator, persisted with the map but not part of
    # what an epoch publishes (routers and nodes never see it):
    misses: int = 0  # consecutive failed health checks
    boot_id: str = ""  # the node process last seen (a new one means a restart)
    hints_for: tuple[str, ...] = ()  # members this node holds hints for
    recovering_since: int = 0  # epoch at which it entered RECOVERING

    def published(self) -> tuple[str, str, MemberState]:
        """What routers and nodes see of the member."""
        return (self.id, self.address, self.state)


@dataclass(frozen=True, slots=True)
class DroppedCollection:
    """A recorded drop: nodes holding this incarnation discard it."""

    name: str
    incarnation: str
    epoch: int


@dataclass(frozen=True, slots=True)
class ClusterMap:
    epoch: int = 0
    members: tuple[Member, ...] = ()
    collections: tuple[CollectionSchema, ...] = ()
    vnodes: int = 64
    default_replication_factor: int = 1
    cluster_id: str = ""  # fixed at bootstrap; "" = not bootstrapped
    dropped: tuple[DroppedCollection, ...] = ()

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

    def is_dropped(self, name: str, incarnation: str) -> bool:
        return any(d.name == name and d.incarnation == incarnation for d in self.dropped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "cluster_id": self.cluster_id,
            "vnodes": self.vnodes,
            "default_replication_factor": self.default_replication_factor,
            "members": [
                {
                    "id": m.id,
                    "address": m.address,
                    "state": m.state.value,
                    "misses": m.misses,
                    "boot_id": m.boot_id,
                    "hints_for": list(m.hints_for),
                    "recovering_since": m.recovering_since,
                }
                for m in self.members
            ],
            "collections": [c.to_dict() for c in self.collections],
            "dropped": [
                {"name": d.name, "incarnation": d.incarnation, "epoch": d.epoch}
                for d in self.dropped
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClusterMap:
        return cls(
            epoch=int(d["epoch"]),
            cluster_id=str(d.get("cluster_id", "")),
            vnodes=int(d.get("vnodes", 64)),
            default_replication_factor=int(d.get("default_replication_factor", 1)),
            members=tuple(
                Member(
                    m["id"],
                    m["address"],
                    MemberState(m["state"]),
                    int(m.get("misses", 0)),
                    str(m.get("boot_id", "")),
                    tuple(m.get("hints_for", ())),
                    int(m.get("recovering_since", 0)),
                )
                for m in d["members"]
            ),
            collections=tuple(CollectionSchema.from_dict(c) for c in d["collections"]),
            dropped=tuple(
                DroppedCollection(x["name"], x["incarnation"], int(x["epoch"]))
                for x in d.get("dropped", ())
            ),
        )
