"""`validate_objects` checks a batch's vectors as one matrix per field: each
vector still lands on its own object, and the first bad one is refused
naming its object, as when each was checked alone."""

from __future__ import annotations

import numpy as np
import pytest

from vektra.common.errors import InvalidArgument
from vektra.common.limits import Limits
from vektra.common.schema import CollectionSchema
from vektra.common.validation import validate_objects

SCHEMA = CollectionSchema.from_dict(
    {
        "name": "docs",
        "vectors": {"a": {"dim": 4}, "b": {"dim": 3, "metric": "l2"}},
        "properties": {"n": "int"},
    }
)
RNG = np.random.default_rng(5)


def _items(n: int) -> tuple[list, dict[str, dict[str, np.ndarray]]]:
    items, sent = [], {}
    for i in range(n):
        vectors = {"a": RNG.normal(size=4).astype("<f4")}
        if i % 3 == 0:  # only some objects set field b
            vectors["b"] = RNG.normal(size=3).astype("<f4")
        sent[f"o{i}"] = vectors
        items.append((f"o{i}", b"", {k: v.tobytes() for k, v in vectors.items()}))
    return items, sent


def test_each_vector_lands_on_its_own_object() -> None:
    items, sent = _items(40)
    checked = validate_objects(SCHEMA, Limits(), items)
    assert [o.id for o in checked] == [i[0] for i in items]
    for obj in checked:
        assert set(obj.vectors) == set(sent[obj.id])
        for name, vector in obj.vectors.items():
            np.testing.assert_array_equal(vector, sent[obj.id][name])


@pytest.mark.parametrize(
    ("field", "data", "says"),
    [
        ("a", np.array([1, np.nan, 0, 0], "<f4").tobytes(), "NaN or infinite"),
        ("a", np.zeros(4, "<f4").tobytes(), "zero vector"),
        ("a", np.ones(5, "<f4").tobytes(), "wrong dimension"),
        ("a", b"\0\0\0", "whole number of float32"),
        ("b", np.array([np.inf, 0, 0], "<f4").tobytes(), "NaN or infinite"),
    ],
    ids=["nan", "zero-cosine", "dim", "ragged", "inf-other-field"],
)
def test_the_first_bad_vector_is_named(field: str, data: bytes, says: str) -> None:
    items, _ = _items(40)
    for at in (36, 39):  # two bad ones: the first is named
        object_id, props, vectors = items[at]
        items[at] = (object_id, props, {**vectors, field: data})
    with pytest.raises(InvalidArgument) as err:
        validate_objects(SCHEMA, Limits(), items)
    assert err.value.field == f"objects[36].vectors.{field}"
    assert says in str(err.value)


def test_a_zero_vector_is_fine_for_l2() -> None:
    (checked,) = validate_objects(
        SCHEMA, Limits(), [("z", b"", {"b": np.zeros(3, "<f4").tobytes()})]
    )
    assert not checked.vectors["b"].any()
