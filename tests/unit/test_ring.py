"""The router's ring: agreement with uhashring's own lookups, token ranges,
stand-ins for down nodes."""

from __future__ import annotations

import itertools
import random

from vektra.common.membership import ClusterMap, Member, MemberState
from vektra.common.ring import token
from vektra.router.ring import TOKEN_END, RingView


def cluster(*states: MemberState) -> ClusterMap:
    return ClusterMap(
        epoch=1,
        vnodes=32,
        members=tuple(Member(f"n{i}", f"h:{i}", s) for i, s in enumerate(states)),
    )


def test_ranges_cover_the_ring_and_agree_with_key_lookups() -> None:
    view = RingView(cluster(*[MemberState.ACTIVE] * 4))
    ranges = view.ranges()
    assert ranges[0].start == 0 and ranges[-1].end == TOKEN_END
    assert all(a.end == b.start for a, b in itertools.pairwise(ranges))
    rng = random.Random(1)
    for _ in range(2000):
        object_id = f"id{rng.random()}"
        t = token("docs", object_id)
        (r,) = [r for r in ranges if r.start <= t < r.end]
        assert list(r.preference) == view.preference("docs", object_id)
        assert view.owner_of_token(t) == r.preference[0]


def test_replicas_are_distinct_and_spread() -> None:
    view = RingView(cluster(*[MemberState.ACTIVE] * 3))
    counts = {f"n{i}": 0 for i in range(3)}
    for i in range(3000):
        reps = view.replicas("docs", f"k{i}", 2)
        assert len(reps) == 2 and len(set(reps)) == 2
        for r in reps:
            counts[r] += 1
    assert min(counts.values()) > 0.5 * max(counts.values()), counts


def test_down_nodes_keep_their_ranges_and_get_stand_ins() -> None:
    up = RingView(cluster(*[MemberState.ACTIVE] * 3))
    down = RingView(cluster(MemberState.ACTIVE, MemberState.DOWN, MemberState.ACTIVE))
    assert up.ranges() == down.ranges()  # positions do not move
    for i in range(500):
        pref = down.preference("docs", f"k{i}")
        reps = down.replicas("docs", f"k{i}", 2)
        assert "n1" not in reps and len(reps) == 2
        assert reps[0] == next(n for n in pref if n != "n1")
    # With RF 1, ranges owned by the down node have no reachable counter.
    owners = {down.count_owner(r, 1) for r in down.ranges()}
    assert None in owners
    assert None not in {down.count_owner(r, 2) for r in down.ranges()}


def test_joining_members_are_not_in_the_ring() -> None:
    view = RingView(cluster(MemberState.ACTIVE, MemberState.JOINING))
    assert view.owners == ("n0",)
    assert view.replicas("docs", "x", 2) == ["n0"]
