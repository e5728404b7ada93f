"""The coordinator's decisions, as a pure function: plan(state, event) -> actions.

No I/O here. `plan` looks at the cluster map and one event (a health check
result, a schema request, the result of an effect, ...) and returns actions;
`apply` applies one action to the map. Applying cannot fail and is
idempotent (actions carry absolute values: "set the epoch to 7", never "add
one"). The coordinator applies a whole plan and persists it at once, then
carries out its effects (talking to nodes), then publishes the new map; what
an effect reports comes back as an event, so retries are planned here too.

Safety rules (DESIGN.md, "Replica states"; issue 8):
* A coordinator never destroys data because its own state is missing: it
  refuses to bootstrap a new cluster over nodes that already belong to one,
  and a collection is removed from nodes only by an explicit, recorded drop
  of one incarnation.
* A member that was down, restarted, wiped, or that others hold hints for, is
  RECOVERING (written, not read) until it reports a finished repair pass
  started at or after that moment and no hints for it remain anywhere.
* A node whose reported epoch, identity or collections differ from the map is
  synced again, at every heartbeat until it agrees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeAlias

from vektra.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    VektraError,
)
from vektra.common.membership import ClusterMap, DroppedCollection, Member, MemberState
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
    "NodeReport",
    "Policy",
    "PublishMap",
    "PutCollection",
    "RecordDrop",
    "Reject",
    "RemoveCollection",
    "SetAddress",
    "SetBoot",
    "SetClusterId",
    "SetEpoch",
    "SetHints",
    "SetMisses",
    "SetState",
    "SyncFailed",
    "SyncNodes",
    "apply",
    "plan",
]


@dataclass(frozen=True, slots=True)
class Policy:
    failure_threshold: int = 3


@dataclass(frozen=True, slots=True)
class NodeReport:
    """What a node says of itself (its NodeInfo), as the planner needs it."""

    cluster_id: str = ""  # "" = it belongs to no cluster (new, or wiped)
    epoch: int = 0
    boot_id: str = ""
    collections: tuple[tuple[str, str], ...] = ()  # (name, incarnation), sorted
    hints_for: tuple[str, ...] = ()  # members it holds hints for, sorted
    repaired_epoch: int = 0  # epoch its last full repair pass started at


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """Every configured initial node answered. `cluster_id` is the identity a
    new cluster would get (the shell draws it; the plan stays pure)."""

    cluster_id: str
    nodes: tuple[tuple[str, str, NodeReport], ...]  # (id, address, report)


@dataclass(frozen=True, slots=True)
class HealthOk:
    node_id: str
    report: NodeReport = NodeReport()


@dataclass(frozen=True, slots=True)
class HealthFailed:
    node_id: str


@dataclass(frozen=True, slots=True)
class CreateCollection:
    schema: CollectionSchema  # validated; replication_factor 0 = the cluster default
    incarnation: str  # drawn by the shell


@dataclass(frozen=True, slots=True)
class DropCollection:
    name: str


@dataclass(frozen=True, slots=True)
class AddNode:
    node_id: str
    address: str
    report: NodeReport = NodeReport()


@dataclass(frozen=True, slots=True)
class SyncFailed:
    """An effect's result: a node could not be synced (it is tried again at
    its next heartbeat, whose report will still differ from the map)."""

    node_id: str
    why: str


Event: TypeAlias = (
    Bootstrap | HealthOk | HealthFailed | CreateCollection | DropCollection | AddNode | SyncFailed
)

# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SetEpoch:
    epoch: int


@dataclass(frozen=True, slots=True)
class SetClusterId:
    cluster_id: str


@dataclass(frozen=True, slots=True)
class AddMember:
    member: Member


@dataclass(frozen=True, slots=True)
class SetState:
    node_id: str
    state: MemberState
    since: int = 0  # with RECOVERING: the epoch it enters it at


@dataclass(frozen=True, slots=True)
class SetMisses:
    node_id: str
    misses: int


@dataclass(frozen=True, slots=True)
class SetAddress:
    node_id: str
    address: str


@dataclass(frozen=True, slots=True)
class SetBoot:
    node_id: str
    boot_id: str


@dataclass(frozen=True, slots=True)
class SetHints:
    node_id: str
    hints_for: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PutCollection:
    schema: CollectionSchema


@dataclass(frozen=True, slots=True)
class RemoveCollection:
    name: str


@dataclass(frozen=True, slots=True)
class RecordDrop:
    dropped: DroppedCollection


@dataclass(frozen=True, slots=True)
class Reject:
    """The event is refused: the caller gets this error; nothing changes."""

    error: VektraError


@dataclass(frozen=True, slots=True)
class SyncNodes:
    """Effect: push the map (epoch, members, identity) and every collection
    schema to these nodes."""

    node_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PublishMap:
    """Effect: send the new map to every node that is up, then to the routers."""


@dataclass(frozen=True, slots=True)
class DropOnNodes:
    """Effect: drop one incarnation of a collection on these nodes."""

    name: str
    incarnation: str
    node_ids: tuple[str, ...]


Action: TypeAlias = (
    SetEpoch
    | SetClusterId
    | AddMember
    | SetState
    | SetMisses
    | SetAddress
    | SetBoot
    | SetHints
    | PutCollection
    | RemoveCollection
    | RecordDrop
    | Reject
    | SyncNodes
    | PublishMap
    | DropOnNodes
)

EFFECTS = (SyncNodes, PublishMap, DropOnNodes)


# ---------------------------------------------------------------- plan


def plan(state: ClusterMap, event: Event, policy: Policy) -> list[Action]:
    actions = _plan(state, event, policy)
    # Every new map reaches every node and router.
    if any(isinstance(a, SetEpoch) for a in actions) and not any(
        isinstance(a, Reject) for a in actions
    ):
        actions.append(PublishMap())
    return actions


def _up(state: ClusterMap) -> tuple[str, ...]:
    return tuple(m.id for m in state.members if m.state.writable)


def _plan(state: ClusterMap, event: Event, policy: Policy) -> list[Action]:
    match event:
        case Bootstrap(cluster_id, nodes):
            return _bootstrap(state, cluster_id, nodes)
        case HealthOk(node_id, report):
            return _health_ok(state, node_id, report)
        case HealthFailed(node_id):
            return _health_failed(state, node_id, policy)
        case CreateCollection(schema, incarnation):
            return _create(state, schema, incarnation)
        case DropCollection(name):
            existing = state.collection(name)
            if existing is None:
                return [Reject(NotFound(f"collection {name!r} does not exist"))]
            epoch = state.epoch + 1
            return [
                RemoveCollection(name),
                RecordDrop(DroppedCollection(name, existing.incarnation, epoch)),
                SetEpoch(epoch),
                DropOnNodes(name, existing.incarnation, _up(state)),
            ]
        case AddNode(node_id, address, report):
            if report.cluster_id and report.cluster_id != state.cluster_id:
                return [
                    Reject(
                        FailedPrecondition(
                            f"node {node_id} at {address} belongs to another cluster "
                            f"({report.cluster_id}); this cluster is {state.cluster_id}"
                        )
                    )
                ]
            m = state.member(node_id)
            if m is None:
                return [
                    AddMember(
                        Member(node_id, address, MemberState.JOINING, boot_id=report.boot_id)
                    ),
                    SetEpoch(state.epoch + 1),
                    SyncNodes((node_id,)),
                ]
            if m.address != address:
                return [SetAddress(node_id, address), SetEpoch(state.epoch + 1)]
            return []
        case SyncFailed():
            # Nothing to change: the node's next report still differs from
            # the map, and that plans the next sync.
            return []
    raise AssertionError(event)


def _bootstrap(
    state: ClusterMap, cluster_id: str, nodes: tuple[tuple[str, str, NodeReport], ...]
) -> list[Action]:
    if state.epoch:
        return []  # already bootstrapped: the persisted map rules
    claimed = [(i, r.cluster_id) for i, _a, r in nodes if r.cluster_id]
    if claimed:
        owners = ", ".join(f"{i} belongs to cluster {c}" for i, c in claimed)
        return [
            Reject(
                FailedPrecondition(
                    f"refusing to bootstrap a new cluster over nodes that hold one ({owners}): "
                    "this coordinator has no cluster map for them. Start it with the data "
                    "directory of that cluster's coordinator; nothing was changed on any node"
                )
            )
        ]
    return [
        SetClusterId(cluster_id),
        *(AddMember(Member(i, a, MemberState.ACTIVE, boot_id=r.boot_id)) for i, a, r in nodes),
        SetEpoch(1),
        SyncNodes(tuple(i for i, _a, _r in nodes)),
    ]


def _hinted_targets(state: ClusterMap, except_for: str) -> set[str]:
    return {t for m in state.members if m.id != except_for for t in m.hints_for}


def _health_ok(state: ClusterMap, node_id: str, report: NodeReport) -> list[Action]:
    m = state.member(node_id)
    if m is None:
        return []
    if report.cluster_id and report.cluster_id != state.cluster_id:
        # Something else answers at the member's address (a node of another
        # cluster): for this cluster the member is not there.
        return _health_failed(state, node_id, Policy())
    actions: list[Action] = []
    if m.misses:
        actions.append(SetMisses(node_id, 0))
    restarted = bool(m.boot_id) and report.boot_id != m.boot_id
    if report.boot_id != m.boot_id:
        actions.append(SetBoot(node_id, report.boot_id))
    epoch = state.epoch + 1
    new_state: MemberState | None = None
    # Members this node now holds hints for fell behind: not readable until
    # the hints are handed over.
    if report.hints_for != m.hints_for:
        actions.append(SetHints(node_id, report.hints_for))
        for target in sorted(set(report.hints_for) - set(m.hints_for)):
            t = state.member(target)
            if t is not None and t.state is MemberState.ACTIVE:
                actions.append(SetState(target, MemberState.RECOVERING, since=epoch))
    others_hold_hints = node_id in _hinted_targets(state, node_id)
    wiped = not report.cluster_id
    match m.state:
        case MemberState.DOWN:
            new_state = MemberState.RECOVERING
        case MemberState.ACTIVE | MemberState.DRAINING:
            if restarted or wiped or others_hold_hints:
                new_state = MemberState.RECOVERING
        case MemberState.RECOVERING:
            if restarted or wiped:
                # Start over: a restarted node forgot its repair pass. Only
                # bookkeeping changes, so no new epoch.
                actions.append(SetState(node_id, MemberState.RECOVERING, since=state.epoch))
            elif (
                report.repaired_epoch >= m.recovering_since
                and not others_hold_hints
                and report.epoch == state.epoch
            ):
                new_state = MemberState.ACTIVE
        case MemberState.JOINING | MemberState.LEFT:
            pass
    if new_state is not None:
        actions.append(SetState(node_id, new_state, since=epoch))
    changed = tuple(
        sorted(
            {
                a.node_id
                for a in actions
                if isinstance(a, SetState) and a.state is not _state_of(state, a.node_id)
            }
        )
    )
    if changed:
        actions += [SetEpoch(epoch), SyncNodes(changed)]
    elif _out_of_sync(state, report):
        actions.append(SyncNodes((node_id,)))
    stale = [(n, i) for n, i in report.collections if state.is_dropped(n, i)]
    for name, incarnation in stale:
        actions.append(DropOnNodes(name, incarnation, (node_id,)))
    return actions


def _state_of(state: ClusterMap, node_id: str) -> MemberState | None:
    m = state.member(node_id)
    return None if m is None else m.state


def _out_of_sync(state: ClusterMap, report: NodeReport) -> bool:
    wanted = tuple(sorted((c.name, c.incarnation) for c in state.collections))
    held = tuple(sorted(c for c in report.collections if not state.is_dropped(*c)))
    return (
        report.epoch != state.epoch
        or report.cluster_id != state.cluster_id
        or not set(wanted) <= set(held)
    )


def _health_failed(state: ClusterMap, node_id: str, policy: Policy) -> list[Action]:
    m = state.member(node_id)
    if m is None:
        return []
    misses = m.misses + 1
    match m.state:
        case MemberState.DOWN | MemberState.LEFT:
            return []
        case MemberState.JOINING:
            # Not an owner: missing heartbeats moves no ranges. (Marking it
            # DOWN would put it in the ring, owning ranges it has no data for.)
            return [SetMisses(node_id, misses)]
        case MemberState.ACTIVE | MemberState.RECOVERING | MemberState.DRAINING:
            if misses >= policy.failure_threshold:
                return [
                    SetState(node_id, MemberState.DOWN),
                    SetMisses(node_id, misses),
                    SetEpoch(state.epoch + 1),
                ]
            return [SetMisses(node_id, misses)]
    raise AssertionError(m.state)


def _create(state: ClusterMap, schema: CollectionSchema, incarnation: str) -> list[Action]:
    if state.collection(schema.name) is not None:
        return [Reject(AlreadyExists(f"collection {schema.name!r} already exists"))]
    rf = schema.replication_factor or state.default_replication_factor
    owners = sum(1 for m in state.members if m.state.in_ring)
    if rf > owners:
        return [
            Reject(
                InvalidArgument(
                    "schema.replication_factor",
                    f"replication factor {rf} is more than the {owners} nodes of the cluster",
                )
            )
        ]
    return [
        PutCollection(replace(schema, replication_factor=rf, incarnation=incarnation)),
        SetEpoch(state.epoch + 1),
        SyncNodes(_up(state)),
    ]


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
        case SetClusterId(cluster_id):
            return state if state.cluster_id else replace(state, cluster_id=cluster_id)
        case AddMember(member):
            if state.member(member.id) is not None:
                return state
            members = tuple(sorted((*state.members, member), key=lambda m: m.id))
            return replace(state, members=members)
        case SetState(node_id, st, since):
            if st is MemberState.RECOVERING:
                return _set_member(state, node_id, state=st, recovering_since=since)
            return _set_member(state, node_id, state=st)
        case SetMisses(node_id, misses):
            return _set_member(state, node_id, misses=misses)
        case SetAddress(node_id, address):
            return _set_member(state, node_id, address=address)
        case SetBoot(node_id, boot_id):
            return _set_member(state, node_id, boot_id=boot_id)
        case SetHints(node_id, hints_for):
            return _set_member(state, node_id, hints_for=hints_for)
        case PutCollection(schema):
            others = tuple(c for c in state.collections if c.name != schema.name)
            return replace(
                state, collections=tuple(sorted((*others, schema), key=lambda c: c.name))
            )
        case RemoveCollection(name):
            return replace(state, collections=tuple(c for c in state.collections if c.name != name))
        case RecordDrop(dropped):
            if dropped in state.dropped:
                return state
            return replace(state, dropped=(*state.dropped, dropped))
        case Reject() | SyncNodes() | PublishMap() | DropOnNodes():
            return state
    raise AssertionError(action)


def apply_all(state: ClusterMap, actions: list[Action]) -> ClusterMap:
    for action in actions:
        state = apply(state, action)
    return state
