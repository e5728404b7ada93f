"""A get or a query answered as columns (`PackedObjects`) reads back exactly
as the same call answered with a message per object, on a real engine
(LMDB), and a malformed answer is an Internal error, not a wrong object."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

from vektra.client import _convert as convert
from vektra.client.models import Object
from vektra.common import packed_hits
from vektra.common.errors import Internal
from vektra.common.hlc import Version
from vektra.common.values import pack
from vektra.node.public_api import PublicApi
from vektra.v1 import node_pb2 as npb
from vektra.v1 import vektra_pb2 as pb

from .helpers import make_schema, objects, open_engine

RNG = np.random.default_rng(3)


def test_packed_and_plain_gets_read_back_alike(tmp_path: Path) -> None:
    e = open_engine(tmp_path / "n")
    e.create_collection(make_schema())
    e.upsert("docs", objects(RNG.normal(size=(20, 8)).astype(np.float32)))
    e.upsert("docs", objects(RNG.normal(size=(3, 8)).astype(np.float32), start=4))  # newer
    e.delete("docs", ["id7"])
    api = PublicApi(e)
    ids = ["id5", "nope", "id7", "id0", "id5", "id19"]
    plain = api.Get(pb.GetRequest(collection="docs", ids=ids))
    packed = api.Get(pb.GetRequest(collection="docs", ids=ids, packed=True))
    assert packed.HasField("packed") and not packed.objects
    assert not plain.HasField("packed") and len(plain.objects) == 4
    assert list(packed.missing) == list(plain.missing) == ["nope", "id7"]
    got, want = convert.objects_from_get(packed), convert.objects_from_get(plain)
    assert got == want
    assert [o.id for o in got] == ["id5", "id0", "id5", "id19"]
    assert got[0].properties == {"group": "g0", "n": 5}
    assert got[0].version is not None and got[0].version > got[1].version  # id5 rewritten
    # Vectors asked for: one message per object, whatever `packed` says.
    with_vectors = api.Get(
        pb.GetRequest(collection="docs", ids=["id1"], packed=True, include_vectors=True)
    )
    assert not with_vectors.HasField("packed")
    (obj,) = convert.objects_from_get(with_vectors)
    assert obj.vectors["v"].shape == (8,)
    e.close()


def test_an_in_process_get_reads_back_as_the_packed_reply(tmp_path: Path) -> None:
    """The embedded client's get (objects decoded by the engine, no packing)
    gives what the packed reply gives: the same objects, versions and
    missing ids in request order, tombstones and repeats included."""
    e = open_engine(tmp_path / "n")
    e.create_collection(make_schema())
    e.upsert("docs", objects(RNG.normal(size=(20, 8)).astype(np.float32)))
    e.upsert("docs", objects(RNG.normal(size=(3, 8)).astype(np.float32), start=4))
    e.delete("docs", ["id7", "id2"])
    api = PublicApi(e)
    ids = ["id7", "id5", "nope", "id2", "id0", "id5", "id7", "id19"]
    packed = api.Get(pb.GetRequest(collection="docs", ids=ids, packed=True))
    decoded = api.get_in_process(pb.GetRequest(collection="docs", ids=ids, packed=True))
    assert isinstance(decoded, packed_hits.DecodedObjects)
    assert decoded.missing == list(packed.missing) == ["id7", "nope", "id2", "id7"]
    got = convert.objects_from_get(decoded)
    assert got == convert.objects_from_get(packed)
    assert [o.id for o in got] == ["id5", "id0", "id5", "id19"]
    # Asked for vectors (or unpacked), it is the plain Get.
    plain = api.get_in_process(pb.GetRequest(collection="docs", ids=["id1"], include_vectors=True))
    assert isinstance(plain, pb.GetResponse) and len(plain.objects) == 1
    e.close()


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"filter": b"\x81\xa5group\xa2g1", "limit": 3, "offset": 1},  # {"group": "g1"}
        {"order_by": "n", "descending": True, "limit": 7},
    ],
    ids=["all", "filter-page", "by-property"],
)
def test_packed_and_plain_queries_read_back_alike(tmp_path: Path, query: dict) -> None:
    e = open_engine(tmp_path / "n")
    e.create_collection(make_schema())
    e.upsert("docs", objects(RNG.normal(size=(25, 8)).astype(np.float32)))
    e.delete("docs", ["id6"])
    api = PublicApi(e)
    plain = api.Query(pb.QueryRequest(collection="docs", **query))
    packed = api.Query(pb.QueryRequest(collection="docs", packed=True, **query))
    assert packed.HasField("packed") and not packed.objects
    got = convert.query_result_from_proto(packed)
    want = convert.query_result_from_proto(plain)
    assert got == want and len(got.objects) > 1
    assert "id6" not in [o.id for o in got.objects]
    # The embedded client's query (objects decoded by the engine) reads the same.
    decoded = api.query_in_process(pb.QueryRequest(collection="docs", packed=True, **query))
    assert isinstance(decoded, packed_hits.DecodedObjects)
    in_process = convert.query_result_from_proto(decoded)
    assert in_process == got and in_process.coverage == got.coverage
    with_vectors = pb.QueryRequest(collection="docs", include_vectors=True, **query)
    assert isinstance(api.query_in_process(with_vectors), pb.QueryResponse)
    e.close()


def test_an_empty_packed_get() -> None:
    api_reply = pb.GetResponse(packed=pb.PackedObjects(), missing=["a"])
    assert convert.objects_from_get(api_reply) == []


@pytest.mark.parametrize(
    "packed",
    [
        pb.PackedObjects(ids=["a", "b"], versions=b"\0" * 16, writers=["w"], properties=[b"", b""]),
        pb.PackedObjects(ids=["a"], versions=b"\0" * 16, writers=["w"], properties=[]),
        pb.PackedObjects(
            ids=["a"], versions=b"\0" * 12 + b"\x05\0\0\0", writers=["w"], properties=[b""]
        ),
    ],
    ids=["versions", "properties", "writer"],
)
def test_malformed_packed_objects_are_internal_errors(packed: pb.PackedObjects) -> None:
    with pytest.raises(Internal, match="malformed packed objects"):
        convert.objects_from_get(pb.GetResponse(packed=packed))


def test_packed_properties_decode_alike_in_one_pass_or_each_alone() -> None:
    """A reply's property maps decode in one msgpack pass; an empty entry (a
    server that sends none) or a non-map falls back to each on its own, and
    reads as `{}` as it does in a message per object."""
    versions = np.array([(5, 1, 0), (5, 1, 0), (6, 0, 1)], dtype=packed_hits.VERSION_DTYPE)
    props = [pack({"n": 1, "tags": ["a"]}), pack({}), pack({"t": "x" * 300})]

    def decoded(properties: list[bytes]) -> list[Object]:
        msg = pb.PackedObjects(
            ids=["a", "b", "c"], versions=versions.tobytes(), writers=["w0", "w1"]
        )
        msg.properties.extend(properties)
        return convert.objects_from_get(pb.GetResponse(packed=msg))

    one_pass = decoded(props)
    assert [o.properties for o in one_pass] == [{"n": 1, "tags": ["a"]}, {}, {"t": "x" * 300}]
    assert one_pass[0] == Object("a", {"n": 1, "tags": ["a"]}, {}, Version(5, 1, "w0"))
    assert one_pass[2].version == Version(6, 0, "w1")
    # Objects of one write share their (immutable) version.
    assert one_pass[0].version is one_pass[1].version
    each_alone = decoded([props[0], b"", pack([1, 2])])
    assert [o.properties for o in each_alone] == [{"n": 1, "tags": ["a"]}, {}, {}]
    with pytest.raises(FrozenInstanceError):
        one_pass[0].id = "z"  # type: ignore[misc]


def test_one_nodes_records_go_on_as_objects_only_when_they_are_the_get() -> None:
    """A router sends a lone node's packed records on as the get's packed
    objects only when they are exactly the ids asked, in order, all live;
    anything else is read record by record (None here)."""
    records = packed_hits.records_to_pb(
        ["a", "b"], [(5, 0, "w1"), (7, 1, "w2")], [False, False], [b"\x80", b"\x81\xa1n\x01"]
    )
    sent = packed_hits.records_as_objects(records, ["a", "b"], "node n")
    assert sent is not None
    got = packed_hits.objects_from_pb(sent)
    assert got.ids == ["a", "b"] and got.properties == [b"\x80", b"\x81\xa1n\x01"]
    assert [(p, lg, got.writers[w]) for p, lg, w in got.versions.tolist()] == [
        (5, 0, "w1"),
        (7, 1, "w2"),
    ]
    assert packed_hits.records_as_objects(records, ["b", "a"], "node n") is None
    assert packed_hits.records_as_objects(records, ["a"], "node n") is None
    tombstone = packed_hits.records_to_pb(
        ["a", "b"], [(5, 0, "w1"), (7, 1, "w2")], [False, True], [b"\x80", b""]
    )
    assert packed_hits.records_as_objects(tombstone, ["a", "b"], "node n") is None
    broken = npb.PackedRecords()
    broken.CopyFrom(records)
    del broken.writers[:]
    with pytest.raises(Internal, match="node n sent malformed packed records"):
        packed_hits.records_as_objects(broken, ["a", "b"], "node n")
