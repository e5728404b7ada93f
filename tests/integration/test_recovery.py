"""A node process restarted over a corrupted or truncated index file detects
it, rebuilds from LMDB and answers with unchanged recall."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.harness.process import ServerProcess, node_process
from vektra import Client

DIM = 48
N = 8000


def _recall(client: Client, base: np.ndarray, queries: np.ndarray) -> float:
    results = client.collection("docs").search_batch(queries, k=10, field="v")
    assert {r.plan.strategy for r in results if r.plan} == {"hnsw"}
    sims = queries @ base.T / np.linalg.norm(base, axis=1)
    truth = [set(np.argsort(-s, kind="stable")[:10].tolist()) for s in sims]
    found = [{int(h.id) for h in r} for r in results]
    return sum(len(f & t) for f, t in zip(found, truth, strict=True)) / (10 * len(queries))


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_damaged_index_file_is_rebuilt_with_recall_unchanged(
    processes: list[ServerProcess], tmp_path: Path, damage: str
) -> None:
    node = node_process("node", tmp_path / "data", tmp_path / "logs")
    processes.append(node)
    address = node.start()
    rng = np.random.default_rng(9)
    # Clustered data, like real embeddings, so recall is meaningful.
    centers = rng.normal(size=(40, DIM))
    base = (centers[rng.integers(40, size=N)] + 0.35 * rng.normal(size=(N, DIM))).astype(np.float32)
    queries = (centers[rng.integers(40, size=200)] + 0.35 * rng.normal(size=(200, DIM))).astype(
        np.float32
    )
    with Client(address) as c:
        c.create_collection("docs", vectors={"v": {"dim": DIM, "metric": "cosine"}})
        c.collection("docs").upsert(ids=[str(i) for i in range(N)], vectors={"v": base})
        before = _recall(c, base, queries)
    assert node.stop() == 0  # graceful: writes a checkpoint

    manifest = json.loads(next((tmp_path / "data" / "index").glob("*.manifest.json")).read_text())
    index_file = tmp_path / "data" / "index" / manifest["files"]["index"]["name"]
    data = bytearray(index_file.read_bytes())
    if damage == "corrupt":
        for pos in range(1000, len(data), len(data) // 7):
            data[pos] ^= 0x5A
    else:
        del data[len(data) // 2 :]
    index_file.write_bytes(bytes(data))

    address = node.restart()
    log = node.log_path.read_text()
    assert "rebuilding from the store" in log
    assert "checksum" in log or "bytes, manifest says" in log
    with Client(address) as c:
        assert c.collection("docs").count() == N
        after = _recall(c, base, queries)
    print(f"recall@10 before {before:.4f}, after rebuild {after:.4f}")
    assert before >= 0.95 and after >= 0.95
    assert abs(after - before) <= 0.01
