"""`vektra serve ROLE` as a user runs it: a taken port is one line, exit 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("role", ["node", "coordinator", "router"])
def test_a_taken_port_is_one_line_and_exit_2(role: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--listen", f"127.0.0.1:{port}"]
        if role != "router":
            args += ["--data-dir", str(tmp_path / role)]
        done = subprocess.run(
            [sys.executable, "-m", "vektra.cli.main", "serve", role, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    ours = [line for line in done.stderr.splitlines() if line.startswith("vektra:")]
    assert ours == [
        f"vektra: cannot listen on 127.0.0.1:{port}: address in use "
        "(is another server running there?)"
    ]
    assert "Traceback" not in done.stderr
