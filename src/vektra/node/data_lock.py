"""One process per data directory.

LMDB itself would let two processes share the files, but each process keeps
its own HNSW indexes, clock and change-log position in memory: a second
engine on the same directory (a second `vektra serve node`, or an embedded
client left open beside a served node) would index and stamp writes the
first never sees. So the store holds an exclusive `flock` on a file beside
its LMDB files while it is open. The kernel drops the lock when the process dies, so a crash
never leaves a stale lock behind; the pid in the file is only for the
message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from vektra.common.errors import FailedPrecondition

__all__ = ["DataDirLock"]


class DataDirLock:
    """Held from construction until `release` (idempotent)."""

    def __init__(self, folder: Path, shown_as: Path | None = None) -> None:
        """Lock `folder` (DIR/vektra.lock); errors name `shown_as` (default: `folder`)."""
        data_dir = shown_as or folder
        self.path = folder / "vektra.lock"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise FailedPrecondition(
                f"data directory {data_dir} is in use by {who}: one node or embedded "
                "client at a time may open it (stop the other, or use another --data-dir)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _read_pid(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        return str(int(os.pread(fd, 32, 0).decode().strip()))
    return ""
