"""The coordinator's pure planner: health transitions, bootstrap, schema
changes, and the properties of `apply` — without a network."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from vektra.common.errors import AlreadyExists, InvalidArgument, NotFound
from vektra.common.membership import ClusterMap, MemberState
from vektra.common.schema import CollectionSchema
from vektra.coordinator.planner import (
    AddNode,
    Bootstrap,
    CreateCollection,
    DropCollection,
    DropOnNodes,
    Event,
    HealthFailed,
    HealthOk,
    Policy,
    Reject,
    SetEpoch,
    SyncNodes,
    apply,
    plan,
)

POLICY = Policy(failure_threshold=3)
SCHEMA = CollectionSchema.from_dict({"name": "docs", "vectors": {"v": {"dim": 4}}}).validated()


def run(state: ClusterMap, *events: Event) -> tuple[ClusterMap, list]:
    actions: list = []
    for event in events:
        for action in plan(state, event, POLICY):
            actions.append(action)
            state = apply(state, action)
    return state, actions


def three_nodes() -> ClusterMap:
    state, _ = run(
        ClusterMap(default_replication_factor=2),
        Bootstrap((("n1", "a:1"), ("n2", "a:2"), ("n3", "a:3"))),
    )
    return state


def test_bootstrap_happens_once() -> None:
    state = three_nodes()
    assert state.epoch == 1
    assert [(m.id, m.state) for m in state.members] == [
        (i, MemberState.ACTIVE) for i in ("n1", "n2", "n3")
    ]
    assert plan(state, Bootstrap((("x", "b:1"),)), POLICY) == []


def test_a_node_is_down_after_the_threshold_of_missed_heartbeats() -> None:
    state = three_nodes()
    state, _ = run(state, HealthFailed("n2"), HealthFailed("n2"))
    assert state.member("n2").state is MemberState.ACTIVE  # type: ignore[union-attr]
    assert state.member("n2").misses == 2  # type: ignore[union-attr]
    assert state.epoch == 1, "misses below the threshold do not change the map's epoch"
    state, _ = run(state, HealthFailed("n2"))
    assert state.member("n2").state is MemberState.DOWN  # type: ignore[union-attr]
    assert state.epoch == 2
    # Further misses change nothing.
    assert plan(state, HealthFailed("n2"), POLICY) == []


def test_a_success_resets_the_count() -> None:
    state = three_nodes()
    state, _ = run(
        state,
        HealthFailed("n1"),
        HealthFailed("n1"),
        HealthOk("n1"),
        HealthFailed("n1"),
        HealthFailed("n1"),
    )
    assert state.member("n1").state is MemberState.ACTIVE  # type: ignore[union-attr]
    assert plan(state, HealthOk("n3"), POLICY) == []


def test_a_down_node_that_answers_comes_back_and_is_synced() -> None:
    state = three_nodes()
    state, _ = run(state, *[HealthFailed("n3")] * 3)
    state, actions = run(state, HealthOk("n3"))
    assert state.member("n3").state is MemberState.ACTIVE  # type: ignore[union-attr]
    assert state.member("n3").misses == 0  # type: ignore[union-attr]
    assert state.epoch == 3
    assert SyncNodes(("n3",)) in actions


def test_unknown_nodes_are_ignored_by_health_events() -> None:
    state = three_nodes()
    assert plan(state, HealthFailed("zz"), POLICY) == []
    assert plan(state, HealthOk("zz"), POLICY) == []


def test_create_collection_fills_the_default_rf_and_syncs_reachable_nodes() -> None:
    state = three_nodes()
    state, _ = run(state, *[HealthFailed("n1")] * 3)
    state, actions = run(state, CreateCollection(dataclasses.replace(SCHEMA, replication_factor=0)))
    assert state.collection("docs").replication_factor == 2  # type: ignore[union-attr]
    assert SyncNodes(("n2", "n3")) in actions
    again = plan(state, CreateCollection(SCHEMA), POLICY)
    assert (
        len(again) == 1
        and isinstance(again[0], Reject)
        and isinstance(again[0].error, AlreadyExists)
    )


def test_replication_factor_above_the_node_count_is_rejected() -> None:
    actions = plan(
        three_nodes(), CreateCollection(dataclasses.replace(SCHEMA, replication_factor=4)), POLICY
    )
    assert len(actions) == 1 and isinstance(actions[0], Reject)
    assert isinstance(actions[0].error, InvalidArgument)
    assert actions[0].error.field == "schema.replication_factor"


def test_drop_collection() -> None:
    state, _ = run(three_nodes(), CreateCollection(SCHEMA))
    state, actions = run(state, DropCollection("docs"))
    assert state.collection("docs") is None and DropOnNodes("docs") in actions
    missing = plan(state, DropCollection("docs"), POLICY)
    assert isinstance(missing[0], Reject) and isinstance(missing[0].error, NotFound)


def test_added_nodes_join_and_address_changes_bump_the_epoch() -> None:
    state, _ = run(three_nodes(), AddNode("n4", "a:4"))
    assert state.member("n4").state is MemberState.JOINING  # type: ignore[union-attr]
    assert not state.member("n4").state.in_ring  # type: ignore[union-attr]
    epoch = state.epoch
    assert plan(state, AddNode("n4", "a:4"), POLICY) == []
    state, _ = run(state, AddNode("n4", "a:44"))
    assert state.member("n4").address == "a:44" and state.epoch == epoch + 1  # type: ignore[union-attr]


EVENTS = st.one_of(
    st.sampled_from(["n1", "n2", "n3", "n9"]).map(HealthFailed),
    st.sampled_from(["n1", "n2", "n3", "n9"]).map(HealthOk),
    st.just(CreateCollection(SCHEMA)),
    st.just(DropCollection("docs")),
    st.sampled_from(["a:7", "a:8"]).map(lambda a: AddNode("n7", a)),
)


@settings(max_examples=300)
@given(st.lists(EVENTS, max_size=40))
def test_apply_is_idempotent_and_the_epoch_only_grows(events: list[Event]) -> None:
    state = three_nodes()
    for event in events:
        before = state
        actions = plan(state, event, POLICY)
        for action in actions:
            once = apply(state, action)
            assert apply(once, action) == once, action
            state = once
        assert state.epoch >= before.epoch
        # A membership or schema change always comes with a new epoch.
        changed = [(m.id, m.address, m.state) for m in state.members] != [
            (m.id, m.address, m.state) for m in before.members
        ] or state.collections != before.collections
        assert changed == (state.epoch > before.epoch), (event, actions)
        assert all(isinstance(a, SetEpoch) is False or a.epoch == before.epoch + 1 for a in actions)
        # Replaying the whole plan (a crash after persisting it) changes nothing.
        replayed = state
        for action in actions:
            replayed = apply(replayed, action)
        assert replayed == state
    assert ClusterMap.from_dict(state.to_dict()) == state
