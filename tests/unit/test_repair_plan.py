"""Anti-entropy decisions (node.repair_plan): digests, what two replicas
exchange, and when a tombstone may be purged."""

from __future__ import annotations

from vektra.common.hlc import Version
from vektra.common.membership import MemberState
from vektra.node.repair_plan import (
    Entry,
    expired_tombstones,
    purge_allowed,
    purgeable,
    range_digest,
    reconcile,
)

NOW = 10_000_000
GRACE = 1_000


def e(i: str, ms: int, deleted: bool = False, writer: str = "r") -> Entry:
    return Entry(i, Version(ms, 0, writer), deleted)


def test_equal_contents_give_equal_digests_and_any_difference_shows() -> None:
    a = [e("x", 1), e("y", 2, deleted=True)]
    assert range_digest(a) == range_digest(list(a))
    assert range_digest(a) != range_digest([e("x", 1), e("y", 2)])
    assert range_digest(a) != range_digest([e("x", 1), e("y", 3, deleted=True)])
    assert range_digest(a) != range_digest([e("x", 1)])
    assert range_digest([]) == range_digest(())


def test_each_side_gets_the_newest_version_of_every_id() -> None:
    mine = [e("same", 5), e("mine-newer", 9), e("only-mine", 3), e("theirs-newer", 1)]
    theirs = [e("same", 5), e("mine-newer", 8), e("theirs-newer", 2), e("only-theirs", 4)]
    r = reconcile(mine, theirs, NOW, GRACE)
    assert r.pull == ("only-theirs", "theirs-newer")
    assert r.push == ("mine-newer", "only-mine")
    assert r.settled == frozenset()


def test_a_newer_tombstone_wins_over_a_live_copy_both_ways() -> None:
    r = reconcile([e("x", 5, deleted=True)], [e("x", 4)], NOW, GRACE)
    assert r.push == ("x",)
    r = reconcile([e("x", 4)], [e("x", 5, deleted=True)], NOW, GRACE)
    assert r.pull == ("x",)


def test_an_expired_tombstone_is_settled_only_where_the_peer_agrees() -> None:
    old = NOW - 2 * GRACE
    mine = [
        e("both", old, deleted=True),
        e("peer-purged", old, deleted=True),
        e("peer-live-older", old, deleted=True),
        e("young", NOW, deleted=True),
    ]
    theirs = [e("both", old, deleted=True), e("peer-live-older", old - 5), e("young", NOW - 1)]
    r = reconcile(mine, theirs, NOW, GRACE)
    assert r.settled == {"both", "peer-purged"}
    # The peer still has the object it deleted: it gets the tombstone, and
    # nothing is purged until it holds it.
    assert "peer-live-older" in r.push and "young" in r.push
    assert "peer-purged" not in r.push, "an expired tombstone is not pushed back"


def test_purge_needs_every_other_replica() -> None:
    old = NOW - 2 * GRACE
    mine = [e("t", old, deleted=True)]
    agree = reconcile(mine, [e("t", old, deleted=True)], NOW, GRACE)
    lagging = reconcile(mine, [e("t", old - 1)], NOW, GRACE)
    assert purgeable([agree, agree], replicas=3) == {"t"}
    assert purgeable([agree, lagging], replicas=3) == frozenset()
    assert purgeable([agree], replicas=3) == frozenset(), "one peer was not compared"
    assert expired_tombstones([*mine, e("live", old)], NOW, GRACE) == {"t"}


def test_tombstones_go_only_while_every_member_is_active() -> None:
    """A member down may hold (or be owed) hints, one recovering is owed
    them, and rebalancing streams older versions: while any of them is in
    the map, an older write may still arrive after a purge."""
    active = [MemberState.ACTIVE, MemberState.ACTIVE]
    assert purge_allowed(active)
    assert purge_allowed([*active, MemberState.LEFT])
    assert purge_allowed([])  # a node serving alone
    for state in (
        MemberState.DOWN,
        MemberState.RECOVERING,
        MemberState.JOINING,
        MemberState.DRAINING,
    ):
        assert not purge_allowed([*active, state]), state
