"""The embedded client (`vektra.connect(path)`): the `Client` API on a real
engine in the test's own process, and its data directory served by a real
`vektra serve node` process afterwards (and the other way round)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import vektra
from tests.harness.process import node_process
from vektra import Client, FailedPrecondition, InvalidArgument, LocalClient, NotFound

DIM = 16
N = 300


def _data(seed: int = 0) -> tuple[list[str], np.ndarray, list[dict[str, object]]]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"obj-{i:04d}" for i in range(N)]
    props: list[dict[str, object]] = [
        {"tag": ("red", "green", "blue")[i % 3], "rank": i} for i in range(N)
    ]
    return ids, vectors, props


def _create(c: Client | LocalClient) -> None:
    c.create_collection(
        "docs",
        vectors={"embedding": {"dim": DIM}},
        properties={"tag": "keyword", "rank": "int"},
    )


def _load(c: Client | LocalClient) -> None:
    ids, vectors, props = _data()
    _create(c)
    assert c.collection("docs").upsert(ids=ids, vectors=vectors, properties=props).upserted == N


def _answers(c: Client | LocalClient) -> dict[str, object]:
    """What a program would read back: the same for every client of the same data."""
    _, vectors, _ = _data()
    col = c.collection("docs")
    return {
        "count": col.count(),
        "red": col.count({"tag": "red"}),
        "get": [(o.id, o.properties) for o in col.get(["obj-0001", "missing", "obj-0299"])],
        "search": [h.id for h in col.search(vectors[7], k=5)],
        "batch": [[h.id for h in r] for r in col.search_batch(vectors[:4], k=3)],
        "filtered": [h.id for h in col.search(vectors[7], k=5, filter={"tag": "blue"})],
        "query": [o.id for o in col.query({"rank": {"$lt": 10}}, order_by="rank", descending=True)],
    }


def test_the_client_api_in_process(tmp_path: Path) -> None:
    ids, vectors, _ = _data()
    with vektra.connect(tmp_path / "data") as c:
        assert isinstance(c, LocalClient)
        _load(c)
        col = c.collection("docs")
        assert [s["name"] for s in c.list_collections()] == ["docs"]
        assert c.describe_collection("docs")["objects"] == N
        assert col.schema()["vectors"][0]["dim"] == DIM
        # An object is its own nearest neighbour, in single and batched search.
        assert col.search(vectors[42], k=1).hits[0].id == ids[42]
        assert [r.hits[0].id for r in col.search_batch(vectors[:20], k=1)] == ids[:20]
        # Filters, ordering, properties and vectors come back as over gRPC.
        hits = col.search(vectors[0], k=10, filter={"tag": "green"}, include_vectors=True)
        assert hits and all(h.properties["tag"] == "green" for h in hits)
        assert np.allclose(hits[0].vectors["embedding"], vectors[int(hits[0].id[4:])], atol=1e-6)
        top = col.query({"tag": "red"}, order_by="rank", descending=True, limit=3)
        assert [o.properties["rank"] for o in top.objects] == [297, 294, 291]
        assert col.delete(ids[:10]).deleted == 10
        assert col.count() == N - 10
        assert col.get(ids[:10]) == []
        assert ids[3] not in {h.id for h in col.search(vectors[3], k=10)}
        status = c.cluster_status()
        assert [n.state for n in status.nodes] == ["active"]
        c.drop_collection("docs")
        assert c.list_collections() == []


def test_bad_input_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with vektra.connect(tmp_path / "data") as c:
        _create(c)
        col = c.collection("docs")
        good = np.ones((1, DIM), np.float32)
        with pytest.raises(InvalidArgument, match=r"objects\[1\].vectors.embedding"):
            col.upsert(
                [
                    {"id": "a", "vector": good[0]},
                    {"id": "b", "vector": np.ones(DIM + 1, np.float32)},
                ]
            )
        with pytest.raises(InvalidArgument, match="rank"):
            col.upsert(ids=["c"], vectors=good, properties=[{"rank": "not a number"}])
        assert col.count() == 0
        with pytest.raises(NotFound):
            c.collection("nope").count()


def test_one_process_per_data_directory(tmp_path: Path, processes: list) -> None:
    with vektra.connect(tmp_path / "data"):
        with pytest.raises(FailedPrecondition, match="in use by process"):
            vektra.connect(tmp_path / "data")
        # A node cannot serve it meanwhile either: it says why and exits.
        proc = node_process("node", tmp_path / "data", tmp_path / "logs")
        processes.append(proc)
        with pytest.raises(RuntimeError):
            proc.start()
        assert "in use by process" in proc.tail(40)
    with vektra.connect(tmp_path / "data") as again:  # closed: free again
        assert again.list_collections() == []


def test_a_directory_written_embedded_is_served_unchanged(tmp_path: Path, processes: list) -> None:
    data = tmp_path / "data"
    with vektra.connect(data) as c:
        _load(c)
        embedded = _answers(c)
    proc = node_process("node", data, tmp_path / "logs")
    processes.append(proc)
    proc.start()
    assert proc.address is not None
    with Client(proc.address, timeout_s=60) as served:
        assert _answers(served) == embedded
        # Written over gRPC now, read embedded next.
        served.collection("docs").delete(["obj-0007"])
    proc.stop(timeout_s=15)
    with vektra.connect(data) as c:
        after = _answers(c)
    assert after["count"] == N - 1
    assert "obj-0007" not in after["search"]  # type: ignore[operator]


def test_writes_survive_a_process_that_never_closes(tmp_path: Path) -> None:
    """Acknowledged means committed: a program that exits without `close()`
    (no checkpoint) loses nothing; the next open replays the change log."""
    data = tmp_path / "data"
    script = textwrap.dedent(
        f"""
        import os, numpy as np, vektra
        c = vektra.connect({str(data)!r})
        c.create_collection("docs", vectors={{"embedding": {{"dim": {DIM}}}}})
        rng = np.random.default_rng(0)
        v = rng.normal(size=({N}, {DIM})).astype(np.float32)
        c.collection("docs").upsert(ids=[f"obj-{{i:04d}}" for i in range({N})], vectors=v)
        os._exit(0)  # no close, no checkpoint
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    with vektra.connect(data) as c:
        col = c.collection("docs")
        assert col.count() == N
        assert [r.hits[0].id for r in col.search_batch(vectors[:50], k=1)] == [
            f"obj-{i:04d}" for i in range(50)
        ]


def test_client_local_is_connect(tmp_path: Path) -> None:
    with Client.local(tmp_path / "data") as c:
        assert isinstance(c, LocalClient)
        _create(c)
    c.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        c.list_collections()
