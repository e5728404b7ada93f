"""The coordinator's decisions, as a pure function: plan(state, event) -> actions.

No I/O here. `plan` looks at the cluster map and one event (a health check
result, a schema request, ...) and returns actions; `apply` applies one action
to the map. Applying cannot fail and is idempotent (actions carry absolute
values: "set the epoch to 7", never "add one"), so a coordinator that crashes
after persisting N actions restarts in a valid state. Effects (talking to
nodes) are actions too, carried out by the coordinator's executor after the
state changes they follow are persisted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeAlias

from vektra.common.errors import AlreadyExists, InvalidArgument, NotFound, VektraError
from vektra.common.membership import ClusterMap, Member, MemberState
from vektra.common.schema import CollectionSchema

__all__ = [
    "Action",
    "AddMember",
    "AddNode",
    "Bootstrap",
    "CreateCollection",
    "DropCollection",
    "DropOnNodes",
    "Event",
    "HealthFailed",
    "HealthOk",
    "Policy",
    "PublishMap",
    "PutCollection",
    "Reject",
    "RemoveCollection",
    "SetAddress",
    "SetEpoch",
    "SetMisses",
    "SetState",
    "SyncNodes",
    "apply",
    "plan",
]


@dataclass(frozen=True, slots=True)
class Policy:
    failure_threshold: int = 3


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """Every configured initial node answered: (id, address) of each."""

    nodes: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class HealthOk:
    node_id: str


@dataclass(frozen=True, slots=True)
class HealthFailed:
    node_id: str


@dataclass(frozen=True, slots=True)
class CreateCollection:
    schema: CollectionSchema  # validated; replication_factor 0 = the cluster default


@dataclass(frozen=True, slots=True)
class DropCollection:
    name: str


@dataclass(frozen=True, slots=True)
class AddNode:
    node_id: str
    address: str


Event: TypeAlias = Bootstrap | HealthOk | HealthFailed | CreateCollection | DropCollection | AddNode

# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SetEpoch:
    epoch: int


@dataclass(frozen=True, slots=True)
class AddMember:
    member: Member


@dataclass(frozen=True, slots=True)
class SetState:
    node_id: str
    state: MemberState


@dataclass(frozen=True, slots=True)
class SetMisses:
    node_id: str
    misses: int


@dataclass(frozen=True, slots=True)
class SetAddress:
    node_id: str
    address: str


@dataclass(frozen=True, slots=True)
class PutCollection:
    schema: CollectionSchema


@dataclass(frozen=True, slots=True)
class RemoveCollection:
    name: str


@dataclass(frozen=True, slots=True)
class Reject:
    """The event is refused: the caller gets this error; nothing changes."""

    error: VektraError


@dataclass(frozen=True, slots=True)
class SyncNodes:
    """Effect: push the epoch and every collection schema to these nodes."""

    node_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PublishMap:
    """Effect: send the new epoch and member list to every reachable node."""


@dataclass(frozen=True, slots=True)
class DropOnNodes:
    """Effect: drop a collection's data on every reachable node."""

    name: str


Action: TypeAlias = (
    SetEpoch
    | AddMember
    | SetState
    | SetMisses
    | SetAddress
    | PutCollection
    | RemoveCollection
    | Reject
    | SyncNodes
    | PublishMap
    | DropOnNodes
)


# ---------------------------------------------------------------- plan


def plan(state: ClusterMap, event: Event, policy: Policy) -> list[Action]:
    actions = _plan(state, event, policy)
    # Every new map reaches every node (hinted handoff needs the members).
    if any(isinstance(a, SetEpoch) for a in actions):
        actions.append(PublishMap())
    return actions


def _plan(state: ClusterMap, event: Event, policy: Policy) -> list[Action]:
    match event:
        case Bootstrap(nodes):
            if state.epoch:
                return []  # already bootstrapped: the persisted map rules
            return [
                *(AddMember(Member(i, a, MemberState.ACTIVE)) for i, a in nodes),
                SetEpoch(1),
                SyncNodes(tuple(i for i, _ in nodes)),
            ]
        case HealthOk(node_id):
            m = state.member(node_id)
            if m is None:
                return []
            if m.state is MemberState.DOWN:
                return [
                    SetState(node_id, MemberState.ACTIVE),
                    SetMisses(node_id, 0),
                    SetEpoch(state.epoch + 1),
                    SyncNodes((node_id,)),
                ]
            return [SetMisses(node_id, 0)] if m.misses else []
        case HealthFailed(node_id):
            m = state.member(node_id)
            if m is None or m.state is MemberState.DOWN:
                return []
            misses = m.misses + 1
            if misses >= policy.failure_threshold:
                return [
                    SetState(node_id, MemberState.DOWN),
                    SetMisses(node_id, misses),
                    SetEpoch(state.epoch + 1),
                ]
            return [SetMisses(node_id, misses)]
        case CreateCollection(schema):
            existing = state.collection(schema.name)
            if existing is not None:
                return [Reject(AlreadyExists(f"collection {schema.name!r} already exists"))]
            rf = schema.replication_factor or state.default_replication_factor
            owners = sum(1 for m in state.members if m.state.in_ring)
            if rf > owners:
                return [
                    Reject(
                        InvalidArgument(
                            "schema.replication_factor",
                            f"replication factor {rf} is more than the {owners} nodes "
                            "of the cluster",
                        )
                    )
                ]
            return [
                PutCollection(replace(schema, replication_factor=rf)),
                SetEpoch(state.epoch + 1),
                SyncNodes(tuple(m.id for m in state.members if m.state.reachable)),
            ]
        case DropCollection(name):
            if state.collection(name) is None:
                return [Reject(NotFound(f"collection {name!r} does not exist"))]
            return [RemoveCollection(name), SetEpoch(state.epoch + 1), DropOnNodes(name)]
        case AddNode(node_id, address):
            m = state.member(node_id)
            if m is None:
                return [
                    AddMember(Member(node_id, address, MemberState.JOINING)),
                    SetEpoch(state.epoch + 1),
                    SyncNodes((node_id,)),
                ]
            if m.address != address:
                return [SetAddress(node_id, address), SetEpoch(state.epoch + 1)]
            return []
    raise AssertionError(event)


# ---------------------------------------------------------------- apply


def _set_member(cluster: ClusterMap, node_id: str, **changes: object) -> ClusterMap:
    return replace(
        cluster,
        members=tuple(replace(m, **changes) if m.id == node_id else m for m in cluster.members),  # type: ignore[arg-type]
    )


def apply(state: ClusterMap, action: Action) -> ClusterMap:
    """Apply one action. Never fails; applying twice equals applying once."""
    match action:
        case SetEpoch(epoch):
            return replace(state, epoch=max(state.epoch, epoch))
        case AddMember(member):
            if state.member(member.id) is not None:
                return state
            members = tuple(sorted((*state.members, member), key=lambda m: m.id))
            return replace(state, members=members)
        case SetState(node_id, st):
            return _set_member(state, node_id, state=st)
        case SetMisses(node_id, misses):
            return _set_member(state, node_id, misses=misses)
        case SetAddress(node_id, address):
            return _set_member(state, node_id, address=address)
        case PutCollection(schema):
            others = tuple(c for c in state.collections if c.name != schema.name)
            return replace(
                state, collections=tuple(sorted((*others, schema), key=lambda c: c.name))
            )
        case RemoveCollection(name):
            return replace(state, collections=tuple(c for c in state.collections if c.name != name))
        case Reject() | SyncNodes() | PublishMap() | DropOnNodes():
            return state
    raise AssertionError(action)
