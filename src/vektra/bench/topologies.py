"""Vektra as it is deployed, driven through its public API only:

- `embedded`: `vektra.connect(path)`, the in-process client with the same
  API as `vektra.Client` (a node's engine in this process, no gRPC);
- `node`: one storage node behind a router (`vektra up --nodes 1 --rf 1`);
- `cluster`: three nodes, replication factor 2, behind a router
  (`vektra up --nodes 3 --rf 2`).

The routed topologies run `vektra up ... --port 0` as a child process, read
the router's address from its `VEKTRA_READY up router HOST:PORT` line, talk
to it with `vektra.Client`, and stop it with SIGTERM (which stops the
router, coordinator and nodes in order) whatever happens; its router,
coordinator and nodes are measured as separate processes.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import vektra
from vektra.bench.data import Dataset, FilterCase
from vektra.bench.procstats import ProcessSet
from vektra.bench.systems import OPERATIONS, System

__all__ = ["ClusterTopology", "EmbeddedTopology", "NodeTopology", "VektraTopology"]

COLLECTION = "bench"
FIELD = "v"


class VektraTopology(System):
    """The operations, through a `vektra.Client`-shaped client."""

    kind = "vektra"
    supports = OPERATIONS
    replication_factor: ClassVar[int] = 1

    def _connect(self, workdir: Path) -> Any:
        raise NotImplementedError

    def start(self, ds: Dataset, workdir: Path) -> None:
        super().start(ds, workdir)
        self.client = self._connect(workdir)
        p = self.params
        self.client.create_collection(
            COLLECTION,
            vectors={
                FIELD: {
                    "dim": ds.dim,
                    "metric": "cosine",
                    "hnsw": {"m": p.m, "ef_construction": p.ef_construction, "ef": p.ef},
                }
            },
            properties=dict(ds.property_types),
            replication_factor=self.replication_factor,
        )
        self.col = self.client.collection(COLLECTION)

    def _close_client(self) -> None:
        client = getattr(self, "client", None)
        self.client = None
        if client is not None and hasattr(client, "close"):
            with contextlib.suppress(Exception):
                client.close()

    def stop(self) -> None:
        self._close_client()

    # ------------------------------------------------------------ operations

    def upsert(self, rows: np.ndarray, vectors: np.ndarray | None = None) -> None:
        ds = self.data
        data = ds.base[rows] if vectors is None else vectors
        self.col.upsert(
            ids=ds.ids(rows),
            vectors={FIELD: data},
            properties=ds.properties(rows),
        )

    def get(self, rows: np.ndarray) -> int:
        return len(self.col.get(self.data.ids(rows)))

    def filter_query(self, case: FilterCase) -> int:
        return len(self.col.query(filter=case.vektra(), limit=case.matches))

    def search(self, query: np.ndarray, k: int, ef: int) -> list[int]:
        hits = self.col.search(query, k, field=FIELD, ef=ef, include_properties=False)
        return [int(i) for i in hits.ids]

    def search_batch(self, queries: np.ndarray, k: int, ef: int) -> Any:
        return self.col.search_batch(queries, k, field=FIELD, ef=ef, include_properties=False)

    def batch_ids(self, answer: list[Any]) -> list[list[int]]:
        return [[int(i) for i in r.ids] for r in answer]

    def filtered_search(
        self, query: np.ndarray, k: int, case: FilterCase, ef: int
    ) -> tuple[list[int], str | None]:
        hits = self.col.search(
            query, k, field=FIELD, filter=case.vektra(), ef=ef, include_properties=False
        )
        plan = hits.plan.strategy if hits.plan is not None else None
        return [int(i) for i in hits.ids], plan

    def delete(self, rows: np.ndarray) -> None:
        self.col.delete(self.data.ids(rows))


class EmbeddedTopology(VektraTopology):
    name = "embedded"
    label = "embedded"

    def _connect(self, workdir: Path) -> Any:
        return vektra.connect(workdir / "embedded")


class _Routed(VektraTopology):
    nodes: ClassVar[int] = 1
    start_timeout_s: ClassVar[float] = 120.0

    def _connect(self, workdir: Path) -> Any:
        data_dir = workdir / self.name
        data_dir.mkdir(parents=True, exist_ok=True)
        self._stderr = (workdir / f"{self.name}-up.log").open("wb")
        argv = [
            sys.executable, "-m", "vektra.cli.main", "--log-level", "WARNING", "up",
            "--nodes", str(self.nodes), "--rf", str(self.replication_factor),
            "--data-dir", str(data_dir), "--port", "0",
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._stderr
        )
        try:
            address = self._wait_ready(self.proc, workdir)
            self.processes = ProcessSet.of_cluster(self.proc.pid)
            # Generous deadline: a loaded 2-core machine can stall a batch.
            return vektra.Client(address, timeout_s=300)
        except BaseException:
            self._stop_up()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes], workdir: Path) -> str:
        lines: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout

        def read() -> None:
            for raw in stdout:
                lines.put(raw.decode(errors="replace"))
            lines.put(None)

        threading.Thread(target=read, daemon=True, name=f"{self.name}-stdout").start()
        while True:
            try:
                line = lines.get(timeout=self.start_timeout_s)
            except queue.Empty:
                raise RuntimeError(f"vektra up ({self.name}) not ready in time") from None
            if line is None:
                log = workdir / f"{self.name}-up.log"
                raise RuntimeError(f"vektra up ({self.name}) exited; see {log}")
            if line.startswith("VEKTRA_READY up router "):
                return line.split()[-1]

    def _stop_up(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is None:
            return
        self.proc = None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()  # `up` kills its children after its own grace period
                proc.wait(timeout=10)
        with contextlib.suppress(Exception):
            self._stderr.close()

    def stop(self) -> None:
        try:
            self._close_client()
        finally:
            self._stop_up()


class NodeTopology(_Routed):
    name = "node"
    label = "1 node (router)"
    nodes = 1
    replication_factor = 1


class ClusterTopology(_Routed):
    name = "cluster"
    label = "3 nodes rf2 (router)"
    nodes = 3
    replication_factor = 2
