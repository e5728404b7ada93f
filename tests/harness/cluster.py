"""A whole cluster of real processes for a test: N storage nodes, a
coordinator and routers on free loopback ports, one log folder per test.

    with Cluster(tmp_path, nodes=3, rf=2, failpoints=True) as cluster:
        c = cluster.client()
        cluster.kill(1)                      # SIGKILL node 1
        cluster.wait_until(lambda: cluster.state(1) == "down", 10, "node 1 is down")
        cluster.restart(1)
        with cluster.faults("node-2").drop("/vektra.v1.Node/Apply", caller="router-0"):
            ...                              # router-0's writes to node-2 are lost
        cluster.validate()                   # every test ends here

Faults: `kill`, `stop`/`cont` (a hung process), `restart`, `wipe` (a lost
disk), `skew` (a router's clock), `restart_coordinator(blank=True)` (the
coordinator's lost disk) and, with `failpoints=True`, `faults(name)`: drop,
hold, delay or fail a named RPC in one process (tests/harness/faults.py).

`validate()` waits until the cluster has settled and then checks that every
copy is where the ring says and nowhere else (tests/harness/validation.py).
On failure the `dump()` of the cluster's state and logs tells what happened.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import grpc

from tests.harness.faults import Faults
from tests.harness.probe import Probe, report_of
from tests.harness.process import ServerProcess, node_process, wait_until
from tests.harness.validation import (
    CollectionSummary,
    NodeReport,
    Problem,
    Record,
    live_members,
    placement_problems,
    report,
    ring_of,
    settle_problems,
)
from vektra import Client
from vektra.common.membership import ClusterMap
from vektra.common.ring import token
from vektra.v1 import node_pb2 as npb

__all__ = ["Cluster"]

T = TypeVar("T")
_CLOCK_OFFSET = "VEKTRA__ROUTER__CLOCK_OFFSET_S"


def _why(exc: grpc.RpcError) -> str:
    if isinstance(exc, grpc.Call):
        return f"{exc.code().name}: {exc.details()}"
    return repr(exc)


class Cluster:
    """`nodes` storage nodes (node-0, node-1, ...), a coordinator and
    `routers` routers (router-0, ...). `env` is set for every process (each
    role reads only its own VEKTRA__ROLE__ settings); `failpoints` turns
    fault injection on in every process."""

    def __init__(
        self,
        root: Path,
        nodes: int = 3,
        rf: int = 2,
        routers: int = 1,
        heartbeat_interval_s: float = 0.3,
        failure_threshold: int = 3,
        *,
        failpoints: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.logs = root / "logs"
        self.rf = rf
        self.failpoints = failpoints
        self.env = dict(env or {})
        self.node_ids = [f"node-{i}" for i in range(nodes)]
        self.nodes = [
            node_process(
                node_id,
                self.node_dir(i),
                self.logs,
                0,
                "--node-id",
                node_id,
                env=self._env("node"),
            )
            for i, node_id in enumerate(self.node_ids)
        ]
        self._coordinator_args = [
            "serve",
            "coordinator",
            "--data-dir",
            str(self.coordinator_dir),
            "--listen",
            "127.0.0.1:0",
            "--heartbeat-interval-s",
            str(heartbeat_interval_s),
            "--failure-threshold",
            str(failure_threshold),
            "--default-rf",
            str(rf),
        ]
        self.coordinator: ServerProcess | None = None
        self.routers: list[ServerProcess] = []
        self._router_count = routers
        self._faults: dict[str, Faults] = {}
        self._probe = Probe()
        self._last_map: ClusterMap | None = None
        self._lost_disks = 0

    def _env(self, role: str) -> dict[str, str]:
        env = dict(self.env)
        # Run the servers from another build (its src/ folder) while the test
        # and the harness stay this build's: how a scenario is shown to fail
        # on the code before a fix. VEKTRA_TEST_SERVERS_FROM=/old/checkout/src
        servers_from = os.environ.get("VEKTRA_TEST_SERVERS_FROM")
        if servers_from:
            env["PYTHONPATH"] = servers_from
        if self.failpoints:
            env[f"VEKTRA__{role.upper()}__FAILPOINTS"] = "1"
        return env

    def node_dir(self, i: int) -> Path:
        return self.root / f"node-{i}"

    @property
    def coordinator_dir(self) -> Path:
        return self.root / "coordinator"

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float = 60) -> Cluster:
        """Start every process and wait until every node is active. If that
        fails, what was started is stopped again (a `with` block whose
        `__enter__` raised never reaches `__exit__`)."""
        try:
            return self._start(timeout_s)
        except BaseException:
            self.close()
            raise

    def _start(self, timeout_s: float) -> Cluster:
        for n in self.nodes:  # side by side: most of a start is Python importing
            n.spawn()
        addresses = [n.wait_ready(timeout_s) for n in self.nodes]
        args = list(self._coordinator_args)
        for a in addresses:
            args += ["--node", a]
        self.coordinator = ServerProcess("coordinator", args, self.logs, self._env("coordinator"))
        coordinator = self.coordinator.start()
        self.routers = [
            ServerProcess(
                f"router-{i}",
                [
                    "serve",
                    "router",
                    "--coordinator",
                    coordinator,
                    "--listen",
                    "127.0.0.1:0",
                    "--router-id",
                    f"router-{i}",
                ],
                self.logs,
                self._env("router"),
            )
            for i in range(self._router_count)
        ]
        for r in self.routers:
            r.start()
        self.wait_until(
            lambda: self.states() == ["active"] * len(self.nodes), timeout_s, "every node is active"
        )
        return self

    def close(self) -> None:
        for p in self.processes():
            p.stop(timeout_s=15)
        self._probe.close()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            print(self.dump())
        self.close()

    # ------------------------------------------------------------ processes

    def processes(self) -> list[ServerProcess]:
        """Routers, the coordinator, nodes: the order they are stopped in."""
        return [*self.routers, *([self.coordinator] if self.coordinator else []), *self.nodes]

    def process(self, name: str) -> ServerProcess:
        """The process named `name`: node-0, coordinator, router-1, ..."""
        for p in self.processes():
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.processes())
        raise KeyError(f"no process {name!r} in this cluster (there are {known})")

    def _restarted(self, p: ServerProcess) -> str:
        """Start `p` again on its address; a new process has no failpoints."""
        address = p.restart()
        self._forget_faults(p.name)
        return address

    def _forget_faults(self, name: str) -> None:
        if name in self._faults:
            self._faults[name].forget()

    # ------------------------------------------------------------ faults

    def kill(self, i: int) -> None:
        """SIGKILL node i: no graceful stop, no checkpoint (a crash)."""
        self.nodes[i].kill(signal.SIGKILL)
        self._forget_faults(self.node_ids[i])

    def stop(self, i: int) -> None:
        """SIGSTOP node i: alive, connections open, answering nothing (a hung
        machine). `cont(i)` lets it go on where it was."""
        self.nodes[i].pause()

    def cont(self, i: int) -> None:
        """SIGCONT node i after `stop(i)`."""
        self.nodes[i].resume()

    def restart(self, i: int) -> str:
        """SIGKILL node i if it runs, then start it again on the same address
        with the same data directory; returns the address."""
        return self._restarted(self.nodes[i])

    def wipe(self, i: int, restart: bool = True) -> None:
        """Node i loses its disk: SIGKILL, delete its data directory, and
        (unless `restart` is False; then `restart(i)` later) start it again
        empty with the same --node-id on the same address."""
        self.kill(i)
        shutil.rmtree(self.node_dir(i), ignore_errors=True)
        if restart:
            self.restart(i)

    def skew(self, process_name: str, seconds: float) -> str:
        """Restart router `process_name` with its wall clock `seconds` ahead
        (negative: behind; 0: true time again). Returns its address."""
        p = self.process(process_name)
        if p.role != "router":
            raise ValueError(f"only a router's clock can be skewed, not {process_name}'s")
        if seconds:
            p.env[_CLOCK_OFFSET] = repr(float(seconds))
        else:
            p.env.pop(_CLOCK_OFFSET, None)
        return self._restarted(p)

    def restart_coordinator(self, blank: bool = False) -> str:
        """SIGKILL the coordinator and start it again on its address. `blank`:
        with a fresh, empty data directory (a coordinator that lost its disk;
        the old one is kept aside as coordinator.lost-N for the post-mortem).
        Returns the address; waits for nothing but its ready line."""
        assert self.coordinator is not None, "start() the cluster first"
        self.coordinator.kill()
        if blank and self.coordinator_dir.exists():
            self._lost_disks += 1
            self.coordinator_dir.rename(self.root / f"coordinator.lost-{self._lost_disks}")
        return self._restarted(self.coordinator)

    def faults(self, process_name: str) -> Faults:
        """The failpoint rules of one process (the same object every time,
        so rules accumulate). Needs `Cluster(..., failpoints=True)`."""
        if not self.failpoints:
            raise RuntimeError("fault injection is off: use Cluster(..., failpoints=True)")
        faults = self._faults.get(process_name)
        if faults is None:
            address = self.process(process_name).address
            assert address is not None, f"{process_name} was never started"
            faults = self._faults[process_name] = Faults(process_name, address)
        return faults

    # ------------------------------------------------------------ access

    @property
    def router_addresses(self) -> list[str]:
        return [r.address for r in self.routers if r.address]

    def client(self, **kwargs: object) -> Client:
        return Client(self.router_addresses, **kwargs)  # type: ignore[arg-type]

    def node_client(self, i: int) -> Client:
        """Straight to one node (bypassing routers), to inspect what it holds."""
        address = self.nodes[i].address
        assert address is not None
        return Client(address, retries=0)

    def states(self) -> list[str]:
        """Each node's state as the routers report it (through the SDK)."""
        with self.client(timeout_s=5, retries=0) as c:
            status = c.cluster_status()
        by_id = {n.id: n.state for n in status.nodes}
        return [by_id.get(node_id, "missing") for node_id in self.node_ids]

    def state(self, i: int) -> str:
        return self.states()[i]

    def map(self) -> ClusterMap:
        """The map the coordinator publishes (GetMap)."""
        assert self.coordinator is not None and self.coordinator.address is not None
        self._last_map = self._probe.get_map(self.coordinator.address)
        return self._last_map

    def replicas(self, collection: str, object_id: str) -> tuple[str, ...]:
        """The member ids that should hold `object_id`, by the current map."""
        cluster = self.map()
        schema = cluster.collection(collection)
        assert schema is not None, f"no collection {collection!r} in the map"
        rf = schema.replication_factor or self.rf
        return ring_of(cluster).replicas(token(collection, object_id), rf)

    def node_info(self, i: int) -> npb.NodeInfoResponse:
        """Node i's NodeInfo (epoch, cluster id, collections, pending hints, ...)."""
        return self._node_call(i, self._probe.node_info)

    def records(self, i: int, collection: str) -> dict[str, Record]:
        """Every record node i holds of `collection`, tombstones included:
        id -> (version, deleted)."""
        return self._node_call(i, lambda address, m: self._probe.records(address, m, collection))

    def _node_call(self, i: int, fn: Callable[[str, ClusterMap], T]) -> T:
        """`fn(address, map)` with the current map's headers; once more with a
        fresh map if the node refuses them (it moved on to a newer epoch). With
        the coordinator away, the last map the harness saw is used."""
        address = self.nodes[i].address
        assert address is not None, f"node {i} was never started"
        try:
            cluster = self.map()
        except grpc.RpcError:
            if self._last_map is None:
                raise
            cluster = self._last_map
        try:
            return fn(address, cluster)
        except grpc.RpcError as exc:
            if not isinstance(exc, grpc.Call) or exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            return fn(address, self.map())

    def wait_until(self, predicate: Callable[[], object], timeout_s: float, msg: str) -> object:
        try:
            return wait_until(predicate, timeout_s, msg)
        except TimeoutError:
            print(self.dump())
            raise

    # ------------------------------------------------------------ validation

    def validate(self, timeout_s: float = 60) -> dict[str, CollectionSummary]:
        """Wait until the cluster has settled (every member active, no pending
        hints, every node at the map's epoch and cluster id with exactly its
        collection incarnations) and every id of every collection is on
        exactly its ring replicas, with one version, and nowhere else.

        Checked again until `timeout_s`, because a settled cluster may still
        be finishing work a test started (a router's background hint
        placement): only a problem that persists fails. Raises AssertionError
        with a report of the last round; returns objects and tombstones per
        collection."""
        last: list[tuple[list[Problem], ClusterMap, dict[str, CollectionSummary]]] = []

        def valid() -> bool:
            last[:] = [self._validation_round()]
            return not last[0][0]

        try:
            wait_until(valid, timeout_s, "the cluster is valid", interval_s=0.2)
        except TimeoutError as exc:
            if not last:
                raise AssertionError(f"validation never completed a round: {exc}") from None
            problems, cluster, _ = last[0]
            raise AssertionError(report(cluster, problems)) from None
        return last[0][2]

    def _validation_round(
        self,
    ) -> tuple[list[Problem], ClusterMap, dict[str, CollectionSummary]]:
        try:
            cluster = self.map()
        except grpc.RpcError as exc:
            return [Problem("coordinator unreachable", "", (_why(exc),))], ClusterMap(), {}
        addresses = {m.id: m.address for m in cluster.members}
        members = live_members(cluster)
        nodes: dict[str, NodeReport | str] = {}
        for member_id in members:
            try:
                nodes[member_id] = report_of(self._probe.node_info(addresses[member_id], cluster))
            except grpc.RpcError as exc:
                nodes[member_id] = _why(exc)
        problems = settle_problems(cluster, nodes, self.node_ids)
        if problems:
            return problems, cluster, {}
        summaries: dict[str, CollectionSummary] = {}
        for schema in cluster.collections:
            records: dict[str, dict[str, Record]] = {}
            for member_id in members:
                try:
                    records[member_id] = self._probe.records(
                        addresses[member_id], cluster, schema.name
                    )
                except grpc.RpcError as exc:
                    why = f"{member_id}: ScanRange of {schema.name}: {_why(exc)}"
                    return [Problem("unreachable", "", (why,))], cluster, {}
            found, summaries[schema.name] = placement_problems(cluster, schema, records, self.rf)
            problems += found
        return problems, cluster, summaries

    # ------------------------------------------------------------ post-mortem

    def dump(self) -> str:
        parts = [f"===== cluster under {self.root}"]
        try:
            parts.append(f"states: {self.states()}")
        except Exception as exc:  # the dump must not fail
            parts.append(f"states: unavailable ({exc})")
        try:
            m = self.map()
            members = ", ".join(f"{x.id}={x.state.value}@{x.address}" for x in m.members)
            parts.append(f"map: epoch {m.epoch}, cluster {m.cluster_id or '-'}, {members}")
        except Exception as exc:
            why = _why(exc) if isinstance(exc, grpc.RpcError) else repr(exc)
            parts.append(f"map: unavailable ({why})")
        for name, faults in self._faults.items():
            if faults.rules:
                parts.append(f"failpoints on {name}: {list(faults.rules)}")
        for p in [*self.nodes, *([self.coordinator] if self.coordinator else []), *self.routers]:
            parts.append(f"----- {p.name} (running={p.running()})\n{p.tail(25)}")
        return "\n".join(parts)
