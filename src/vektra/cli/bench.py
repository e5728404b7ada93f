"""`vektra bench`: the benchmark suite (`vektra.bench`), imported only when
the command runs, so `vektra --help` loads neither numpy's suite nor any
baseline."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

__all__ = ["add_bench_command"]

TOPOLOGIES = ("embedded", "node", "cluster")
BASELINES = ("raw", "lmdb", "numpy", "chroma", "qdrant", "grpc")


def _names(known: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in known]
        if bad:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad)} (choose from {', '.join(known)})"
            )
        return names

    return parse


def _run(args: argparse.Namespace) -> int:
    from vektra.bench.suite import main

    return main(args)


def add_bench_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser(
        "bench",
        help="run the benchmark suite (ratios against baselines run beside Vektra)",
        description="Measure Vektra (embedded, one node via a router, three nodes rf 2 via a "
        "router) beside raw hnswlib, raw LMDB, numpy, Chroma and Qdrant Edge on the same "
        "data, in rotating order over several rounds, and report medians and ratios, the "
        "speed targets with pass/fail marks, and plots. Chroma, Qdrant Edge and the plots "
        "need the bench extra (pip install 'vektra[bench]'); without it their columns say "
        "'not installed'. See bench/README.md.",
    )
    bench.add_argument(
        "--topology",
        type=_names(TOPOLOGIES),
        default=list(TOPOLOGIES),
        help="comma-separated Vektra topologies: embedded, node, cluster (default: all)",
    )
    bench.add_argument(
        "--baselines",
        type=_names(BASELINES),
        default=list(BASELINES),
        help="comma-separated baselines: raw (hnswlib), lmdb, numpy, chroma, qdrant, grpc (an "
        "empty gRPC call through three processes) (default: all)",
    )
    bench.add_argument(
        "--workloads",
        type=lambda s: [n.strip() for n in s.split(",") if n.strip()],
        help="comma-separated workloads, or prefixes of them (search, get, filtered_search, "
        "reupsert ...); ingest always runs (default: all)",
    )
    bench.add_argument(
        "--dataset",
        choices=["docstrings", "synthetic"],
        default="docstrings",
        help="docstrings: the real embeddings in $VEKTRA_DATASETS or ../shared (synthetic "
        "data of the same shape when absent); synthetic: seeded clustered data "
        "(default: docstrings)",
    )
    bench.add_argument(
        "--rows", type=int, help="rows of data (default: all 17,971 docstrings; 10,000 synthetic)"
    )
    bench.add_argument("--dim", type=int, default=128, help="synthetic dimension (default: 128)")
    bench.add_argument("--queries", type=int, help="query vectors (default: 1,000)")
    bench.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    bench.add_argument(
        "--clients", type=int, default=8, help="concurrent client threads (default: 8)"
    )
    bench.add_argument(
        "--duration-s",
        type=float,
        default=10.0,
        help="seconds each concurrent and mixed run lasts (default: 10)",
    )
    bench.add_argument(
        "--idle-s",
        type=float,
        default=5.0,
        help="seconds idle over which RSS growth is measured (default: 5)",
    )
    bench.add_argument("--ef", type=int, default=32, help="search ef (default: 32)")
    bench.add_argument(
        "--scaling",
        action="store_true",
        help="also measure ingest time and search p50 against data size (128-d synthetic, "
        "10k rows up to --scaling-max-rows, 1 node via router and raw hnswlib) (default: off)",
    )
    bench.add_argument(
        "--scaling-max-rows",
        type=int,
        default=100_000,
        help="largest size of the scaling run, up to 1,000,000 (default: 100,000)",
    )
    bench.add_argument(
        "--smoke",
        action="store_true",
        help="tiny synthetic data (2,000 x 32), 1 round, every workload and system, "
        "short concurrent runs: checks the suite, measures nothing worth quoting (default: off)",
    )
    bench.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the stores and cluster logs in OUT/work (default: a temporary folder, removed)",
    )
    bench.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results"),
        help="folder for results.json, results.md and the plots (default: ./bench-results)",
    )
    bench.set_defaults(run=_run)
