"""SIGKILL in the middle of a stream of acknowledged batch upserts: after a
restart every acknowledged object is present and searchable, and every batch
is all or nothing."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import numpy as np

from tests.harness.process import ServerProcess, node_process, wait_until
from vektra import Client
from vektra.common.errors import VektraError

DIM = 32
BATCH = 50


def _vectors(batch: int) -> np.ndarray:
    return np.random.default_rng(batch).normal(size=(BATCH, DIM)).astype(np.float32)


def _writer(address: str, stop: threading.Event, acked: list[int], attempted: list[int]) -> None:
    """Upsert batches until the node dies; record which batches were acknowledged."""
    with Client(address, timeout_s=10, retries=0) as c:
        col = c.collection("docs")
        b = len(attempted)
        while not stop.is_set():
            vecs = _vectors(b)
            attempted.append(b)
            try:
                col.upsert(
                    [
                        {"id": f"b{b}-{i}", "vectors": {"v": vecs[i]}, "properties": {"batch": b}}
                        for i in range(BATCH)
                    ]
                )
            except VektraError:
                return  # the node is gone; this batch was not acknowledged
            acked.append(b)
            b += 1


def test_sigkill_during_batch_upserts_loses_no_acknowledged_write(
    processes: list[ServerProcess], tmp_path: Path
) -> None:
    # A short checkpoint interval makes kills land before, during and after
    # checkpoints; recovery must cope with each.
    config = tmp_path / "node.yaml"
    config.write_text("node:\n  checkpoint_interval_s: 0.3\n")
    node = node_process("node", tmp_path / "data", tmp_path / "logs", 0, "--config", str(config))
    processes.append(node)
    address = node.start()
    with Client(address) as c:
        c.create_collection(
            "docs", vectors={"v": {"dim": DIM, "metric": "l2"}}, properties={"batch": "int"}
        )

    acked: list[int] = []
    attempted: list[int] = []
    for cycle in range(3):
        stop = threading.Event()
        writer = threading.Thread(target=_writer, args=(address, stop, acked, attempted))
        writer.start()
        target = len(acked) + 20 + 15 * cycle
        wait_until(lambda t=target: len(acked) >= t, 120, f"{target} batches acknowledged")
        node.kill(signal.SIGKILL)  # mid-stream: the writer has a batch in flight
        writer.join(timeout=60)
        stop.set()
        address = node.restart()

    with Client(address, timeout_s=60) as c:
        col = c.collection("docs")
        present_by_batch: dict[int, int] = {}
        for b in attempted:
            ids = [f"b{b}-{i}" for i in range(BATCH)]
            present_by_batch[b] = len(col.get(ids))
        # Nothing half-written: each batch is entirely there or entirely absent.
        assert all(n in (0, BATCH) for n in present_by_batch.values()), present_by_batch
        # Every acknowledged batch is there.
        missing = [b for b in acked if present_by_batch[b] != BATCH]
        assert not missing, f"acknowledged batches lost: {missing}"
        total = sum(present_by_batch.values())
        assert col.count() == total
        # And searchable. Filtered to its batch (an exact scan over the vectors
        # the HNSW index holds), each object's own vector finds it first ...
        hnsw_hits = checked = 0
        for b in attempted:
            if present_by_batch[b] != BATCH:
                continue
            ids = [f"b{b}-{i}" for i in range(BATCH)]
            exact = col.search_batch(_vectors(b), k=1, field="v", filter={"batch": b})
            assert [r[0].id for r in exact] == ids
            assert {r.plan.strategy for r in exact if r.plan} == {"exact"}
            # ... and through the HNSW graph, nearly always (HNSW is approximate:
            # even a fresh build leaves a few points of random data unreachable).
            approx = col.search_batch(_vectors(b), k=1, field="v")
            hnsw_hits += sum(r[0].id == i for r, i in zip(approx, ids, strict=True))
            checked += BATCH
        assert hnsw_hits >= 0.99 * checked, (hnsw_hits, checked)
    assert len(acked) >= 20 + 35 + 50
