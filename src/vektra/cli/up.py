"""`vektra up`: a whole cluster on one machine, in the foreground.

    vektra up [--nodes 3] [--rf 2] [--data-dir ./vektra-data] [--port 7700] [--host 127.0.0.1]
              [--stop-timeout-s 30]

Checks that HOST:PORT is free (exit 2 if not, before anything starts), then
starts N storage nodes, then a coordinator that knows them, then a router on
HOST:PORT, each as a child process (`vektra.common.launcher`: `python -m
vektra.cli.main serve ...`, in its own process group) with its log in
DIR/logs/. Once the router reports every node active it prints the router's
address, a status table and `VEKTRA_READY up router HOST:PORT`, then
supervises (`vektra.cli.supervise`): a child that dies is started again on
the same address after a backoff (0.5 s doubling to 30 s), each time said in
one line on stderr. SIGINT (Ctrl-C), SIGTERM or SIGHUP stop the router, the
coordinator and the nodes, in that order, each with SIGTERM (SIGKILL after a
grace period), and `up` exits 0. A child that dies before the cluster is up
stops the others, and `up` exits 1 showing the end of that child's log.

Restarting on the same DIR keeps the data, and the nodes and coordinator get
their previous ports back when those are free (DIR/up.json remembers them), so
the cluster map the coordinator kept still names the right addresses.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import psutil

from vektra.cli.commands import CliError, status_table
from vektra.cli.supervise import Supervisor
from vektra.client._sync import Client
from vektra.client.models import ClusterStatus
from vektra.common.launcher import (
    ExitedEarly,
    NotReady,
    ServerChild,
    StartInterrupted,
    describe_exit,
    with_listen,
)

__all__ = ["ChildFailed", "LocalCluster", "add_up_command", "check_port_free", "run_up"]

_STATE_FILE = "up.json"
_LOCK_FILE = "up.lock"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ChildFailed(Exception):
    """A child exited (or never became ready) while the cluster was starting."""

    def __init__(self, child: ServerChild, why: str, code: int | None = None) -> None:
        super().__init__(f"{child.name} {why}")
        self.child = child
        self.code = code  # the exit code, if it exited


class Stopped(Exception):
    """A stop signal arrived while starting up."""


def _wait_ready(child: ServerChild, stop: threading.Event, timeout_s: float = 60.0) -> str:
    """The launcher's wait, in the terms `up` reports."""
    try:
        return child.wait_ready(timeout_s, stop)
    except StartInterrupted:
        raise Stopped from None
    except ExitedEarly as exc:
        raise ChildFailed(child, f"{describe_exit(exc.code)} while starting", exc.code) from None
    except NotReady:
        raise ChildFailed(child, f"did not report ready within {timeout_s:.0f} s") from None


def check_port_free(host: str, port: int) -> None:
    """Fail before anything starts when the router's HOST:PORT is taken, rather
    than after the nodes and the coordinator are up. Only "in use" is judged
    here; any other reason a bind fails is left for the router to report."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            # As the gRPC server does: a port only in TIME_WAIT is free to it.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise CliError(
                        f"port {port} on {host} is in use (another vektra up? pick --port)"
                    ) from None


def _port_of(address: str | None, host: str) -> int:
    if not address:
        return 0
    addr_host, _, port = address.rpartition(":")
    return int(port) if addr_host == host and port.isdigit() else 0


class LocalCluster:
    """The children of one `vektra up`, started and stopped in order."""

    def __init__(
        self, data_dir: Path, *, nodes: int, rf: int, host: str, port: int, log_level: str
    ) -> None:
        self.data_dir = data_dir
        self.log_dir = data_dir / "logs"
        self.n_nodes = nodes
        self.rf = rf
        self.host = host
        self.port = port
        self.log_level = log_level
        self.nodes: list[ServerChild] = []
        self.coordinator: ServerChild | None = None
        self.router: ServerChild | None = None
        self._previous = self._load_state()

    # ------------------------------------------------------------ state file

    @property
    def children(self) -> list[ServerChild]:
        tail = [c for c in (self.coordinator, self.router) if c is not None]
        return [*self.nodes, *tail]

    def _load_state(self) -> dict[str, Any]:
        try:
            state = json.loads((self.data_dir / _STATE_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def save_state(self) -> None:
        # Saved after each start-up step, so a killed `up` leaves the pids of
        # whatever it had started; entries of children not started yet keep
        # their remembered addresses.
        state = dict(self._previous)
        for c in self.children:
            before = state.get(c.name)
            address = c.address or (before.get("address") if isinstance(before, dict) else None)
            pid = c.proc.pid if c.proc else None
            state[c.name] = {"address": address, "pid": pid, "argv": c.argv}
        path = self.data_dir / _STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)

    def stale_pids(self) -> list[int]:
        """Children of an earlier `up` on this DIR that are still running
        (their `up` was killed without a chance to stop them)."""
        stale = []
        for entry in self._previous.values():
            if not isinstance(entry, dict) or not isinstance(entry.get("pid"), int):
                continue
            with contextlib.suppress(psutil.Error):
                if psutil.Process(entry["pid"]).cmdline() == entry.get("argv"):
                    stale.append(entry["pid"])
        return stale

    def _remembered_port(self, name: str) -> int:
        entry = self._previous.get(name)
        return _port_of(entry.get("address"), self.host) if isinstance(entry, dict) else 0

    # ------------------------------------------------------------ start

    def _launch(self, name: str, role: str, args: list[str], port: int) -> ServerChild:
        child = ServerChild(
            name,
            role,
            with_listen(args, f"{self.host}:{port}"),
            self.log_dir / f"{name}.log",
            log_level=self.log_level,
            own_process_group=True,
        )
        child.spawn()
        return child

    def _await(self, child: ServerChild, port: int, stop: threading.Event) -> None:
        """Wait for a child started on a remembered port; if it exits instead
        (most likely something else took the port meanwhile), start it once
        more on a free port: before the cluster is up, a remembered port is
        only a preference. The same ServerChild is started again, so the
        cluster still stops it whatever happens."""
        try:
            _wait_ready(child, stop)
            return
        except ChildFailed as exc:
            if not port or exc.code is None:
                raise
        print(f"vektra up: {child.name} failed on port {port}; trying a free port", file=sys.stderr)
        child.args = with_listen(child.args, f"{self.host}:0")
        child.spawn()
        self.save_state()
        _wait_ready(child, stop)

    def start(self, stop: threading.Event) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Nodes start side by side (each may be replaying its log), then each
        # is awaited. Stable node ids: a node started again is the same member.
        node_args = {
            f"node-{i}": ["--data-dir", str(self.data_dir / f"node-{i}"), "--node-id", f"node-{i}"]
            for i in range(self.n_nodes)
        }
        ports = {name: self._remembered_port(name) for name in node_args}
        self.nodes = [
            self._launch(name, "node", args, ports[name]) for name, args in node_args.items()
        ]
        self.save_state()
        for child in self.nodes:
            self._await(child, ports[child.name], stop)
        self.save_state()

        coord_args = ["--data-dir", str(self.data_dir / "coordinator")]
        for node in self.nodes:
            coord_args += ["--node", str(node.address)]
        coord_args += ["--default-rf", str(self.rf)]
        port = self._remembered_port("coordinator")
        self.coordinator = self._launch("coordinator", "coordinator", coord_args, port)
        self.save_state()
        self._await(self.coordinator, port, stop)
        self.save_state()

        # The router's port is the user's to choose: no fallback there.
        router_args = ["--coordinator", str(self.coordinator.address)]
        self.router = self._launch("router", "router", router_args, self.port)
        self.save_state()
        _wait_ready(self.router, stop)
        self.save_state()

    def wait_healthy(self, stop: threading.Event, timeout_s: float = 60.0) -> ClusterStatus:
        """Until the router reports every node of ours active."""
        assert self.router is not None and self.router.address is not None
        ours = {c.address for c in self.nodes} | {c.name for c in self.nodes}
        deadline = time.monotonic() + timeout_s
        last: str = "no answer yet"
        with Client(self.router.address, timeout_s=2.0, retries=0) as client:
            while True:
                self.check_alive()
                try:
                    status = client.cluster_status()
                    active = [n for n in status.nodes if n.state == "active"]
                    if sum(1 for n in active if {n.address, n.id} & ours) >= len(self.nodes):
                        return status
                    last = f"{len(active)} of {len(self.nodes)} nodes active"
                except Exception as exc:  # the router may still be loading the map
                    last = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    raise ChildFailed(
                        self.router, f"did not report all nodes active in {timeout_s:.0f} s: {last}"
                    )
                if stop.wait(0.25):
                    raise Stopped

    # ------------------------------------------------------------ run and stop

    def check_alive(self) -> None:
        """While starting up, a child that dies fails the whole `up`."""
        for child in self.children:
            code = child.returncode
            if code is not None:
                raise ChildFailed(child, describe_exit(code), code)

    def stop(self, timeout_s: float) -> None:
        """Router, then coordinator, then all nodes together."""
        groups: list[Sequence[ServerChild | None]] = [
            [self.router],
            [self.coordinator],
            self.nodes,
        ]
        for group in groups:
            # Children that already exited were reported when they were found dead.
            children = [c for c in group if c is not None and c.running()]
            for child in children:
                child.terminate()
            deadline = time.monotonic() + timeout_s
            for child in children:
                code = child.wait_stopped(deadline - time.monotonic())
                if child.killed_after_grace:
                    print(
                        f"vektra up: {child.name} did not stop within {timeout_s:g} s; killed it",
                        file=sys.stderr,
                    )
                elif code not in (0, -signal.SIGTERM, None):
                    print(f"vektra up: {child.name} {describe_exit(code)}", file=sys.stderr)


@contextlib.contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """Stop signals set `stop`, by way of a relay thread. A handler runs in
    the main thread between two bytecodes, which may be inside `stop.wait()`
    holding the Event's lock; that lock is not reentrant, so a handler that
    set the Event itself would wait for it forever. The handler only writes
    a byte to a pipe (a system call, no lock), and the relay sets the Event."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def relay() -> None:
        while os.read(read_end, 1) == b"s":
            stop.set()

    def on_signal(signum: int, frame: object) -> None:
        with contextlib.suppress(BlockingIOError):  # a full pipe: a stop is pending anyway
            os.write(write_end, b"s")

    relay_thread = threading.Thread(target=relay, name="vektra-up-signals", daemon=True)
    relay_thread.start()
    previous = {sig: signal.signal(sig, on_signal) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(write_end)  # the relay reads the end of the pipe and returns
        relay_thread.join()
        os.close(read_end)


def _lock(data_dir: Path) -> IO[str]:
    """One `vektra up` per DIR: two would run two processes on one store."""
    handle = (data_dir / _LOCK_FILE).open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise CliError(f"another `vektra up` is running on {data_dir}") from None
    return handle


def _say(line: str) -> None:
    print(f"vektra up: {line}", file=sys.stderr, flush=True)


def _report_failure(exc: ChildFailed, log_dir: Path) -> None:
    child = exc.child
    print(f"vektra up: {exc}; end of {child.log_path}:", file=sys.stderr)
    print(child.tail(), file=sys.stderr)
    print(f"vektra up: every log is in {log_dir}", file=sys.stderr)


def run_up(args: argparse.Namespace) -> int:
    rf = min(2, args.nodes) if args.rf is None else args.rf
    if args.nodes < 1 or not 1 <= rf <= args.nodes:
        raise CliError(f"need --nodes >= 1 and 1 <= --rf <= --nodes (got {args.nodes}, {rf})")
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    with _stop_signals(stop), _lock(data_dir):
        cluster = LocalCluster(
            data_dir,
            nodes=args.nodes,
            rf=rf,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
        )
        stale = cluster.stale_pids()
        if stale:
            pids = " ".join(map(str, stale))
            raise CliError(f"processes of an earlier `vektra up` on {data_dir} still run: {pids}")
        # Only the router's port: the others' remembered ports are preferences.
        check_port_free(args.host, args.port)
        print(
            f"vektra up: starting {args.nodes} nodes, a coordinator and a router "
            f"(data in {data_dir}, logs in {cluster.log_dir})",
            file=sys.stderr,
        )
        try:
            cluster.start(stop)
            status = cluster.wait_healthy(stop)
            assert cluster.router is not None
            _announce(cluster.router.address or "", data_dir, status)
            supervisor = Supervisor(cluster.children, report=_say, on_change=cluster.save_state)
            while not stop.wait(0.25):
                supervisor.tick()
            print("vektra up: stopping", file=sys.stderr)
            return 0
        except Stopped:
            print("vektra up: stopping", file=sys.stderr)
            return 0
        except ChildFailed as exc:
            _report_failure(exc, cluster.log_dir)
            return 1
        finally:
            cluster.stop(args.stop_timeout_s)


def _announce(router: str, data_dir: Path, status: ClusterStatus) -> None:
    print(f"Vektra is up: router at {router}  (data in {data_dir})")
    print()
    print(status_table(status))
    print()
    print(f"export VEKTRA_ADDR={router}    # for the vektra client commands; Ctrl-C stops")
    # Last, so a script that waits for this line finds everything above done.
    print(f"VEKTRA_READY up router {router}", flush=True)


def add_up_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser(
        "up",
        help="run a local cluster (nodes, coordinator, router)",
        description="Run a whole cluster on this machine in the foreground: storage nodes, "
        "a coordinator and a router, each a child process with its log in DATA_DIR/logs. "
        "A child that dies is restarted on the same address, with backoff. Ctrl-C, SIGTERM "
        "or SIGHUP stop the router, the coordinator and the nodes, in that order. Running "
        "it again on the same --data-dir keeps the data.",
    )
    up.add_argument(
        "--nodes", type=int, default=3, help="number of storage nodes (default: %(default)s)"
    )
    up.add_argument(
        "--rf",
        type=int,
        help="replication factor of collections that name none (default: 2, or 1 with one node)",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        default=Path("./vektra-data"),
        help="where the nodes and the coordinator keep their data and logs, kept across "
        "restarts (default: ./vektra-data)",
    )
    up.add_argument(
        "--port",
        type=int,
        default=7700,
        help="the router's port, the one clients use; 0 picks a free one (default: %(default)s)",
    )
    up.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface every process listens on (default: %(default)s)",
    )
    up.add_argument(
        "--stop-timeout-s",
        type=float,
        default=30.0,
        help="seconds a child has to stop on SIGTERM before SIGKILL (default: %(default)g)",
    )
    up.set_defaults(run=run_up)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m vektra.cli.up`: the same as `vektra up`."""
    from vektra.cli.main import main as cli_main

    return cli_main(["up", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
