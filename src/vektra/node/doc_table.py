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
before it indexes (`node.commit`). A reader can still meet a docno the
table does not know yet — LMDB shows a batch to filters as soon as it
commits, a moment before the table has it — or one retired since: such a
docno is ABSENT, and neither searched nor listed.
"""

from __future__ import annotations

import numpy as np

from vektra.node.arrays import take_or

__all__ = ["ABSENT", "DocTable"]

_MIN_CAPACITY = 1024
ABSENT = -2  # position of a docno that is not live (or not known yet)


class DocTable:
    def __init__(self, capacity: int = _MIN_CAPACITY) -> None:
        capacity = max(capacity, _MIN_CAPACITY)
        self._arrays = (
            np.zeros(capacity, dtype=np.uint64),
            np.full(capacity, ABSENT, dtype=np.int8),
        )

    @classmethod
    def of(cls, docnos: np.ndarray, tokens: np.ndarray, positions: np.ndarray) -> DocTable:
        top = int(docnos.max()) + 1 if len(docnos) else 0
        table = cls(int(top * 1.25) + 1)
        table.set(docnos, tokens, positions)
        return table

    def tokens_of(self, docnos: np.ndarray) -> np.ndarray:
        """uint64 token of each docno (0 for one the table does not know:
        ask `known`)."""
        tokens, _ = self._arrays
        return take_or(tokens, docnos, 0)

    def positions_of(self, docnos: np.ndarray) -> np.ndarray:
        """int8 position of each docno: placement.NO_POSITION for a live docno this node
        is not a replica of, ABSENT for one not live (or not known yet)."""
        _, positions = self._arrays
        return take_or(positions, docnos, ABSENT)

    def known(self, docnos: np.ndarray) -> np.ndarray:
        """Which docnos the table holds as live (bool)."""
        known: np.ndarray = self.positions_of(docnos) != ABSENT
        return known

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
        """Retired docnos (their token stays, harmlessly)."""
        if len(docnos):
            self._arrays[1][docnos.astype(np.int64, copy=False)] = ABSENT

    def reposition(self, live: np.ndarray, positions: np.ndarray) -> None:
        """New positions for the `live` docnos (a ring change); every other
        docno has none."""
        tokens, old = self._arrays
        fresh = np.full(len(old), ABSENT, dtype=np.int8)
        fresh[live.astype(np.int64, copy=False)] = positions
        self._arrays = (tokens, fresh)  # readers keep the old pair until this swap

    def _grow(self, size: int) -> None:
        tokens, positions = self._arrays
        if size <= len(tokens):
            return
        capacity = max(size, 2 * len(tokens))
        new_tokens = np.zeros(capacity, dtype=np.uint64)
        new_positions = np.full(capacity, ABSENT, dtype=np.int8)
        new_tokens[: len(tokens)] = tokens
        new_positions[: len(positions)] = positions
        self._arrays = (new_tokens, new_positions)
