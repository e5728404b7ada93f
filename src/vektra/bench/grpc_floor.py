"""The floor of a routed call: a Python gRPC round trip with nothing to do,
measured in the same run (the speed issue's "empty RPC on the same machine").

A routed Vektra call goes client -> router -> node and back across three
processes: the client on a blocking channel (`vektra.Client`), the router
and the node grpc.aio servers, the router calling the node on a grpc.aio
channel. `GrpcFloor` builds that shape with nothing inside it: an echo
server, a relay that forwards each request to it and the reply back, and a
blocking channel in the benchmark's process. Messages are raw bytes (no
protobuf), and no interceptor, validation or lookup runs; the servers take
Vektra's server and channel options. Its get sends the ids asked for and is
answered with them, so the p50 of its get of one id is what any Python gRPC
design of this shape pays per call (`bench.floors.GRPC`), and its CPU per
call what every process of it burns.

Run as `python -m vektra.bench.grpc_floor [--upstream HOST:PORT]`: serves on
a free port of 127.0.0.1, prints `READY <port>`, relays to the upstream when
given (echoes otherwise), and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import psutil

from vektra.bench.data import Dataset
from vektra.bench.procstats import ProcessSet
from vektra.bench.systems import System
from vektra.client._base import CHANNEL_OPTIONS
from vektra.common.channels import channel_options
from vektra.common.keepalive import Keepalive
from vektra.common.limits import Limits
from vektra.common.serving import server_options

__all__ = ["GrpcFloor", "main"]

_SERVICE = "vektra.bench.Floor"
_METHOD = f"/{_SERVICE}/Call"
_READY = "READY "
_START_TIMEOUT_S = 60.0
_CALL_TIMEOUT_S = 60.0


class GrpcFloor(System):
    name = "grpc-floor"
    label = "gRPC floor (2 hops)"
    supports = frozenset({"get"})

    def start(self, ds: Dataset, workdir: Path) -> None:
        super().start(ds, workdir)
        self._procs: list[subprocess.Popen[bytes]] = []
        self._channel: grpc.Channel | None = None
        try:
            echo = self._spawn(None)
            relay = self._spawn(echo)
            # Named as a routed topology's processes, so the CPU table's
            # router and node columns line up: the relay is the router's
            # part, the echo server the node's.
            self.processes = ProcessSet(
                {
                    "client": psutil.Process(),
                    "router": psutil.Process(self._procs[1].pid),
                    "node-0": psutil.Process(self._procs[0].pid),
                }
            )
            self._channel = grpc.insecure_channel(relay, options=CHANNEL_OPTIONS)
            self._call: Any = self._channel.unary_unary(_METHOD)
            self._call(b"", timeout=_START_TIMEOUT_S, wait_for_ready=True)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, upstream: str | None) -> str:
        """Start one server process; its address once it serves."""
        argv = [sys.executable, "-m", "vektra.bench.grpc_floor"]
        if upstream is not None:
            argv += ["--upstream", upstream]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        self._procs.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], _START_TIMEOUT_S)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith(_READY):
            raise RuntimeError(f"the gRPC floor's server did not start (said {line!r})")
        return f"127.0.0.1:{int(line[len(_READY) :])}"

    def stop(self) -> None:
        channel, self._channel = getattr(self, "_channel", None), None
        if channel is not None:
            channel.close()
        # The relay first: stopped before its upstream, it never sees the
        # echo server go away mid-connection (grpc logs a GOAWAY then).
        for proc in reversed(getattr(self, "_procs", [])):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs = []

    def get(self, rows: np.ndarray) -> int:
        ids = self.data.ids(rows)
        reply: bytes = self._call("\n".join(ids).encode(), timeout=_CALL_TIMEOUT_S)
        return len(reply.split(b"\n")) if reply else 0


async def _serve(upstream: str | None) -> None:
    limits, keepalive = Limits(), Keepalive()
    server = grpc.aio.server(options=server_options(limits, keepalive))
    channel = (
        None
        if upstream is None
        else grpc.aio.insecure_channel(upstream, options=channel_options(limits, keepalive))
    )
    if channel is None:

        async def call(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            return request

    else:
        forward = channel.unary_unary(_METHOD)

        async def call(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            reply: bytes = await forward(request, timeout=_CALL_TIMEOUT_S)
            return reply

    handler = grpc.method_handlers_generic_handler(
        _SERVICE, {"Call": grpc.unary_unary_rpc_method_handler(call)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"{_READY}{port}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    await server.stop(0)
    if channel is not None:
        await channel.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", help="relay every call to this address (echo otherwise)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
