"""`vektra bench --smoke`: the whole suite on tiny synthetic data, in a
subprocess, as a user runs it. Checks that every file is written and well
formed, every workload has figures for every topology that could run, and
nothing failed; never anything about speed (the figures of a smoke run on a
shared machine mean nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

STATUSES = {"pass", "fail", "not measured"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    out = tmp_path_factory.mktemp("bench") / "results"
    done = subprocess.run(
        [sys.executable, "-m", "vektra.cli.main", "bench", "--smoke", "--keep-data",
         "--out", str(out)],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), (out / "results.md").read_text(), out


def test_every_workload_has_figures_for_each_topology_that_ran(smoke: tuple) -> None:
    res, _, _ = smoke
    topologies = [s["name"] for s in res["systems"] if s["kind"] == "vektra"]
    assert set(topologies) == {"embedded", "node", "cluster"}
    ran = [t for t in topologies if t not in res["skipped"]]
    assert ran == topologies, res["skipped"]
    assert len(res["workloads"]) >= 15
    for workload in res["workloads"]:
        for topology in ran:
            fig = res["figures"][workload].get(topology)
            assert fig is not None, (workload, topology)
            assert fig["ops"] > 0, (workload, topology)


def test_no_errors_and_recall_in_range(smoke: tuple) -> None:
    res, _, _ = smoke
    for workload, by_system in res["figures"].items():
        for system, fig in by_system.items():
            where = (workload, system, fig.get("first_error"))
            assert fig["errors"] == 0, where
            assert fig["rate"] >= 0, where
            if fig.get("recall") is not None:
                assert 0.0 <= fig["recall"] <= 1.0, where
            for point in (fig.get("curve") or {}).values():
                assert 0.0 <= point["recall"] <= 1.0, where
    searches = [w for w in res["workloads"] if "search" in w and w != "ef_sweep"]
    for workload in searches:
        for system, fig in res["figures"][workload].items():
            assert isinstance(fig["recall"], float), (workload, system)


def test_baselines_run_or_say_not_installed(smoke: tuple) -> None:
    res, _, _ = smoke
    for system in ("raw-hnswlib", "raw-lmdb", "numpy-exact", "grpc-floor"):
        assert system not in res["skipped"]
    # The empty gRPC round trip, in processes of its own: a p50 and the CPU
    # of each of them, as the bounds above the gRPC floor need.
    floor = res["figures"]["get_single"]["grpc-floor"]
    assert floor["ops"] > 0 and floor["p50_ms"] > 0
    assert {"client", "router", "nodes"} <= set(floor["cpu_s_per_op"])
    for system in ("chroma", "qdrant-edge"):
        if system in res["skipped"]:
            assert "not installed" in res["skipped"][system]
        else:
            assert res["figures"]["search_batch"][system]["ops"] > 0


def test_each_router_is_measured_under_load(smoke: tuple) -> None:
    res, md, _ = smoke
    for topology in ("node", "cluster"):
        m = res["memory"][topology]
        assert m["router_under_load_mb"] > 0
        assert isinstance(m["router_load_growth_mb"], float)
    assert "router under load" in md


def test_report_names_the_data_and_machine_and_marks_every_target(smoke: tuple) -> None:
    res, md, _ = smoke
    assert res["dataset"]["name"] == "synthetic"
    assert res["machine"]["cpu_count"] >= 1
    assert res["machine"]["versions"]["vektra"]
    assert {t["status"] for t in res["targets"]} <= STATUSES
    assert len(res["targets"]) >= 20
    assert res["dataset"]["description"] in md
    for heading in ("## Throughput", "## Latency", "## Recall@10", "## Targets"):
        assert heading in md
    # Every row of every markdown table has as many cells as its header.
    table: list[str] = []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            widths = {row.count("|") for row in table}
            assert len(widths) == 1, table
            table = []


def test_no_server_process_is_left_running(smoke: tuple) -> None:
    _, _, out = smoke
    work = str(out / "work")
    left = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        # The gRPC floor's echo and relay servers take no path to name.
        if any(work in arg or arg == "vektra.bench.grpc_floor" for arg in cmdline):
            left.append(proc.pid)
    assert not left
