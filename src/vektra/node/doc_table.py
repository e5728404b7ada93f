"""Per collection, in memory: each docno's ring token and replica position.

Searches by token range keep only the hits whose token lies in the ranges,
and a part of a search (one replica position) starts from the docnos at that
position: both are one numpy expression over these arrays, where reading the
`docs` table of LMDB would be a lookup per hit. Nine bytes per docno ever
given out (docnos are dense and never reused); the vectors themselves live
only in the HNSW indexes.

One writer (the engine's write lock), many readers. The two arrays are
published together as one tuple, replaced when they grow, so a reader holds
a consistent pair. A docno's token never changes, so any snapshot taken
after a docno was indexed knows its token: the write path fills the table
before it indexes (`node.commit`).
"""

from __future__ import annotations

import numpy as np

from vektra.node.placement import NO_POSITION

__all__ = ["DocTable"]

_MIN_CAPACITY = 1024


class DocTable:
    def __init__(self, capacity: int = _MIN_CAPACITY) -> None:
        capacity = max(capacity, _MIN_CAPACITY)
        self._arrays = (
            np.zeros(capacity, dtype=np.uint64),
            np.full(capacity, NO_POSITION, dtype=np.int8),
        )

    @classmethod
    def of(cls, docnos: np.ndarray, tokens: np.ndarray, positions: np.ndarray) -> DocTable:
        top = int(docnos.max()) + 1 if len(docnos) else 0
        table = cls(int(top * 1.25) + 1)
        table.set(docnos, tokens, positions)
        return table

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, positions), indexed by docno; positions NO_POSITION for a
        docno that is not live or not a replica here. Read-only for callers."""
        return self._arrays

    def tokens_of(self, docnos: np.ndarray) -> np.ndarray:
        tokens, _ = self._arrays
        out: np.ndarray = tokens[docnos.astype(np.int64, copy=False)]
        return out

    def positions_of(self, docnos: np.ndarray) -> np.ndarray:
        _, positions = self._arrays
        out: np.ndarray = positions[docnos.astype(np.int64, copy=False)]
        return out

    def docnos_at(self, position: int) -> np.ndarray:
        """Live docnos at `position` (uint64, ascending)."""
        _, positions = self._arrays
        return np.flatnonzero(positions == position).astype(np.uint64)

    # ------------------------------------------------------------ writer only

    def set(self, docnos: np.ndarray, tokens: np.ndarray, positions: np.ndarray) -> None:
        if not len(docnos):
            return
        at = docnos.astype(np.int64, copy=False)
        self._grow(int(at.max()) + 1)
        tok_arr, pos_arr = self._arrays
        tok_arr[at] = tokens
        pos_arr[at] = positions

    def clear(self, docnos: np.ndarray) -> None:
        """Retired docnos: no position any more (their token stays, harmlessly)."""
        if len(docnos):
            self._arrays[1][docnos.astype(np.int64, copy=False)] = NO_POSITION

    def reposition(self, live: np.ndarray, positions: np.ndarray) -> None:
        """New positions for the `live` docnos (a ring change); every other
        docno has none."""
        tokens, old = self._arrays
        fresh = np.full(len(old), NO_POSITION, dtype=np.int8)
        fresh[live.astype(np.int64, copy=False)] = positions
        self._arrays = (tokens, fresh)  # readers keep the old pair until this swap

    def _grow(self, size: int) -> None:
        tokens, positions = self._arrays
        if size <= len(tokens):
            return
        capacity = max(size, 2 * len(tokens))
        new_tokens = np.zeros(capacity, dtype=np.uint64)
        new_positions = np.full(capacity, NO_POSITION, dtype=np.int8)
        new_tokens[: len(tokens)] = tokens
        new_positions[: len(positions)] = positions
        self._arrays = (new_tokens, new_positions)
