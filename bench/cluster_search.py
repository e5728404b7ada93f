"""Batched search through a router on a local cluster (`vektra up`), end to
end: the number the replication issue asked to see move (3 nodes, rf 2).

    python bench/cluster_search.py [--nodes 3] [--rf 2] [--batch 64] [--ef 32]
                                   [--rounds 3] [--json out.json]

Uses only the `vektra up` command and the public SDK, so the same script
measures any version of Vektra installed in the interpreter that runs it
(the "before" of a change: a venv of the older commit). Data: the real
docstrings of ../shared/datasets when present, else seeded clustered data
of the same shape. Reports queries per second (median of rounds) and
recall@10 against exact ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vektra import Client

DATASETS = Path(
    os.environ.get("VEKTRA_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    root = DATASETS / "docstrings"
    if (root / "base.npy").is_file():
        return (
            np.load(root / "base.npy"),
            np.load(root / "queries.npy"),
            np.load(root / "groundtruth.npy"),
        )
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(50, 384))
    base = centers[rng.integers(50, size=18_000)] + 0.3 * rng.normal(size=(18_000, 384))
    base = (base / np.linalg.norm(base, axis=1, keepdims=True)).astype(np.float32)
    queries = base[rng.integers(18_000, size=1000)] + 0.05 * rng.normal(size=(1000, 384))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :100]
    return base, queries, truth


def _up(data_dir: Path, nodes: int, rf: int) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vektra.cli.main", "up", "--nodes", str(nodes), "--rf", str(rf),
         "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode()
        if line.startswith("VEKTRA_READY up router "):
            return proc, line.split()[-1]
    raise SystemExit("vektra up did not start")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--rf", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--ef", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    base, queries, truth = _data()
    with tempfile.TemporaryDirectory() as tmp:
        proc, router = _up(Path(tmp), args.nodes, args.rf)
        try:
            with Client(router, timeout_s=120) as c:
                c.create_collection(
                    "bench",
                    vectors={"v": {"dim": base.shape[1], "metric": "cosine",
                                   "hnsw": {"m": 16, "ef_construction": 200, "ef": args.ef}}},
                    replication_factor=args.rf,
                )  # fmt: skip
                col = c.collection("bench")
                t0 = time.perf_counter()
                ids = [str(i) for i in range(len(base))]
                for start in range(0, len(base), 1000):
                    col.upsert(
                        ids=ids[start : start + 1000], vectors={"v": base[start : start + 1000]}
                    )
                ingest_s = time.perf_counter() - t0
                rates, found = [], []
                for _ in range(args.rounds):
                    found = []
                    t0 = time.perf_counter()
                    for start in range(0, len(queries), args.batch):
                        results = col.search_batch(
                            queries[start : start + args.batch], k=10, ef=args.ef
                        )
                        found += [[int(h.id) for h in r] for r in results]
                    rates.append(len(queries) / (time.perf_counter() - t0))
                recall = float(
                    np.mean(
                        [len(set(f) & set(t[:10])) / 10 for f, t in zip(found, truth, strict=True)]
                    )
                )
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
    out = {
        "nodes": args.nodes,
        "rf": args.rf,
        "rows": len(base),
        "batch": args.batch,
        "ef": args.ef,
        "batched_search_qps": float(np.median(rates)),
        "recall_at_10": recall,
        "ingest_objects_per_s": len(base) / ingest_s,
    }
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
