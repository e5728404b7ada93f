"""The compose cluster for container tests: the harness's `Cluster` API
(kill, suspend/cont, restart, disconnect, validate) over
docker-compose.cluster.yml, driven through testcontainers.

testcontainers' DockerCompose speaks `docker compose` (v2). Machines with only
the v1 `docker-compose` (Debian's package) get the same lifecycle through it:
only the command line differs. Health waiting and per-container faults (kill,
SIGSTOP as `docker pause`, network disconnect) go through the Docker API with
the compose labels, which both versions set.

`validate()` applies the same checks as `Cluster.validate()`
(tests/harness/validation.py) to a snapshot taken inside the cluster's
network — the coordinator's map, every node's NodeInfo and records — by a
small script run in a router container, since only the routers' ports are
published.
"""

from __future__ import annotations

import functools
import json
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

from tests.harness.validation import (
    CollectionSummary,
    NodeReport,
    Problem,
    Record,
    placement_problems,
    report,
    settle_problems,
)
from vektra.common.hlc import Version
from vektra.common.membership import ClusterMap

SERVICES_NODES = ("node-1", "node-2", "node-3")

__all__ = ["ComposeCluster", "cannot_build", "docker_answers", "free_port"]

REPO = Path(__file__).resolve().parents[2]

# Run inside a container of the cluster (the image has Vektra): the map, and
# each member's NodeInfo and records, as one JSON document on stdout.
_SNAPSHOT = """
import json, grpc
from vektra.common.channels import NodeChannels
from vektra.common.pb_cluster import map_from_pb
from vektra.v1 import coordinator_pb2 as cpb, coordinator_pb2_grpc
from vektra.v1 import node_pb2 as npb, node_pb2_grpc
out = {"nodes": {}, "records": {}}
try:
    with grpc.insecure_channel("coordinator:7710") as ch:
        stub = coordinator_pb2_grpc.CoordinatorStub(ch)
        m = map_from_pb(stub.GetMap(cpb.GetMapRequest(), timeout=10))
except grpc.RpcError as exc:
    print(json.dumps({"error": f"coordinator: {exc.code().name}: {exc.details()}"}))
    raise SystemExit(0)
out["map"] = m.to_dict()
md = NodeChannels("harness").metadata(m.epoch, m.cluster_id)
for member in m.members:
    try:
        with grpc.insecure_channel(member.address) as ch:
            stub = node_pb2_grpc.NodeStub(ch)
            info = stub.NodeInfo(npb.NodeInfoRequest(), timeout=10, metadata=md)
            out["nodes"][member.id] = {
                "node_id": info.node_id, "epoch": info.epoch, "cluster_id": info.cluster_id,
                "incarnations": {c.name: c.incarnation for c in info.collections},
                "hints": {h.target: h.hints for h in info.hints},
            }
            for c in m.collections:
                req = npb.ScanRangeRequest(collection=c.name, include_vectors=False)
                held = out["records"].setdefault(c.name, {}).setdefault(member.id, {})
                for batch in stub.ScanRange(req, timeout=60, metadata=md):
                    for o in batch.objects:
                        v = o.version
                        held[o.id] = [[v.physical_ms, v.logical, v.writer], o.deleted]
    except grpc.RpcError as exc:
        out["nodes"][member.id] = f"{exc.code().name}: {exc.details()}"
print(json.dumps(out))
"""


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

    # ------------------------------------------------------------ faults (the harness's names)

    def kill(self, service: str) -> None:
        """SIGKILL the service's container (docker kill)."""
        self.container(service).kill()

    def suspend(self, service: str) -> None:
        """Freeze it (docker pause: SIGSTOP for a container; `Cluster.stop`'s
        twin, named apart from DockerCompose.stop, which takes the cluster down)."""
        self.container(service).pause()

    def cont(self, service: str) -> None:
        self.container(service).unpause()

    def restart(self, service: str) -> None:
        """Start a killed container again (same volume, same address)."""
        self.container(service).start()

    # ------------------------------------------------------------ validate

    def snapshot(self, via: str = "router-2") -> dict[str, object]:
        """The map, NodeInfo and records, read inside the cluster's network."""
        code, output = self.container(via).exec_run(["python", "-c", _SNAPSHOT])
        text = output.decode(errors="replace")
        if code != 0:
            raise RuntimeError(f"snapshot in {via} failed ({code}): {text[-2000:]}")
        return json.loads(text.strip().splitlines()[-1])  # type: ignore[no-any-return]

    def validate(
        self, timeout_s: float = 90, via: str = "router-2"
    ) -> dict[str, CollectionSummary]:
        """As `Cluster.validate()`: wait until the cluster has settled and
        every copy is where the ring says, and nowhere else."""
        last: list[tuple[list[Problem], ClusterMap, dict[str, CollectionSummary]]] = []

        def valid() -> bool:
            last[:] = [self._validation_round(via)]
            return not last[0][0]

        try:
            wait_for(valid, timeout_s, "the compose cluster is valid")
        except TimeoutError as exc:
            if not last:
                raise AssertionError(f"validation never completed a round: {exc}") from None
            problems, cluster, _ = last[0]
            raise AssertionError(report(cluster, problems)) from None
        return last[0][2]

    def _validation_round(
        self, via: str
    ) -> tuple[list[Problem], ClusterMap, dict[str, CollectionSummary]]:
        snap = self.snapshot(via)
        if "error" in snap:
            return [Problem("unreachable", "", (str(snap["error"]),))], ClusterMap(), {}
        cluster = ClusterMap.from_dict(snap["map"])  # type: ignore[arg-type]
        nodes: dict[str, NodeReport | str] = {
            member: info
            if isinstance(info, str)
            else NodeReport(
                node_id=info["node_id"],
                epoch=int(info["epoch"]),
                cluster_id=info["cluster_id"],
                incarnations=info["incarnations"],
                hints={t: int(n) for t, n in info["hints"].items()},
            )
            for member, info in snap["nodes"].items()  # type: ignore[attr-defined]
        }
        problems = settle_problems(cluster, nodes, SERVICES_NODES)
        if problems:
            return problems, cluster, {}
        summaries: dict[str, CollectionSummary] = {}
        all_records = snap["records"]
        for schema in cluster.collections:
            per_node = all_records.get(schema.name, {})  # type: ignore[attr-defined]
            records = {
                member: {
                    i: Record(Version.from_tuple(v), bool(deleted))
                    for i, (v, deleted) in held.items()
                }
                for member, held in per_node.items()
            }
            found, summaries[schema.name] = placement_problems(cluster, schema, records)
            problems += found
        return problems, cluster, summaries


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
