"""The hit table turns labels into ids and versions: live labels in their
order, retired or never-seen ones (even past the table's end) left out."""

from __future__ import annotations

import numpy as np

from vektra.common.hlc import Version
from vektra.node.hit_table import HitTable


def _table() -> HitTable:
    return HitTable.load(
        [
            (0, "a", Version(10, 0, "n1")),
            (2, "c", Version(12, 1, "n2")),
            (5, "f", Version(15, 0, "n1")),
        ]
    )


def test_live_labels_give_ids_and_versions_in_order() -> None:
    cols = _table().lookup(np.array([5, 0, 2], dtype=np.uint64))
    assert cols.live.tolist() == [True, True, True]
    assert cols.ids == ["f", "a", "c"]
    assert [cols.version(i) for i in range(3)] == [
        Version(15, 0, "n1"),
        Version(10, 0, "n1"),
        Version(12, 1, "n2"),
    ]


def test_retired_unknown_and_out_of_range_labels_are_left_out() -> None:
    table = _table()
    table.clear([2])
    labels = np.array([2, 1, 5, 10**6, 0], dtype=np.uint64)
    cols = table.lookup(labels)
    assert cols.live.tolist() == [False, False, True, False, True]
    assert cols.ids == ["f", "a"]
    assert [cols.version(i) for i in range(2)] == [Version(15, 0, "n1"), Version(10, 0, "n1")]


def test_no_labels_and_an_updated_version() -> None:
    table = _table()
    assert table.lookup(np.empty(0, dtype=np.uint64)).ids == []
    table.set([0], ["a"], [Version(20, 3, "n3")])
    cols = table.lookup(np.array([0], dtype=np.uint64))
    assert cols.ids == ["a"] and cols.version(0) == Version(20, 3, "n3")
