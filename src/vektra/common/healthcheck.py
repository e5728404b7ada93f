"""Probe a server's standard grpc.health.v1 service, for container health checks.

    python -m vektra.common.healthcheck HOST:PORT [--service NAME] [--timeout S]

Exits 0 when the server answers SERVING, otherwise 1 with a one-line reason on
stderr. HOST:PORT defaults to the environment variable VEKTRA_HEALTH_ADDR (the
container image sets it per role). Kept small: it runs every few seconds in
every container.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["check", "main"]


def check(address: str, service: str = "", timeout_s: float = 3.0) -> str | None:
    """None when `address` reports `service` SERVING, else the reason why not."""
    try:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        name = code.name if code is not None else "ERROR"
        return f"{name}: {' '.join(str(detail or '').split())}"
    except ValueError as exc:  # a malformed target
        return f"bad address {address!r}: {exc}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return None if status == "SERVING" else status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vektra.common.healthcheck",
        description="Exit 0 if the gRPC health service at HOST:PORT says SERVING, else 1.",
    )
    parser.add_argument(
        "address",
        nargs="?",
        default=os.environ.get("VEKTRA_HEALTH_ADDR"),
        metavar="HOST:PORT",
        help="server to probe (default: $VEKTRA_HEALTH_ADDR)",
    )
    parser.add_argument("--service", default="", help="service name to ask about (default: '')")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait (default: 3)")
    args = parser.parse_args(argv)
    if not args.address:
        parser.error("HOST:PORT is required (or set VEKTRA_HEALTH_ADDR)")
    reason = check(args.address, args.service, args.timeout)
    if reason is None:
        print(f"{args.address}: SERVING")
        return 0
    print(f"{args.address}: not serving: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
