"""The `vektra` command line.

Servers (each prints `VEKTRA_READY <role> <id> <host:port>` once it serves):

    vektra serve node --data-dir DIR --listen HOST:PORT [--node-id ID] [--advertise ADDR]
                      [--config FILE] [--metrics-listen HOST:PORT]
    vektra serve coordinator --data-dir DIR --listen HOST:PORT [--node ADDR ...]
                      [--heartbeat-interval-s F] [--failure-threshold N] [--default-rf N]
                      [--config FILE] [--metrics-listen HOST:PORT]
    vektra serve router --coordinator HOST:PORT --listen HOST:PORT [--router-id ID]
                      [--config FILE] [--metrics-listen HOST:PORT]

A local cluster in the foreground (see `vektra.cli.up`):

    vektra up [--nodes 3] [--rf 2] [--data-dir ./vektra-data] [--port 7700] [--host 127.0.0.1]

Client commands (see `vektra.cli.commands`): `cluster status`,
`collection create|list|describe|drop`, `import`, `search`, `get`.

Errors print `vektra: <message>` on stderr and exit 2 (as argparse does for a
bad flag).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from vektra.cli import commands, up
from vektra.common.errors import VektraError

__all__ = ["build_parser", "main"]


# `vektra serve ROLE` hands its arguments to the role's own entry
# (`vektra.<role>.serve`), imported only then: the client commands never load
# LMDB, hnswlib or a server, and `vektra --help` loads none of them.
SERVE_ROLES = {
    "node": "run a storage node",
    "coordinator": "run the coordinator (cluster map, health checks, failover)",
    "router": "run a router (the public API of a cluster)",
}


def _serve(args: argparse.Namespace, rest: Sequence[str]) -> int:
    module = importlib.import_module(f"vektra.{args.role}.serve")
    return int(module.main(list(rest), prog=f"vektra serve {args.role}"))


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser(
        "serve",
        help="run a server process (node, coordinator or router)",
        description="Run one server process in the foreground; `vektra serve ROLE --help` "
        "lists the role's flags. Each prints `VEKTRA_READY <role> <id> <host:port>` once it "
        "serves, and stops gracefully on SIGTERM or SIGINT.",
    )
    roles = serve.add_subparsers(dest="role", required=True, metavar="ROLE")
    for role, summary in SERVE_ROLES.items():
        # The role parses its own flags (and --help), so this one takes none.
        roles.add_parser(role, help=summary, add_help=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vektra", description="Vektra vector-object database")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    up.add_up_command(sub)
    commands.add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command != "serve" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "serve":
            return _serve(args, rest)
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
