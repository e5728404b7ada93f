"""Small numpy helpers the node's docno-indexed tables share."""

from __future__ import annotations

import numpy as np

__all__ = ["take_or"]


def take_or(values: np.ndarray, docnos: np.ndarray, missing: int) -> np.ndarray:
    """values[docnos], `missing` for docnos beyond the array (a table grows
    as docnos are given out: a reader may ask about one it does not hold)."""
    at = docnos.astype(np.int64, copy=False)
    inside = at < len(values)
    if inside.all():
        out: np.ndarray = values[at]
        return out
    out = np.full(len(at), missing, dtype=values.dtype)
    out[inside] = values[at[inside]]
    return out
