"""What a settled cluster must look like, as pure functions over what the
harness read from it (the coordinator's map, each node's NodeInfo and
records), so every rule is unit-tested without a cluster.

`Cluster.validate()` reads, calls these and raises with `report(...)`:

* settled (`settle_problems`): every member active, no pending hints, every
  node at the map's epoch and cluster id, holding exactly the map's
  collection incarnations;
* placement (`placement_problems`), per collection: every id that exists on
  any node (live or tombstone) is on exactly the replicas the ring names, with
  the same version and deleted flag on each, and on no other node.

Problem kinds are named as in issue 8: "below RF", "copies elsewhere",
"versions differ", "epoch behind", "pending hints", and a few more for the
ways a node can be out of step with the map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from vektra.common.hlc import Version
from vektra.common.membership import ClusterMap, MemberState
from vektra.common.ring import Ring, token
from vektra.common.schema import CollectionSchema

__all__ = [
    "CollectionSummary",
    "NodeReport",
    "Problem",
    "Record",
    "placement_problems",
    "report",
    "settle_problems",
]

EXAMPLES = 20  # ids (or nodes) shown per problem


class Record(NamedTuple):
    """What one node holds for one id: `(version, deleted)`."""

    version: Version
    deleted: bool

    def __str__(self) -> str:
        return f"{self.version}{' (deleted)' if self.deleted else ''}"


@dataclass(frozen=True, slots=True)
class NodeReport:
    """The parts of a node's NodeInfo the checks use."""

    node_id: str
    epoch: int
    cluster_id: str
    incarnations: Mapping[str, str]  # collection -> incarnation
    hints: Mapping[str, int] = field(default_factory=dict)  # target member -> pending hints


@dataclass(frozen=True, slots=True)
class Problem:
    """One kind of problem where (a collection, or "" for the cluster), with a
    line per id or node it concerns (all of them; `report` shows a few)."""

    kind: str
    where: str
    details: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    objects: int  # live ids
    tombstones: int  # deleted ids still held


def live_members(cluster: ClusterMap) -> list[str]:
    """The members whose nodes are checked: every one that has not left."""
    return [m.id for m in cluster.members if m.state is not MemberState.LEFT]


def ring_of(cluster: ClusterMap) -> Ring:
    """The ring routers build from this map: its in-ring members."""
    return Ring([m.id for m in cluster.members if m.state.in_ring], cluster.vnodes)


# ---------------------------------------------------------------- settled


def settle_problems(
    cluster: ClusterMap,
    nodes: Mapping[str, NodeReport | str],
    expected: Sequence[str] = (),
) -> list[Problem]:
    """Why the cluster has not settled; [] once it has.

    `nodes`: by member id, its NodeReport or why it could not be asked.
    `expected`: member ids the test started, each of which must be in the map."""
    found: dict[str, list[str]] = {}

    def add(kind: str, line: str) -> None:
        found.setdefault(kind, []).append(line)

    members = {m.id: m for m in cluster.members}
    for node_id in expected:
        if node_id not in members:
            add("not a member", f"{node_id} is not in the map")
    for m in cluster.members:
        if m.state is not MemberState.ACTIVE and m.state is not MemberState.LEFT:
            add("not active", f"{m.id} is {m.state.value}")
    incarnations = {c.name: c.incarnation for c in cluster.collections}
    for member_id in live_members(cluster):
        got = nodes.get(member_id, "not asked")
        if isinstance(got, str):
            add("unreachable", f"{member_id}: {got}")
            continue
        if got.node_id != member_id:
            add("wrong node", f"{member_id}'s address is served by {got.node_id!r}")
        if got.epoch < cluster.epoch:
            add("epoch behind", f"{member_id} at epoch {got.epoch}, map at {cluster.epoch}")
        elif got.epoch > cluster.epoch:
            add("epoch ahead", f"{member_id} at epoch {got.epoch}, map at {cluster.epoch}")
        if got.cluster_id != cluster.cluster_id:
            add("cluster id differs", f"{member_id} has {got.cluster_id!r}")
        pending = {t: n for t, n in sorted(got.hints.items()) if n}
        if pending:
            held = ", ".join(f"{n} for {t}" for t, n in pending.items())
            add("pending hints", f"{member_id} holds {held}")
        if dict(got.incarnations) != incarnations:
            add("incarnations differ", f"{member_id}: {_diff(got.incarnations, incarnations)}")
    return [Problem(kind, "", tuple(lines)) for kind, lines in found.items()]


def _diff(held: Mapping[str, str], wanted: Mapping[str, str]) -> str:
    parts = []
    for name in sorted(set(held) | set(wanted)):
        have, want = held.get(name), wanted.get(name)
        if have == want:
            continue
        if have is None:
            parts.append(f"{name} missing")
        elif want is None:
            parts.append(f"{name} ({have}) not in the map")
        else:
            parts.append(f"{name} is {have}, map has {want}")
    return "; ".join(parts)


# ---------------------------------------------------------------- placement


def placement_problems(
    cluster: ClusterMap,
    schema: CollectionSchema,
    records: Mapping[str, Mapping[str, Record]],
    default_rf: int = 1,
) -> tuple[list[Problem], CollectionSummary]:
    """Where the copies of `schema`'s ids are against where the ring puts them.

    `records`: by member id, every record it holds of the collection (id ->
    Record). `default_rf` stands in for a replication factor of 0 (the
    cluster default, which a published map should not carry)."""
    ring = ring_of(cluster)
    rf = schema.replication_factor or default_rf
    below: list[str] = []
    elsewhere: list[str] = []
    differ: list[str] = []
    objects = tombstones = 0
    ids = sorted({i for held in records.values() for i in held})
    for object_id in ids:
        replicas = ring.replicas(token(schema.name, object_id), rf)
        holders = {node: held[object_id] for node, held in records.items() if object_id in held}
        names = ", ".join(replicas)
        missing = [r for r in replicas if r not in holders]
        if missing:
            on = ", ".join(sorted(holders)) or "nowhere"
            below.append(f"{object_id}: on {on}; replicas {names}")
        extra = sorted(n for n in holders if n not in replicas)
        if extra:
            elsewhere.append(f"{object_id}: also on {', '.join(extra)}; replicas {names}")
        copies = {r: holders[r] for r in replicas if r in holders}
        if len(set(copies.values())) > 1:
            differ.append(f"{object_id}: " + ", ".join(f"{n} {c}" for n, c in copies.items()))
        # Count what the replicas hold; the newest copy speaks for the id.
        newest = max(copies.values() or holders.values())
        if newest.deleted:
            tombstones += 1
        else:
            objects += 1
    problems = [
        Problem(kind, schema.name, tuple(lines))
        for kind, lines in (
            ("below RF", below),
            ("copies elsewhere", elsewhere),
            ("versions differ", differ),
        )
        if lines
    ]
    return problems, CollectionSummary(objects, tombstones)


# ---------------------------------------------------------------- report


def report(cluster: ClusterMap, problems: Sequence[Problem], limit: int = EXAMPLES) -> str:
    """A readable account: the map in one line, then per problem its count
    and up to `limit` examples."""
    members = ", ".join(f"{m.id} {m.state.value}" for m in cluster.members) or "none"
    rfs = ", ".join(f"{c.name} rf {c.replication_factor}" for c in cluster.collections)
    lines = [
        f"the cluster is not valid: map epoch {cluster.epoch}, cluster "
        f"{cluster.cluster_id or '(none)'}, members {members}; collections {rfs or 'none'}"
    ]
    for p in problems:
        where = f" in {p.where}" if p.where else ""
        unit = "ids" if p.where else "nodes"
        lines.append(f"  {p.kind}{where}: {len(p.details)} {unit}")
        lines += [f"    {d}" for d in p.details[:limit]]
        if len(p.details) > limit:
            lines.append(f"    ... and {len(p.details) - limit} more")
    return "\n".join(lines)
