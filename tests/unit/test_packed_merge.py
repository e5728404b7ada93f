"""The router's numpy merge of packed hits (`common.packed_hits.merge`) picks
exactly what the one-Hit-at-a-time merge (`router.gather.merge_hits`) picks:
the k nearest per row, ties by id, an id met twice keeping its newest
version — on random answers with ties and duplicates."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vektra.common import packed_hits
from vektra.common.errors import Internal
from vektra.common.packed_hits import PackedColumns, merge
from vektra.router.gather import hit_rows, merge_hits, shard_columns
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

# Distances in quarters are exact in float32, so ties are real ties (the
# merge then orders by id); arbitrary float32 distances almost never tie,
# which takes the merge's numbers-only path.
_distance = st.one_of(
    st.integers(0, 8).map(lambda d: d / 4),
    st.floats(0, 2, width=32),
)
_hit = st.builds(
    lambda i, d, p, lg, w: pb.Hit(
        id=f"o{i}",
        distance=d,
        properties=f"p{i}".encode(),
        version=pb.Version(physical_ms=p, logical=lg, writer=f"w{w}"),
    ),
    st.integers(0, 12),
    _distance,
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(0, 2),
)


def _node_rows(rows: int) -> st.SearchStrategy[list[list[pb.Hit]]]:
    # A node's own rows: an id at most once per row, nearest first.
    row = st.lists(_hit, max_size=6, unique_by=lambda h: h.id).map(
        lambda hs: sorted(hs, key=lambda h: (h.distance, h.id))
    )
    return st.lists(row, min_size=rows, max_size=rows)


def _as_tuples(hits: list[pb.Hit]) -> list[tuple]:
    return [
        (h.id, h.distance, h.properties, (h.version.physical_ms, h.version.logical)) for h in hits
    ]


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda rows: st.tuples(
            st.just(rows), st.lists(_node_rows(rows), min_size=1, max_size=3), st.integers(1, 8)
        )
    )
)
def test_numpy_merge_equals_the_plain_merge(
    case: tuple[int, list[list[list[pb.Hit]]], int],
) -> None:
    rows, nodes, k = case
    answers = [
        npb.ShardSearchResponse(results=[pb.SearchResponse(hits=r) for r in node]) for node in nodes
    ]
    # Half the nodes pack their answer, as a node of this version does.
    columns = [shard_columns(a, rows, f"n{i}") for i, a in enumerate(answers)]
    sent = [
        packed_hits.from_pb(packed_hits.to_pb(c), rows) if i % 2 else c
        for i, c in enumerate(columns)
    ]
    merged = merge(sent, rows, k)
    got = hit_rows(merged)
    for row in range(rows):
        want = merge_hits([node[row] for node in nodes], k)
        assert _as_tuples(got[row]) == _as_tuples(want)


def test_an_empty_answer_merges_to_empty_rows() -> None:
    empty = PackedColumns(
        [],
        np.empty(0, np.float32),
        np.empty(0, packed_hits.VERSION_DTYPE),
        (),
        np.zeros(2, np.int64),
        None,
    )
    merged = merge([empty, empty], 2, 10)
    assert merged.row_lengths.tolist() == [0, 0] and merged.ids == []
    assert merge([], 2, 10).row_lengths.tolist() == [0, 0]


def _nearest_first(rows: int) -> st.SearchStrategy[list[list[pb.Hit]]]:
    # As hnswlib answers: nearest first, hits at one distance in any order.
    row = st.lists(_hit, max_size=8, unique_by=lambda h: h.id).map(
        lambda hs: sorted(hs, key=lambda h: h.distance)
    )
    return st.lists(row, min_size=rows, max_size=rows)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 3).flatmap(lambda rows: st.tuples(st.just(rows), _nearest_first(rows))),
    st.integers(1, 8),
)
def test_one_answer_ordered_without_a_merge_is_what_the_merge_gives(
    case: tuple[int, list[list[pb.Hit]]], k: int
) -> None:
    """A router sends one node's answer on unmerged (`as_merged`: ties put
    in id order) only when it is what the merge gives; rows longer than k
    are left to the merge."""
    rows, node = case
    cols = shard_columns(
        npb.ShardSearchResponse(results=[pb.SearchResponse(hits=r) for r in node]), rows, "n"
    )
    merged = merge([cols], rows, k)
    got = packed_hits.as_merged(cols, k)
    if any(len(hits) > k for hits in node):
        assert got is None
        return
    assert got is not None
    assert got.ids == merged.ids
    assert got.row_lengths.tolist() == merged.row_lengths.tolist()
    assert got.distances.tolist() == merged.distances.tolist()
    assert got.versions.tolist() == merged.versions.tolist()
    assert got.properties == merged.properties
    in_order = all(
        (a.distance, a.id) < (b.distance, b.id) for hits in node for a, b in pairwise(hits)
    )
    assert (got is cols) == in_order


def test_an_answer_not_nearest_first_is_left_to_the_merge() -> None:
    def cols(distances: list[float]) -> PackedColumns:
        n = len(distances)
        return PackedColumns(
            [f"o{i}" for i in range(n)],
            np.asarray(distances, np.float32),
            np.zeros(n, packed_hits.VERSION_DTYPE),
            ("w",),
            np.asarray([n], np.int64),
            None,
        )

    assert packed_hits.as_merged(cols([0.5, 0.25]), 10) is None
    assert packed_hits.as_merged(cols([0.25, float("nan")]), 10) is None
    assert packed_hits.as_merged(cols([0.25, 0.5]), 10) is not None


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 3).flatmap(lambda rows: st.tuples(st.just(rows), _nearest_first(rows))),
    st.integers(1, 8),
)
def test_an_answer_is_sent_on_as_it_came_exactly_when_it_is_in_merged_order(
    case: tuple[int, list[list[pb.Hit]]], k: int
) -> None:
    """`sent_as_merged` reads the message itself (no ids made strings but
    tied ones) and agrees with `as_merged` on the columns: true only when
    the merge would give the answer unchanged."""
    rows, node = case
    cols = shard_columns(
        npb.ShardSearchResponse(results=[pb.SearchResponse(hits=r) for r in node]), rows, "n"
    )
    sent = packed_hits.to_pb(cols)
    assert packed_hits.sent_as_merged(sent, rows, k, "node n") == (
        packed_hits.as_merged(cols, k) is cols
    )


def test_a_malformed_answer_is_refused_before_it_is_sent_on() -> None:
    def sent(**change: object) -> pb.PackedHits:
        msg = pb.PackedHits(
            ids=["a", "b"],
            distances=np.asarray([0.25, 0.5], "<f4").tobytes(),
            versions=np.zeros(2, packed_hits.VERSION_DTYPE).tobytes(),
            writers=["w"],
            row_lengths=[2],
        )
        for name, value in change.items():
            msg.ClearField(name)
            if isinstance(value, list):
                getattr(msg, name).extend(value)
            else:
                setattr(msg, name, value)
        return msg

    assert packed_hits.sent_as_merged(sent(), 1, 10, "node n")
    bad = {
        "ids": ["a"],
        "distances": np.asarray([0.25], "<f4").tobytes(),
        "versions": b"\0" * 17,
        "writers": [],
        "row_lengths": [1, 1],
        "properties": [b"\x80"],
    }
    for name, value in bad.items():
        with pytest.raises(Internal, match="node n sent"):
            packed_hits.sent_as_merged(sent(**{name: value}), 1, 10, "node n")
    assert not packed_hits.sent_as_merged(sent(), 1, 1, "node n")  # a row longer than k
    tied = np.asarray([0.25, 0.25], "<f4").tobytes()
    assert packed_hits.sent_as_merged(sent(distances=tied), 1, 10, "node n")
    # At one distance, hits go by id: "b" before "a" is the merge's to fix.
    assert not packed_hits.sent_as_merged(sent(distances=tied, ids=["b", "a"]), 1, 10, "node n")
