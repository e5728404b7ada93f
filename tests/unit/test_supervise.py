"""The supervisor of `vektra up` on fake children and a fake clock: what it
restarts when, with which backoff, and what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from vektra.cli.supervise import Backoff, Phase, Supervisor
from vektra.common.launcher import ExitedEarly


class FakeChild:
    """Scripted: `die(code)` makes it exit; each spawn either comes up (the
    next `poll_ready` answers) or, per `fail_next`, exits while starting."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.log_path = Path(f"/logs/{name}.log")
        self.pid: int | None = 100
        self.returncode: int | None = None
        self.spawns: list[bool] = []  # same_address of each spawn
        self.fail_next: list[int | None] = []  # exit code while starting, None: comes up
        self.silent = False  # never prints its ready line
        self.kills = 0
        self._starting_code: int | None = None

    def running(self) -> bool:
        return self.returncode is None

    def die(self, code: int) -> None:
        self.returncode = code

    def spawn(self, *, same_address: bool = False) -> None:
        self.spawns.append(same_address)
        assert self.pid is not None
        self.pid += 1
        self.returncode = None
        self._starting_code = self.fail_next.pop(0) if self.fail_next else None

    def poll_ready(self) -> str | None:
        if self._starting_code is not None:
            self.returncode = self._starting_code
            raise ExitedEarly("exited", self._starting_code)
        return None if self.silent else "127.0.0.1:7701"

    def kill(self) -> int | None:
        self.kills += 1
        self.returncode = -9
        return -9


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _supervisor(children: list[FakeChild], clock: Clock, lines: list[str]) -> Supervisor:
    return Supervisor(children, report=lines.append, clock=clock, start_timeout_s=60)


def test_backoff_doubles_to_the_cap_and_starts_over_after_a_stable_run() -> None:
    b = Backoff(initial_s=0.5, max_s=30.0, reset_after_s=30.0)
    assert [b.failed(0.0) for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    b.ready(100.0)
    assert b.failed(110.0) == 30, "up for 10 s is not stable yet"
    b.ready(200.0)
    assert b.failed(230.0) == 0.5, "up for 30 s: the next failure starts over"
    assert b.failed(230.0) == 1


def test_a_dead_child_is_reported_and_restarted_on_its_address_after_the_delay(
    clock: Clock,
) -> None:
    node, other = FakeChild("node-1"), FakeChild("router")
    lines: list[str] = []
    sup = _supervisor([node, other], clock, lines)
    sup.tick()
    assert lines == [] and node.spawns == []

    node.die(-9)
    sup.tick()
    assert lines == [
        "node-1 exited with code -9 (SIGKILL); restarting in 0.5 s (log: /logs/node-1.log)"
    ]
    assert sup.phase("node-1") is Phase.WAITING and sup.phase("router") is Phase.SERVING
    clock.now += 0.4
    sup.tick()
    assert node.spawns == [], "not before the delay"
    clock.now += 0.1
    sup.tick()
    assert node.spawns == [True], "started again, on the same address"
    assert sup.phase("node-1") is Phase.STARTING
    sup.tick()
    assert lines[-1] == "node-1 restarted on 127.0.0.1:7701 (pid 101)"
    assert sup.phase("node-1") is Phase.SERVING
    assert other.spawns == []


def test_a_child_that_cannot_start_again_keeps_being_retried_with_growing_delays(
    clock: Clock,
) -> None:
    node = FakeChild("node-0")
    node.fail_next = [1, 1, 1, None]  # e.g. its port is taken for a while
    lines: list[str] = []
    sup = _supervisor([node], clock, lines)
    node.die(1)
    sup.tick()
    for _ in range(4):
        clock.now += 100
        sup.tick()  # spawn
        sup.tick()  # exits while starting, or comes up
    delays = [line.split("restarting in ")[1].split(" s")[0] for line in lines if "in " in line]
    assert delays == ["0.5", "1", "2", "4"]
    assert all("while starting" in line for line in lines[1:4])
    assert node.spawns == [True] * 4, "never moved to another address"
    assert lines[-1].startswith("node-0 restarted on")


def test_a_child_that_stays_silent_is_killed_and_retried(clock: Clock) -> None:
    node = FakeChild("coordinator")
    lines: list[str] = []
    sup = _supervisor([node], clock, lines)
    node.die(1)
    sup.tick()
    node.silent = True
    clock.now += 1
    sup.tick()
    clock.now += 59
    sup.tick()
    assert node.kills == 0 and sup.phase("coordinator") is Phase.STARTING
    clock.now += 2
    sup.tick()
    assert node.kills == 1
    assert "did not report ready within 60 s (killed it); restarting in 1 s" in lines[-1]


def test_the_delay_starts_over_once_a_child_has_stayed_up(clock: Clock) -> None:
    node = FakeChild("node-2")
    lines: list[str] = []
    sup = _supervisor([node], clock, lines)
    for _ in range(3):  # three quick deaths: 0.5, 1, 2
        node.die(-9)
        sup.tick()
        clock.now += 10
        sup.tick()
        sup.tick()
    clock.now += 31  # then it stays up
    node.die(-9)
    sup.tick()
    assert "restarting in 0.5 s" in lines[-1]


def test_state_changes_are_handed_on(clock: Clock) -> None:
    node = FakeChild("node-0")
    changes: list[int | None] = []
    sup = Supervisor(
        [node], report=lambda _: None, on_change=lambda: changes.append(node.pid), clock=clock
    )
    node.die(-9)
    sup.tick()
    clock.now += 1
    sup.tick()  # spawned: a new pid for up.json
    sup.tick()  # ready
    assert changes == [101, 101]
