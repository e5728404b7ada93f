"""`vektra serve node`: run a storage node in the foreground.

    vektra serve node [--data-dir DIR] [--listen HOST:PORT] [--node-id ID]
                      [--advertise ADDR] [--metrics-listen HOST:PORT] [--config FILE]

Settings come from the defaults, then the `node:` section of `--config`, then
`VEKTRA__NODE__<SETTING>` variables, then these flags. The help text shows
the defaults of `NodeConfig`, which imports nothing heavy; the server modules
(LMDB, hnswlib, grpc) are imported only when the node starts, so building this
parser (for `vektra --help`) costs nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from vektra.common.config import add_common_serve_flags, load_config
from vektra.node.config import NodeConfig

__all__ = ["add_arguments", "main", "run"]

DESCRIPTION = "Run a storage node: objects in LMDB, one HNSW index per vector field."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = NodeConfig()
    parser.add_argument(
        "--data-dir", type=Path, help=f"where the node keeps its data (default: {d.data_dir})"
    )
    parser.add_argument("--node-id", help="stable id of this node (default: generated once)")
    parser.add_argument(
        "--advertise", help="address other processes reach this node at (default: --listen)"
    )
    add_common_serve_flags(parser, default_listen=d.listen)


def limit_blas_threads() -> None:
    """numpy's BLAS on one thread for the rest of the process. A node runs
    many requests at once and uses BLAS only for exact scans' matrix-vector
    products (0.1-0.6 ms on one core); OpenBLAS's own threads, one per core
    by default, spin between calls, and with several nodes, a router and a
    client on one machine that spinning took most of the CPU: 3 nodes rf 2,
    ~50% filtered search, 72 -> 25 ms of server CPU a query."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def run(args: argparse.Namespace) -> int:
    from vektra.common.serving import run_server
    from vektra.node.server import serve

    limit_blas_threads()

    config = load_config(
        NodeConfig,
        "node",
        path=args.config,
        overrides={
            "data_dir": args.data_dir,
            "listen": args.listen,
            "node_id": args.node_id,
            "advertise": args.advertise,
            "metrics_listen": args.metrics_listen,
        },
    )
    return run_server(serve(config))


def main(argv: Sequence[str] | None = None, prog: str = "vektra serve node") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))
