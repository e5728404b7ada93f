"""A storage node as a real process, through its public gRPC API: health,
the SDK's operations, bad input rejected before anything is written, and a
graceful restart that keeps everything."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.harness.process import ServerProcess
from vektra import Client
from vektra.common.errors import AlreadyExists, InvalidArgument, NotFound
from vektra.common.values import pack
from vektra.v1 import vektra_pb2 as pb
from vektra.v1 import vektra_pb2_grpc

DIM = 8
RNG = np.random.default_rng(2)


def _create(c: Client, name: str = "docs") -> None:
    c.create_collection(
        name,
        vectors={
            "embedding": {
                "dim": DIM,
                "metric": "cosine",
                "hnsw": {"m": 16, "ef_construction": 100, "ef": 64},
            }
        },
        properties={"module": "keyword", "length": "int", "tags": "keyword[]", "score": "float"},
    )


def test_health_service_reports_serving(node: ServerProcess) -> None:
    assert node.address is not None
    with grpc.insecure_channel(node.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "vektra.v1.Vektra", "vektra.v1.Node"):
            resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_sdk_round_trip(client: Client) -> None:
    _create(client)
    with pytest.raises(AlreadyExists):
        _create(client)
    assert [s["name"] for s in client.list_collections()] == ["docs"]
    col = client.collection("docs")
    vecs = RNG.normal(size=(100, DIM)).astype(np.float32)
    col.upsert(
        [
            {
                "id": f"d{i}",
                "vectors": {"embedding": vecs[i]},
                "properties": {
                    "module": ["os", "sys", "re"][i % 3],
                    "length": i,
                    "tags": [f"t{i % 4}"],
                },
            }
            for i in range(100)
        ]
    )
    assert col.count() == 100
    got = col.get(["d5", "missing"], include_vectors=True)
    assert [o.id for o in got] == ["d5"]
    np.testing.assert_array_equal(got[0].vectors["embedding"], vecs[5])
    assert got[0].properties == {"module": "re", "length": 5, "tags": ["t1"]}

    res = col.search(vecs[7], k=5, field="embedding")
    assert res[0].id == "d7" and len(res) == 5
    assert res.coverage.complete
    filtered = col.search(
        vecs[7], k=5, field="embedding", filter={"module": "os", "length": {"$gte": 50}}
    )
    assert len(filtered) == 5
    assert all(h.properties["module"] == "os" and h.properties["length"] >= 50 for h in filtered)

    batch = col.search_batch(vecs[:3], k=2, field="embedding")
    assert [r[0].id for r in batch] == ["d0", "d1", "d2"]

    q = col.query(filter={"module": {"$in": ["os", "sys"]}}, limit=4, offset=1, order_by="length")
    assert [o.properties["length"] for o in q] == [1, 3, 4, 6]
    assert col.count(filter={"tags": "t0"}) == 25

    col.delete(["d7"])
    assert col.get(["d7"]) == []
    assert col.search(vecs[7], k=1, field="embedding")[0].id != "d7"
    assert client.cluster_status().nodes[0].objects == 99
    client.drop_collection("docs")
    with pytest.raises(NotFound):
        client.collection("docs").count()


def _obj(object_id: str = "x", vec: bytes | None = None, **props: object) -> pb.Object:
    vector = np.ones(DIM, dtype="<f4").tobytes() if vec is None else vec
    return pb.Object(id=object_id, vectors={"embedding": vector}, properties=pack(props))


BAD_UPSERTS = {
    "wrong dimension": (
        [_obj(vec=np.ones(DIM + 1, dtype="<f4").tobytes())],
        "objects[0].vectors.embedding",
    ),
    "empty vector": ([_obj(vec=b"")], "objects[0].vectors.embedding"),
    "ragged bytes": ([_obj(vec=b"\x00" * 7)], "objects[0].vectors.embedding"),
    "NaN": (
        [_obj(vec=np.full(DIM, np.nan, dtype="<f4").tobytes())],
        "objects[0].vectors.embedding",
    ),
    "+Inf": (
        [_obj(vec=np.full(DIM, np.inf, dtype="<f4").tobytes())],
        "objects[0].vectors.embedding",
    ),
    "-Inf": (
        [_obj(vec=np.full(DIM, -np.inf, dtype="<f4").tobytes())],
        "objects[0].vectors.embedding",
    ),
    "zero vector (cosine)": (
        [_obj(vec=np.zeros(DIM, dtype="<f4").tobytes())],
        "objects[0].vectors.embedding",
    ),
    "unknown vector field": (
        [pb.Object(id="x", vectors={"other": np.ones(DIM, dtype="<f4").tobytes()})],
        "objects[0].vectors.other",
    ),
    "unknown property": ([_obj(colour="red")], "objects[0].properties.colour"),
    "wrong property type": ([_obj(length="long")], "objects[0].properties.length"),
    "bool for int": ([_obj(length=True)], "objects[0].properties.length"),
    "keyword[] item": ([_obj(tags=["a", 3])], "objects[0].properties.tags[1]"),
    "properties not msgpack": ([pb.Object(id="x", properties=b"\xc1")], "objects[0].properties"),
    "empty id": ([_obj(object_id="")], "objects[0].id"),
    "id too long": ([_obj(object_id="x" * 257)], "objects[0].id"),
    "duplicate ids": ([_obj("a"), _obj("b"), _obj("a")], "objects[2].id"),
    "too many objects": ([_obj(f"o{i}") for i in range(1001)], "objects"),
    "empty batch": ([], "objects"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPSERTS))
def test_bad_upserts_are_rejected_naming_the_field(
    client: Client, stub: vektra_pb2_grpc.VektraStub, case: str
) -> None:
    _create(client)
    col = client.collection("docs")
    col.upsert(
        [{"id": "keep", "vectors": {"embedding": np.ones(DIM)}, "properties": {"length": 1}}]
    )
    objects, field = BAD_UPSERTS[case]
    # The good objects in front of the bad one must not be written either.
    request = pb.UpsertRequest(collection="docs", objects=[_obj("good-first"), *objects])
    if case in ("duplicate ids",):
        field = "objects[3].id"
    elif field and field.startswith("objects[0]"):
        field = field.replace("objects[0]", "objects[1]", 1)
    elif case == "empty batch":
        request = pb.UpsertRequest(collection="docs")
    with pytest.raises(grpc.RpcError) as err:
        stub.Upsert(request, timeout=10)
    details = err.value.details() or ""
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, details
    assert details.startswith(f"{field}:"), details
    assert col.count() == 1
    assert col.get(["good-first", "x", "a"]) == []


def test_oversized_objects_and_batches_are_rejected(
    client: Client, stub: vektra_pb2_grpc.VektraStub
) -> None:
    dim = 60_000  # five such vectors make a 1.2 MB object, above the 1 MiB limit
    client.create_collection(
        "big", vectors={f"v{i}": {"dim": dim, "metric": "l2"} for i in range(5)}
    )
    vec = np.ones(dim, dtype="<f4").tobytes()
    huge = pb.Object(id="huge", vectors={f"v{i}": vec for i in range(5)})
    with pytest.raises(grpc.RpcError) as err:
        stub.Upsert(
            pb.UpsertRequest(
                collection="big", objects=[pb.Object(id="ok", vectors={"v0": vec}), huge]
            ),
            timeout=30,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("objects[1]: object is"), err.value.details()
    # Each object below the limit, the batch (36 MB) above its 32 MiB limit.
    fat = [pb.Object(id=f"f{i}", vectors={f"v{j}": vec for j in range(4)}) for i in range(40)]
    with pytest.raises(grpc.RpcError) as err:
        stub.Upsert(pb.UpsertRequest(collection="big", objects=fat), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("objects: batch is above the limit"), (
        err.value.details()
    )
    assert client.collection("big").count() == 0


@pytest.mark.parametrize(
    ("k", "ef", "field"),
    [(0, 0, "k"), (10_001, 0, "k"), (5, 20_000, "ef")],
)
def test_bad_searches_name_the_field(
    client: Client, stub: vektra_pb2_grpc.VektraStub, k: int, ef: int, field: str
) -> None:
    _create(client)
    with pytest.raises(grpc.RpcError) as err:
        stub.Search(
            pb.SearchRequest(
                collection="docs",
                field="embedding",
                vector=np.ones(DIM, dtype="<f4").tobytes(),
                k=k,
                ef=ef,
            ),
            timeout=10,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith(f"{field}:")


def test_sdk_raises_typed_errors(client: Client) -> None:
    _create(client)
    col = client.collection("docs")
    with pytest.raises(InvalidArgument) as err:
        col.search(np.ones(DIM), k=5, field="embedding", filter={"length": {"$gt": "x"}})
    assert err.value.field == "filter.length.$gt"
    with pytest.raises(InvalidArgument):
        col.upsert([{"id": "a", "vectors": {"embedding": np.ones(DIM + 1)}}])
    assert col.count() == 0


def test_graceful_restart_keeps_everything(node: ServerProcess, client: Client) -> None:
    _create(client)
    col = client.collection("docs")
    vecs = RNG.normal(size=(500, DIM)).astype(np.float32)
    col.upsert(
        [
            {"id": f"d{i}", "vectors": {"embedding": vecs[i]}, "properties": {"length": i}}
            for i in range(500)
        ]
    )
    assert node.stop() == 0
    address = node.restart()
    with Client(address) as again:
        c2 = again.collection("docs")
        assert c2.count() == 500
        assert c2.search(vecs[42], k=1, field="embedding")[0].id == "d42"
    assert "loaded" in node.log_path.read_text()
