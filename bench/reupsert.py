"""Benchmark: re-upserting objects a node already holds, against inserting them.

Issue 9: re-importing a file must run at >= 0.5x the rate of the first
import, whether or not the vectors changed. Each round, on a fresh node:

    insert     N new objects, in batches
    same       the same ids again with the same vectors (one property changed)
    changed    the same ids again with other vectors
    changed2   and once more with other vectors (steady churn: the deleted
               labels of the first round are there, graphs may be rebuilt)
    settled    (engine only) no write, then `Engine.settle` twice, as a node's
               checkpoint loop does once writes stop: the index's graphs are
               folded back into one; its time is reported, and the search after

Each phase is reported as objects/s and as its ratio to `insert` of the same
round (the machines are shared and noisy: ratios of phases run side by side
mean more than absolute rates); medians over rounds. After each phase one
batch of queries (k=10) checks the index: recall@10 against a brute-force
scan of the vectors the phase left, and queries/s as a ratio to the search
after `insert` (replaced vectors must not make search slower or worse).
Searches go through HNSW (exact_search_max 0: a node scans an index this
small exactly otherwise).

    engine   `vektra.node.engine.Engine` in this process (no gRPC)
    sdk      a `vektra serve node` subprocess through the SDK (`--sdk`)

    python bench/reupsert.py [--rows N] [--batch B] [--rounds R] [--data random|docstrings]
                             [--sdk] [--json FILE]

Data: random unit vectors (384-d), or the docstrings embeddings
(../shared/datasets/docstrings/base.npy: rows [0, N) first, then [N, 2N) and
[2N, 3N) as the "changed" vectors, so every phase writes real embeddings;
its queries.npy as queries).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vektra.common import filters
from vektra.common.schema import CollectionSchema
from vektra.common.validation import ObjectIn
from vektra.node.config import EngineConfig
from vektra.node.engine import Engine

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "docstrings"
DIM, M, EF_CONSTRUCTION, EF, K, QUERIES = 384, 16, 200, 64, 10, 200
PHASES = ("insert", "same", "changed", "changed2")

# (ids, vectors, properties) of one phase; `write` upserts them all.
Batch = tuple[list[str], np.ndarray, list[dict[str, Any]]]
# Ids of the k nearest, per query row.
Search = Callable[[np.ndarray], list[list[str]]]


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


def load(data: str, rows: int) -> tuple[list[np.ndarray], np.ndarray, str]:
    """Vectors for insert, changed and changed2 (same shape each), and queries."""
    if data == "docstrings":
        base = np.load(DATASET / "base.npy")
        if len(base) < 3 * rows:
            raise SystemExit(f"docstrings has {len(base)} rows: at most {len(base) // 3} per phase")
        sets = [base[i * rows : (i + 1) * rows].astype(np.float32) for i in range(3)]
        queries = np.load(DATASET / "queries.npy")[:QUERIES].astype(np.float32)
        return sets, queries, f"docstrings ({rows} x {base.shape[1]})"
    rng = np.random.default_rng(0)
    sets = [_unit(rng.normal(size=(rows, DIM))) for _ in range(3)]
    return sets, _unit(rng.normal(size=(QUERIES, DIM))), f"random unit ({rows} x {DIM})"


def phases(sets: list[np.ndarray]) -> list[tuple[str, Batch]]:
    n = len(sets[0])
    ids = [f"obj{i}" for i in range(n)]

    def props(bump: int) -> list[dict[str, Any]]:
        return [{"group": f"g{i % 10}", "n": i + bump} for i in range(n)]

    return [
        ("insert", (ids, sets[0], props(0))),
        ("same", (ids, sets[0], props(1))),
        ("changed", (ids, sets[1], props(2))),
        ("changed2", (ids, sets[2], props(3))),
    ]


def schema_dict(dim: int) -> dict[str, Any]:
    return {
        "name": "bench",
        "vectors": {
            "v": {
                "dim": dim,
                "metric": "cosine",
                "hnsw": {"m": M, "ef_construction": EF_CONSTRUCTION, "ef": EF},
            }
        },
        "properties": {"group": "keyword", "n": "int"},
    }


def run_engine(sets: list[np.ndarray], queries: np.ndarray, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="vektra-bench-") as tmp:
        engine = Engine(EngineConfig(Path(tmp), exact_search_max=0))
        try:
            engine.create_collection(CollectionSchema.from_dict(schema_dict(sets[0].shape[1])))

            def write(b: Batch) -> None:
                ids, vectors, props = b
                for s in range(0, len(ids), batch):
                    engine.upsert(
                        "bench",
                        [
                            ObjectIn(ids[i], props[i], {"v": vectors[i]})
                            for i in range(s, min(s + batch, len(ids)))
                        ],
                    )

            spec = engine.schema("bench").vectors[0]

            def search(q: np.ndarray) -> list[list[str]]:
                results = engine.search("bench", spec, q, K, None, filters.All())
                return [[h.record.id for h in r.hits] for r in results]

            def settle() -> None:
                engine.settle()  # marks the indexes as seen ...
                engine.settle()  # ... and folds the ones no write reached since

            # An engine from before `settle` (run with another build's src/) has none.
            return timed(
                sets, queries, write, search, settle if hasattr(engine, "settle") else None
            )
        finally:
            engine.close()


def run_sdk(sets: list[np.ndarray], queries: np.ndarray, batch: int) -> dict[str, float]:
    from vektra import Client

    with tempfile.TemporaryDirectory(prefix="vektra-bench-") as tmp:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "vektra.cli.main", "--log-level", "WARNING"),
                *("serve", "node", "--data-dir", tmp, "--listen", "127.0.0.1:0"),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "VEKTRA__NODE__EXACT_SEARCH_MAX": "0"},
        )
        try:
            assert proc.stdout is not None
            address = next(
                line.split()[3] for line in proc.stdout if line.startswith("VEKTRA_READY")
            )
            with Client(address, timeout_s=300) as c:
                d = schema_dict(sets[0].shape[1])
                c.create_collection("bench", vectors=d["vectors"], properties=d["properties"])
                col = c.collection("bench")

                def write(b: Batch) -> None:
                    ids, vectors, props = b
                    col.upsert(ids=ids, vectors={"v": vectors}, properties=props, batch_size=batch)

                def search(q: np.ndarray) -> list[list[str]]:
                    results = col.search_batch(q, k=K, include_properties=False)
                    return [[h.id for h in r] for r in results]

                return timed(sets, queries, write, search)
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def timed(
    sets: list[np.ndarray],
    queries: np.ndarray,
    write: Callable[[Batch], None],
    search: Search,
    settle: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Per phase, in order: objects/s, and after it recall@K and queries/s;
    with `settle`, its seconds and the search after it ("settled")."""
    out: dict[str, float] = {}

    def check(name: str, b: Batch) -> None:
        best = float("inf")
        for _ in range(3):  # the best of 3: one batch is short, and the machine noisy
            start = time.perf_counter()
            found = search(queries)
            best = min(best, time.perf_counter() - start)
        out[f"{name}_qps"] = len(queries) / best
        ids, vectors, _ = b
        truth = np.argsort(-(_unit(vectors) @ _unit(queries).T), axis=0)[:K].T
        hits = sum(len(set(f) & {ids[i] for i in t}) for f, t in zip(found, truth, strict=True))
        out[f"{name}_recall"] = hits / (K * len(queries))

    for name, b in phases(sets):
        start = time.perf_counter()
        write(b)
        out[name] = len(b[0]) / (time.perf_counter() - start)
        check(name, b)
    if settle is not None:
        start = time.perf_counter()
        settle()
        out["settled_s"] = time.perf_counter() - start
        check("settled", b)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", choices=("random", "docstrings"), default="random")
    parser.add_argument("--sdk", action="store_true", help="through a node server and the SDK")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sets, queries, what = load(args.data, args.rows)
    run = run_sdk if args.sdk else run_engine
    rounds = [run(sets, queries, args.batch) for _ in range(args.rounds)]
    side = "sdk (vektra serve node)" if args.sdk else "engine (in process)"
    print(f"{side}, data: {what}, batches of {args.batch}, {args.rounds} rounds (median)")
    print(f"{'phase':<10}{'objects/s':>12}{'x insert':>10}{'recall@10':>11}{'search x':>10}")
    report: dict[str, Any] = {"side": side, "data": what, "batch": args.batch, "phases": {}}
    for name in PHASES:
        rate = statistics.median(r[name] for r in rounds)
        ratio = statistics.median(r[name] / r["insert"] for r in rounds)
        recall = statistics.median(r[f"{name}_recall"] for r in rounds)
        qps = statistics.median(r[f"{name}_qps"] / r["insert_qps"] for r in rounds)
        report["phases"][name] = {
            "objects_per_s": rate,
            "ratio": ratio,
            "recall": recall,
            "search_ratio": qps,
        }
        print(f"{name:<10}{rate:>12,.0f}{ratio:>10.2f}{recall:>11.3f}{qps:>10.2f}")
    if "settled_s" in rounds[0]:
        took = statistics.median(r["settled_s"] for r in rounds)
        recall = statistics.median(r["settled_recall"] for r in rounds)
        qps = statistics.median(r["settled_qps"] / r["insert_qps"] for r in rounds)
        report["phases"]["settled"] = {"seconds": took, "recall": recall, "search_ratio": qps}
        print(f"{'settled':<10}{took:>11.2f}s{'':>10}{recall:>11.3f}{qps:>10.2f}")
    report["rounds"] = rounds
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
