"""Real server processes for tests: start, find the bound port, kill, restart.

`ServerProcess` is the package's launcher (`vektra.common.launcher.ServerChild`)
with the constructor the tests use: a name, the arguments after `vektra`
(`["serve", ROLE, ...]`) and a log folder (the log is `<log_dir>/<name>.log`).
Each process announces itself with `VEKTRA_READY <role> <id> <host:port>`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from vektra.common.launcher import ServerChild

__all__ = ["ServerProcess", "node_process", "wait_until"]


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


class ServerProcess(ServerChild):
    """`start()` waits for the ready line and returns the address; a child
    that exits or stays silent is killed and `start` raises a `LaunchError`
    (a RuntimeError) showing the end of its log. `args` are the arguments
    after `serve ROLE`; `restart()` rewrites their `--listen` to the bound
    address. `env` is set over the inherited environment at every spawn
    (`self.env` may be changed between restarts)."""

    def __init__(
        self,
        name: str,
        args: list[str],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if len(args) < 2 or args[0] != "serve":
            raise ValueError(f"expected ['serve', ROLE, ...], got {args!r}")
        self.log_dir = log_dir
        super().__init__(name, args[1], args[2:], log_dir / f"{name}.log", env=env)

    def kill(self, sig: int = signal.SIGKILL) -> int | None:
        """Send `sig` (SIGKILL unless told) and wait for the exit."""
        if sig == signal.SIGKILL:
            return super().kill()
        if self.send_signal(sig):
            assert self.proc is not None
            self.proc.wait(timeout=30)
        return self.returncode


def node_process(
    name: str,
    data_dir: Path,
    log_dir: Path,
    port: int = 0,
    *extra: str,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    return ServerProcess(
        name,
        ["serve", "node", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}", *extra],
        log_dir,
        env=env,
    )
