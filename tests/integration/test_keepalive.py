"""The first admin call after an idle spell, and admin calls while the
coordinator is away.

Routers ping their channels (the coordinator's map watch above all); a gRPC
server with its default policy answers pings more frequent than every five
minutes with GOAWAY "too_many_pings", and the next admin call failed with
`vektra: Too many pings`. Every server now accepts the pings every channel
sends (vektra.common.keepalive), and the router retries a schema change that
could not reach the coordinator until its deadline.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.harness.cluster import Cluster

ROLES = ("NODE", "COORDINATOR", "ROUTER")


def _goaways(cluster: Cluster) -> list[str]:
    lines = []
    for log in sorted(cluster.logs.glob("*.log")):
        lines += [
            f"{log.name}: {line}"
            for line in log.read_text().splitlines()
            if "too_many_pings" in line
        ]
    return lines


def _idle_then_create(cluster: Cluster, idle_s: float) -> None:
    with cluster.client(timeout_s=10, retries=0) as c:
        c.create_collection("warm", vectors={"v": {"dim": 4, "metric": "l2"}})
    # The idle spell itself is the scenario: nothing to wait for.
    time.sleep(idle_s)
    with cluster.client(timeout_s=10, retries=0) as c:
        c.create_collection("after_idle", vectors={"v": {"dim": 4, "metric": "l2"}})
        c.collection("after_idle").upsert(ids=["a"], vectors={"v": np.ones((1, 4), np.float32)})
        assert [o.id for o in c.collection("after_idle").get(["a"])] == ["a"]
    assert _goaways(cluster) == []
    cluster.validate()


def test_an_idle_cluster_takes_the_next_admin_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The policy scaled down 50x, so an idle spell of many ping intervals
    # (the default server policy drops a connection after the third ping
    # within five minutes) takes seconds.
    for role in ROLES:
        monkeypatch.setenv(f"VEKTRA__{role}__KEEPALIVE_INTERVAL_S", "0.2")
    with Cluster(tmp_path, nodes=2, rf=1) as cluster:
        _idle_then_create(cluster, idle_s=4.0)


@pytest.mark.slow
def test_an_idle_cluster_with_the_default_policy(tmp_path: Path) -> None:
    """The first report: about two minutes idle at the default policy."""
    with Cluster(tmp_path, nodes=2, rf=1) as cluster:
        _idle_then_create(cluster, idle_s=150.0)


def test_a_create_waits_for_the_coordinator_to_come_back(tmp_path: Path) -> None:
    with Cluster(tmp_path, nodes=2, rf=1) as cluster:
        assert cluster.coordinator is not None
        cluster.coordinator.stop()
        outcome: dict[str, object] = {}

        def create() -> None:
            try:
                with cluster.client(timeout_s=20, retries=0) as c:
                    outcome["schema"] = c.create_collection(
                        "while_away", vectors={"v": {"dim": 4, "metric": "l2"}}
                    )
            except Exception as exc:
                outcome["error"] = exc

        call = threading.Thread(target=create)
        call.start()
        # The call is in flight at the router (which cannot reach the
        # coordinator) when the coordinator comes back.
        router_log = cluster.routers[0].log_path
        cluster.wait_until(
            lambda: (
                "error" in outcome
                or "coordinator unreachable" in router_log.read_text(errors="replace")
            ),
            10,
            "the router found the coordinator away",
        )
        assert "error" not in outcome, outcome
        cluster.coordinator.restart()
        call.join(30)
        assert "error" not in outcome, outcome
        assert outcome["schema"]
        with cluster.client(timeout_s=10) as c:
            assert "while_away" in [s["name"] for s in c.list_collections()]
        cluster.validate()
