"""`python -m vektra.common.healthcheck`, the containers' health probe, against a
real node process and against a port nobody listens on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.harness.process import ServerProcess, node_process


def _probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vektra.common.healthcheck", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serving_node_exits_0(processes: list[ServerProcess], tmp_path: Path) -> None:
    node = node_process("node", tmp_path / "data", tmp_path / "logs")
    processes.append(node)
    address = node.start()

    ok = _probe(address)
    assert ok.returncode == 0, ok.stderr
    assert "SERVING" in ok.stdout

    named = _probe(address, "--service", "vektra.v1.Node", "--timeout", "5")
    assert named.returncode == 0, named.stderr

    unknown = _probe(address, "--service", "no.such.Service")
    assert unknown.returncode == 1
    assert unknown.stderr.count("\n") == 1 and "NOT_FOUND" in unknown.stderr


def test_closed_port_exits_1() -> None:
    address = f"127.0.0.1:{_closed_port()}"
    result = _probe(address, "--timeout", "2")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{address}: not serving: UNAVAILABLE")


def test_address_from_the_environment() -> None:
    address = f"127.0.0.1:{_closed_port()}"
    result = _probe(env={**os.environ, "VEKTRA_HEALTH_ADDR": address})
    assert result.returncode == 1 and result.stderr.startswith(address)
    missing = _probe(env={k: v for k, v in os.environ.items() if k != "VEKTRA_HEALTH_ADDR"})
    assert missing.returncode == 2 and "VEKTRA_HEALTH_ADDR" in missing.stderr
