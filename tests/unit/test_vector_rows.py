"""The rows an exact scan ranks (`node.vector_rows`, kept by each HNSW graph)
hold each label's vector as hnswlib does — when the graph adds it, and when
it is loaded from a checkpoint — and an exact scan reads them, not the
store (issue 9). Real hnswlib, real LMDB, real files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from vektra.common import filters
from vektra.common.schema import Metric, VectorSpec
from vektra.node import hnsw_graph, vector_rows
from vektra.node.hnsw_graph import Graph
from vektra.node.records import Records
from vektra.node.vector_rows import VectorRows

from .helpers import make_schema, objects, open_engine

RNG = np.random.default_rng(5)
DIM = 12


def _hnswlib_copies(graph: Graph, docnos: np.ndarray) -> np.ndarray:
    labels = [graph.label(int(d)) for d in docnos.tolist()]
    return np.asarray(graph._index.get_items(labels, return_type="numpy"), dtype=np.float32)


def test_rows_round_trip_across_growth_and_leave_no_file(tmp_path: Path) -> None:
    vector_rows.use_scratch_dir(tmp_path / "scratch")
    rows = VectorRows(DIM, capacity=4)
    first = RNG.normal(size=(1024, DIM)).astype(np.float32)
    rows.write(0, first)
    later = RNG.normal(size=(3000, DIM)).astype(np.float32)
    rows.write(1024, later)  # past the capacity: the file grows and is mapped anew
    assert rows.capacity >= 4024
    labels = np.asarray([4023, 0, 1023, 1024, 2500])
    want = np.concatenate([first, later])[labels]
    assert np.array_equal(rows.take(labels), want)
    # Out of order, with gaps: one write per run of consecutive labels.
    some = RNG.normal(size=(4, DIM)).astype(np.float32)
    rows.put(np.asarray([9, 7, 8, 30]), some)
    assert np.array_equal(rows.take(np.asarray([7, 8, 9, 30])), some[[1, 2, 0, 3]])
    assert list((tmp_path / "scratch").iterdir()) == []  # unlinked as soon as made


def test_a_stale_row_file_is_removed_when_the_node_opens(tmp_path: Path) -> None:
    stale = tmp_path / "scratch" / "rows-left-by-a-crash"
    stale.parent.mkdir()
    stale.write_bytes(b"x" * 100)
    e = open_engine(tmp_path)
    assert not stale.exists()
    e.close()


@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.L2, Metric.IP])
def test_a_graphs_rows_are_its_vectors_as_hnswlib_holds_them(metric: Metric) -> None:
    spec = VectorSpec("v", DIM, metric)
    graph = Graph.empty(spec)
    docnos = np.arange(1, 401, dtype=np.uint64)
    vectors = RNG.normal(size=(400, DIM)).astype(np.float32)
    graph.add(docnos[:150], vectors[:150])
    graph.add(docnos[150:], vectors[150:])
    graph.drop(7)
    asked = np.asarray([7, 3, 400, 9999, 150, 151], dtype=np.uint64)
    held, stored = graph.stored(asked)
    assert held.tolist() == [3, 400, 150, 151]  # dropped and unknown docnos left out
    np.testing.assert_allclose(stored, _hnswlib_copies(graph, held), rtol=1e-6, atol=1e-7)
    if metric is not Metric.COSINE:
        assert np.array_equal(stored, vectors[held.astype(np.int64) - 1])


def test_a_loaded_graph_reads_its_rows_from_the_saved_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hnsw_graph, "_LOAD_CHUNK", 97)  # several chunks, the last one short
    spec = VectorSpec("v", DIM, Metric.COSINE)
    graph = Graph.empty(spec)
    docnos = np.arange(10, 1310, dtype=np.uint64)
    graph.add(docnos, RNG.normal(size=(1300, DIM)).astype(np.float32))
    graph.drop(11)
    path = str(tmp_path / "g.hnsw")
    max_elements, live, labels = graph.save(path)
    with caplog.at_level(logging.WARNING):
        loaded = Graph.load(spec, path, max_elements, live, labels)
    assert "read through hnswlib" not in caplog.text
    held, stored = loaded.stored(live)
    assert np.array_equal(held, live)
    # Bit for bit hnswlib's own copies: the rows came from its saved blocks.
    assert np.array_equal(stored, _hnswlib_copies(loaded, live))


def test_a_saved_file_it_cannot_read_falls_back_to_hnswlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spec = VectorSpec("v", DIM, Metric.L2)
    graph = Graph.empty(spec)
    docnos = np.arange(1, 301, dtype=np.uint64)
    vectors = RNG.normal(size=(300, DIM)).astype(np.float32)
    graph.add(docnos, vectors)
    path = str(tmp_path / "g.hnsw")
    max_elements, live, labels = graph.save(path)
    monkeypatch.setattr(hnsw_graph, "_saved_level0", lambda *_: None)
    with caplog.at_level(logging.WARNING):
        loaded = Graph.load(spec, path, max_elements, live, labels)
    assert "read through hnswlib" in caplog.text
    assert np.array_equal(loaded.stored(live)[1], vectors)


def test_a_saved_layout_that_disagrees_with_hnswlib_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spot check: a parse that reads the wrong bytes is caught."""
    spec = VectorSpec("v", DIM, Metric.L2)
    graph = Graph.empty(spec)
    vectors = RNG.normal(size=(300, DIM)).astype(np.float32)
    graph.add(np.arange(1, 301, dtype=np.uint64), vectors)
    path = str(tmp_path / "g.hnsw")
    max_elements, live, labels = graph.save(path)
    real = hnsw_graph._saved_level0

    def shifted(*args: object) -> np.ndarray:
        level0 = real(*args)  # type: ignore[arg-type]
        assert level0 is not None
        wrong = np.array(level0)
        wrong["vector"] += 1.0
        return wrong

    monkeypatch.setattr(hnsw_graph, "_saved_level0", shifted)
    loaded = Graph.load(spec, path, max_elements, live, labels)
    assert np.array_equal(loaded.stored(live)[1], vectors)


def test_exact_scans_read_no_record_and_agree_across_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exact scan ranks the rows: with the store's record reads made to
    fail, a filtered search that takes the exact plan still answers, the
    same before and after the index is loaded from its checkpoint."""
    schema = make_schema(dim=DIM)
    e = open_engine(tmp_path, exact_search_max=400)
    e.create_collection(schema)
    base = RNG.normal(size=(1200, DIM)).astype(np.float32)
    for s in range(0, 1200, 400):
        e.upsert("docs", objects(base[s : s + 400], start=s))
    flt = filters.parse({"group": "g2"}, schema)  # 240 of 1,200: exact
    queries = RNG.normal(size=(5, DIM)).astype(np.float32)
    spec = schema.vectors[0]

    def answers() -> list[tuple[list[str], np.ndarray]]:
        out = []
        for q in queries:
            packed = e.search_packed("docs", spec, q[None, :], 10, None, flt)
            assert packed.strategy == "exact"
            out.append((packed.columns.ids, packed.columns.distances.copy()))
        return out

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("an exact scan read the store")

    with monkeypatch.context() as m:
        for name in ("_raw", "by_docnos", "get", "get_stored"):
            m.setattr(Records, name, refuse)
        before = answers()
    e.checkpoint()
    e.close()
    e = open_engine(tmp_path, exact_search_max=400)
    assert e.recovery == {"docs.v.p0": "loaded"}
    after = answers()
    for (ids_a, d_a), (ids_b, d_b) in zip(before, after, strict=True):
        assert ids_a == ids_b
        np.testing.assert_allclose(d_a, d_b, atol=1e-6)
    # And they are the true nearest among the matches.
    match = np.asarray([i % 5 == 2 for i in range(1200)])
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    for q, (ids, dists) in zip(queries, after, strict=True):
        d = 1 - unit @ (q / np.linalg.norm(q))
        d[~match] = np.inf
        want = np.argsort(d, kind="stable")[:10]
        assert ids == [f"id{i}" for i in want]
        np.testing.assert_allclose(dists, d[want], atol=1e-5)
    e.close()


def test_rows_files_live_in_the_nodes_scratch_directory(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    e.create_collection(make_schema(dim=DIM))
    e.upsert("docs", objects(RNG.normal(size=(50, DIM)).astype(np.float32)))
    scratch = (tmp_path / "scratch").resolve()
    fds = Path(f"/proc/{os.getpid()}/fd")
    linked = []
    for fd in fds.iterdir():
        try:
            linked.append(os.readlink(fd))
        except FileNotFoundError:  # closed meanwhile (the listing's own, say)
            continue
    ours = [p for p in linked if p.startswith(str(scratch / "rows-"))]
    assert ours and all(p.endswith("(deleted)") for p in ours)
    e.close()


def test_a_row_file_removed_by_another_engine_before_its_unlink_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two engines of one process opening one directory: the second one's
    clean-up may remove a row file between its creation and its unlink."""
    vector_rows.use_scratch_dir(tmp_path / "scratch")
    real = vector_rows.tempfile.mkstemp

    def raced(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, name = real(*args, **kwargs)  # type: ignore[call-overload]
        vector_rows.use_scratch_dir(tmp_path / "scratch")  # the other engine opens
        return fd, name

    monkeypatch.setattr(vector_rows.tempfile, "mkstemp", raced)
    rows = VectorRows(DIM)
    rows.write(0, np.ones((3, DIM), dtype=np.float32))
    assert np.array_equal(rows.take(np.asarray([2])), np.ones((1, DIM), dtype=np.float32))
