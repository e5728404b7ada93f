"""Start, watch and stop one `vektra serve ROLE ...` child process.

    child = ServerChild("node-0", "node", ["--data-dir", d, "--listen", "127.0.0.1:0"], log)
    address = child.start(timeout_s=60)      # spawn, then wait for its ready line
    child.pause(); child.resume()            # SIGSTOP / SIGCONT
    child.kill()                             # SIGKILL, reaped
    child.restart()                          # again, on the address it had bound
    child.env["VEKTRA__ROUTER__CLOCK_OFFSET_S"] = "30"   # set over os.environ at each spawn
    code = child.stop(timeout_s=30)          # SIGTERM, SIGKILL after the grace period

The child runs `python -m vektra.cli.main [--log-level L] serve ROLE ARGS` with
stdout and stderr appended to its own log file, and announces itself there with
`VEKTRA_READY <role> <id> <host:port>`. Its output goes to a file rather than a
pipe to us so that a child outlives a launcher that dies (`vektra up` finds such
children again by their pid), and nobody has to drain a pipe.

Used by `vektra up` (which supervises several of these) and by the test
harness (`tests/harness/process.py`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ExitedEarly",
    "LaunchError",
    "NotReady",
    "ReadyLine",
    "ServerChild",
    "StartInterrupted",
    "describe_exit",
    "parse_ready_line",
    "with_listen",
]

_POLL_S = 0.05
_TAIL_BYTES = 64 * 1024


class LaunchError(RuntimeError):
    """A child did not come up. Tree:

    LaunchError
     +-- ExitedEarly       it exited before its ready line (`.code`)
     +-- NotReady          no ready line within the timeout (it was killed)
     +-- StartInterrupted  the caller's stop event was set while waiting
    """


class ExitedEarly(LaunchError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class NotReady(LaunchError):
    pass


class StartInterrupted(LaunchError):
    pass


@dataclass(frozen=True, slots=True)
class ReadyLine:
    role: str
    server_id: str
    address: str


def parse_ready_line(line: str) -> ReadyLine | None:
    """`VEKTRA_READY <role> <id> <host:port>`, or None for any other line."""
    parts = line.split()
    if len(parts) == 4 and parts[0] == "VEKTRA_READY":
        return ReadyLine(parts[1], parts[2], parts[3])
    return None


def describe_exit(code: int) -> str:
    """`exited with code 1`, `exited with code -9 (SIGKILL)`."""
    if code < 0:
        try:
            return f"exited with code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exited with code {code}"


def with_listen(args: Sequence[str], address: str) -> list[str]:
    """`args` with its `--listen` value (or `--listen=...`) replaced by `address`."""
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "--listen" and i + 1 < len(out):
            out[i + 1] = address
            return out
        if arg.startswith("--listen="):
            out[i] = f"--listen={address}"
            return out
    return [*out, "--listen", address]


class ServerChild:
    """One `vektra serve ROLE` process at a time, started again as often as
    asked. `address` and `server_id` are those of the last ready line seen
    (they stay known after the child exits, for a restart on that address);
    `ready` says whether the current process has announced itself."""

    def __init__(
        self,
        name: str,
        role: str,
        args: Sequence[str],
        log_path: Path,
        *,
        log_level: str | None = None,
        own_process_group: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.role = role
        self.args = list(args)
        self.log_path = log_path
        self.log_level = log_level
        # In its own process group, a Ctrl-C in the terminal reaches only the
        # launching process, which then stops its children in order.
        self.own_process_group = own_process_group
        # Set over the inherited environment at each spawn, so a caller can
        # change it between restarts (a test restarting a router with its
        # clock skewed); `vektra up` leaves it empty.
        self.env: dict[str, str] = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.address: str | None = None
        self.server_id: str | None = None
        self.starts = 0
        self.killed_after_grace = False
        self._ready = False
        self._scan_offset = 0

    # ------------------------------------------------------------ state

    @property
    def argv(self) -> list[str]:
        cli = [sys.executable, "-m", "vektra.cli.main"]
        if self.log_level is not None:
            cli += ["--log-level", self.log_level]
        return [*cli, "serve", self.role, *self.args]

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def ready(self) -> bool:
        return self._ready and self.running()

    def running(self) -> bool:
        """Started and not exited (a paused child is running)."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code of the last process, None while it runs or before a start."""
        return None if self.proc is None else self.proc.poll()

    # ------------------------------------------------------------ start

    def spawn(self, *, same_address: bool = False) -> None:
        """Start the process and return at once; `poll_ready` or `wait_ready`
        then tell when it serves. `same_address` pins `--listen` to the
        address the last process bound (a port 0 becomes that port)."""
        if self.running():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        if same_address and self.address is not None:
            self.args = with_listen(self.args, self.address)
        self.starts += 1
        self._ready = False
        self.killed_after_grace = False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.log_path.open("ab") as log:
            log.write(f"\n===== {stamp} start #{self.starts}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self._scan_offset = log.tell()
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
                process_group=0 if self.own_process_group else None,
            )

    def poll_ready(self) -> str | None:
        """The address once the current process has printed its ready line;
        None while it is still starting. Raises ExitedEarly if it exited first."""
        if self.proc is None:
            raise RuntimeError(f"{self.name} was never started")
        if self._ready:
            return self.address
        # Look at the exit code before the log: a child that printed its line
        # and then exited is caught by the next call, not missed.
        code = self.proc.poll()
        if self._scan():
            return self.address
        if code is not None:
            raise ExitedEarly(
                f"{self.name} {describe_exit(code)} while starting; end of {self.log_path}:\n"
                f"{self.tail()}",
                code,
            )
        return None

    def _scan(self) -> bool:
        """Read the log written since the last look for the ready line."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(self._scan_offset)
                chunk = f.read()
        except FileNotFoundError:
            return False
        end = chunk.rfind(b"\n")
        if end < 0:
            return False  # no complete line yet
        self._scan_offset += end + 1
        for line in chunk[: end + 1].decode(errors="replace").splitlines():
            ready = parse_ready_line(line)
            if ready is not None:
                self.server_id, self.address = ready.server_id, ready.address
                self._ready = True
                return True
        return False

    def wait_ready(self, timeout_s: float, stop: threading.Event | None = None) -> str:
        """Block until the ready line; on a timeout the child is killed.
        `stop` (if given and set) interrupts the wait and leaves the child be."""
        deadline = time.monotonic() + timeout_s
        while True:
            address = self.poll_ready()
            if address is not None:
                return address
            if stop is not None and stop.is_set():
                raise StartInterrupted(f"{self.name}: interrupted while starting")
            if time.monotonic() > deadline:
                self.kill()
                raise NotReady(
                    f"{self.name} did not report ready within {timeout_s:.0f} s (killed it); "
                    f"end of {self.log_path}:\n{self.tail()}"
                )
            if stop is not None:
                stop.wait(_POLL_S)
            else:
                time.sleep(_POLL_S)

    def start(self, timeout_s: float = 60.0, stop: threading.Event | None = None) -> str:
        """Spawn and wait for the ready line; returns the bound address."""
        self.spawn()
        return self.wait_ready(timeout_s, stop)

    def restart(self, timeout_s: float = 60.0, stop: threading.Event | None = None) -> str:
        """SIGKILL the current process if it runs, then start again on the
        address it had bound."""
        self.kill()
        self.spawn(same_address=True)
        return self.wait_ready(timeout_s, stop)

    # ------------------------------------------------------------ signals

    def send_signal(self, sig: int) -> bool:
        """Send `sig` if the process runs; whether it was sent."""
        if not self.running():
            return False
        assert self.proc is not None
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:  # exited between the check and the signal
            return False
        return True

    def pause(self) -> None:
        """SIGSTOP: the process stays alive but does nothing (a hung server)."""
        self.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        self.send_signal(signal.SIGCONT)

    def kill(self) -> int | None:
        """SIGKILL and reap; the exit code (None if never started)."""
        if self.send_signal(signal.SIGKILL):
            assert self.proc is not None
            self.proc.wait()
        return self.returncode

    def terminate(self) -> None:
        """SIGTERM without waiting (stop several children side by side, then
        `wait_stopped` each). A paused child gets SIGCONT too, or it would
        never act on the SIGTERM."""
        if self.send_signal(signal.SIGTERM):
            self.send_signal(signal.SIGCONT)

    def wait_stopped(self, timeout_s: float) -> int | None:
        """Wait for the exit; SIGKILL after `timeout_s` (`killed_after_grace`
        then says so). The exit code, None if never started."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            self.killed_after_grace = True
            return self.kill()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Graceful stop: SIGTERM, SIGKILL after `timeout_s`; the exit code."""
        self.terminate()
        return self.wait_stopped(timeout_s)

    # ------------------------------------------------------------ log

    def tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the log."""
        try:
            with self.log_path.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - _TAIL_BYTES))
                text = f.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
