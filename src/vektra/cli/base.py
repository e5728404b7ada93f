"""What the client commands share: argument types, the client options
(`--addr`, `--json`, `--timeout`), the helpers that build their parsers, and
the one-line message an error prints."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc

from vektra.client._convert import CONSISTENCY
from vektra.client._retry import never_sent
from vektra.client._sync import DEFAULT_ADDRESS, Client
from vektra.common.errors import Unavailable
from vektra.common.limits import Limits
from vektra.common.schema import Metric, PropertyType

__all__ = [
    "CONSISTENCY_LEVELS",
    "LIMITS",
    "CliError",
    "add_collection",
    "add_filter",
    "add_parser",
    "batch_size",
    "client",
    "client_options",
    "default_address",
    "error_message",
    "existing_file",
    "filter_arg",
    "json_arg",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "property_spec",
    "query_limit",
    "vector_spec",
]

LIMITS = Limits()
CONSISTENCY_LEVELS = list(CONSISTENCY)  # one, quorum, all


class CliError(Exception):
    """A usage problem the CLI reports as `vektra: <message>`, exit 2."""


def default_address(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("VEKTRA_ADDR") or DEFAULT_ADDRESS


# ---------------------------------------------------------------- argument types


def vector_spec(text: str) -> tuple[str, dict[str, Any]]:
    """NAME:DIM[:METRIC] -> (name, {"dim", "metric"})."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME:DIM[:METRIC]")
    try:
        dim = int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: DIM must be an integer") from None
    metric = parts[2] if len(parts) == 3 else Metric.COSINE.value
    metrics = [m.value for m in Metric]
    if metric not in metrics:
        raise argparse.ArgumentTypeError(f"{text!r}: METRIC must be one of {', '.join(metrics)}")
    return parts[0], {"dim": dim, "metric": metric}


def property_spec(text: str) -> tuple[str, dict[str, Any]]:
    """NAME:TYPE[:noindex] -> (name, {"type", "indexed"})."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or (len(parts) == 3 and parts[2] != "noindex"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME:TYPE or NAME:TYPE:noindex")
    types = [t.value for t in PropertyType]
    if parts[1] not in types:
        raise argparse.ArgumentTypeError(f"{text!r}: TYPE must be one of {', '.join(types)}")
    return parts[0], {"type": parts[1], "indexed": len(parts) == 2}


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def query_limit(text: str) -> int:
    value = positive_int(text)
    if value > LIMITS.max_query_limit:
        raise argparse.ArgumentTypeError(f"at most {LIMITS.max_query_limit:,} objects a query")
    return value


def batch_size(text: str) -> int:
    value = positive_int(text)
    if value > LIMITS.max_batch_objects:
        raise argparse.ArgumentTypeError(f"at most {LIMITS.max_batch_objects:,} objects a batch")
    return value


def json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what}: not valid JSON ({exc.msg}): {text!r}") from None


def existing_file(path: Path, flag: str | None = None) -> Path:
    if not path.is_file():
        raise CliError(f"{flag + ': ' if flag else ''}no such file: {path}")
    return path


def client(args: argparse.Namespace) -> Client:
    return Client(args.addr, timeout_s=args.timeout)


def filter_arg(args: argparse.Namespace) -> dict[str, Any] | None:
    flt = None if args.filter is None else json_arg(args.filter, "--filter")
    if flt is not None and not isinstance(flt, dict):
        raise CliError('--filter: expected a JSON object, e.g. {"module": "os"}')
    return flt


# ---------------------------------------------------------------- errors


# gRPC's words for a call that reached no server: nothing listens there, or
# the name does not resolve (the SDK's `never_sent` misses the resolver's
# "errors resolving" of newer gRPC versions, hence the CLI's own list).
_UNREACHABLE = ("failed to connect to all addresses", "DNS resolution failed", "errors resolving")


def _unreachable_why(exc: Exception) -> str | None:
    cause = exc.__cause__
    if not isinstance(exc, Unavailable) or not isinstance(cause, grpc.RpcError):
        return None
    details = str(cause.details() if hasattr(cause, "details") else "")
    if not (never_sent(cause) or any(m in details for m in _UNREACHABLE)):
        return None
    if "refused" in details.lower():
        return "connection refused"
    if "resol" in details.lower():
        return "unknown host"
    return "no answer"


def error_message(exc: Exception, args: argparse.Namespace | None = None) -> str:
    """The one line `vektra: ...` says for an error. A server nobody could
    connect to gets what to do about it instead of gRPC's text."""
    why = _unreachable_why(exc)
    addr = getattr(args, "addr", None)
    if why is not None and addr:
        return (
            f"cannot reach a Vektra server at {addr} ({why}): start one with `vektra up`, "
            "or set VEKTRA_ADDR / pass --addr HOST:PORT"
        )
    return str(exc)


# ---------------------------------------------------------------- parser pieces


def client_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--addr",
        default=default_address(),
        metavar="HOST:PORT[,HOST:PORT...]",
        help="the server: a router, or a single node; several comma-separated are tried in "
        f"turn (default: $VEKTRA_ADDR, else {DEFAULT_ADDRESS})",
    )
    common.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout instead of tables (default: tables)",
    )
    common.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        metavar="S",
        help="deadline of each call in seconds, retries included (default: 30)",
    )
    return common


def add_filter(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--filter",
        metavar="JSON",
        help=f'only {what} matching this filter document, e.g. {{"length": {{"$gte": 100}}}} '
        "(default: all)",
    )


def add_collection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--collection", required=True, metavar="NAME", help="the collection")


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=summary, description=description, parents=list(parents))
