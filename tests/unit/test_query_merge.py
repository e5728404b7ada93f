"""The router's query page (`router.gather.merge_objects`) is the same
whether nodes answered with a message per object or as columns: ordered as
a node orders, an id answered twice keeping its newest version. A lone
node's packed answer is sent on as it came (`lone_page`) only when it is
that page already."""

from __future__ import annotations

import pytest

from vektra.common import packed_hits
from vektra.common.schema import CollectionSchema
from vektra.common.values import pack
from vektra.router.gather import lone_page, merge_objects, object_rows
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

SCHEMA = CollectionSchema.from_dict(
    {"name": "docs", "vectors": {"v": {"dim": 2}}, "properties": {"n": "int"}}
)

# node -> (id, physical_ms, logical, writer, n or None)
ANSWERS = {
    "node-0": [("a", 5, 0, "w0", 3), ("c", 5, 0, "w0", None), ("d", 9, 1, "w1", 1)],
    # "d" again, older; "b" newer than node-0 knows nothing of
    "node-1": [("b", 7, 0, "w1", 2), ("d", 9, 0, "w0", 8), ("e", 1, 0, "w1", 3)],
}


def _props(n: int | None) -> bytes:
    return pack({} if n is None else {"n": n})


def _answer(rows: list[tuple], packed: bool) -> npb.ShardQueryResponse:
    if packed:
        return npb.ShardQueryResponse(
            packed=packed_hits.objects_to_pb(
                [r[0] for r in rows], [r[1:4] for r in rows], [_props(r[4]) for r in rows]
            )
        )
    return npb.ShardQueryResponse(
        objects=[
            pb.Object(
                id=i, properties=_props(n), version=pb.Version(physical_ms=p, logical=lg, writer=w)
            )
            for i, p, lg, w, n in rows
        ]
    )


def _page(packed: tuple[bool, bool], **order: object) -> list[tuple]:
    per_node = [
        object_rows(_answer(rows, how), node)
        for (node, rows), how in zip(ANSWERS.items(), packed, strict=True)
    ]
    page = merge_objects(per_node, SCHEMA, offset=0, limit=10, **order)  # type: ignore[arg-type]
    return [(r.id, r.version, r.properties) for r in page]


@pytest.mark.parametrize(
    "order",
    [
        {"order_by": "", "descending": False},
        {"order_by": "", "descending": True},
        {"order_by": "n", "descending": False},
        {"order_by": "n", "descending": True},
    ],
)
def test_columns_and_messages_merge_alike(order: dict) -> None:
    pages = [_page(how, **order) for how in ((False, False), (True, True), (True, False))]
    assert pages[0] == pages[1] == pages[2]
    by_id = {i: v for i, v, _ in pages[0]}
    assert by_id["d"] == (9, 1, "w1"), "the newest version of an id answered twice"
    assert len(pages[0]) == 5


def test_order_by_a_property_puts_missing_values_last() -> None:
    ids = [i for i, _, _ in _page((True, True), order_by="n", descending=False)]
    assert ids == ["d", "b", "a", "e", "c"]  # 1, 2, 3, 3 (ties by id), missing


LONE = [("a", 5, 0, "w0", 3), ("b", 7, 0, "w1", 2), ("c", 5, 0, "w0", None)]


def _merged_packed(rows: list[tuple], **how: object) -> pb.PackedObjects:
    page = merge_objects([object_rows(_answer(rows, True), "node-0")], SCHEMA, **how)  # type: ignore[arg-type]
    return packed_hits.objects_to_pb(
        [o.id for o in page], [o.version for o in page], [o.properties for o in page]
    )


@pytest.mark.parametrize("descending", [False, True])
def test_a_lone_nodes_page_in_order_goes_on_as_it_came(descending: bool) -> None:
    rows = LONE[::-1] if descending else LONE
    how = {"order_by": "", "descending": descending, "offset": 0, "limit": 3}
    answer = _answer(rows, True)
    sent = lone_page(answer, "node-0", **how)  # type: ignore[arg-type]
    assert sent is answer.packed
    assert sent == _merged_packed(rows, **how), "what the merge would have sent"


@pytest.mark.parametrize(
    ("rows", "how", "why"),
    [
        (LONE, {"order_by": "n", "descending": False, "offset": 0, "limit": 3}, "by a property"),
        (LONE, {"order_by": "", "descending": False, "offset": 1, "limit": 2}, "an offset"),
        (LONE, {"order_by": "", "descending": False, "offset": 0, "limit": 2}, "over the limit"),
        (LONE, {"order_by": "", "descending": True, "offset": 0, "limit": 3}, "the wrong way"),
        (
            [LONE[1], LONE[0], LONE[2]],
            {"order_by": "", "descending": False, "offset": 0, "limit": 3},
            "out of order",
        ),
        (
            [LONE[0], LONE[0], LONE[1]],
            {"order_by": "", "descending": False, "offset": 0, "limit": 3},
            "an id twice",
        ),
    ],
)
def test_a_lone_nodes_answer_is_merged_when_it_is_not_the_page(
    rows: list[tuple], how: dict, why: str
) -> None:
    assert lone_page(_answer(rows, True), "node-0", **how) is None, why


def test_a_lone_nodes_answer_of_messages_is_merged() -> None:
    how = {"order_by": "", "descending": False, "offset": 0, "limit": 3}
    assert lone_page(_answer(LONE, False), "node-0", **how) is None  # type: ignore[arg-type]
