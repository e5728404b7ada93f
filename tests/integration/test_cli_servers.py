"""The `vektra` client commands against real servers where what they print
depends on the server: a lone node listening on every interface, and a
cluster with a node down (partial coverage, unknown object counts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.harness.cluster import Cluster
from tests.harness.process import ServerProcess

pytestmark = pytest.mark.slow


def vektra(address: str, *argv: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "vektra.cli.main", *argv, "--addr", address],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if ok:
        assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def vektra_json(address: str, *argv: str) -> Any:
    return json.loads(vektra(address, *argv, "--json").stdout)


def test_a_lone_node_reports_a_connectable_address_and_its_real_rf(
    processes: list[ServerProcess], tmp_path: Path
) -> None:
    node = ServerProcess(
        "lone",
        ["serve", "node", "--data-dir", str(tmp_path / "data"), "--listen", "0.0.0.0:0"],
        tmp_path / "logs",
    )
    processes.append(node)
    announced = node.start()
    port = announced.rpartition(":")[2]
    addr = f"127.0.0.1:{port}"

    (member,) = vektra_json(addr, "cluster", "status")["nodes"]
    # 0.0.0.0 is where it listens, not where a client connects.
    assert member["address"] == addr, member
    assert vektra(addr, "cluster", "status").stdout.splitlines()[-1].split()[1] == addr

    # One node keeps one copy: asking for two is refused, as a cluster
    # refuses more copies than nodes, instead of claiming RF 2.
    refused = vektra(addr, "collection", "create", "docs", "--vector", "v:4", "--rf", "2", ok=False)
    assert refused.returncode == 2
    assert "replication factor 2 is more than the 1 node" in refused.stderr
    created = vektra_json(addr, "collection", "create", "docs", "--vector", "v:4")
    assert created["replication_factor"] == 1, "the default on a single node is its real RF, 1"
    assert (
        vektra_json(addr, "collection", "create", "one", "--vector", "v:4", "--rf", "1")[
            "replication_factor"
        ]
        == 1
    )
    assert vektra_json(addr, "collection", "describe", "docs")["replication_factor"] == 1
    assert (
        "replication factor 1, 0 objects" in vektra(addr, "collection", "describe", "docs").stdout
    )
    assert [s["replication_factor"] for s in vektra_json(addr, "collection", "list")] == [1, 1]


def test_a_down_node_shows_as_unknown_and_partial_answers_name_it(tmp_path: Path) -> None:
    with Cluster(tmp_path, nodes=3, rf=2) as cluster:
        addr = cluster.router_addresses[0]
        vektra(addr, "collection", "create", "single", "--vector", "v:4", "--property", "n:int",
               "--rf", "1")  # fmt: skip
        rows = np.random.default_rng(2).normal(size=(300, 4)).astype(np.float32)
        data = tmp_path / "rows.jsonl"
        data.write_text(
            "".join(
                json.dumps({"id": f"o{i}", "vector": r.tolist(), "n": i}) + "\n"
                for i, r in enumerate(rows)
            )
        )
        vektra(addr, "import", str(data), "--collection", "single")
        complete = vektra(addr, "count", "--collection", "single")
        assert complete.stdout == "300 objects in single\n" and complete.stderr == ""

        cluster.kill(0)
        cluster.wait_until(lambda: cluster.state(0) == "down", 30, "node-0 is marked down")

        status = vektra_json(addr, "cluster", "status")
        by_id = {n["id"]: n for n in status["nodes"]}
        assert by_id["node-0"]["state"] == "down" and by_id["node-0"]["objects"] is None
        assert all(by_id[f"node-{i}"]["objects"] > 0 for i in (1, 2))
        table = vektra(addr, "cluster", "status").stdout
        (down_row,) = [line for line in table.splitlines() if line.startswith("node-0")]
        assert down_row.split()[2:] == ["down", "?"], "unknown, not 0"

        # RF 1 and a node down: every read that asks all nodes says what it missed.
        search = vektra(addr, "search", "--collection", "single", "--vector", json.dumps(
            rows[0].tolist()), "--k", "3")  # fmt: skip
        query = vektra(addr, "query", "--collection", "single", "--limit", "5")
        count = vektra(addr, "count", "--collection", "single")
        for done in (search, query, count):
            (warning,) = done.stderr.splitlines()
            assert warning.startswith("vektra: warning: partial: "), warning
            assert warning.endswith(" ranges answered; failed: node-0"), warning
            answered, asked = warning.split()[3].split("/")
            assert 0 < int(answered.replace(",", "")) < int(asked.replace(",", ""))
        assert int(count.stdout.split()[0].replace(",", "")) < 300
        coverage = vektra_json(addr, "count", "--collection", "single")["coverage"]
        assert coverage["complete"] is False and coverage["failed"] == ["node-0"]
        cluster.restart(0)
        cluster.validate(timeout_s=90)
        assert 0 < coverage["ranges_answered"] < coverage["ranges_asked"]
