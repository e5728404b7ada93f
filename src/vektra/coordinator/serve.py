"""`vektra serve coordinator`: run the control plane in the foreground.

    vektra serve coordinator [--data-dir DIR] [--listen HOST:PORT] [--node ADDR ...]
                             [--heartbeat-interval-s F] [--failure-threshold N]
                             [--default-rf N] [--metrics-listen HOST:PORT] [--config FILE]

Settings come from the defaults, then the `coordinator:` section of
`--config`, then `VEKTRA__COORDINATOR__<SETTING>` variables, then these flags.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from vektra.common.config import add_common_serve_flags, load_config
from vektra.coordinator.config import CoordinatorConfig

__all__ = ["add_arguments", "main", "run"]

DESCRIPTION = (
    "Run the coordinator: the cluster map, health checks and failover; "
    "routers watch it and nodes are synced by it."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = CoordinatorConfig()
    rf = d.default_replication_factor
    parser.add_argument(
        "--data-dir", type=Path, help=f"where the cluster map is kept (default: {d.data_dir})"
    )
    parser.add_argument(
        "--node",
        action="append",
        metavar="ADDR",
        help="a storage node of the initial cluster (repeat for each; default: the config's list)",
    )
    parser.add_argument(
        "--heartbeat-interval-s",
        type=float,
        help=f"seconds between health checks (default: {d.heartbeat_interval_s})",
    )
    parser.add_argument(
        "--failure-threshold",
        type=int,
        help=f"missed heartbeats before a node is DOWN (default: {d.failure_threshold})",
    )
    parser.add_argument(
        "--default-rf",
        type=int,
        help=f"replication factor when a collection names none (default: {rf})",
    )
    add_common_serve_flags(parser, default_listen=d.listen)


def run(args: argparse.Namespace) -> int:
    from vektra.common.serving import run_server
    from vektra.coordinator.server import serve

    config = load_config(
        CoordinatorConfig,
        "coordinator",
        path=args.config,
        overrides={
            "data_dir": args.data_dir,
            "listen": args.listen,
            # None (no --node) keeps the config file's list; a tuple replaces it.
            "nodes": tuple(args.node) if args.node else None,
            "heartbeat_interval_s": args.heartbeat_interval_s,
            "failure_threshold": args.failure_threshold,
            "default_replication_factor": args.default_rf,
            "metrics_listen": args.metrics_listen,
        },
    )
    return run_server(serve(config))


def main(argv: Sequence[str] | None = None, prog: str = "vektra serve coordinator") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))
