"""Shared fixtures: datasets from ../shared (skipped with a reason when absent)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("VEKTRA_DATASETS", REPO.parent / "shared" / "datasets"))


@dataclass(frozen=True)
class Docstrings:
    base: np.ndarray  # (n, 384) float32, normalized
    meta: list[dict]  # id, package, module, length, text
    queries: np.ndarray  # (q, 384)
    groundtruth: np.ndarray  # (q, 100) row indices into base, nearest first


@pytest.fixture(scope="session")
def docstrings() -> Docstrings:
    root = DATASETS / "docstrings"
    if not (root / "base.npy").is_file():
        pytest.skip(f"real dataset not present at {root} (../shared/datasets beside the checkout)")
    with (root / "base.jsonl").open() as f:
        meta = [json.loads(line) for line in f]
    return Docstrings(
        base=np.load(root / "base.npy"),
        meta=meta,
        queries=np.load(root / "queries.npy"),
        groundtruth=np.load(root / "groundtruth.npy"),
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Collects ServerProcess objects; stops them after the test and prints
    their logs when the test failed. Logs live in one folder per test."""
    from tests.harness.process import ServerProcess

    started: list[ServerProcess] = []
    yield started
    for proc in started:
        proc.stop(timeout_s=15)
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for proc in started:
            print(f"\n----- log of {proc.name} ({proc.log_path}) -----\n{proc.tail(80)}")


@pytest.fixture
def node(processes, tmp_path: Path):  # type: ignore[no-untyped-def]
    """One storage node as a real process on a free port, stopped after the test."""
    from tests.harness.process import node_process

    proc = node_process("node", tmp_path / "data", tmp_path / "logs")
    processes.append(proc)
    proc.start()
    return proc
