"""Keep the children of `vektra up` running: one that dies is started again on
the same address, with exponential backoff, as a local supervisor does.

    supervisor = Supervisor(children, report=print_to_stderr, on_change=save_state)
    while not stop.wait(0.25):
        supervisor.tick()

Each child is SERVING, WAITING (out of backoff at `restart_at`) or STARTING
(spawned, its ready line not seen yet). A child that exits, exits while
starting, or does not report ready in time is reported in one line and waits
`Backoff.failed()` before the next try; the delay doubles from 0.5 s to 30 s and
starts over once the child has stayed up for `reset_after_s`. A child always
comes back on the address it had: the cluster map names it there, so one that
cannot bind it keeps being retried rather than moved.

`tick()` never blocks, so a stop signal during a backoff is acted on at once.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, assert_never

from vektra.common.launcher import ExitedEarly, describe_exit

__all__ = ["Backoff", "Supervised", "Supervisor"]


class Supervised(Protocol):
    """What the supervisor needs of a child (`vektra.common.launcher.ServerChild`)."""

    name: str
    log_path: Path

    @property
    def pid(self) -> int | None: ...

    @property
    def returncode(self) -> int | None: ...

    def running(self) -> bool: ...

    def spawn(self, *, same_address: bool = False) -> None: ...

    def poll_ready(self) -> str | None: ...

    def kill(self) -> int | None: ...


@dataclass
class Backoff:
    """Delays between restarts of one child: `initial_s`, doubling up to
    `max_s`; back to `initial_s` for a failure after `reset_after_s` of being
    up. No clock of its own: callers pass `now`."""

    initial_s: float = 0.5
    max_s: float = 30.0
    reset_after_s: float = 30.0
    _next_s: float = field(init=False)
    _up_since: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._next_s = self.initial_s

    def ready(self, now: float) -> None:
        self._up_since = now

    def failed(self, now: float) -> float:
        """The delay before the next start."""
        if self._up_since is not None and now - self._up_since >= self.reset_after_s:
            self._next_s = self.initial_s
        self._up_since = None
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay


class Phase(enum.Enum):
    SERVING = "serving"
    WAITING = "waiting"
    STARTING = "starting"


@dataclass
class _Watch:
    child: Supervised
    backoff: Backoff
    phase: Phase = Phase.SERVING
    restart_at: float = 0.0
    ready_by: float = 0.0


class Supervisor:
    """Restarts the given children (all serving when handed over) when they die."""

    def __init__(
        self,
        children: Sequence[Supervised],
        *,
        report: Callable[[str], None],
        on_change: Callable[[], None] = lambda: None,
        backoff: Callable[[], Backoff] = Backoff,
        start_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._on_change = on_change
        self._start_timeout_s = start_timeout_s
        self._clock = clock
        now = clock()
        self._watches: list[_Watch] = []
        for child in children:
            watch = _Watch(child, backoff())
            watch.backoff.ready(now)
            self._watches.append(watch)

    def phase(self, name: str) -> Phase:
        return next(w.phase for w in self._watches if w.child.name == name)

    def tick(self) -> None:
        """Look at every child once and act on what changed."""
        for watch in self._watches:
            self._step(watch, self._clock())

    def _step(self, watch: _Watch, now: float) -> None:
        child = watch.child
        match watch.phase:
            case Phase.SERVING:
                code = child.returncode
                if code is not None:
                    self._failed(watch, now, describe_exit(code))
            case Phase.WAITING:
                if now < watch.restart_at:
                    return
                try:
                    child.spawn(same_address=True)
                except OSError as exc:  # could not even exec (a full disk, fd limit)
                    self._failed(watch, now, f"could not be started ({exc})")
                    return
                watch.phase, watch.ready_by = Phase.STARTING, now + self._start_timeout_s
                self._on_change()
            case Phase.STARTING:
                try:
                    address = child.poll_ready()
                except ExitedEarly as exc:
                    self._failed(watch, now, f"{describe_exit(exc.code)} while starting")
                    return
                if address is not None:
                    watch.phase = Phase.SERVING
                    watch.backoff.ready(now)
                    self._report(f"{child.name} restarted on {address} (pid {child.pid})")
                    self._on_change()
                elif now > watch.ready_by:
                    child.kill()
                    why = f"did not report ready within {self._start_timeout_s:.0f} s (killed it)"
                    self._failed(watch, now, why)
            case unreachable:
                assert_never(unreachable)

    def _failed(self, watch: _Watch, now: float, why: str) -> None:
        delay = watch.backoff.failed(now)
        watch.phase, watch.restart_at = Phase.WAITING, now + delay
        child = watch.child
        self._report(f"{child.name} {why}; restarting in {delay:g} s (log: {child.log_path})")
