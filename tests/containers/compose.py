"""The compose cluster for container tests, driven through testcontainers.

testcontainers' DockerCompose speaks `docker compose` (v2). Machines with only
the v1 `docker-compose` (Debian's package) get the same lifecycle through it:
only the command line differs. Health waiting and per-container faults (kill,
network disconnect) go through the Docker API with the compose labels, which
both versions set.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import docker
from docker.models.containers import Container
from testcontainers.compose import DockerCompose

__all__ = ["ComposeCluster", "cannot_build", "docker_answers", "free_port"]

REPO = Path(__file__).resolve().parents[2]


def docker_answers() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        docker.from_env(timeout=5).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# The base images deploy/build-image.sh can build on (see its --help).
_BASES = ("python:3.11-slim-bookworm", "vektra-base:bookworm")


def cannot_build() -> str | None:
    """None when this user can build the image, else why not and what to do.

    The image builds on a base image the engine already has; without one,
    deploy/build-base-image.sh makes one from Debian's packages, which needs
    root (the root file system's files belong to root)."""
    api = docker.from_env(timeout=10)
    for base in _BASES:
        try:
            api.images.get(base)
            return None
        except docker.errors.ImageNotFound:
            continue
    if os.geteuid() != 0:
        return (
            f"no base image ({' or '.join(_BASES)}) and building one needs root: "
            "run `sudo make image` once, or load python:3.11-slim-bookworm"
        )
    return None


@functools.cache
def _compose_v2() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return done.returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ComposeCluster(DockerCompose):
    """docker-compose.cluster.yml under its own project name."""

    def __init__(self, project: str, env: dict[str, str]) -> None:
        super().__init__(
            context=str(REPO),
            compose_file_name="docker-compose.cluster.yml",
            wait=False,  # `up --wait` is v2 only: health is awaited through the Docker API
            env_file=None,
        )
        self.project = project
        self.env = env
        self.api = docker.from_env(timeout=60)

    @functools.cached_property
    def compose_command_property(self) -> list[str]:
        files = ["-f", str(REPO / "docker-compose.cluster.yml")]
        base = ["docker", "compose"] if _compose_v2() else ["docker-compose"]
        return [*base, "-p", self.project, *files]

    def _run_command(
        self, cmd: str | list[str], context: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        # The project's settings (image, published ports) go in the environment.
        return subprocess.run(
            cmd,
            capture_output=True,
            check=True,
            cwd=context or str(self.context),
            env={**os.environ, **self.env},
        )

    # ------------------------------------------------------------ containers

    def container(self, service: str) -> Container:
        found = self.api.containers.list(
            all=True,
            filters={
                "label": [
                    f"com.docker.compose.project={self.project}",
                    f"com.docker.compose.service={service}",
                ]
            },
        )
        assert len(found) == 1, f"{service}: {len(found)} containers"
        return found[0]

    def health(self, service: str) -> str:
        c = self.container(service)
        c.reload()
        state = c.attrs["State"]
        return str(state.get("Health", {}).get("Status", state.get("Status")))

    def wait_healthy(self, services: list[str], timeout_s: float = 180) -> None:
        wait_for(
            lambda: all(self.health(s) == "healthy" for s in services),
            timeout_s,
            f"{services} healthy",
            lambda: {s: self.health(s) for s in services},
        )

    @property
    def network(self) -> str:
        nets = self.container("coordinator").attrs["NetworkSettings"]["Networks"]
        return next(iter(nets))

    def disconnect(self, service: str) -> None:
        self.api.networks.get(self.network).disconnect(self.container(service))

    def reconnect(self, service: str) -> None:
        # Compose's DNS name for the service is a network alias: give it back.
        self.api.networks.get(self.network).connect(self.container(service), aliases=[service])

    def logs(self, service: str, tail: int = 40) -> str:
        return self.container(service).logs(tail=tail).decode(errors="replace")


def wait_for(
    predicate: Callable[[], object],
    timeout_s: float,
    what: str,
    describe: Callable[[], object] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # services come and go while we wait
            last = exc
        time.sleep(0.5)
    state = describe() if describe else last
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting until {what} (last: {state})")
