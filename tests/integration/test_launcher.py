"""The process launcher (`vektra.common.launcher`) on a real storage node:
the ready address, an early exit with its log, pause and resume, a graceful
stop of a paused child, a restart on the same address."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.process import wait_until
from vektra.common.healthcheck import check
from vektra.common.launcher import (
    ExitedEarly,
    ServerChild,
    describe_exit,
    parse_ready_line,
    with_listen,
)


@pytest.fixture
def children() -> Iterator[list[ServerChild]]:
    started: list[ServerChild] = []
    yield started
    for child in started:
        child.kill()


def _node(tmp_path: Path, data_dir: Path | None = None) -> ServerChild:
    args = ["--data-dir", str(data_dir or tmp_path / "data"), "--listen", "127.0.0.1:0"]
    return ServerChild("node", "node", args, tmp_path / "logs" / "node.log")


def test_helpers() -> None:
    ready = parse_ready_line("VEKTRA_READY node n1 127.0.0.1:7701\n")
    assert ready is not None and (ready.role, ready.server_id, ready.address) == (
        "node",
        "n1",
        "127.0.0.1:7701",
    )
    assert parse_ready_line("2024-01-01 INFO VEKTRA_READY node n1 h:1") is None
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(-signal.SIGKILL) == "exited with code -9 (SIGKILL)"
    assert with_listen(["--listen", "h:0", "-x"], "h:5") == ["--listen", "h:5", "-x"]
    assert with_listen(["--listen=h:0"], "h:5") == ["--listen=h:5"]
    assert with_listen(["-x"], "h:5") == ["-x", "--listen", "h:5"]


def test_start_reports_the_bound_address_and_restart_keeps_it(
    children: list[ServerChild], tmp_path: Path
) -> None:
    node = _node(tmp_path)
    children.append(node)
    address = node.start(timeout_s=60)
    assert not address.endswith(":0") and node.ready and node.server_id
    assert check(address) is None
    first_pid = node.pid

    assert node.restart(timeout_s=60) == address
    assert node.pid != first_pid and node.args[node.args.index("--listen") + 1] == address
    assert node.starts == 2
    assert node.stop(timeout_s=30) == 0 and not node.killed_after_grace
    assert node.returncode == 0 and not node.running() and not node.ready
    assert "start #2" in node.tail(200)


def test_an_early_exit_is_reported_with_the_end_of_the_log(
    children: list[ServerChild], tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    node = _node(tmp_path, data_dir=not_a_folder)
    children.append(node)
    with pytest.raises(ExitedEarly) as info:
        node.start(timeout_s=60)
    assert info.value.code not in (0, None)
    assert str(node.log_path) in str(info.value)
    assert node.tail(5).splitlines()[-1] in str(info.value), "the log's tail is shown"


def test_a_paused_child_does_not_answer_and_still_stops_gracefully(
    children: list[ServerChild], tmp_path: Path
) -> None:
    node = _node(tmp_path)
    children.append(node)
    address = node.start(timeout_s=60)
    node.pause()
    assert node.running()
    assert (check(address, timeout_s=0.5) or "").startswith("DEADLINE_EXCEEDED")
    node.resume()
    wait_until(lambda: check(address) is None, 30, "the resumed node serves")

    node.pause()
    # SIGTERM alone would wait for a SIGCONT forever; stop() sends both.
    assert node.stop(timeout_s=30) == 0
    assert not node.killed_after_grace


def test_a_childs_own_environment_is_set_over_ours_at_every_spawn(
    children: list[ServerChild], tmp_path: Path
) -> None:
    # A coordinator, which needs no node to start: its fault-injection
    # setting comes from the child's own environment only.
    args = ["--data-dir", str(tmp_path / "coordinator"), "--listen", "127.0.0.1:0"]
    child = ServerChild(
        "coordinator",
        "coordinator",
        args,
        tmp_path / "logs" / "coordinator.log",
        env={"VEKTRA__COORDINATOR__FAILPOINTS": "1"},
    )
    children.append(child)
    child.start(timeout_s=60)
    assert "fault injection is ON" in child.tail(50)
    del child.env["VEKTRA__COORDINATOR__FAILPOINTS"]
    child.restart(timeout_s=60)
    second = child.tail(200).split("start #2")[1]
    assert "fault injection is ON" not in second
