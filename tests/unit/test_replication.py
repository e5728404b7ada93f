"""The router's pure replication decisions (router.replication): where a
write goes and when it counts, whom a read asks, and which replica answers
each token range — asserted on the plans, with no network."""

from __future__ import annotations

import pytest

from vektra.common.errors import Unavailable
from vektra.common.hlc import Version
from vektra.common.membership import ClusterMap, Member, MemberState
from vektra.common.ring import token
from vektra.router.replication import (
    Level,
    Outcome,
    Source,
    Target,
    Topology,
    WriteTally,
    assign_ranges,
    plan_read,
    plan_write,
    read_sources,
    write_targets,
)

A, D, R = MemberState.ACTIVE, MemberState.DOWN, MemberState.RECOVERING
V1 = Version(100, 0, "router-a")
V2 = Version(200, 0, "router-b")


def topology(*states: MemberState, vnodes: int = 32) -> Topology:
    return Topology(
        ClusterMap(
            epoch=7,
            vnodes=vnodes,
            members=tuple(Member(f"n{i}", f"h:{i}", s) for i, s in enumerate(states)),
        )
    )


def key_led_by(topo: Topology, node: str, rf: int = 2) -> tuple[str, tuple[str, ...]]:
    """An id whose first replica is `node`, and its replicas."""
    for i in range(10_000):
        reps = topo.ring.replicas(token("c", f"k{i}"), rf)
        if reps[0] == node:
            return f"k{i}", reps
    raise AssertionError("no such key")


# ---------------------------------------------------------------- writes


def test_levels() -> None:
    assert [Level.ONE.needed(3), Level.QUORUM.needed(3), Level.ALL.needed(3)] == [1, 2, 3]
    assert Level.QUORUM.needed(2) == 2 and Level.QUORUM.needed(1) == 1


def test_writes_go_to_the_replicas_and_a_down_one_gets_a_stand_in_with_a_hint() -> None:
    up = topology(A, A, A)
    key, reps = key_led_by(up, "n1")
    assert write_targets(up, token("c", key), 2) == tuple(Target(n) for n in reps)
    down = topology(A, D, A)
    (spare,) = [n for n in down.ring.preference(token("c", key)) if n not in reps]
    targets = write_targets(down, token("c", key), 2)
    assert Target(spare, hint_for="n1") in targets and Target("n1") not in targets
    assert Target(reps[1]) in targets


def test_a_recovering_replica_is_written_itself() -> None:
    topo = topology(A, R, A)
    key, reps = key_led_by(topo, "n1")
    assert write_targets(topo, token("c", key), 2) == tuple(Target(n) for n in reps)


def test_a_write_that_cannot_reach_its_level_is_refused_before_sending() -> None:
    topo = topology(A, D)  # rf 2 on two nodes: no spare to stand in
    key, _ = key_led_by(topo, "n1")
    with pytest.raises(Unavailable, match="nothing was written"):
        plan_write(topo, "c", [key], 2, Level.ALL)
    plan = plan_write(topo, "c", [key], 2, Level.ONE)
    assert plan.per_node == {"n0": [(0, None)]}


def test_the_plan_sends_one_request_per_node() -> None:
    topo = topology(A, A, A)
    ids = [f"k{i}" for i in range(50)]
    plan = plan_write(topo, "c", ids, 2, Level.QUORUM)
    assert set(plan.per_node) <= {"n0", "n1", "n2"}
    sent = sorted(i for entries in plan.per_node.values() for i, _ in entries)
    assert sent == sorted(list(range(50)) * 2)


def _tally(level: Level = Level.QUORUM, *states: MemberState) -> tuple[WriteTally, list[str]]:
    topo = topology(*(states or (A, A, A)))
    key, reps = key_led_by(topo, "n0")
    return WriteTally(plan_write(topo, "c", [key], 2, level), V1), list(reps)


def test_the_level_is_met_as_soon_as_enough_replicas_applied() -> None:
    tally, (r0, _r1) = _tally(Level.ONE)
    assert not tally.decided()
    tally.record(r0, [(Outcome.APPLIED, None)])
    assert tally.met() and tally.decided() and tally.lowest_acks() == 1
    tally, (r0, r1) = _tally(Level.QUORUM)
    tally.record(r0, [(Outcome.APPLIED, None)])
    assert not tally.decided(), "quorum of 2 waits for the second replica"
    tally.record(r1, [(Outcome.HINTED, None)])
    assert tally.met()


def test_a_failure_decides_when_the_level_is_out_of_reach_and_says_how_many_applied() -> None:
    tally, (r0, r1) = _tally(Level.ALL)
    tally.record(r0, [(Outcome.APPLIED, None)])
    tally.fail(r1, "deadline exceeded")
    assert tally.decided() and not tally.met()
    why = tally.shortfall(Level.ALL)
    assert "1 of 1 objects" in why and "1 of them were written to some replicas" in why
    assert f"{r1}: deadline exceeded" in why
    assert tally.hints_for_failures() == {r0: [(0, r1)]}


def test_a_stale_answer_is_never_an_acknowledgement() -> None:
    tally, (r0, _r1) = _tally(Level.ONE)
    tally.record(r0, [(Outcome.STALE, V2)])
    assert tally.decided() and not tally.met()
    assert tally.stale == {0} and tally.newest_held == V2


def test_a_replica_holding_this_very_version_acknowledges_it() -> None:
    # A retried write whose first attempt landed.
    tally, (r0, r1) = _tally(Level.QUORUM)
    tally.record(r0, [(Outcome.STALE, V1)])
    tally.record(r1, [(Outcome.APPLIED, None)])
    assert tally.met() and not tally.stale


def test_a_node_answering_the_wrong_number_of_outcomes_has_failed() -> None:
    tally, (r0, _r1) = _tally(Level.ONE)
    tally.record(r0, [])
    assert r0 in tally.failed and not tally.met()


# ---------------------------------------------------------------- reads


def test_reads_ask_readable_replicas_and_the_stand_in_of_one_that_is_not() -> None:
    up = topology(A, A, A)
    key, reps = key_led_by(up, "n1")
    assert read_sources(up, token("c", key), 2) == tuple(Source(n) for n in reps)
    down = topology(A, D, A)
    (spare,) = [n for n in down.ring.preference(token("c", key)) if n not in reps]
    srcs = read_sources(down, token("c", key), 2)
    assert Source(spare, hints_for="n1") in srcs and Source(reps[1]) in srcs
    # The stand-in a write used is the one a read asks.
    assert {t.node for t in write_targets(down, token("c", key), 2)} == {s.node for s in srcs}


def test_a_recovering_replica_is_asked_but_does_not_count() -> None:
    topo = topology(A, R, A)
    key, reps = key_led_by(topo, "n1")
    srcs = read_sources(topo, token("c", key), 2)
    assert Source("n1", counts=False) in srcs
    plan = plan_read(topo, "c", [key], 2, Level.QUORUM)
    answered = {(s.node, s.hints_for) for s in srcs if s.node != reps[1]}
    assert plan.answered_enough(key, answered) == 1, "only the stand-in's hints count"


def test_a_plan_for_many_ids_asks_each_source_once_for_exactly_its_ids() -> None:
    topo = topology(A, R, A)
    ids = [f"k{i}" for i in range(300)] + ["k7", "ü-1"]  # a repeat, a non-ASCII id
    plan = plan_read(topo, "c", ids, 2, Level.ONE)
    assert list(plan.sources) == list(dict.fromkeys(ids))
    wanted: dict[tuple[str, str | None], set[str]] = {}
    for object_id in plan.sources:
        srcs = read_sources(topo, token("c", object_id), 2)
        assert plan.sources[object_id] == srcs
        for s in srcs:
            wanted.setdefault((s.node, s.hints_for), set()).add(object_id)
    assert {k: sorted(v) for k, v in wanted.items()} == {
        k: sorted(v) for k, v in plan.requests.items()
    }
    assert all(len(v) == len(set(v)) for v in plan.requests.values())
    # Every source answered: enough. The stand-in for n1 silent: the ids n1
    # leads or follows still have their other replica, so ONE is met...
    everyone = set(plan.requests)
    assert plan.shortfall(everyone) is None
    assert plan.shortfall(everyone - {k for k in everyone if k[1] == "n1"}) is None
    # ...but with n0 silent too, an id of a range n0 and n1 hold has none.
    silent = {k for k in everyone if k[1] == "n1" or k[0] == "n0"}
    short = plan.shortfall(everyone - silent)
    assert short is not None
    object_id, got = short
    assert got == 0 and {s.node for s in plan.sources[object_id]} >= {"n0"}


@pytest.mark.parametrize("rf", [1, 2])
def test_a_node_alone_is_asked_for_every_id_without_hashing_them(rf: int) -> None:
    """One owner leads every range: the plan (made without tokens) is what
    the per-range plan gives, each id's sources what `read_sources` says."""
    topo = topology(A)
    ids = [f"k{i}" for i in range(50)] + ["k7", "ü-1"]
    plan = plan_read(topo, "c", ids, rf, Level.ONE)
    assert list(plan.sources) == list(dict.fromkeys(ids))
    for object_id, srcs in plan.sources.items():
        assert srcs == read_sources(topo, token("c", object_id), rf)
    assert plan.requests == {("n0", None): list(dict.fromkeys(ids))}
    assert plan.shortfall({("n0", None)}) is None
    assert plan.shortfall(set()) == ("k0", 0)
    with pytest.raises(Unavailable, match="needs 1"):
        plan_read(topology(D), "c", ids, rf, Level.ONE)


def test_a_read_that_cannot_reach_its_level_is_refused() -> None:
    topo = topology(A, D)
    key, _ = key_led_by(topo, "n1")
    with pytest.raises(Unavailable, match="needs 2"):
        plan_read(topo, "c", [key], 2, Level.QUORUM)


# ---------------------------------------------------------------- scatter


def test_with_every_node_readable_each_range_goes_to_its_leader_at_position_0() -> None:
    topo = topology(A, A, A)
    a = assign_ranges(topo, 2)
    assert a.unanswerable == () and a.total == len(topo.ring.ranges)
    assert all(set(positions) == {0} for positions in a.by_node.values())
    answered = sorted(r for n in a.by_node for r in a.ranges_of(n))
    assert answered == list(range(a.total)), "every range exactly once"


def test_ranges_of_an_unreadable_node_go_to_the_next_readable_replica() -> None:
    for state in (D, R):
        topo = topology(A, state, A)
        a = assign_ranges(topo, 2)
        assert "n1" not in a.by_node
        for node, positions in a.by_node.items():
            for position, ranges in positions.items():
                for i in ranges:
                    reps = topo.ring.ranges[i].replicas(2)
                    assert reps[position] == node
                    assert position == 0 or reps[0] == "n1"
        assert sorted(r for n in a.by_node for r in a.ranges_of(n)) == list(range(a.total))


def test_with_rf_1_the_ranges_of_a_down_node_have_no_answer() -> None:
    topo = topology(A, D, A)
    a = assign_ranges(topo, 1)
    led = [i for i, r in enumerate(topo.ring.ranges) if r.preference[0] == "n1"]
    assert list(a.unanswerable) == led
    assert topo.assignment(1) is topo.assignment(1), "computed once per map"


def test_ranges_of_a_node_that_failed_are_asked_again_of_the_next_replica() -> None:
    topo = topology(A, A, A)
    first = assign_ranges(topo, 2)
    missed = first.ranges_of("n1")
    again = assign_ranges(topo, 2, missed, exclude=frozenset({"n1"}))
    assert again.total == len(missed) and "n1" not in again.by_node
    assert sorted(r for n in again.by_node for r in again.ranges_of(n)) == sorted(missed)
    for node, positions in again.by_node.items():
        assert set(positions) == {1}, "the failed leader's ranges, at the next replica's position"
        for r in again.ranges_of(node):
            assert topo.ring.ranges[r].replicas(2) == ("n1", node)
    # With rf 1 there is no other replica to ask.
    assert assign_ranges(topo, 1, missed, exclude=frozenset({"n1"})).unanswerable == missed
