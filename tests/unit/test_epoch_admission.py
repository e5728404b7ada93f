"""Who may call a node (`admit`) and what a SetEpoch does to its map
(`take_map`): pure decisions over headers and views, no server."""

from __future__ import annotations

import pytest

from vektra.common.channels import CLUSTER_HEADER, EPOCH_HEADER, FROM_HEADER
from vektra.common.errors import FailedPrecondition, InvalidArgument
from vektra.common.membership import Member, MemberState
from vektra.node.cluster_view import ClusterView, take_map
from vektra.node.epoch import SET_EPOCH_METHOD, STALE_EPOCH, admit

APPLY = "/vektra.v1.Node/Apply"
A = Member("node-a", "127.0.0.1:1", MemberState.ACTIVE)
B = Member("node-b", "127.0.0.1:2", MemberState.DOWN)


def _headers(epoch: str | None = None, cluster: str | None = None) -> list[tuple[str, str]]:
    out = [(FROM_HEADER, "router-1")]
    if epoch is not None:
        out.append((EPOCH_HEADER, epoch))
    if cluster is not None:
        out.append((CLUSTER_HEADER, cluster))
    return out


VIEW = ClusterView("node-a", "c1", 7, (A, B))


# ---------------------------------------------------------------- admit (pure)


def test_calls_without_headers_are_not_checked() -> None:
    assert admit([("user-agent", "grpc-python")], VIEW, APPLY) is None
    assert admit([], VIEW, APPLY) is None


def test_an_older_epoch_is_stale_and_a_newer_one_passes() -> None:
    refused = admit(_headers("6", "c1"), VIEW, APPLY)
    assert isinstance(refused, FailedPrecondition)
    assert STALE_EPOCH in refused.message and "7" in refused.message
    assert admit(_headers("7", "c1"), VIEW, APPLY) is None
    assert admit(_headers(str(7 + 10**6), "c1"), VIEW, APPLY) is None
    assert admit(_headers(str(2**63 - 1), "c1"), VIEW, APPLY) is None


@pytest.mark.parametrize(
    "value", ["", "abc", "-1", "+5", " 5", "5 ", "1_000", "1.0", "٣", str(2**63), str(2**64)]
)
def test_an_epoch_header_that_is_not_a_small_decimal_is_invalid(value: str) -> None:
    refused = admit(_headers(value, "c1"), VIEW, APPLY)
    assert isinstance(refused, InvalidArgument)
    assert refused.field == EPOCH_HEADER
    # Even a node of no cluster, at epoch 0, refuses it.
    assert isinstance(admit(_headers(value), ClusterView("node-a"), APPLY), InvalidArgument)


@pytest.mark.parametrize(("sent", "of"), [("c2", "cluster c2"), ("", "no cluster"), (None, "no")])
def test_a_node_of_a_cluster_refuses_callers_of_another_or_of_none(
    sent: str | None, of: str
) -> None:
    refused = admit(_headers("7", sent), VIEW, APPLY)
    assert isinstance(refused, FailedPrecondition)
    assert "c1" in refused.message and of in refused.message
    # SetEpoch too: a map of another cluster is never taken.
    assert isinstance(admit(_headers("9", sent), VIEW, SET_EPOCH_METHOD), FailedPrecondition)


def test_a_node_of_no_cluster_takes_calls_of_any() -> None:
    alone = ClusterView("node-a")
    assert admit(_headers("3", "c9"), alone, APPLY) is None
    assert admit(_headers("0", ""), alone, APPLY) is None


def test_set_epoch_is_not_refused_as_stale() -> None:
    # The engine ignores an older map and answers the node's epoch instead.
    assert admit(_headers("2", "c1"), VIEW, SET_EPOCH_METHOD) is None


# ---------------------------------------------------------------- take_map (pure)


def test_take_map_joins_ignores_older_and_replaces_on_equal_or_newer() -> None:
    alone = ClusterView("node-a")
    joined = take_map(alone, "c1", 3, (A,), 0)
    assert (joined.cluster_id, joined.epoch, joined.members, joined.vnodes) == ("c1", 3, (A,), 64)
    assert take_map(joined, "c1", 2, (A, B), 8) is joined
    same = take_map(joined, "c1", 3, (A, B), 8)
    assert (same.epoch, same.members, same.vnodes) == (3, (A, B), 8)
    with pytest.raises(FailedPrecondition, match=r"c1.*c2"):
        take_map(joined, "c2", 9, (A,), 8)
    with pytest.raises(InvalidArgument):
        take_map(alone, "", 1, (A,), 8)
