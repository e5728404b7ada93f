"""The SDK without a network: protobuf <-> model conversion, client-side input
checks (which fail before any call is made), and the demo data helpers."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vektra.cli import demo_data
from vektra.client import Client, Collection
from vektra.client import _convert as cv
from vektra.client.models import (
    ClusterStatus,
    Coverage,
    Hit,
    NodeStatus,
    Object,
    QueryResult,
    SearchPlan,
    SearchResult,
    Version,
)
from vektra.common.errors import InvalidArgument
from vektra.common.schema import CollectionSchema
from vektra.common.values import unpack
from vektra.v1 import vektra_pb2 as pb

V1 = Version(1_700_000_000_123, 4, "node-a")
WHEN = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)


def _vec(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


# ---------------------------------------------------------------- conversion


def test_hit_round_trip_keeps_every_field() -> None:
    hit = Hit(
        id="a",
        distance=0.25,
        properties={"module": "os", "length": 3, "at": WHEN, "tags": ["x", "y"]},
        vectors={"embedding": _vec(1.0, -2.5, 3.0), "title": _vec(0.5)},
        version=V1,
    )
    assert cv.hit_from_proto(cv.hit_to_proto(hit)) == hit


def test_object_round_trip_and_missing_version_is_none() -> None:
    obj = Object(id="b", properties={"n": -7, "ok": True}, vectors={"v": _vec(0.0, 1.0)})
    back = cv.object_from_proto(cv.object_to_proto(obj))
    assert back == obj
    assert back.version is None
    stamped = Object(id="b", properties={}, vectors={}, version=V1)
    assert cv.object_from_proto(cv.object_to_proto(stamped)).version == V1


def test_vectors_decode_to_writable_float32_arrays() -> None:
    data = np.asarray([1.5, -2.0, 1e-3], dtype="<f4").tobytes()
    msg = pb.Object(id="x", vectors={"v": data})
    vec = cv.object_from_proto(msg).vectors["v"]
    assert vec.dtype == np.float32
    assert vec.shape == (3,)
    np.testing.assert_array_equal(vec, np.asarray([1.5, -2.0, 1e-3], dtype=np.float32))
    vec[0] = 9.0  # the caller owns a copy, not a view of the message buffer
    assert cv.object_from_proto(msg).vectors["v"][0] == 1.5


def test_vectors_are_sent_as_packed_little_endian_float32() -> None:
    obj = Object(id="x", properties={}, vectors={"v": np.asarray([1, 2], dtype=np.float64)})
    assert cv.object_to_proto(obj).vectors["v"] == np.asarray([1, 2], dtype="<f4").tobytes()


def test_properties_decode_datetimes_as_aware_utc() -> None:
    props = cv.object_from_proto(
        cv.object_to_proto(Object(id="x", properties={"at": WHEN}, vectors={}))
    ).properties
    assert props["at"] == WHEN
    assert props["at"].tzinfo is not None


def test_coverage_round_trip_and_absent_coverage_is_complete() -> None:
    cov = Coverage(
        asked=3,
        answered=2,
        failed=("node-c",),
        complete=False,
        ranges_asked=192,
        ranges_answered=120,
    )
    assert cv.coverage_from_proto(cv.coverage_to_proto(cov)) == cov
    wire = pb.Coverage(asked=3, answered=2, ranges_asked=192, ranges_answered=120)
    assert cv.coverage_from_proto(wire).ranges_answered == 120
    # A node answering for itself may leave coverage out; that is no data loss.
    result = cv.search_result_from_proto(pb.SearchResponse())
    assert result.coverage.complete
    assert result.plan is None


def test_search_result_is_a_sequence_with_coverage_and_plan() -> None:
    hits = [
        Hit(id=f"h{i}", distance=0.5 * i, properties={"i": i}, vectors={}, version=V1)
        for i in range(3)
    ]
    msg = pb.SearchResponse(
        hits=[cv.hit_to_proto(h) for h in hits],
        coverage=pb.Coverage(asked=2, answered=2, complete=True),
        plan=pb.SearchPlan(strategy="hnsw_filtered", candidates=42),
    )
    res = cv.search_result_from_proto(msg)
    assert isinstance(res, SearchResult)
    assert len(res) == 3
    assert list(res) == hits
    assert res[0] == hits[0]
    assert res[-1].id == "h2"
    assert res.ids == ["h0", "h1", "h2"]
    assert res.coverage == Coverage(asked=2, answered=2, failed=(), complete=True)
    assert res.plan == SearchPlan(strategy="hnsw_filtered", candidates=42)


def test_search_batch_rows_inherit_the_batch_coverage() -> None:
    partial = pb.Coverage(asked=3, answered=2, failed=["n3"], complete=False)
    msg = pb.SearchBatchResponse(
        results=[
            pb.SearchResponse(hits=[pb.Hit(id="a", distance=0.1)]),
            pb.SearchResponse(hits=[pb.Hit(id="b")], coverage=pb.Coverage(asked=1, complete=True)),
        ],
        coverage=partial,
    )
    first, second = cv.search_batch_from_proto(msg)
    assert first.ids == ["a"]
    assert first.coverage == cv.coverage_from_proto(partial)
    assert second.coverage.complete  # a row's own coverage wins


def test_query_result_sequence() -> None:
    msg = pb.QueryResponse(
        objects=[pb.Object(id="a"), pb.Object(id="b")],
        coverage=pb.Coverage(asked=1, answered=1, complete=True),
    )
    res = cv.query_result_from_proto(msg)
    assert isinstance(res, QueryResult)
    assert res.ids == ["a", "b"]
    assert [o.id for o in res[:1]] == ["a"]
    assert res.coverage.complete


def test_write_results() -> None:
    up = cv.upsert_result_from_proto(
        pb.UpsertResponse(upserted=5, acknowledged=2, version=cv.version_to_proto(V1))
    )
    assert (up.upserted, up.acknowledged, up.version) == (5, 2, V1)
    gone = cv.delete_result_from_proto(pb.DeleteResponse(deleted=1, acknowledged=3))
    assert (gone.deleted, gone.acknowledged, gone.version) == (1, 3, None)


def test_cluster_status_round_trip_and_unknown_state() -> None:
    status = ClusterStatus(
        epoch=7,
        nodes=(
            NodeStatus(id="n1", address="10.0.0.1:7701", state="active", objects=10),
            NodeStatus(id="n2", address="10.0.0.2:7701", state="draining", objects=0),
            NodeStatus(id="n3", address="10.0.0.3:7701", state="down", objects=None),
            NodeStatus(id="n4", address="10.0.0.4:7701", state="joining", objects=0),
            NodeStatus(id="n5", address="10.0.0.5:7701", state="recovering", objects=3),
            NodeStatus(id="n6", address="10.0.0.6:7701", state="left", objects=None),
        ),
    )
    assert cv.cluster_status_from_proto(cv.cluster_status_to_proto(status)) == status
    odd = pb.ClusterStatusResponse(nodes=[pb.NodeStatus(id="n5")])
    assert cv.cluster_status_from_proto(odd).nodes[0].state == "unknown"


def test_a_node_that_could_not_be_asked_has_an_unknown_count() -> None:
    msg = pb.ClusterStatusResponse(
        nodes=[
            pb.NodeStatus(id="up", state=pb.NODE_STATE_ACTIVE, objects=0),
            pb.NodeStatus(id="gone", state=pb.NODE_STATE_DOWN),
        ]
    )
    empty, gone = cv.cluster_status_from_proto(msg).nodes
    assert empty.objects == 0, "an empty node holds 0 objects"
    assert gone.objects is None, "unset is unknown, not 0"
    back = cv.cluster_status_to_proto(cv.cluster_status_from_proto(msg))
    assert not back.nodes[1].HasField("objects") and back.nodes[0].HasField("objects")


def test_schema_round_trip_through_proto() -> None:
    schema = CollectionSchema.from_dict(
        {
            "name": "docs",
            "vectors": {
                "embedding": {"dim": 384, "metric": "cosine", "hnsw": {"m": 16, "ef": 64}},
                "title": {"dim": 8, "metric": "l2"},
            },
            "properties": {
                "module": "keyword",
                "length": "int",
                "tags": "keyword[]",
                "at": {"type": "datetime", "indexed": False},
            },
            "replication_factor": 2,
        }
    )
    assert cv.schema_from_proto(cv.schema_to_proto(schema)) == schema


# ---------------------------------------------------------------- documents


def test_encode_document_none_is_empty_and_maps_are_msgpack() -> None:
    assert cv.encode_document(None, "filter") == b""
    doc = {"length": {"$gte": np.int64(2)}, "module": {"$in": ("os", "sys")}}
    assert unpack(cv.encode_document(doc, "filter")) == {
        "length": {"$gte": 2},
        "module": {"$in": ["os", "sys"]},
    }


def test_encode_document_takes_naive_datetimes_as_utc() -> None:
    naive = dt.datetime(2024, 1, 2, 3, 4, 5)
    decoded = unpack(cv.encode_document({"at": {"$lt": naive}}, "filter"))
    assert decoded["at"]["$lt"] == naive.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize("bad", [[("a", 1)], "length", {1: "x"}, {"x": object()}])
def test_encode_document_rejects_what_is_not_a_document(bad: Any) -> None:
    with pytest.raises(InvalidArgument) as info:
        cv.encode_document(bad, "filter")
    assert info.value.field.startswith("filter")


# ---------------------------------------------------------------- consistency


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (None, pb.CONSISTENCY_UNSPECIFIED),
        ("one", pb.CONSISTENCY_ONE),
        ("quorum", pb.CONSISTENCY_QUORUM),
        ("all", pb.CONSISTENCY_ALL),
        ("QUORUM", pb.CONSISTENCY_QUORUM),
    ],
)
def test_consistency_maps_to_the_enum(text: str | None, value: int) -> None:
    assert cv.consistency_to_proto(text) == value


@pytest.mark.parametrize("bad", ["most", "", "two", 2, True])
def test_invalid_consistency_is_rejected_naming_the_parameter(bad: Any) -> None:
    with pytest.raises(InvalidArgument) as info:
        cv.consistency_to_proto(bad)
    assert info.value.field == "consistency"


# ---------------------------------------------------------------- client-side checks

# Channels connect lazily and these checks run first, so nothing is sent here.


@pytest.fixture
def offline() -> Iterator[Client]:
    client = Client("127.0.0.1:1", timeout_s=1, retries=0)
    yield client
    client.close()


def test_bad_consistency_fails_before_any_call(offline: Client) -> None:
    col = offline.collection("docs")
    calls: list[Callable[[], object]] = [
        lambda: col.get(["a"], consistency="most"),
        lambda: col.delete(["a"], consistency="most"),
        lambda: col.upsert([{"id": "a"}], consistency="most"),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument) as info:
            call()
        assert info.value.field == "consistency"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda col: col.search(np.ones((2, 4))), "vector"),
        (lambda col: col.search([]), "vector"),
        (lambda col: col.search(["a", "b"]), "vector"),
        (lambda col: col.search(np.ones(4), k=0), "k"),
        (lambda col: col.search(np.ones(4), ef=-1), "ef"),
        (lambda col: col.search(np.ones(4), filter=[1]), "filter"),
        (lambda col: col.search_batch(np.ones(4)), "vectors"),
        (lambda col: col.query(limit=0), "limit"),
        (lambda col: col.query(offset=-1), "offset"),
        (lambda col: col.upsert({"id": "a"}), "objects"),
        (lambda col: col.upsert([{"id": 1}]), "objects[0].id"),
        (lambda col: col.upsert([{"id": "a", "vecs": {}}]), "objects[0]"),
        (lambda col: col.upsert([{"id": "a", "vectors": {"v": [[1.0]]}}]), "objects[0].vectors.v"),
        (lambda col: col.upsert(ids=["a", "b"], vectors={"v": np.ones((3, 4))}), "vectors.v"),
        (
            lambda col: col.upsert(ids=["a"], vectors={"v": np.ones((1, 4))}, properties=[]),
            "properties",
        ),
        (lambda col: col.upsert([{"id": "a"}], ids=["a"]), "objects"),
        (lambda col: col.get([1]), "ids[0]"),
    ],
)
def test_malformed_input_is_rejected_naming_the_parameter(
    offline: Client, call: Callable[[Collection], object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        call(offline.collection("docs"))
    assert info.value.field == field


def test_empty_inputs_make_no_call(offline: Client) -> None:
    col = offline.collection("docs")
    assert col.upsert([]).upserted == 0
    assert col.get([]) == []
    assert col.delete([]).deleted == 0
    assert col.search_batch(np.zeros((0, 4), dtype=np.float32)) == []


@pytest.mark.parametrize(
    ("addresses", "parsed"),
    [
        ("h1:1", ["h1:1"]),
        ("h1:1, h2:2,", ["h1:1", "h2:2"]),
        (["h1:1", " h2:2 "], ["h1:1", "h2:2"]),
    ],
)
def test_addresses(addresses: str | list[str], parsed: list[str]) -> None:
    with Client(addresses) as client:
        assert client.addresses == parsed


@pytest.mark.parametrize("bad", ["", " , ", [], [7], 7700])
def test_bad_addresses(bad: Any) -> None:
    with pytest.raises(InvalidArgument) as info:
        Client(bad)
    assert info.value.field == "addresses"


def test_closed_client_refuses_calls() -> None:
    client = Client("127.0.0.1:1")
    client.close()
    with pytest.raises(RuntimeError):
        client.list_collections()


# ---------------------------------------------------------------- demo data

TEXTS = [
    "Return the sum of a list of numbers.",
    "Compute the sum of the numbers in a list and return it.",
    "Open a network socket connection to a remote host and port.",
    "Create a TCP socket and connect to the remote host.",
    "",
]


def test_embed_shape_dtype_and_normalized() -> None:
    vecs = demo_data.embed(TEXTS, dim=64)
    assert vecs.shape == (5, 64)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs[:4], axis=1), 1.0, rtol=1e-5)
    assert not vecs[4].any()  # nothing to embed: a zero row, not NaN


def test_embed_is_deterministic_and_independent_of_the_batch() -> None:
    together = demo_data.embed(TEXTS)
    alone = np.vstack([demo_data.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_array_equal(together, demo_data.embed(TEXTS))
    assert not np.allclose(together[:4], demo_data.embed(TEXTS, seed=8)[:4])


def test_embed_is_the_same_in_another_process() -> None:
    # hash() is salted per process; the vectorizer must not depend on it.
    code = (
        "import json, sys; from vektra.cli.demo_data import embed; "
        "print(json.dumps(embed(json.loads(sys.argv[1]), dim=16).tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    np.testing.assert_allclose(
        np.asarray(json.loads(out)), demo_data.embed(TEXTS, dim=16), atol=1e-6
    )


def test_embed_puts_similar_texts_closer_than_unrelated_ones() -> None:
    v = demo_data.embed(TEXTS[:4])
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 2] and sims[0, 1] > sims[0, 3]
    assert sims[2, 3] > sims[2, 0] and sims[2, 3] > sims[2, 1]


def test_stdlib_docstrings_items() -> None:
    items = demo_data.stdlib_docstrings(limit=200)
    assert len(items) == 200
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids)
    assert len({item["text"] for item in items}) == len(items)
    for item in items:
        assert set(item) == {"id", "package", "module", "length", "text"}
        assert item["package"] == "stdlib"
        assert item["id"].split(".")[0] == item["module"]
        assert 0 < item["length"] == len(item["text"]) <= demo_data.MAX_TEXT_CHARS
    assert not any(i.startswith(("this", "antigravity", "tkinter", "test.")) for i in ids)


def test_load_shared_dataset(tmp_path: Path) -> None:
    assert demo_data.load_shared_dataset(tmp_path) is None
    folder = tmp_path / "docstrings"
    folder.mkdir()
    records = [
        {"id": "m.f", "package": "stdlib", "module": "m", "length": 3, "text": "abc"},
        {"id": "m.g", "package": "stdlib", "module": "m", "length": 2, "text": "de"},
    ]
    (folder / "base.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    np.save(folder / "base.npy", np.eye(2, 384, dtype=np.float32))
    loaded = demo_data.load_shared_dataset(tmp_path)
    assert loaded is not None
    got_records, vectors = loaded
    assert got_records == records
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
