"""Benchmark: one storage node over gRPC against bare hnswlib in-process.

The machines this runs on are shared and noisy, so absolute numbers mean
little: the result is the *ratio* of Vektra to a baseline measured side by
side, in alternating rounds, on the same data and HNSW parameters. The
baseline is what Vektra is built on (hnswlib, no durability, no network), so
the ratios say what the database around it costs.

    python bench/node_vs_hnswlib.py [--rows N] [--rounds R] [--json FILE]

Data: ../shared/datasets/docstrings when present (real 384-d embeddings and
queries), else seeded clustered synthetic data of the same shape.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

from vektra import Client

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "docstrings"
M, EF_CONSTRUCTION, EF, K = 16, 200, 64, 10


def load(rows: int) -> tuple[np.ndarray, np.ndarray, str]:
    if (DATASET / "base.npy").is_file():
        base = np.load(DATASET / "base.npy")[:rows]
        queries = np.load(DATASET / "queries.npy")[:500]
        return base, queries, f"docstrings ({len(base)} x {base.shape[1]})"
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(50, 384))
    base = (centers[rng.integers(50, size=rows)] + 0.3 * rng.normal(size=(rows, 384))).astype(
        np.float32
    )
    queries = (centers[rng.integers(50, size=500)] + 0.3 * rng.normal(size=(500, 384))).astype(
        np.float32
    )
    return base, queries, f"synthetic ({rows} x 384)"


def baseline(base: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    index = hnswlib.Index(space="cosine", dim=base.shape[1])
    index.init_index(max_elements=len(base), M=M, ef_construction=EF_CONSTRUCTION, random_seed=100)
    start = time.perf_counter()
    for i in range(0, len(base), 1000):  # the same batch size as the Vektra ingest
        index.add_items(base[i : i + 1000], np.arange(i, min(i + 1000, len(base))))
    ingest = time.perf_counter() - start
    index.set_ef(EF)
    start = time.perf_counter()
    for q in queries:
        index.knn_query(q[None, :], k=K)
    single = time.perf_counter() - start
    start = time.perf_counter()
    index.knn_query(queries, k=K)
    batch = time.perf_counter() - start
    return {"ingest_s": ingest, "search_s": single, "search_batch_s": batch}


def vektra(base: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="vektra-bench-") as tmp:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vektra.cli.main",
                "--log-level",
                "WARNING",
                "serve",
                "node",
                "--data-dir",
                tmp,
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            address = next(
                line.split()[3] for line in proc.stdout if line.startswith("VEKTRA_READY")
            )
            with Client(address, timeout_s=300) as c:
                c.create_collection(
                    "bench",
                    vectors={
                        "v": {
                            "dim": base.shape[1],
                            "metric": "cosine",
                            "hnsw": {"m": M, "ef_construction": EF_CONSTRUCTION, "ef": EF},
                        }
                    },
                )
                col = c.collection("bench")
                ids = [str(i) for i in range(len(base))]
                start = time.perf_counter()
                col.upsert(ids=ids, vectors={"v": base}, batch_size=1000)
                ingest = time.perf_counter() - start
                start = time.perf_counter()
                for q in queries:
                    col.search(q, k=K, include_properties=False)
                single = time.perf_counter() - start
                start = time.perf_counter()
                col.search_batch(queries, k=K, include_properties=False)
                batch = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return {"ingest_s": ingest, "search_s": single, "search_batch_s": batch}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    base, queries, what = load(args.rows)
    runs: dict[str, list[dict[str, float]]] = {"vektra": [], "hnswlib": []}
    for r in range(args.rounds):
        # Alternate the order so drift in the machine's load hits both alike.
        for name in ("vektra", "hnswlib") if r % 2 == 0 else ("hnswlib", "vektra"):
            runs[name].append((vektra if name == "vektra" else baseline)(base, queries))
    report: dict[str, Any] = {
        "data": what,
        "rounds": args.rounds,
        "queries": len(queries),
        "ratios": {},
    }
    print(f"data: {what}, {len(queries)} queries, k={K}, ef={EF}, {args.rounds} rounds (median)")
    print(f"{'measure':<16}{'vektra':>12}{'hnswlib':>12}{'ratio':>9}")
    for key in ("ingest_s", "search_s", "search_batch_s"):
        v = statistics.median(x[key] for x in runs["vektra"])
        b = statistics.median(x[key] for x in runs["hnswlib"])
        report["ratios"][key] = v / b
        print(f"{key:<16}{v:>11.3f}s{b:>11.3f}s{v / b:>8.1f}x")
    report["runs"] = runs
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
