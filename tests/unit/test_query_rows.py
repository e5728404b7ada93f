"""A search batch's query rows are checked as one matrix; a bad row is still
named by its index, before anything is searched."""

from __future__ import annotations

import numpy as np
import pytest

from vektra.common.errors import InvalidArgument
from vektra.common.limits import Limits
from vektra.common.schema import Metric, VectorSpec
from vektra.common.validation import decode_query_rows

DIM = 4


def _rows(n: int) -> np.ndarray:
    return np.random.default_rng(0).random((n, DIM), dtype=np.float32) + 0.1


def _decode(rows: np.ndarray, metric: Metric = Metric.COSINE) -> np.ndarray:
    spec = VectorSpec("v", DIM, metric=metric)
    return decode_query_rows(rows.astype("<f4").tobytes(), len(rows), spec, Limits())


def test_good_rows_come_back_as_the_matrix_sent() -> None:
    rows = _rows(5)
    np.testing.assert_array_equal(_decode(rows), rows)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_names_its_row(bad: float) -> None:
    rows = _rows(6)
    rows[4, 2] = bad
    with pytest.raises(InvalidArgument, match=r"vectors\[4\].*NaN or infinite"):
        _decode(rows)


def test_the_first_bad_row_is_named() -> None:
    rows = _rows(6)
    rows[3, 0] = np.nan
    rows[5] = 0
    with pytest.raises(InvalidArgument, match=r"vectors\[3\]"):
        _decode(rows)


def test_a_zero_row_is_refused_for_cosine_only() -> None:
    rows = _rows(3)
    rows[1] = 0
    with pytest.raises(InvalidArgument, match=r"vectors\[1\].*zero vector"):
        _decode(rows)
    np.testing.assert_array_equal(_decode(rows, Metric.L2), rows)
