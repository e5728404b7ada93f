"""A whole cluster of real processes for a test: N storage nodes, a
coordinator and routers on free loopback ports, one log folder per test.

    with Cluster(tmp_path, nodes=3, rf=2) as cluster:
        c = cluster.client()
        cluster.kill(1)                      # SIGKILL node 1
        cluster.wait_until(lambda: cluster.state(1) == "down", 10, "node 1 is down")
        cluster.restart(1)

On failure the `dump()` of the cluster's state and logs tells what happened.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tests.harness.process import ServerProcess, node_process, wait_until
from vektra import Client

__all__ = ["Cluster"]


class Cluster:
    def __init__(
        self,
        root: Path,
        nodes: int = 3,
        rf: int = 2,
        routers: int = 1,
        heartbeat_interval_s: float = 0.3,
        failure_threshold: int = 3,
    ) -> None:
        self.root = root
        self.logs = root / "logs"
        self.rf = rf
        self.nodes = [
            node_process(f"node-{i}", root / f"node-{i}", self.logs, 0, "--node-id", f"node-{i}")
            for i in range(nodes)
        ]
        self._coordinator_args = [
            "serve",
            "coordinator",
            "--data-dir",
            str(root / "coordinator"),
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

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float = 60) -> Cluster:
        addresses = [n.start() for n in self.nodes]
        args = list(self._coordinator_args)
        for a in addresses:
            args += ["--node", a]
        self.coordinator = ServerProcess("coordinator", args, self.logs)
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
        for p in [*self.routers, *([self.coordinator] if self.coordinator else []), *self.nodes]:
            p.stop(timeout_s=15)

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

    # ------------------------------------------------------------ faults

    def kill(self, i: int) -> None:
        """SIGKILL node i: no graceful stop, no checkpoint."""
        self.nodes[i].kill(signal.SIGKILL)

    def stop(self, i: int) -> None:
        self.nodes[i].stop()

    def restart(self, i: int) -> str:
        return self.nodes[i].restart()

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
        with self.client(timeout_s=5, retries=0) as c:
            status = c.cluster_status()
        by_id = {n.id: n.state for n in status.nodes}
        return [by_id.get(f"node-{i}", "missing") for i in range(len(self.nodes))]

    def state(self, i: int) -> str:
        return self.states()[i]

    def wait_until(self, predicate: Callable[[], object], timeout_s: float, msg: str) -> object:
        try:
            return wait_until(predicate, timeout_s, msg)
        except TimeoutError:
            print(self.dump())
            raise

    def dump(self) -> str:
        parts = [f"===== cluster under {self.root}"]
        try:
            parts.append(f"states: {self.states()}")
        except Exception as exc:  # the dump must not fail
            parts.append(f"states: unavailable ({exc})")
        for p in [*self.nodes, *([self.coordinator] if self.coordinator else []), *self.routers]:
            parts.append(f"----- {p.name} (running={p.running()})\n{p.tail(25)}")
        return "\n".join(parts)
