"""The `vektra` command line.

Servers (each prints `VEKTRA_READY <role> <id> <host:port>` once it serves):

    vektra serve node --data-dir DIR --listen HOST:PORT [--node-id ID] [--advertise ADDR]
                      [--config FILE] [--metrics-listen HOST:PORT]
    vektra serve coordinator --data-dir DIR --listen HOST:PORT [--node ADDR ...]
                      [--heartbeat-interval-s F] [--failure-threshold N] [--default-rf N]
                      [--config FILE] [--metrics-listen HOST:PORT]
    vektra serve router --coordinator HOST:PORT --listen HOST:PORT [--router-id ID]
                      [--config FILE] [--metrics-listen HOST:PORT]

A local cluster in the foreground (see `vektra.client.up`):

    vektra up [--nodes 3] [--rf 2] [--data-dir ./vektra-data] [--port 7700] [--host 127.0.0.1]

Client commands (see `vektra.client.commands`): `cluster status`,
`collection create|list|describe|drop`, `import`, `search`, `get`.

Errors print `vektra: <message>` on stderr and exit 2 (as argparse does for a
bad flag).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from vektra.client import commands, up
from vektra.common.config import load_config
from vektra.common.errors import VektraError

__all__ = ["build_parser", "main"]


# Server roles import their modules lazily: `vektra search` should not pay for
# (or depend on) LMDB, hnswlib or the router.


def _serve_node(args: argparse.Namespace) -> int:
    from vektra.node.config import NodeConfig
    from vektra.node.server import serve

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
    asyncio.run(serve(config))
    return 0


def _serve_coordinator(args: argparse.Namespace) -> int:
    from vektra.coordinator.config import CoordinatorConfig
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
    asyncio.run(serve(config))
    return 0


def _serve_router(args: argparse.Namespace) -> int:
    from vektra.router.config import RouterConfig
    from vektra.router.server import serve

    config = load_config(
        RouterConfig,
        "router",
        path=args.config,
        overrides={
            "coordinator": args.coordinator,
            "listen": args.listen,
            "router_id": args.router_id,
            "metrics_listen": args.metrics_listen,
        },
    )
    asyncio.run(serve(config))
    return 0


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run a server process")
    roles = serve.add_subparsers(dest="role", required=True)

    node = roles.add_parser("node", help="run a storage node")
    node.add_argument("--data-dir", type=Path, help="where the node keeps its data")
    node.add_argument("--listen", help="HOST:PORT to serve gRPC on (port 0 picks a free one)")
    node.add_argument("--node-id", help="stable id of this node (default: generated once)")
    node.add_argument("--advertise", help="address others reach this node at")
    node.add_argument("--metrics-listen", help="HOST:PORT for Prometheus /metrics")
    node.add_argument("--config", type=Path, help="YAML configuration file")
    node.set_defaults(run=_serve_node)

    coord = roles.add_parser("coordinator", help="run the coordinator (control plane)")
    coord.add_argument("--data-dir", type=Path, help="where the cluster map is kept")
    coord.add_argument("--listen", help="HOST:PORT to serve gRPC on (port 0 picks a free one)")
    coord.add_argument(
        "--node", action="append", metavar="ADDR", help="a storage node of the initial cluster"
    )
    coord.add_argument("--heartbeat-interval-s", type=float, help="seconds between health checks")
    coord.add_argument("--failure-threshold", type=int, help="missed heartbeats before DOWN")
    coord.add_argument("--default-rf", type=int, help="replication factor when none is asked")
    coord.add_argument("--metrics-listen", help="HOST:PORT for Prometheus /metrics")
    coord.add_argument("--config", type=Path, help="YAML configuration file")
    coord.set_defaults(run=_serve_coordinator)

    router = roles.add_parser("router", help="run a router (the public API)")
    router.add_argument("--coordinator", metavar="HOST:PORT", help="the coordinator's address")
    router.add_argument("--listen", help="HOST:PORT to serve gRPC on (port 0 picks a free one)")
    router.add_argument("--router-id", help="id of this router (default: generated)")
    router.add_argument("--metrics-listen", help="HOST:PORT for Prometheus /metrics")
    router.add_argument("--config", type=Path, help="YAML configuration file")
    router.set_defaults(run=_serve_router)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vektra", description="Vektra vector-object database")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    up.add_up_command(sub)
    commands.add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.run(args))
    except (VektraError, commands.CliError) as exc:
        print(f"vektra: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `vektra ... | head`: the reader left, which is no error. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
