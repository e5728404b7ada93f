"""The harness's cluster checks (tests/harness/validation.py) on hand-made
maps and node reads: settled or not, every copy where the ring says."""

from __future__ import annotations

from tests.harness.validation import (
    NodeReport,
    Record,
    placement_problems,
    report,
    ring_of,
    settle_problems,
)
from vektra.common.hlc import Version
from vektra.common.membership import ClusterMap, Member, MemberState
from vektra.common.ring import token
from vektra.common.schema import CollectionSchema, VectorSpec

NODES = ("node-0", "node-1", "node-2")


def _map(states: dict[str, MemberState] | None = None, epoch: int = 7, rf: int = 2) -> ClusterMap:
    states = states or {}
    return ClusterMap(
        epoch=epoch,
        members=tuple(
            Member(n, f"127.0.0.1:{7701 + i}", states.get(n, MemberState.ACTIVE))
            for i, n in enumerate(NODES)
        ),
        collections=(
            CollectionSchema(
                "docs", (VectorSpec("v", 4),), replication_factor=rf, incarnation="inc-1"
            ),
        ),
        cluster_id="c1",
    )


def _settled(cluster: ClusterMap, **changes: object) -> dict[str, NodeReport | str]:
    out: dict[str, NodeReport | str] = {}
    for m in cluster.members:
        fields: dict[str, object] = {
            "node_id": m.id,
            "epoch": cluster.epoch,
            "cluster_id": cluster.cluster_id,
            "incarnations": {"docs": "inc-1"},
        }
        fields.update(changes.get(m.id, {}))  # type: ignore[call-overload]
        out[m.id] = NodeReport(**fields)  # type: ignore[arg-type]
    return out


def _placed(cluster: ClusterMap, n: int = 60, deleted: int = 0) -> dict[str, dict[str, Record]]:
    """Records exactly where the ring puts them, the first `deleted` as tombstones."""
    ring = ring_of(cluster)
    out: dict[str, dict[str, Record]] = {m.id: {} for m in cluster.members}
    for i in range(n):
        oid = f"o{i}"
        for r in ring.replicas(token("docs", oid), 2):
            out[r][oid] = Record(Version(100 + i, 0, "router-0"), i < deleted)
    return out


def _kinds(problems: list) -> dict[str, int]:  # type: ignore[type-arg]
    return {p.kind: len(p.details) for p in problems}


# ---------------------------------------------------------------- settled


def test_a_settled_cluster_has_no_problems() -> None:
    cluster = _map()
    assert settle_problems(cluster, _settled(cluster), NODES) == []


def test_members_that_are_not_active_are_named_with_their_state() -> None:
    cluster = _map({"node-1": MemberState.RECOVERING, "node-2": MemberState.DOWN})
    problems = settle_problems(cluster, _settled(cluster), NODES)
    assert _kinds(problems) == {"not active": 2}
    assert problems[0].details == ("node-1 is recovering", "node-2 is down")


def test_left_members_are_neither_active_nor_asked() -> None:
    cluster = _map({"node-2": MemberState.LEFT})
    nodes = _settled(cluster)
    del nodes["node-2"]
    assert settle_problems(cluster, nodes, NODES[:2]) == []


def test_a_started_node_missing_from_the_map() -> None:
    cluster = _map()
    problems = settle_problems(cluster, _settled(cluster), [*NODES, "node-3"])
    assert _kinds(problems) == {"not a member": 1}


def test_epoch_behind_and_ahead() -> None:
    cluster = _map(epoch=7)
    nodes = _settled(cluster, **{"node-0": {"epoch": 5}, "node-2": {"epoch": 8}})
    problems = settle_problems(cluster, nodes, NODES)
    assert _kinds(problems) == {"epoch behind": 1, "epoch ahead": 1}
    assert problems[0].details == ("node-0 at epoch 5, map at 7",)


def test_pending_hints_are_named_per_target() -> None:
    cluster = _map()
    nodes = _settled(cluster, **{"node-0": {"hints": {"node-2": 3, "node-1": 0}}})
    problems = settle_problems(cluster, nodes, NODES)
    assert _kinds(problems) == {"pending hints": 1}
    assert problems[0].details == ("node-0 holds 3 for node-2",)


def test_incarnations_cluster_id_and_identity_must_match_the_map() -> None:
    cluster = _map()
    nodes = _settled(
        cluster,
        **{
            "node-0": {"incarnations": {"docs": "inc-0", "old": "x"}},
            "node-1": {"cluster_id": ""},
            "node-2": {"node_id": "node-9"},
        },
    )
    nodes["node-1"] = NodeReport("node-1", 7, "", {})
    problems = settle_problems(cluster, nodes, NODES)
    assert _kinds(problems) == {
        "incarnations differ": 2,
        "cluster id differs": 1,
        "wrong node": 1,
    }
    differ = next(p for p in problems if p.kind == "incarnations differ")
    assert differ.details == (
        "node-0: docs is inc-0, map has inc-1; old (x) not in the map",
        "node-1: docs missing",
    )


def test_a_node_that_cannot_be_asked_is_unreachable() -> None:
    cluster = _map()
    nodes = _settled(cluster)
    nodes["node-1"] = "UNAVAILABLE: connection refused"
    problems = settle_problems(cluster, nodes, NODES)
    assert _kinds(problems) == {"unreachable": 1}
    assert "node-1: UNAVAILABLE" in problems[0].details[0]


# ---------------------------------------------------------------- placement


def test_copies_exactly_on_their_replicas_are_valid() -> None:
    cluster = _map()
    schema = cluster.collections[0]
    problems, summary = placement_problems(cluster, schema, _placed(cluster, 60, deleted=5))
    assert problems == []
    assert (summary.objects, summary.tombstones) == (55, 5)


def test_a_missing_copy_is_below_rf() -> None:
    cluster = _map()
    records = _placed(cluster)
    holder = next(n for n in NODES if "o3" in records[n])
    del records[holder]["o3"]
    problems, summary = placement_problems(cluster, cluster.collections[0], records)
    assert _kinds(problems) == {"below RF": 1}
    assert problems[0].details[0].startswith("o3: on ")
    assert summary.objects == 60


def test_a_copy_on_a_node_that_is_not_a_replica_is_elsewhere() -> None:
    cluster = _map()
    records = _placed(cluster)
    stranger = next(n for n in NODES if "o4" not in records[n])
    records[stranger]["o4"] = Record(Version(1, 0, "r"), False)
    problems, _ = placement_problems(cluster, cluster.collections[0], records)
    assert _kinds(problems) == {"copies elsewhere": 1}
    assert f"also on {stranger}" in problems[0].details[0]


def test_replicas_must_agree_on_version_and_deleted_flag() -> None:
    cluster = _map()
    records = _placed(cluster)
    ring = ring_of(cluster)
    first5 = ring.replicas(token("docs", "o5"), 2)[0]
    first6 = ring.replicas(token("docs", "o6"), 2)[0]
    records[first5]["o5"] = Record(Version(1, 0, "r"), False)
    records[first6]["o6"] = records[first6]["o6"]._replace(deleted=True)
    problems, summary = placement_problems(cluster, cluster.collections[0], records)
    assert _kinds(problems) == {"versions differ": 2}
    o5, o6 = problems[0].details
    assert o5.startswith(f"o5: {first5} 1.0@r, ") and f"{first6} 106.0@router-0 (deleted)" in o6
    # The newest copy speaks for the id: o6's tombstone and live copy tie on
    # version, and the tombstone sorts last.
    assert (summary.objects, summary.tombstones) == (59, 1)


def test_an_id_known_only_to_a_stranger_is_below_rf_and_elsewhere() -> None:
    cluster = _map()
    records = _placed(cluster, n=0)
    ring = ring_of(cluster)
    replicas = ring.replicas(token("docs", "x"), 2)
    stranger = next(n for n in NODES if n not in replicas)
    records[stranger]["x"] = Record(Version(1, 0, "r"), False)
    problems, summary = placement_problems(cluster, cluster.collections[0], records)
    assert _kinds(problems) == {"below RF": 1, "copies elsewhere": 1}
    assert problems[0].details == (f"x: on {stranger}; replicas {', '.join(replicas)}",)
    assert summary.objects == 1


def test_placement_uses_in_ring_members_only() -> None:
    # A JOINING member owns nothing yet: a copy there is elsewhere.
    cluster = _map({"node-2": MemberState.JOINING})
    records = _placed(cluster)
    assert not records["node-2"]
    records["node-2"]["o1"] = Record(Version(1, 0, "r"), False)
    problems, _ = placement_problems(cluster, cluster.collections[0], records)
    assert _kinds(problems) == {"copies elsewhere": 1}


def test_rf_zero_takes_the_default() -> None:
    cluster = _map(rf=0)
    problems, _ = placement_problems(cluster, cluster.collections[0], _placed(cluster), 2)
    assert problems == []


# ---------------------------------------------------------------- report


def test_the_report_names_the_map_counts_and_twenty_examples() -> None:
    cluster = _map({"node-1": MemberState.DOWN})
    records = _placed(cluster, n=40)
    records["node-1"].clear()
    problems, _ = placement_problems(cluster, cluster.collections[0], records)
    problems += settle_problems(cluster, _settled(cluster), NODES)
    text = report(cluster, problems)
    lines = text.splitlines()
    assert lines[0].startswith("the cluster is not valid: map epoch 7, cluster c1, members ")
    assert "node-1 down" in lines[0] and "docs rf 2" in lines[0]
    below = next(p for p in problems if p.kind == "below RF")
    assert f"  below RF in docs: {len(below.details)} ids" in lines
    if len(below.details) > 20:
        assert f"    ... and {len(below.details) - 20} more" in lines
    assert "  not active: 1 nodes" in lines and "    node-1 is down" in lines
