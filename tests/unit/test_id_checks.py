"""`check_ids` answers alike whether a batch takes its fast path (all short
ASCII strings, told without a step per id) or is checked id by id: every
bad id is refused with INVALID_ARGUMENT naming its place."""

from __future__ import annotations

import pytest

from vektra.common.errors import InvalidArgument
from vektra.common.limits import Limits
from vektra.common.validation import check_ids

LIMITS = Limits()


def test_plain_ascii_ids_pass() -> None:
    check_ids(["a", "b" * LIMITS.max_id_bytes, "c.d/e"], LIMITS)
    check_ids(["a", "a"], LIMITS, allow_duplicates=True)


@pytest.mark.parametrize(
    ("ids", "field", "says"),
    [
        (["a", ""], "ids[1]", "must not be empty"),
        (["a", "x" * (LIMITS.max_id_bytes + 1)], "ids[1]", "above the limit"),
        # 86 characters but 258 bytes: short as a string, too long as UTF-8.
        (["é", "€" * 86], "ids[1]", "258 bytes"),
        (["a", "\ud800"], "ids[1]", "valid UTF-8"),
        (["a", 7], "ids[1]", "must be a string"),
        (["a", b"b"], "ids[1]", "must be a string"),
        (["a", "b", "a"], "ids[2]", "duplicate id"),
        (["ü", "ü"], "ids[1]", "duplicate id"),
    ],
    ids=["empty", "long", "long-utf8", "surrogate", "int", "bytes", "dup", "dup-utf8"],
)
def test_a_bad_id_is_named(ids: list, field: str, says: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_ids(ids, LIMITS)
    assert err.value.field == field
    assert says in str(err.value)


def test_a_str_subclass_is_checked_one_by_one() -> None:
    class Name(str):
        pass

    check_ids([Name("a"), "b"], LIMITS)
    with pytest.raises(InvalidArgument):
        check_ids([Name("")], LIMITS)
