"""Container suite fixtures: the image (built once per run) and the compose
cluster. Skips only when no Docker engine answers or this user cannot build
the image — and then says so loudly, with what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.harness.compose import (
    REPO,
    ComposeCluster,
    cannot_build,
    docker_answers,
    free_port,
)

SERVICES = ["coordinator", "node-1", "node-2", "node-3", "router-1", "router-2"]
_skipped: list[str] = []


@pytest.fixture(scope="session")
def image() -> str:
    reason = docker_answers()
    if reason is not None:
        why = f"no Docker engine answers ({reason})"
        _skipped.append(why)
        pytest.skip(f"{why}: container tests NOT run")
    reason = cannot_build()
    if reason is not None:
        _skipped.append(reason)
        pytest.skip(f"{reason}: container tests NOT run")
    name = os.environ.get("VEKTRA_TEST_IMAGE", "vektra:dev")
    # Reuses the image when the sources have not changed (one build per run).
    done = subprocess.run(
        ["bash", str(REPO / "deploy" / "build-image.sh"), "--tag", name],
        env={**os.environ, "PYTHON": sys.executable},  # this interpreter has pip and the build deps
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )
    print(done.stdout[-3000:])
    assert done.returncode == 0, (
        f"image build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return name


@pytest.fixture(scope="module")
def cluster(image: str) -> Iterator[ComposeCluster]:
    ports = [free_port(), free_port()]
    env = {"VEKTRA_IMAGE": image, "VEKTRA_PORT_1": str(ports[0]), "VEKTRA_PORT_2": str(ports[1])}
    compose = ComposeCluster(f"vektra-test-{os.getpid()}", env)
    compose.routers = [f"127.0.0.1:{p}" for p in ports]  # type: ignore[attr-defined]
    try:
        compose.start()
        compose.wait_healthy(SERVICES)
        yield compose
    except BaseException:
        for s in SERVICES:
            try:
                print(f"----- {s}\n{compose.logs(s)}")
            except Exception as exc:  # a missing container must not hide the failure
                print(f"----- {s}: no logs ({exc})")
        raise
    finally:
        compose.stop(down=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped:
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True)
        terminalreporter.write_line(f"CONTAINER TESTS SKIPPED: {_skipped[0]}", red=True)
        terminalreporter.write_line(bar, red=True)
