"""The router's replication decisions, pure: no I/O, no protobuf.

Given a cluster map (as a `Topology`: the ring and each member's state) this
module says where a write goes, when it counts as done, whom to ask for a
read, and which replica answers each token range of a search. The service
converts requests to these domain values, sends what the plans say, feeds the
answers back, and converts the result: every decision is here and
unit-tested by asserting the plans.

Placement (see DESIGN.md, "Replica states"): a key's replicas are the first
`rf` owners clockwise from its token (`Ring.replicas`). A replica that is
not writable (DOWN) is replaced by a *stand-in*, the next writable owner
beyond the replicas, which keeps the write as a durable hint only. Reads go
to readable replicas; for one that is not readable, the stand-in that holds
its hints answers from them (a read in place of the write it stood in for).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from vektra.common.errors import Unavailable
from vektra.common.hlc import Version
from vektra.common.membership import ClusterMap, MemberState
from vektra.common.ring import Ring, token, tokens

__all__ = [
    "Level",
    "Outcome",
    "RangeAssignment",
    "ReadPlan",
    "Source",
    "Target",
    "Topology",
    "WritePlan",
    "WriteTally",
    "assign_ranges",
    "plan_read",
    "plan_write",
]


class Level(enum.Enum):
    """A consistency level: how many replicas must answer."""

    ONE = "one"
    QUORUM = "quorum"
    ALL = "all"

    def needed(self, rf: int) -> int:
        match self:
            case Level.ONE:
                return 1
            case Level.QUORUM:
                return rf // 2 + 1
            case Level.ALL:
                return rf


class Topology:
    """One cluster map as the router routes by: the ring of owners and each
    member's state. Built once per map epoch."""

    def __init__(self, cluster: ClusterMap) -> None:
        self.cluster = cluster
        self.epoch = cluster.epoch
        self.states: dict[str, MemberState] = {m.id: m.state for m in cluster.members}
        self.addresses: dict[str, str] = {m.id: m.address for m in cluster.members}
        self.ring = Ring([m.id for m in cluster.members if m.state.in_ring], cluster.vnodes)
        self._assignments: dict[int, RangeAssignment] = {}

    def readable(self, node: str) -> bool:
        state = self.states.get(node)
        return state is not None and state.readable

    def writable(self, node: str) -> bool:
        state = self.states.get(node)
        return state is not None and state.writable

    def assignment(self, rf: int) -> RangeAssignment:
        """`assign_ranges` for this map, computed once per replication factor."""
        found = self._assignments.get(rf)
        if found is None:
            found = self._assignments[rf] = assign_ranges(self, rf)
        return found


# ---------------------------------------------------------------- writes


@dataclass(frozen=True, slots=True)
class Target:
    """Where one copy of a write goes: `node` applies it as its own copy, or,
    when `hint_for` is set, keeps it as a hint for that replica."""

    node: str
    hint_for: str | None = None


def write_targets(topo: Topology, tok: int, rf: int) -> tuple[Target, ...]:
    preference = topo.ring.preference(tok)
    spares = (n for n in preference[rf:] if topo.writable(n))
    out: list[Target] = []
    for replica in preference[:rf]:
        if topo.writable(replica):
            out.append(Target(replica))
        else:
            stand_in = next(spares, None)
            if stand_in is not None:
                out.append(Target(stand_in, hint_for=replica))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class WritePlan:
    need: int  # acknowledgements each object needs
    rf: int
    targets: tuple[tuple[Target, ...], ...]  # per object, in request order
    # node -> [(object index, hint_for)] in object order: one request per node
    per_node: dict[str, list[tuple[int, str | None]]]


def plan_write(
    topo: Topology, collection: str, ids: Sequence[str], rf: int, level: Level
) -> WritePlan:
    """Where each object of a batch goes. Refuses (nothing is sent) when an
    object cannot reach its level even if every target answers."""
    need = level.needed(rf)
    targets = []
    per_node: dict[str, list[tuple[int, str | None]]] = {}
    for i, object_id in enumerate(ids):
        ts = write_targets(topo, token(collection, object_id), rf)
        if len(ts) < need:
            raise Unavailable(
                f"objects[{i}]: {len(ts)} of {rf} replicas (or stand-ins) writable, "
                f"consistency {level.value} needs {need}; nothing was written"
            )
        targets.append(ts)
        for t in ts:
            per_node.setdefault(t.node, []).append((i, t.hint_for))
    return WritePlan(need, rf, tuple(targets), per_node)


class Outcome(enum.Enum):
    """What a node did with one object of an Apply."""

    APPLIED = "applied"  # stored as its copy
    STALE = "stale"  # it holds this version or a newer one: not applied
    HINTED = "hinted"  # kept as a hint for the replica it stands in for


@dataclass
class WriteTally:
    """Answers of the nodes of one `WritePlan`, as they arrive.

    An object is acknowledged by each target that applied it or kept it as a
    hint. A STALE answer means a replica holds a newer version than this
    write's: the write is not reported as applied; the caller stamps a newer
    version (past `newest_held`) and writes again, so writes one client makes
    one after the other stay ordered whatever the routers' clocks say."""

    plan: WritePlan
    version: Version  # the version this attempt stamped
    acks: list[int] = field(init=False)
    applied_by: list[list[str]] = field(init=False)  # nodes that applied each object
    failed: dict[str, str] = field(default_factory=dict)  # node -> why
    answered: set[str] = field(default_factory=set)
    stale: set[int] = field(default_factory=set)  # object indexes
    newest_held: Version | None = None

    def __post_init__(self) -> None:
        n = len(self.plan.targets)
        self.acks = [0] * n
        self.applied_by = [[] for _ in range(n)]

    def record(self, node: str, outcomes: Sequence[tuple[Outcome, Version | None]]) -> None:
        """A node's answer: one (outcome, version it holds if STALE) per object
        it was sent, in `plan.per_node[node]` order."""
        self.answered.add(node)
        sent = self.plan.per_node[node]
        if len(outcomes) != len(sent):
            self.fail(node, f"answered {len(outcomes)} outcomes for {len(sent)} objects")
            return
        for (i, _hint_for), (outcome, held) in zip(sent, outcomes, strict=True):
            match outcome:
                case Outcome.APPLIED:
                    self.acks[i] += 1
                    self.applied_by[i].append(node)
                case Outcome.HINTED:
                    self.acks[i] += 1
                case Outcome.STALE if held == self.version:
                    # It holds this very write (an earlier attempt landed).
                    self.acks[i] += 1
                    self.applied_by[i].append(node)
                case Outcome.STALE:
                    self.stale.add(i)
                    if held is not None and (self.newest_held is None or held > self.newest_held):
                        self.newest_held = held

    def fail(self, node: str, why: str) -> None:
        self.answered.add(node)
        self.failed[node] = why

    def _pending(self, i: int) -> int:
        return sum(1 for t in self.plan.targets[i] if t.node not in self.answered)

    def met(self) -> bool:
        """Every object acknowledged at its level (and none found stale)."""
        return not self.stale and all(a >= self.plan.need for a in self.acks)

    def decided(self) -> bool:
        """Whether waiting for more answers can change the verdict."""
        if self.stale or self.met():
            return True
        return any(a + self._pending(i) < self.plan.need for i, a in enumerate(self.acks)) or all(
            self._pending(i) == 0 for i in range(len(self.acks))
        )

    def lowest_acks(self) -> int:
        return min(self.acks) if self.acks else 0

    def shortfall(self, level: Level) -> str:
        """Why the level was not met, saying how many replicas did take it."""
        need = self.plan.need
        short = [i for i, a in enumerate(self.acks) if a < need]
        written = sum(1 for i in short if self.acks[i] > 0)
        why = "; ".join(f"{n}: {w}" for n, w in sorted(self.failed.items())) or "no answer in time"
        return (
            f"consistency {level.value} not met: {len(short)} of {len(self.acks)} objects "
            f"acknowledged by fewer than {need} of {self.plan.rf} replicas (lowest "
            f"{self.lowest_acks()}); {written} of them were written to some replicas and "
            f"{len(short) - written} to none ({why})"
        )

    def hints_for_failures(self) -> dict[str, list[tuple[int, str]]]:
        """For every replica that failed an object another replica applied:
        holder -> [(object index, failed replica)], the holder to keep a hint."""
        out: dict[str, list[tuple[int, str]]] = {}
        for i, targets in enumerate(self.plan.targets):
            holders = self.applied_by[i]
            if not holders:
                continue
            for t in targets:
                if t.hint_for is None and t.node in self.failed:
                    out.setdefault(holders[0], []).append((i, t.node))
        return out


# ---------------------------------------------------------------- reads by id


@dataclass(frozen=True, slots=True)
class Source:
    """Whom to ask for a key: `node`'s own copy, or (`hints_for` set) the
    hints it keeps for that replica. `counts` says whether its answer counts
    toward the level (a replica that is written but not yet readable is
    asked too, so its newer copy is not missed, but does not count)."""

    node: str
    hints_for: str | None = None
    counts: bool = True


def read_sources(topo: Topology, tok: int, rf: int) -> tuple[Source, ...]:
    return _sources(topo, topo.ring.preference(tok), rf)


def _sources(topo: Topology, preference: tuple[str, ...], rf: int) -> tuple[Source, ...]:
    spares = (n for n in preference[rf:] if topo.writable(n))
    out: list[Source] = []
    for replica in preference[:rf]:
        if topo.readable(replica):
            out.append(Source(replica))
            continue
        if topo.writable(replica):
            out.append(Source(replica, counts=False))
        # The stand-in that took its writes while it could not (the same walk
        # as `write_targets`) answers from the hints it keeps for it.
        stand_in = next(spares, None)
        if stand_in is not None:
            out.append(Source(stand_in, hints_for=replica))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    need: int
    rf: int
    sources: dict[str, tuple[Source, ...]]  # object id -> whom to ask
    # (node, hints_for) -> ids: one request per node and hint target
    requests: dict[tuple[str, str | None], list[str]]
    # Each distinct set of sources once, with the ids read from it.
    groups: list[tuple[tuple[Source, ...], list[str]]] = field(default_factory=list)

    def answered_enough(self, object_id: str, answered: AbstractSet[tuple[str, str | None]]) -> int:
        """How many of the sources that count for `object_id` answered."""
        return _answered(self.sources[object_id], answered)

    def shortfall(self, answered: AbstractSet[tuple[str, str | None]]) -> tuple[str, int] | None:
        """The first id (in plan order) with fewer than `need` counting sources
        answered, and how many did; None when every id has enough."""
        for srcs, ids in self.groups:
            got = _answered(srcs, answered)
            if got < self.need:
                return ids[0], got
        return None


def _answered(srcs: tuple[Source, ...], answered: AbstractSet[tuple[str, str | None]]) -> int:
    return sum(1 for s in srcs if s.counts and (s.node, s.hints_for) in answered)


def plan_read(
    topo: Topology, collection: str, ids: Sequence[str], rf: int, level: Level
) -> ReadPlan:
    need = level.needed(rf)
    unique = list(dict.fromkeys(ids))
    ring = topo.ring
    if len(ring.owners) == 1 and ring.ranges and unique:
        # One owner leads every range: every id has the same sources, and
        # no token needs hashing (a node alone: the usual small cluster).
        srcs = _sources(topo, ring.ranges[0].preference, rf)
        _check_readable(srcs, need, rf, level, unique[0])
        return ReadPlan(
            need,
            rf,
            dict.fromkeys(unique, srcs),
            {(s.node, s.hints_for): list(unique) for s in srcs},
            [(srcs, unique)],
        )
    where = ring.range_indexes(tokens(collection, unique)).tolist() if ring.ranges else []
    sources: dict[str, tuple[Source, ...]] = {}
    # Ids in one token range share their sources: worked out once per range.
    by_range: dict[int, tuple[tuple[Source, ...], list[str]]] = {}
    for object_id, at in zip(unique, where or [-1] * len(unique), strict=True):
        group = by_range.get(at)
        if group is None:
            srcs = _sources(topo, ring.ranges[at].preference, rf) if at >= 0 else ()
            _check_readable(srcs, need, rf, level, object_id)
            group = by_range[at] = (srcs, [])
        sources[object_id] = group[0]
        group[1].append(object_id)
    requests: dict[tuple[str, str | None], list[str]] = {}
    for srcs, group_ids in by_range.values():
        for s in srcs:
            requests.setdefault((s.node, s.hints_for), []).extend(group_ids)
    return ReadPlan(need, rf, sources, requests, list(by_range.values()))


def _check_readable(
    srcs: tuple[Source, ...], need: int, rf: int, level: Level, object_id: str
) -> None:
    counting = sum(1 for s in srcs if s.counts)
    if counting < need:
        raise Unavailable(
            f"{counting} of {rf} replicas of {object_id!r} "
            f"readable, consistency {level.value} needs {need}"
        )


# ---------------------------------------------------------------- scatter-gather


@dataclass(frozen=True, slots=True)
class RangeAssignment:
    """Which readable replica answers each token range: every range once.

    `by_node[node][position]` lists the range indexes `node` answers from its
    copies at that replica position. A readable node answers every range it
    leads (position 0), so `leads_all` holds for it; ranges of a replica that
    cannot be read go to the next readable replica, at its position."""

    rf: int
    by_node: dict[str, dict[int, tuple[int, ...]]]
    unanswerable: tuple[int, ...]  # ranges with no readable replica
    total: int  # ranges assigned or unanswerable

    def ranges_of(self, node: str) -> tuple[int, ...]:
        return tuple(sorted(r for rs in self.by_node.get(node, {}).values() for r in rs))


def assign_ranges(
    topo: Topology,
    rf: int,
    ranges: Iterable[int] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> RangeAssignment:
    """Give each range (all of them, or just `ranges`) to its first readable
    replica not in `exclude` (nodes that just failed to answer: their ranges
    are asked again of the next replica)."""
    by_node: dict[str, dict[int, list[int]]] = {}
    unanswerable: list[int] = []
    wanted = range(len(topo.ring.ranges)) if ranges is None else sorted(set(ranges))
    for index in wanted:
        r = topo.ring.ranges[index]
        for position, node in enumerate(r.replicas(rf)):
            if topo.readable(node) and node not in exclude:
                by_node.setdefault(node, {}).setdefault(position, []).append(index)
                break
        else:
            unanswerable.append(index)
    return RangeAssignment(
        rf,
        {n: {p: tuple(rs) for p, rs in ps.items()} for n, ps in by_node.items()},
        tuple(unanswerable),
        len(wanted),
    )
