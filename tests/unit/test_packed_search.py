"""Packed search (`Engine.search_packed`, the hit table) answers exactly what
the record-reading search answers, on every plan, across updates, deletes,
replica positions and restarts (real LMDB, real hnswlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vektra.client import _convert as convert
from vektra.client.models import Hit, PackedHits, SearchResult
from vektra.common import filters
from vektra.common.errors import Internal
from vektra.common.packed_hits import PackedSearch, sent_as_merged, to_pb
from vektra.common.values import encode_vector, pack, unpack
from vektra.node.engine import Engine
from vektra.node.public_api import PublicApi
from vektra.v1 import vektra_pb2 as pb

from .helpers import make_schema, objects, open_engine

N = 600
DIM = 8
RNG = np.random.default_rng(7)
BASE = RNG.normal(size=(N, DIM)).astype(np.float32)
QUERIES = RNG.normal(size=(12, DIM)).astype(np.float32)

# One filter per plan: none (HNSW), a few matches (exact), a share in between
# (HNSW with an allow-list) and most (post-filtering), with the config below.
PLANS = {
    "all": filters.All(),
    "exact": filters.parse({"n": {"$lt": 40}}, make_schema()),
    "filtered": filters.parse({"group": "g1"}, make_schema()),
    "post": filters.parse({"n": {"$gte": 100}}, make_schema()),
}


def _engine(path: Path) -> Engine:
    e = open_engine(path, exact_search_max=64, post_filter_min_share=0.5)
    if not e.list_collections():
        e.create_collection(make_schema())
        e.upsert("docs", objects(BASE))
    return e


def _rows(found: PackedSearch) -> list[list[tuple[str, float, tuple[int, int, str], dict]]]:
    """Each row's hits as (id, distance, version, properties), from the columns."""
    packed = found.columns
    out, start = [], 0
    for length in packed.row_lengths.tolist():
        row = []
        for i in range(start, start + length):
            p, lg, w = packed.versions[i].tolist()
            props = {} if packed.properties is None else unpack(packed.properties[i])
            row.append(
                (packed.ids[i], float(packed.distances[i]), (p, lg, packed.writers[w]), props)
            )
        out.append(row)
        start += length
    return out


def _expected(engine: Engine, flt: filters.Filter, with_props: bool) -> list[list[tuple]]:
    spec = engine.schema("docs").vectors[0]
    return [
        [
            (
                h.record.id,
                h.distance,
                h.record.version.as_tuple(),
                h.record.properties if with_props else {},
            )
            for h in r.hits
        ]
        for r in engine.search("docs", spec, QUERIES, 10, 32, flt)
    ]


def _packed(engine: Engine, flt: filters.Filter, with_props: bool) -> PackedSearch:
    spec = engine.schema("docs").vectors[0]
    return engine.search_packed("docs", spec, QUERIES, 10, 32, flt, properties=with_props)


@pytest.mark.parametrize("plan", sorted(PLANS))
@pytest.mark.parametrize("with_props", [False, True])
def test_packed_answers_what_records_answer(tmp_path: Path, plan: str, with_props: bool) -> None:
    e = _engine(tmp_path / "n")
    # Updates (new versions and properties), deletes and fresh objects first.
    e.upsert("docs", objects(BASE[:50] * 1.01, start=0))
    e.delete("docs", [f"id{i}" for i in range(50, 80)])
    e.upsert("docs", objects(RNG.normal(size=(20, DIM)).astype(np.float32), start=N))
    packed = _packed(e, PLANS[plan], with_props)
    assert (
        packed.strategy
        == e.search("docs", e.schema("docs").vectors[0], QUERIES, 10, 32, PLANS[plan])[0].strategy
    )
    assert _rows(packed) == _expected(e, PLANS[plan], with_props)
    assert not {f"id{i}" for i in range(50, 80)} & set(packed.columns.ids)
    e.close()


def test_the_hit_table_comes_back_after_a_restart_and_a_crash(tmp_path: Path) -> None:
    e = _engine(tmp_path / "n")
    e.upsert("docs", objects(BASE[:30], start=0))  # new versions
    e.close()
    again = _engine(tmp_path / "n")
    assert _rows(_packed(again, PLANS["all"], False)) == _expected(again, PLANS["all"], False)
    again.delete("docs", ["id3"])
    again.upsert("docs", objects(BASE[5:9], start=5))
    again.store.close()  # a crash: no closing checkpoint
    third = _engine(tmp_path / "n")
    assert _rows(_packed(third, PLANS["post"], True)) == _expected(third, PLANS["post"], True)
    third.close()


def test_packed_hits_read_back_by_the_client(tmp_path: Path) -> None:
    e = _engine(tmp_path / "n")
    packed = _packed(e, PLANS["filtered"], True)
    msg = pb.SearchBatchResponse(packed=to_pb(packed.columns), plan=pb.SearchPlan(strategy="x"))
    results = convert.search_batch_from_proto(msg, len(QUERIES))
    expected = _expected(e, PLANS["filtered"], True)
    assert len(results) == len(QUERIES)
    for got, want in zip(results, expected, strict=True):
        assert isinstance(got.hits, PackedHits)
        assert got.ids == [w[0] for w in want]
        assert np.allclose(got.distances, [w[1] for w in want])
        assert [(h.version.as_tuple(), h.properties) for h in got] == [(w[2], w[3]) for w in want]
        # A packed row equals the same hits built one by one.
        assert got == SearchResult(hits=tuple(got.hits), coverage=got.coverage, plan=got.plan)
        assert got[1:3] == tuple(got)[1:3]
    e.close()


@pytest.mark.parametrize("plan", ["all", "exact"])
@pytest.mark.parametrize("with_props", [False, True])
def test_an_in_process_search_reads_back_as_the_packed_reply(
    tmp_path: Path, plan: str, with_props: bool
) -> None:
    """The embedded client's search (the engine's columns handed over, no
    message) gives what the packed reply gives: hits, versions, properties,
    plan and coverage, for one query and for a batch."""
    e = _engine(tmp_path / "n")
    e.delete("docs", ["id3", "id11"])
    api = PublicApi(e)
    flt = b"" if plan == "all" else pack({"n": {"$lt": 40}})
    fields = dict(
        collection="docs", k=10, ef=32, filter=flt, include_properties=with_props, packed_hits=True
    )
    one = pb.SearchRequest(vector=encode_vector(QUERIES[0]), **fields)
    direct = api.search_in_process(one)
    assert isinstance(direct, PackedSearch)
    got = convert.search_result_from_proto(direct)
    want = convert.search_result_from_proto(api.Search(one))
    assert got == want and got.coverage == want.coverage and got.plan == want.plan
    assert got.plan is not None and got.plan.strategy == plan.replace("all", "hnsw")
    batch = pb.SearchBatchRequest(vectors=encode_vector(QUERIES), rows=len(QUERIES), **fields)
    direct_rows = api.search_batch_in_process(batch)
    assert isinstance(direct_rows, PackedSearch)
    got_rows = convert.search_batch_from_proto(direct_rows, len(QUERIES))
    want_rows = convert.search_batch_from_proto(api.SearchBatch(batch), len(QUERIES))
    assert got_rows == want_rows
    assert [(r.coverage, r.plan) for r in got_rows] == [(r.coverage, r.plan) for r in want_rows]
    assert not {"id3", "id11"} & {i for r in got_rows for i in r.ids}
    # Vectors asked for: the message with a hit per object, as over gRPC.
    with_vectors = pb.SearchRequest(
        vector=encode_vector(QUERIES[0]), **{**fields, "include_vectors": True}
    )
    assert isinstance(api.search_in_process(with_vectors), pb.SearchResponse)
    e.close()


def test_malformed_packed_hits_are_internal_errors() -> None:
    bad = pb.SearchResponse(packed=pb.PackedHits(ids=["a", "b"], distances=b"\0" * 4))
    with pytest.raises(Internal, match="malformed"):
        convert.search_result_from_proto(bad)


def test_a_packed_hit_equals_its_plain_twin() -> None:
    versions = np.zeros(1, dtype=[("physical", "<i8"), ("logical", "<u4"), ("writer", "<u4")])
    versions[0] = (5, 1, 0)
    hits = PackedHits(["a"], np.array([0.5], np.float32), versions, ("w",), None, dict)
    (hit,) = hits
    assert hit == Hit("a", 0.5, {}, {}, convert.Version(5, 1, "w"))
    assert hits[0] is hit  # built once


@pytest.mark.parametrize("copies_of", [30, 250])  # 300 objects scanned, 2,500 walked
def test_hits_at_one_distance_come_by_id_as_a_router_merges_them(
    tmp_path: Path, copies_of: int
) -> None:
    """Duplicate vectors (duplicate texts) tie; for a router (ShardSearch
    asks `ties_by_id`) a node orders those hits by id, as the router's
    merge does, so a node alone's answer goes on as it came
    (`sent_as_merged`) instead of being reordered there."""
    e = open_engine(tmp_path / "n")
    e.create_collection(make_schema())
    distinct = RNG.normal(size=(copies_of, DIM)).astype(np.float32)
    e.upsert("docs", objects(np.repeat(distinct, 10, axis=0)))  # ten objects per vector
    spec = e.schema("docs").vectors[0]
    found = e.search_packed(
        "docs", spec, distinct[:8] + 0.01, 10, 64, filters.All(), ties_by_id=True
    )
    cols = found.columns
    tied = 0
    for at in cols.row_slices():
        ids, dists = cols.ids[at], cols.distances[at].tolist()
        for i in range(1, len(ids)):
            if dists[i] == dists[i - 1]:
                tied += 1
                assert ids[i - 1] < ids[i]
    assert tied >= 8 * 5  # most of each row is one vector's ten copies
    assert sent_as_merged(to_pb(cols), len(cols.row_lengths), 10, "node n")
    e.close()
