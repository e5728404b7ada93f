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

The benchmark suite (see `vektra.bench`, bench/README.md):

    vektra bench [--smoke] [--topology embedded,node,cluster] [--baselines raw,lmdb,...]
                 [--dataset docstrings|synthetic] [--rounds 3] [--scaling] [--out DIR]

Client commands (see `vektra.cli.commands` and `vektra.cli.objects`):
`cluster status`, `collection create|list|describe|drop`, `import`, `search`,
`get`, `delete`, `query`, `count`.

    vektra --version      prints `vektra 0.1.0`

Errors print `vektra: <message>` on stderr and exit 2, as does a bad flag
(named, with where it goes when it belongs to the command: see
`vektra.cli.parser`); `get` exits 1 when none of its ids exists.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import cast

import vektra
from vektra.cli import commands, up
from vektra.cli.bench import add_bench_command
from vektra.cli.parser import VektraParser
from vektra.client._sync import DEFAULT_ADDRESS
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
        # The role parses its own flags (and --help), so this one takes none
        # and hands everything on.
        parser = roles.add_parser(role, help=summary, add_help=False)
        if isinstance(parser, VektraParser):
            parser.passthrough = True


def build_parser() -> VektraParser:
    parser = VektraParser(
        prog="vektra",
        description="Vektra, a distributed vector-object database: run servers, a local "
        "cluster, and the client commands. `vektra COMMAND --help` describes a command.",
        epilog="Client commands talk to $VEKTRA_ADDR (or --addr HOST:PORT), default "
        f"{DEFAULT_ADDRESS}; start a local cluster with `vektra up`.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"vektra {vektra.__version__}",
        help="print the version and exit",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        metavar="LEVEL",
        help="log messages from this level up on stderr: DEBUG, INFO, WARNING or ERROR "
        "(default: INFO)",
    )
    # Every subcommand's parser is a VektraParser too (argparse makes them of
    # the parent's class); the add_* functions take the plain type.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
    )
    _add_serve(sub)
    up.add_up_command(sub)
    commands.add_client_commands(sub)
    add_bench_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = parser.parse_known_args(argv)
    if args.command != "serve" and rest:
        parser.reject_extras(argv, rest)
    logging.basicConfig(
        level=getattr(logging, args.log_level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "serve":
            return _serve(args, rest)
        return int(args.run(args))
    except (VektraError, commands.CliError) as exc:
        print(f"vektra: {commands.error_message(exc, args)}", file=sys.stderr)
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
