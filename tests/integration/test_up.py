"""`vektra up`: a local cluster of real processes (3 nodes, a coordinator and a
router) started, used through the SDK, restarted on the same data and stopped
cleanly by SIGTERM, leaving no process behind; a child that dies is started
again; a busy router port is refused before anything starts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

from tests.harness.process import wait_until
from vektra import Client

pytestmark = pytest.mark.slow

DIM = 8


class Up:
    """`python -m vektra.cli.main up ...` with its stdout read by a thread."""

    def __init__(self, data_dir: Path, log: Path, *extra: str) -> None:
        self.lines: list[str] = []
        self.log = log
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "vektra.cli.main", "up", "--nodes", "3", "--rf", "2",
                    "--data-dir", str(data_dir), "--port", "0", *extra,
                ],
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout_s: float = 120) -> str:
        def ready() -> str | None:
            for line in self.lines:
                if line.startswith("VEKTRA_READY up router "):
                    return line.split()[3]
            if self.proc.poll() is not None:
                raise AssertionError(f"vektra up exited with {self.proc.returncode}")
            return None

        try:
            return str(wait_until(ready, timeout_s, "vektra up is ready"))
        except (AssertionError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{self.output()}") from None

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def output(self) -> str:
        return "stdout:\n" + "\n".join(self.lines) + "\nstderr:\n" + self.log.read_text()

    def terminate(self, timeout_s: float = 90) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)

    def kill_all(self) -> None:
        """Cleanup after a failed test: `up` and whatever it started."""
        if self.proc.poll() is not None:
            return
        children = self.children()
        self.proc.kill()
        self.proc.wait()
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()


@pytest.fixture
def ups(tmp_path: Path) -> Iterator[list[Up]]:
    started: list[Up] = []
    yield started
    for up in started:
        up.kill_all()


def _assert_gone(children: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"still running after vektra up exited: {alive}"


def test_up_serves_a_cluster_and_stops_cleanly(ups: list[Up], tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    up = Up(data_dir, tmp_path / "up-1.log")
    ups.append(up)
    address = up.wait_ready()
    assert not address.endswith(":0"), "--port 0 prints the port actually bound"
    children = up.children()
    assert len(children) == 5, [c.cmdline() for c in children]
    assert (data_dir / "logs" / "router.log").is_file()

    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(50, DIM)).astype(np.float32)
    with Client(address, timeout_s=60) as c:
        status = c.cluster_status()
        assert sorted(n.state for n in status.nodes) == ["active"] * 3
        schema = c.create_collection(
            "docs",
            vectors={"embedding": {"dim": DIM, "metric": "cosine"}},
            properties={"n": "int"},
            replication_factor=2,
        )
        assert schema["replication_factor"] == 2
        col = c.collection("docs")
        ids = [f"d{i}" for i in range(50)]
        col.upsert(ids=ids, vectors=vecs, properties=[{"n": i} for i in range(50)])
        assert col.count() == 50
        hits = col.search(vecs[9], k=3)
        assert hits[0].id == "d9" and hits.coverage.complete
        # Replication factor 2: every object is on two of the three nodes.
        assert sum(n.objects for n in c.cluster_status().nodes) == 100

    assert up.terminate() == 0, up.output()
    _assert_gone(children)

    # A second `up` on the same folder finds the data again.
    again = Up(data_dir, tmp_path / "up-2.log")
    ups.append(again)
    address = again.wait_ready()
    children = again.children()
    with Client(address, timeout_s=60) as c:
        col = c.collection("docs")
        assert col.count() == 50
        assert col.search(vecs[9], k=1)[0].id == "d9"
    assert again.terminate() == 0, again.output()
    _assert_gone(children)


def test_up_reports_a_child_that_fails_and_stops_the_rest(ups: list[Up], tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    data_dir.mkdir()
    # A file where the coordinator's data folder should be: it cannot start.
    (data_dir / "coordinator").write_text("not a folder")
    up = Up(data_dir, tmp_path / "up.log")
    ups.append(up)
    code = up.proc.wait(timeout=120)
    assert code == 1, up.output()
    err = up.log.read_text()
    assert "coordinator" in err and "exited with code" in err, err
    assert "coordinator.log" in err, "the failing child's log is shown"
    # The nodes it had started (their pids are in up.json) are stopped.
    state = json.loads((data_dir / "up.json").read_text())
    pids = [state[f"node-{i}"]["pid"] for i in range(3)]
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_up_refuses_a_second_up_on_the_same_folder(ups: list[Up], tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    first = Up(data_dir, tmp_path / "up-1.log", "--nodes", "1", "--rf", "1")
    ups.append(first)
    first.wait_ready()
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "vektra.cli.main",
            "up",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert "another `vektra up` is running" in second.stderr
    assert first.terminate() == 0


def test_up_restarts_a_node_that_dies_and_keeps_running(ups: list[Up], tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    up = Up(data_dir, tmp_path / "up.log")
    ups.append(up)
    address = up.wait_ready()
    rng = np.random.default_rng(5)
    with Client(address, timeout_s=60) as c:
        c.create_collection(
            "docs", vectors={"embedding": {"dim": DIM, "metric": "l2"}}, replication_factor=2
        )
        ids = [f"d{i}" for i in range(20)]
        c.collection("docs").upsert(ids=ids, vectors=rng.normal(size=(20, DIM)).astype(np.float32))

    before = json.loads((data_dir / "up.json").read_text())["node-1"]
    os.kill(before["pid"], signal.SIGKILL)

    def restarted() -> str | None:
        lines = up.log.read_text().splitlines()
        return next((line for line in lines if "node-1 restarted on" in line), None)

    line = str(wait_until(restarted, 60, "vektra up reports node-1 restarted"))
    assert line == f"vektra up: node-1 restarted on {before['address']} (pid {line.split()[-1]}", (
        line
    )
    err = up.log.read_text()
    exited = next(line for line in err.splitlines() if "node-1 exited" in line)
    assert exited == (
        "vektra up: node-1 exited with code -9 (SIGKILL); restarting in 0.5 s "
        f"(log: {data_dir / 'logs' / 'node-1.log'})"
    ), exited
    after = json.loads((data_dir / "up.json").read_text())["node-1"]
    assert after["address"] == before["address"] and after["pid"] != before["pid"]
    assert psutil.pid_exists(after["pid"])

    def node_1_serves_again() -> bool:
        with Client(address, timeout_s=5, retries=0) as c:
            status = c.cluster_status()
        states = {n.id: n.state for n in status.nodes}
        # Every copy counted: node-1 answered from its own store again.
        return states["node-1"] == "active" and sum(n.objects or 0 for n in status.nodes) == 40

    wait_until(node_1_serves_again, 60, "node-1 is active and counted again")
    assert up.proc.poll() is None, "vektra up keeps running"
    children = up.children()
    assert len(children) == 5, [c.cmdline() for c in children]
    assert up.terminate() == 0, up.output()
    _assert_gone(children)


def test_up_retries_a_node_on_its_own_address_and_stops_promptly_in_a_backoff(
    ups: list[Up], tmp_path: Path
) -> None:
    data_dir = tmp_path / "cluster"
    up = Up(data_dir, tmp_path / "up.log", "--nodes", "1", "--rf", "1")
    ups.append(up)
    up.wait_ready()
    before = json.loads((data_dir / "up.json").read_text())["node-0"]
    host, port = before["address"].rsplit(":", 1)
    os.kill(before["pid"], signal.SIGKILL)
    with socket.socket() as squatter:
        # Take the node's port before its first restart (0.5 s after up notices).
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        wait_until(lambda: squatter.bind((host, int(port))) or True, 5, "the node's port is free")
        squatter.listen()
        wait_until(lambda: "restarting in 2 s" in up.log.read_text(), 30, "two failed restarts")
        err = up.log.read_text()
        assert err.count("node-0 exited with code 2 while starting") >= 2, err
        assert "trying a free port" not in err
        assert (
            json.loads((data_dir / "up.json").read_text())["node-0"]["address"] == before["address"]
        )
        children = up.children()
        # Ctrl-C in the middle of a backoff.
        up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(timeout=10) == 0, up.output()
    _assert_gone(children)


def test_up_on_a_busy_port_fails_before_starting_anything(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable, "-m", "vektra.cli.main", "up",
                "--data-dir", str(data_dir), "--port", str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"vektra: port {port} on 127.0.0.1 is in use (another vektra up? pick --port)"
    ]
    assert not (data_dir / "logs").exists(), "no child was started"
    assert not (data_dir / "up.json").exists()
