"""A node's place in a cluster, on real engines on a tmp dir: the map it
takes only from SetEpoch and keeps across restarts, what NodeInfo reports,
and the public create/drop a node of a cluster refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vektra.common.errors import FailedPrecondition
from vektra.common.membership import Member, MemberState
from vektra.node.cluster_view import ClusterView

from .helpers import make_schema, open_engine

A = Member("node-a", "127.0.0.1:1", MemberState.ACTIVE)
B = Member("node-b", "127.0.0.1:2", MemberState.DOWN)


# ---------------------------------------------------------------- the engine


def test_the_map_is_persisted_and_restored_and_changed_only_by_set_epoch(tmp_path: Path) -> None:
    e = open_engine(tmp_path, node_id="node-a")
    assert e.cluster == ClusterView("node-a")
    assert e.set_epoch("c1", 5, (A, B), 16) == 5
    assert e.set_epoch("c1", 4, (A,), 16) == 5  # older: ignored, the node's epoch answered
    e.close()
    again = open_engine(tmp_path, node_id="node-a")
    assert again.cluster == ClusterView("node-a", "c1", 5, (A, B), 16)
    assert again.set_epoch("c1", 5, (A,), 16) == 5  # equal: replaces
    assert again.cluster.members == (A,)
    with pytest.raises(FailedPrecondition) as err:
        again.set_epoch("c2", 50, (A,), 16)
    assert "c1" in err.value.message and "c2" in err.value.message
    assert again.cluster.epoch == 5
    again.close()
    assert open_engine(tmp_path, node_id="node-a").cluster.members == (A,)


def test_node_info_reports_identity_map_and_counters(tmp_path: Path) -> None:
    e = open_engine(tmp_path, node_id="node-a")
    created = e.create_collection(make_schema())
    first = e.info()
    assert re.fullmatch(r"[0-9a-f]{32}", first.boot_id)
    assert (first.cluster_id, first.epoch, first.hints) == ("", 0, ())
    assert (first.repaired_epoch, first.searched_objects) == (0, 0)
    assert [(c.name, c.incarnation, c.objects) for c in first.collections] == [
        ("docs", created.incarnation, 0)
    ]
    e.close()
    second = open_engine(tmp_path, node_id="node-a").info()
    assert second.boot_id != first.boot_id  # a new process start
    assert second.collections == first.collections


def test_a_node_of_a_cluster_refuses_public_create_and_drop(tmp_path: Path) -> None:
    e = open_engine(tmp_path, node_id="node-a")
    e.create_collection(make_schema("alone"))
    e.set_epoch("c1", 1, (A,), 64)
    for call in (lambda: e.create_collection(make_schema()), lambda: e.drop_collection("alone")):
        with pytest.raises(FailedPrecondition) as err:
            call()
        assert err.value.message == (
            "this node belongs to cluster c1; change collections through a router"
        )
    assert [s.name for s in e.list_collections()] == ["alone"]


def test_a_node_alone_gives_each_collection_it_creates_a_fresh_incarnation(
    tmp_path: Path,
) -> None:
    e = open_engine(tmp_path)
    first = e.create_collection(make_schema())
    e.drop_collection("docs")
    second = e.create_collection(make_schema())
    for s in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", s.incarnation)
    assert first.incarnation != second.incarnation
    assert e.schema("docs").incarnation == second.incarnation
    e.close()
    assert open_engine(tmp_path).schema("docs").incarnation == second.incarnation
