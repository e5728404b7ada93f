"""The node's one LMDB environment: opening it, transactions, and a map that
grows.

Every other store module (catalog, records, property index, hints, change
log) owns one or more named databases of this environment and reaches LMDB
only through `reader()` and `write()`, so the rules below hold everywhere:

* sync and metasync are on: a write transaction is on disk when it returns,
  so an acknowledged write is durable;
* the map grows by doubling when a transaction hits its end, up to
  `max_map_bytes`; past that, or when the disk is full, the transaction is
  aborted whole and `ResourceExhausted` names the limit.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeAlias, TypeVar

import lmdb

from vektra.common.errors import ResourceExhausted
from vektra.node.rwlock import RWLock

__all__ = ["Db", "LmdbEnv", "Txn", "ViewTxn"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Transactions open with buffers=False (keys and values are bytes), except
# `view_reader`'s, whose values are memoryviews valid inside the transaction.
Txn: TypeAlias = "lmdb.Transaction[bytes]"
ViewTxn: TypeAlias = "lmdb.Transaction[memoryview]"
Db: TypeAlias = "lmdb._Database"

# objects, docs, pidx, log, hints, meta, and room for what a later issue adds.
_MAX_DBS = 8


class LmdbEnv:
    def __init__(self, path: Path, *, initial_map_bytes: int, max_map_bytes: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._max_map_bytes = max_map_bytes
        self._env = lmdb.open(
            str(path),
            map_size=min(initial_map_bytes, max_map_bytes),
            max_dbs=_MAX_DBS,
            sync=True,
            metasync=True,
            readahead=False,
            max_readers=512,
        )
        # LMDB requires that no transaction is open in this process while the
        # map size changes: transactions hold this shared, growing exclusive.
        self._lock = RWLock()
        # Write transactions ended so far (`writes`); bumped under a lock, as
        # two writers' bumps after LMDB's own writer lock may interleave.
        self._writes = 0
        self._writes_lock = threading.Lock()

    def open_db(self, name: bytes) -> Db:
        return self._env.open_db(name)

    def close(self) -> None:
        with self._lock.exclusive():
            self._env.close()

    @property
    def map_bytes(self) -> int:
        return int(self._env.info()["map_size"])

    @contextmanager
    def reader(self) -> Iterator[Txn]:
        with self._lock.shared(), self._env.begin(buffers=False) as txn:
            yield txn

    @contextmanager
    def view_reader(self) -> Iterator[ViewTxn]:
        """A read transaction whose values are memoryviews into the map, valid
        only inside it: no copy per value, for a reader that copies anyway."""
        with self._lock.shared(), self._env.begin(buffers=True) as txn:
            yield txn

    @property
    def writes(self) -> int:
        """How many write transactions have ended, committed or not. Read
        before opening a read transaction, it dates what that transaction
        sees: any later commit raises it after the commit is visible, so a
        result derived from the read and remembered with this number is
        current for as long as `writes` still equals it (the property
        index's cache relies on this)."""
        return self._writes

    def write(self, fn: Callable[[Txn], T]) -> T:
        """Run `fn` in one write transaction, growing the map and retrying when
        it fills. `fn` must have no effects outside the transaction."""
        while True:
            try:
                try:
                    with self._lock.shared(), self._env.begin(write=True) as txn:
                        return fn(txn)
                finally:
                    with self._writes_lock:
                        self._writes += 1
            except lmdb.MapFullError:
                self._grow()
            except (lmdb.DiskError, lmdb.TxnFullError) as exc:
                raise ResourceExhausted("disk", f"the store cannot write: {exc}") from exc
            except lmdb.Error as exc:
                # LMDB reports a short page write on a full disk as EIO. The
                # transaction was aborted either way: the store is unchanged.
                if "No space left" in str(exc) or (
                    "Input/output error" in str(exc) and self._disk_nearly_full()
                ):
                    free = shutil.disk_usage(self.path).free
                    raise ResourceExhausted(
                        "disk",
                        f"the disk is full ({free} bytes free); nothing of this batch was written",
                    ) from exc
                raise

    def _disk_nearly_full(self) -> bool:
        return shutil.disk_usage(self.path).free < 16 << 20

    def _grow(self) -> None:
        with self._lock.exclusive():
            current = self._env.info()["map_size"]
            if current >= self._max_map_bytes:
                raise ResourceExhausted(
                    "max_map_bytes",
                    f"the store is full at {current} bytes (limit {self._max_map_bytes}); "
                    "nothing of this batch was written",
                )
            new = min(current * 2, self._max_map_bytes)
            log.info("growing LMDB map from %d to %d bytes", current, new)
            self._env.set_mapsize(new)
