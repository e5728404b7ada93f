"""The vectors of one HNSW graph as a matrix, one row per label: what an
exact scan reads instead of the store.

An exact scan (a filter matching few objects, or HNSW unable to find k)
needs the vectors of a few thousand docnos at once. Reading them from LMDB
costs a get and a record decode each (about 3.5 us: 6 ms for 1,800), and
hnswlib hands its own copies back through Python lists (30 us each). Rows
here are one numpy gather: a graph writes each label's vector once, when it
adds it (labels are never reused), so a row never changes under a reader.

The rows live in a file, not in anonymous memory: hnswlib already holds
every vector in memory, and the page cache can drop these pages under
memory pressure and read them back (they count toward the process's RSS
only once a scan has read them, like LMDB's pages). The file is derived
state and never outlives the process: it is unlinked as soon as it is
created, in the scratch directory the node sets (`use_scratch_dir`, in its
data directory), and filled again whenever a graph is loaded.

Not locked: the owning graph's index holds its readers-writer lock (writes
and growth exclusive, reads shared).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
import weakref
from pathlib import Path

import numpy as np

__all__ = ["VectorRows", "use_scratch_dir"]

_F32 = np.dtype("<f4")
_MIN_ROWS = 1024
_scratch: Path | None = None


def use_scratch_dir(path: Path) -> None:
    """Where this process's row files are made (a node's data directory:
    the file system its data is on). Files left by a crash between creating
    and unlinking one are removed."""
    global _scratch
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("rows-*"):
        stale.unlink(missing_ok=True)
    _scratch = path


def _open_unlinked() -> int:
    where = _scratch if _scratch is not None and _scratch.is_dir() else None
    fd, name = tempfile.mkstemp(prefix="rows-", dir=where)
    # Another engine in this process opening the same directory may have
    # removed it already (`use_scratch_dir`): unlinked either way.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)
    return fd


class VectorRows:
    def __init__(self, dim: int, capacity: int = _MIN_ROWS) -> None:
        self.dim = dim
        self._row_bytes = dim * _F32.itemsize
        self._fd = _open_unlinked()
        weakref.finalize(self, os.close, self._fd)
        self._view = np.empty((0, dim), dtype=_F32)
        self._resize(max(capacity, _MIN_ROWS))

    @property
    def capacity(self) -> int:
        return len(self._view)

    def write(self, first: int, vectors: np.ndarray) -> None:
        """Rows first, first + 1, ... get `vectors` (float32, n x dim)."""
        n = len(vectors)
        if not n:
            return
        if first + n > len(self._view):
            self._resize(max(first + n, 2 * len(self._view)))
        data = np.ascontiguousarray(vectors, dtype=_F32).reshape(-1).view(np.uint8).data
        offset = first * self._row_bytes
        written = 0
        while written < len(data):  # pwrite may write less than asked
            written += os.pwrite(self._fd, data[written:], offset + written)

    def put(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """The rows of `labels` (any order) get `vectors`: one write per run
        of consecutive labels (a graph's labels are 0..n-1: one in all)."""
        if not len(labels):
            return
        order = np.argsort(labels, kind="stable")
        labels, vectors = labels[order].astype(np.int64), vectors[order]
        breaks = np.flatnonzero(np.diff(labels) != 1) + 1
        for run in np.split(np.arange(len(labels)), breaks):
            self.write(int(labels[run[0]]), vectors[run[0] : run[-1] + 1])

    def take(self, labels: np.ndarray) -> np.ndarray:
        """A copy of the rows of `labels` (each below the rows written)."""
        out: np.ndarray = self._view[labels.astype(np.intp, copy=False)]
        return out

    def _resize(self, rows: int) -> None:
        """Grow the file and map it anew. Readers hold the shared lock, so
        none is reading the old map while it is replaced."""
        size = rows * self._row_bytes
        os.ftruncate(self._fd, size)
        mapped = mmap.mmap(self._fd, size, prot=mmap.PROT_READ)
        self._view = np.frombuffer(mapped, dtype=_F32).reshape(rows, self.dim)
