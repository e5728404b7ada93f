"""Real server processes for tests: start, find the bound port, kill, restart.

Each process runs `python -m vektra.cli.main ...` with its own log file, and
announces itself with a `VEKTRA_READY <role> <id> <host:port>` line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["ServerProcess", "wait_until"]


def wait_until(
    predicate: Callable[[], object], timeout_s: float, msg: str, interval_s: float = 0.05
) -> object:
    """Poll `predicate` until it returns something truthy; fail with `msg`."""
    deadline = time.monotonic() + timeout_s
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the condition may raise while the system settles
            last_exc = exc
        time.sleep(interval_s)
    raise TimeoutError(
        f"timed out after {timeout_s:.0f}s waiting until {msg} (last error: {last_exc!r})"
    )


class ServerProcess:
    def __init__(self, name: str, args: list[str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.address: str | None = None
        self.server_id: str | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self, timeout_s: float = 60.0) -> str:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start #{self.starts}: {' '.join(self.args)}\n".encode())
        log.flush()
        offset = log.tell()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vektra.cli.main", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        log.close()

        def ready() -> str | None:
            assert self.proc is not None
            with self.log_path.open("rb") as f:
                f.seek(offset)
                for line in f.read().decode(errors="replace").splitlines():
                    if line.startswith("VEKTRA_READY "):
                        return line
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            return None

        try:
            line = str(wait_until(ready, timeout_s, f"{self.name} is ready"))
        except (TimeoutError, RuntimeError):
            self.kill()
            raise RuntimeError(f"{self.name} did not start:\n{self.tail()}") from None
        _, _role, self.server_id, self.address = line.split()
        return self.address

    def restart(self, timeout_s: float = 60.0) -> str:
        """Start again after a stop or kill, on the same address."""
        self.kill()
        if self.address is not None and "--listen" in self.args:
            self.args[self.args.index("--listen") + 1] = self.address
        return self.start(timeout_s)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Graceful stop (SIGTERM); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text[-lines:])


def node_process(
    name: str, data_dir: Path, log_dir: Path, port: int = 0, *extra: str
) -> ServerProcess:
    return ServerProcess(
        name,
        ["serve", "node", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}", *extra],
        log_dir,
    )
