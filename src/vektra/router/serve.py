"""`vektra serve router`: run a router (the public API) in the foreground.

    vektra serve router [--coordinator HOST:PORT] [--listen HOST:PORT] [--router-id ID]
                        [--metrics-listen HOST:PORT] [--config FILE]

Settings come from the defaults, then the `router:` section of `--config`,
then `VEKTRA__ROUTER__<SETTING>` variables, then these flags.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from vektra.common.config import add_common_serve_flags, load_config
from vektra.router.config import RouterConfig

__all__ = ["add_arguments", "main", "run"]

DESCRIPTION = "Run a router: the public API of a cluster, routing by the coordinator's map."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = RouterConfig()
    parser.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help=f"the coordinator's address (default: {d.coordinator})",
    )
    parser.add_argument("--router-id", help="id of this router (default: generated)")
    add_common_serve_flags(parser, default_listen=d.listen)


def run(args: argparse.Namespace) -> int:
    from vektra.common.serving import run_server
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
    return run_server(serve(config))


def main(argv: Sequence[str] | None = None, prog: str = "vektra serve router") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))
