"""The coordinator's pure planner: bootstrap and identity, health
transitions through RECOVERING, syncs of nodes behind the map, recorded
drops of collection incarnations, and the properties of `apply` (idempotent,
and a crash after any prefix of a plan replays to the same map) — all
without a network."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from vektra.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from vektra.common.membership import ClusterMap, MemberState
from vektra.common.schema import CollectionSchema
from vektra.coordinator.planner import (
    Action,
    AddNode,
    Bootstrap,
    CreateCollection,
    DropCollection,
    DropOnNodes,
    Event,
    HealthFailed,
    HealthOk,
    NodeReport,
    Policy,
    PublishMap,
    Reject,
    SetEpoch,
    SyncFailed,
    SyncNodes,
    apply,
    apply_all,
    plan,
)

POLICY = Policy(failure_threshold=3)
SCHEMA = CollectionSchema.from_dict({"name": "docs", "vectors": {"v": {"dim": 4}}}).validated()
CLUSTER = "c" * 32
NODES = ("n1", "n2", "n3")


def report(node: str, state: ClusterMap, **changes: object) -> NodeReport:
    """What a healthy node in step with `state` reports."""
    base = NodeReport(
        cluster_id=state.cluster_id,
        epoch=state.epoch,
        boot_id=f"boot-{node}",
        collections=tuple(sorted((c.name, c.incarnation) for c in state.collections)),
        hints_for=(),
        repaired_epoch=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def run(state: ClusterMap, *events: Event) -> tuple[ClusterMap, list[Action]]:
    actions: list[Action] = []
    for event in events:
        planned = plan(state, event, POLICY)
        actions += planned
        if not any(isinstance(a, Reject) for a in planned):
            state = apply_all(state, planned)
    return state, actions


def ok(state: ClusterMap, node: str, **changes: object) -> HealthOk:
    return HealthOk(node, report(node, state, **changes))


def three_nodes() -> ClusterMap:
    blank = NodeReport(boot_id="")
    state, _ = run(
        ClusterMap(default_replication_factor=2),
        Bootstrap(CLUSTER, tuple((n, f"a:{n}", dataclasses.replace(blank, boot_id=f"boot-{n}"))
                                 for n in NODES)),
    )  # fmt: skip
    return state


def member(state: ClusterMap, node: str) -> tuple[MemberState, int]:
    m = state.member(node)
    assert m is not None
    return m.state, m.misses


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_happens_once_and_gives_the_cluster_its_identity() -> None:
    state = three_nodes()
    assert state.epoch == 1 and state.cluster_id == CLUSTER
    assert [(m.id, m.state) for m in state.members] == [(n, MemberState.ACTIVE) for n in NODES]
    assert plan(state, Bootstrap("other", (("x", "b:1", NodeReport()),)), POLICY) == []


def test_a_blank_coordinator_refuses_to_bootstrap_over_nodes_of_a_cluster() -> None:
    """Finding 1: a coordinator with an empty data directory bootstrapped a
    map with no collections and told the nodes to drop everything."""
    held = NodeReport(cluster_id="old-cluster", epoch=9, collections=(("docs", "i1"),))
    actions = plan(
        ClusterMap(), Bootstrap(CLUSTER, (("n1", "a:1", held), ("n2", "a:2", NodeReport()))), POLICY
    )
    (reject,) = actions
    assert isinstance(reject, Reject) and isinstance(reject.error, FailedPrecondition)
    assert "n1 belongs to cluster old-cluster" in reject.error.message
    assert not any(isinstance(a, DropOnNodes | SyncNodes) for a in actions)


def test_a_node_of_another_cluster_at_a_members_address_counts_as_not_answering() -> None:
    state = three_nodes()
    state, _ = run(state, *[ok(state, "n2", cluster_id="stranger")] * 3)
    assert member(state, "n2") == (MemberState.DOWN, 3)


def test_adding_a_node_of_another_cluster_is_refused() -> None:
    (reject,) = plan(three_nodes(), AddNode("n9", "a:9", NodeReport(cluster_id="x")), POLICY)
    assert isinstance(reject, Reject)


# ---------------------------------------------------------------- health


def test_a_node_is_down_after_the_threshold_of_missed_heartbeats() -> None:
    state = three_nodes()
    state, _ = run(state, HealthFailed("n2"), HealthFailed("n2"))
    assert member(state, "n2") == (MemberState.ACTIVE, 2)
    assert state.epoch == 1, "misses below the threshold do not change the map's epoch"
    state, _ = run(state, HealthFailed("n2"))
    assert member(state, "n2") == (MemberState.DOWN, 3) and state.epoch == 2
    assert plan(state, HealthFailed("n2"), POLICY) == []


def test_a_success_resets_the_count() -> None:
    state = three_nodes()
    state, _ = run(state, HealthFailed("n1"), HealthFailed("n1"))
    state, _ = run(state, ok(state, "n1"), HealthFailed("n1"), HealthFailed("n1"))
    assert member(state, "n1") == (MemberState.ACTIVE, 2)
    assert plan(state, ok(state, "n3"), POLICY) == []


def test_a_down_node_that_answers_is_recovering_not_active() -> None:
    """Finding 5: a node back from down served reads before catching up."""
    state = three_nodes()
    state, _ = run(state, *[HealthFailed("n3")] * 3)
    state, actions = run(state, ok(state, "n3"))
    m = state.member("n3")
    assert m is not None and m.state is MemberState.RECOVERING and m.misses == 0
    assert m.recovering_since == state.epoch == 3
    assert SyncNodes(("n3",)) in actions and PublishMap() in actions


def test_recovering_becomes_active_only_after_a_repair_pass_and_no_hints() -> None:
    state = three_nodes()
    state, _ = run(state, *[HealthFailed("n3")] * 3)
    state, _ = run(state, ok(state, "n3"))
    since = state.epoch
    # Others still hold hints for it: not yet.
    state, _ = run(state, ok(state, "n1", hints_for=("n3",)))
    state, _ = run(state, ok(state, "n3", repaired_epoch=since))
    assert member(state, "n3")[0] is MemberState.RECOVERING
    # Hints handed over, but its repair pass started before it was recovering.
    state, _ = run(state, ok(state, "n1", hints_for=()))
    state, _ = run(state, ok(state, "n3", repaired_epoch=since - 1))
    assert member(state, "n3")[0] is MemberState.RECOVERING
    # Behind the map: synced first.
    state, actions = run(state, ok(state, "n3", repaired_epoch=since, epoch=since - 1))
    assert member(state, "n3")[0] is MemberState.RECOVERING
    assert actions == [SyncNodes(("n3",))]
    state, _ = run(state, ok(state, "n3", repaired_epoch=since))
    assert member(state, "n3")[0] is MemberState.ACTIVE


def test_a_restart_inside_the_failure_timeout_makes_a_node_recovering() -> None:
    state = three_nodes()
    state, actions = run(state, ok(state, "n2", boot_id="boot-n2-again"))
    assert member(state, "n2")[0] is MemberState.RECOVERING
    assert SetEpoch(2) in actions


def test_a_wiped_node_is_recovering_and_synced() -> None:
    """Finding 4/5: a wiped node never got its schemas back nor its data."""
    state, _ = run(three_nodes(), CreateCollection(SCHEMA, "inc-1"))
    state, actions = run(
        state, ok(state, "n2", cluster_id="", epoch=0, collections=(), boot_id="boot-2b")
    )
    assert member(state, "n2")[0] is MemberState.RECOVERING
    assert SyncNodes(("n2",)) in actions


def test_a_member_that_others_hold_hints_for_stops_being_read_at_once() -> None:
    state = three_nodes()
    state, actions = run(state, ok(state, "n1", hints_for=("n2",)))
    assert member(state, "n2")[0] is MemberState.RECOVERING
    assert SyncNodes(("n2",)) in actions


def test_a_node_behind_the_map_is_synced_again_at_every_heartbeat() -> None:
    """Finding 6: a failed sync was never retried while the node stayed ACTIVE."""
    state, _ = run(three_nodes(), CreateCollection(SCHEMA, "inc-1"))
    assert plan(state, SyncFailed("n1", "UNAVAILABLE"), POLICY) == []
    for _ in range(2):
        actions = plan(state, ok(state, "n1", epoch=1, collections=()), POLICY)
        assert actions == [SyncNodes(("n1",))]
    assert plan(state, ok(state, "n1"), POLICY) == []


def test_a_joining_node_that_misses_heartbeats_stays_joining() -> None:
    """Finding 5: a joining node that missed heartbeats came back ACTIVE,
    owning ranges it had no data for."""
    state, _ = run(three_nodes(), AddNode("n4", "a:4"))
    state, _ = run(state, *[HealthFailed("n4")] * 5)
    assert member(state, "n4") == (MemberState.JOINING, 5)
    state, _ = run(state, ok(state, "n4"))
    assert member(state, "n4")[0] is MemberState.JOINING
    assert not MemberState.JOINING.in_ring


def test_unknown_nodes_are_ignored_by_health_events() -> None:
    state = three_nodes()
    assert plan(state, HealthFailed("zz"), POLICY) == []
    assert plan(state, ok(state, "zz"), POLICY) == []


# ---------------------------------------------------------------- collections


def test_create_collection_fills_the_default_rf_and_its_incarnation() -> None:
    state = three_nodes()
    state, _ = run(state, *[HealthFailed("n1")] * 3)
    state, actions = run(
        state, CreateCollection(dataclasses.replace(SCHEMA, replication_factor=0), "inc-1")
    )
    created = state.collection("docs")
    assert created is not None and created.replication_factor == 2
    assert created.incarnation == "inc-1"
    assert SyncNodes(("n2", "n3")) in actions
    (again,) = plan(state, CreateCollection(SCHEMA, "inc-2"), POLICY)
    assert isinstance(again, Reject) and isinstance(again.error, AlreadyExists)


def test_replication_factor_above_the_node_count_is_rejected() -> None:
    (reject,) = plan(
        three_nodes(),
        CreateCollection(dataclasses.replace(SCHEMA, replication_factor=4), "i"),
        POLICY,
    )
    assert isinstance(reject, Reject) and isinstance(reject.error, InvalidArgument)
    assert reject.error.field == "schema.replication_factor"


def test_a_drop_is_recorded_by_incarnation() -> None:
    state, _ = run(three_nodes(), CreateCollection(SCHEMA, "inc-1"))
    state, actions = run(state, DropCollection("docs"))
    assert state.collection("docs") is None and state.is_dropped("docs", "inc-1")
    assert DropOnNodes("docs", "inc-1", NODES) in actions
    (missing,) = plan(state, DropCollection("docs"), POLICY)
    assert isinstance(missing, Reject) and isinstance(missing.error, NotFound)


def test_a_node_holding_a_dropped_incarnation_is_told_to_drop_that_one() -> None:
    """Finding 2: dropping and re-creating a collection while a node was down
    brought the dropped objects back when it returned."""
    state, _ = run(three_nodes(), CreateCollection(SCHEMA, "inc-1"))
    state, _ = run(state, DropCollection("docs"), CreateCollection(SCHEMA, "inc-2"))
    actions = plan(state, ok(state, "n3", collections=(("docs", "inc-1"),)), POLICY)
    assert DropOnNodes("docs", "inc-1", ("n3",)) in actions
    assert SyncNodes(("n3",)) in actions, "and is given the new incarnation"


def test_a_collection_the_map_does_not_know_is_never_dropped() -> None:
    state = three_nodes()
    actions = plan(state, ok(state, "n1", collections=(("mystery", "x"),)), POLICY)
    assert not any(isinstance(a, DropOnNodes) for a in actions)


# ---------------------------------------------------------------- properties

NODE_IDS = st.sampled_from(["n1", "n2", "n3", "n9"])
REPORTS = st.builds(
    NodeReport,
    cluster_id=st.sampled_from([CLUSTER, "", "other"]),
    epoch=st.integers(0, 12),
    boot_id=st.sampled_from(["boot-n1", "boot-n2", "boot-n3", "b"]),
    collections=st.sampled_from([(), (("docs", "inc-1"),), (("docs", "inc-0"),)]),
    hints_for=st.sampled_from([(), ("n1",), ("n2", "n3")]),
    repaired_epoch=st.integers(0, 12),
)
EVENTS = st.one_of(
    NODE_IDS.map(HealthFailed),
    st.builds(HealthOk, NODE_IDS, REPORTS),
    st.just(CreateCollection(SCHEMA, "inc-1")),
    st.just(DropCollection("docs")),
    st.builds(SyncFailed, NODE_IDS, st.just("x")),
    st.sampled_from(["a:7", "a:8"]).map(lambda a: AddNode("n7", a)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENTS, max_size=40))
def test_plans_are_idempotent_and_a_crash_after_any_prefix_replays_to_the_same_map(
    events: list[Event],
) -> None:
    state = three_nodes()
    for event in events:
        before = state
        actions = plan(state, event, POLICY)
        if any(isinstance(a, Reject) for a in actions):
            continue
        after = apply_all(before, actions)
        for action in actions:
            once = apply(before, action)
            assert apply(once, action) == once, action
        # However many actions took effect before a crash, applying the whole
        # plan again (the coordinator persists whole plans, and a retried
        # event plans the same) gives the same map.
        for n in range(len(actions) + 1):
            assert apply_all(apply_all(before, actions[:n]), actions) == after, (event, n)
        assert after.epoch >= before.epoch
        published = lambda m: (  # noqa: E731
            [x.published() for x in m.members],
            m.collections,
            m.dropped,
            m.cluster_id,
        )
        assert (published(after) != published(before)) == (after.epoch > before.epoch), (
            event,
            actions,
        )
        assert all(not isinstance(a, SetEpoch) or a.epoch == before.epoch + 1 for a in actions)
        state = after
