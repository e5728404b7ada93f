"""The `vektra` command line.

vektra serve node --data-dir DIR --listen HOST:PORT [--config FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from vektra.common.config import load_config
from vektra.common.errors import VektraError

__all__ = ["main"]


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vektra", description="Vektra vector-object database")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

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
    except VektraError as exc:
        print(f"vektra: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
