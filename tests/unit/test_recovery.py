"""HNSW checkpoints and recovery: replay after a checkpoint, and detection and
rebuild of corrupted, truncated or missing index files — with recall unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vektra.common import filters
from vektra.node.engine import Engine

from .helpers import brute_force, make_schema, objects, open_engine, recall

RNG = np.random.default_rng(5)
N, DIM = 3000, 24


def _fill(path: Path) -> tuple[Engine, np.ndarray]:
    e = open_engine(path, exact_search_max=100)
    e.create_collection(make_schema(dim=DIM))
    base = RNG.normal(size=(N, DIM)).astype(np.float32)
    for start in range(0, N, 500):
        e.upsert("docs", objects(base[start : start + 500], start=start))
    return e, base


def _recall(e: Engine, base: np.ndarray, live: np.ndarray) -> float:
    queries = RNG.normal(size=(50, DIM)).astype(np.float32)
    spec = e.schema("docs").vectors[0]
    results = e.search("docs", spec, queries, 10, None, filters.All())
    assert {r.strategy for r in results} == {"hnsw"}
    found = [[int(h.record.id[2:]) for h in r.hits] for r in results]
    truth = [live[brute_force(base[live], q, 10)].tolist() for q in queries]
    return recall(found, truth)


def _index_files(path: Path) -> dict[str, Path]:
    manifest = json.loads(next((path / "index").glob("*.manifest.json")).read_text())
    return {role: path / "index" / entry["name"] for role, entry in manifest["files"].items()}


def test_clean_restart_loads_the_checkpoint(tmp_path: Path) -> None:
    e, base = _fill(tmp_path)
    e.close()
    again = open_engine(tmp_path, exact_search_max=100)
    assert again.recovery == {"docs.v.p0": "loaded"}
    assert _recall(again, base, np.arange(N)) >= 0.95


def test_changes_after_the_checkpoint_are_replayed(tmp_path: Path) -> None:
    e, base = _fill(tmp_path)
    e.checkpoint()
    # After the checkpoint: deletes, updates and inserts that only the change log knows.
    e.delete("docs", [f"id{i}" for i in range(0, 300)])
    moved = RNG.normal(size=(100, DIM)).astype(np.float32)
    e.upsert("docs", objects(moved, start=1000))
    base[1000:1100] = moved
    # Simulate a crash: the engine is dropped without its closing checkpoint.
    e.store.close()
    again = open_engine(tmp_path, exact_search_max=100)
    assert again.recovery["docs.v.p0"] == "replayed 400 changes"
    assert again.count_all("docs") == N - 300
    assert _recall(again, base, np.arange(300, N)) >= 0.95
    hits = again.search("docs", again.schema("docs").vectors[0], moved[:1], 1, None, filters.All())
    assert hits[0].hits[0].record.id == "id1000"


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete", "live_list", "manifest"])
def test_damaged_checkpoint_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    e, base = _fill(tmp_path)
    before = _recall(e, base, np.arange(N))
    e.close()
    files = _index_files(tmp_path)
    index_file = files["index"]
    data = bytearray(index_file.read_bytes())
    if damage == "flip_byte":
        data[len(data) // 2] ^= 0xFF
        index_file.write_bytes(bytes(data))
    elif damage == "truncate":
        index_file.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "delete":
        index_file.unlink()
    elif damage == "live_list":
        files["live"].write_bytes(files["live"].read_bytes()[:-8])
    else:
        next((tmp_path / "index").glob("*.manifest.json")).write_text("{not json")
    again = open_engine(tmp_path, exact_search_max=100)
    assert again.recovery["docs.v.p0"].startswith("rebuilt:"), again.recovery
    assert again.count_all("docs") == N
    after = _recall(again, base, np.arange(N))
    assert after >= 0.95 and after >= before - 0.02
    # The rebuilt index was checkpointed: the next start loads it.
    again.close()
    assert open_engine(tmp_path, exact_search_max=100).recovery == {"docs.v.p0": "loaded"}


def test_checkpoint_ahead_of_the_store_is_rejected(tmp_path: Path) -> None:
    # An index file from a newer state (e.g. restored from another backup)
    # must not be trusted over the store.
    e, _ = _fill(tmp_path)
    e.close()
    manifest_path = next((tmp_path / "index").glob("*.manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["applied_seq"] += 10
    manifest_path.write_text(json.dumps(manifest))
    again = open_engine(tmp_path, exact_search_max=100)
    assert "ahead of the store" in again.recovery["docs.v.p0"]
