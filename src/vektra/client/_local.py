"""The embedded client: the blocking `Client` API on a storage engine in this
process, with no server and no gRPC.

    import vektra

    with vektra.connect("./vektra-data") as c:
        docs = c.create_collection("docs", vectors={"embedding": {"dim": 384}})
        c.collection("docs").upsert(ids=ids, vectors=matrix)
        hits = c.collection("docs").search(query, k=10)

Every operation is the same plan as `Client`'s (`vektra.client._requests`):
the same input checks, the same requests and results, and the same
validation by the node's public API (`vektra.node.public_api`), which here
is called directly in the caller's thread instead of over a socket. So a
program moves between `vektra.connect(path)` and `vektra.Client(address)`
by changing that one line.

The directory is a storage node's data directory, unchanged: stop the
program and `vektra serve node --data-dir PATH` serves the same collections
(and the other way round). One process at a time may open it (the store
locks it). A write is acknowledged after its LMDB commit, as on a server;
the HNSW indexes are checkpointed in the background and on `close()`, and
a program that never closes loses nothing (the next open replays the change
log, as a node does after a crash).

Thread-safe: the engine serializes writes and runs reads concurrently.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vektra.client._requests import Call
from vektra.client._sync import BlockingApi
from vektra.common import errors
from vektra.common.schema import CollectionSchema

if TYPE_CHECKING:
    from vektra.node.engine import Engine
    from vektra.node.public_api import PublicApi

__all__ = ["LocalClient", "connect"]

log = logging.getLogger(__name__)

# Calls answered in this process without the reply's message: a get's (or
# a query's) objects decoded once, not packed to be decoded again; a
# search's hits as the engine's columns, not copied into a message and out.
_IN_PROCESS = {
    "Get": "get_in_process",
    "Query": "query_in_process",
    "Search": "search_in_process",
    "SearchBatch": "search_batch_in_process",
}

# As often as a node process checkpoints by default (NodeConfig).
_CHECKPOINT_INTERVAL_S = 30.0


class LocalClient(BlockingApi):
    """The `Client` API on a data directory opened in this process."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        checkpoint_interval_s: float = _CHECKPOINT_INTERVAL_S,
    ) -> None:
        # The engine (LMDB, hnswlib, numpy) loads only when a local client is
        # made: `import vektra` stays light for programs that use a server.
        from vektra.node.config import EngineConfig
        from vektra.node.engine import Engine
        from vektra.node.public_api import PublicApi

        if checkpoint_interval_s <= 0:
            raise errors.InvalidArgument("checkpoint_interval_s", "must be above 0")
        self._path = Path(path)
        self._engine: Engine = Engine(EngineConfig(data_dir=self._path))
        self._api: PublicApi = PublicApi(self._engine)
        self._schemas: dict[str, CollectionSchema] = {}
        self._closed = False
        self._close_lock = threading.Lock()
        self._stop = threading.Event()
        self._checkpoints = threading.Thread(
            target=self._checkpoint_loop,
            args=(checkpoint_interval_s,),
            name=f"vektra-checkpoint {self._path}",
            daemon=True,
        )
        self._checkpoints.start()

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._path)!r})"

    def close(self) -> None:
        """Checkpoint the indexes and close the directory (idempotent)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._checkpoints.join()
        self._engine.close()

    def __enter__(self) -> LocalClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ transport

    def _call(self, call: Call) -> Any:
        if self._closed:
            raise RuntimeError("the Vektra client is closed")
        handler = getattr(self._api, _IN_PROCESS.get(call.method, call.method))
        args = (f"local:{self._path}",) if call.method == "ClusterStatus" else ()
        try:
            return handler(call.request, *args)
        except errors.VektraError:
            raise
        except Exception as exc:
            # What a server would answer INTERNAL: a bug or the disk, not input.
            raise errors.Internal(f"{call.method} failed: {type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------ background

    def _checkpoint_loop(self, interval_s: float) -> None:
        """Fold and save the indexes now and then, so searches stay on one
        graph and the next open replays little."""
        while not self._stop.wait(interval_s):
            try:
                # As a node does: indexes quiet for a whole interval fold
                # their graphs back into one first (`Engine.settle`).
                self._engine.settle()
            except Exception:
                log.exception("folding index graphs in %s failed; will retry", self._path)
            if not self._engine.dirty:
                continue
            try:
                self._engine.checkpoint()
            except Exception:
                log.exception("checkpoint of %s failed; will retry", self._path)


def connect(path: str | os.PathLike[str], **options: Any) -> LocalClient:
    """Open (creating if needed) the data directory `path` in this process and
    return a client for it: the same API as `vektra.Client`, embedded."""
    return LocalClient(path, **options)
