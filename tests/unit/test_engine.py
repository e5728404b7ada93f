"""The storage engine with real LMDB and hnswlib: writes, versions, reads,
search strategies, queries and limits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vektra.common import filters
from vektra.common.errors import AlreadyExists, InvalidArgument, NotFound, ResourceExhausted
from vektra.common.hlc import Version
from vektra.common.values import unpack
from vektra.node.records import Write

from .helpers import brute_force, make_schema, objects, open_engine, recall

RNG = np.random.default_rng(11)


def test_upsert_get_update_delete(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    schema = e.create_collection(make_schema())
    vecs = RNG.normal(size=(20, 8)).astype(np.float32)
    result, version = e.upsert("docs", objects(vecs))
    assert result.applied == 20 and version.writer == e.node_id
    got = e.get("docs", ["id3", "nope"])
    assert got[1] is None
    assert got[0] is not None and got[0].properties == {"group": "g3", "n": 3}
    np.testing.assert_array_equal(got[0].vector("v"), vecs[3])

    # An update replaces the whole object and gets a higher version.
    e.upsert("docs", objects(vecs[:1] * 2, start=3))
    rec = e.get("docs", ["id3"])[0]
    assert rec is not None and rec.version > version
    np.testing.assert_array_equal(rec.vector("v"), vecs[0] * 2)

    deleted, _ = e.delete("docs", ["id3", "id4", "never"])
    assert deleted == 2
    assert e.get("docs", ["id3", "id4"]) == [None, None]
    assert e.count_all("docs") == 18
    hits = e.search("docs", schema.vectors[0], vecs[3:4] * 2, 20, None, filters.All())[0].hits
    assert "id3" not in {h.record.id for h in hits} and len(hits) == 18


def test_last_writer_wins_by_hlc_and_tombstones(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    e.create_collection(make_schema())
    vec = {"v": np.ones(8, dtype=np.float32)}
    v1, v2, v3 = Version(100, 0, "a"), Version(100, 1, "a"), Version(100, 1, "b")
    assert e.apply("docs", [Write("x", v2, False, {"n": 2}, vec)]).applied == 1
    older = e.apply("docs", [Write("x", v1, False, {"n": 1}, vec)])
    assert (older.applied, older.stale) == (0, 1)
    assert e.get("docs", ["x"])[0].properties == {"n": 2}  # type: ignore[union-attr]
    # Same physical time and counter: the writer id breaks the tie, everywhere alike.
    e.apply("docs", [Write("x", v3, True)])
    assert e.get("docs", ["x"]) == [None]
    # The tombstone keeps its version: an older write cannot resurrect the object.
    assert e.apply("docs", [Write("x", v2, False, {"n": 9}, vec)]).stale == 1
    assert e.get("docs", ["x"]) == [None]
    assert e.count_all("docs") == 0
    # The node's clock moved past every version it saw.
    assert e.clock.now() > v3


def test_duplicate_collection_and_missing(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    created = e.create_collection(make_schema())
    with pytest.raises(AlreadyExists):
        e.create_collection(make_schema())
    assert e.ensure_collection(created) is False
    with pytest.raises(AlreadyExists):
        e.ensure_collection(replace(make_schema(dim=9), incarnation=created.incarnation))
    with pytest.raises(NotFound):
        e.get("other", ["a"])
    e.drop_collection("docs")
    with pytest.raises(NotFound):
        e.count_all("docs")
    # A re-created collection starts empty.
    e.create_collection(make_schema())
    assert e.count_all("docs") == 0


@pytest.mark.parametrize("metric", ["cosine", "l2", "ip"])
@pytest.mark.parametrize(
    ("flt", "strategy"),
    [
        (None, "hnsw"),
        ({"group": "g1"}, "exact"),  # 1/8 of 6000 = 750 <= exact_search_max
        ({"n": {"$lt": 2000}}, "hnsw_filtered"),  # 1/3: above exact_search_max, below the share
        ({"group": {"$nin": ["g1"]}}, "hnsw_post_filter"),
    ],
)
def test_search_strategies_return_the_true_nearest_matches(
    tmp_path: Path, metric: str, flt: dict | None, strategy: str
) -> None:
    e = open_engine(tmp_path, exact_search_max=1000, post_filter_min_share=0.5)
    schema = e.create_collection(make_schema(dim=16, metric=metric))
    base = RNG.normal(size=(6000, 16)).astype(np.float32)
    for start in range(0, 6000, 1000):
        e.upsert("docs", objects(base[start : start + 1000], start=start, groups=8))
    queries = RNG.normal(size=(20, 16)).astype(np.float32)
    parsed = filters.parse(flt, schema)
    results = e.search("docs", schema.vectors[0], queries, 10, 128, parsed)
    assert {r.strategy for r in results} == {strategy}
    rows = [i for i in range(6000) if filters.matches(parsed, {"group": f"g{i % 8}", "n": i})]
    truth = [np.asarray(rows)[brute_force(base[rows], q, 10, metric)].tolist() for q in queries]
    found = [[int(h.record.id[2:]) for h in r.hits] for r in results]
    assert all(len(f) == 10 for f in found)
    assert all(filters.matches(parsed, h.record.properties) for r in results for h in r.hits)
    assert recall(found, truth) >= 0.95
    # Distances are sorted and agree with the metric.
    for r in results:
        d = [h.distance for h in r.hits]
        assert d == sorted(d)


def test_search_returns_all_matches_when_fewer_than_k(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    schema = e.create_collection(make_schema())
    e.upsert("docs", objects(RNG.normal(size=(50, 8)).astype(np.float32)))
    res = e.search(
        "docs",
        schema.vectors[0],
        RNG.normal(size=(1, 8)).astype(np.float32),
        10,
        None,
        filters.parse({"n": {"$in": [1, 2, 3]}}, schema),
    )[0]
    assert sorted(h.record.id for h in res.hits) == ["id1", "id2", "id3"]
    none = e.search(
        "docs",
        schema.vectors[0],
        RNG.normal(size=(1, 8)).astype(np.float32),
        10,
        None,
        filters.parse({"n": -1}, schema),
    )[0]
    assert none.hits == []


def test_query_orders_limits_and_offsets(tmp_path: Path) -> None:
    e = open_engine(tmp_path)
    schema = e.create_collection(make_schema())
    e.upsert("docs", objects(RNG.normal(size=(30, 8)).astype(np.float32)))
    e.upsert("docs", [objects(RNG.normal(size=(1, 8)).astype(np.float32), start=99)[0]])
    flt = filters.parse({"group": {"$in": ["g1", "g2"]}}, schema)
    by_n = e.query("docs", flt, limit=5, offset=2, order_by="n", descending=True)
    assert [unpack(r.properties)["n"] for r in by_n] == [22, 21, 17, 16, 12]
    by_id = e.query("docs", filters.All(), limit=3)
    assert [r.id for r in by_id] == ["id0", "id1", "id10"]
    with pytest.raises(InvalidArgument) as err:
        e.query("docs", flt, limit=1, order_by="missing")
    assert err.value.field == "order_by"


def test_query_columns_hold_what_query_returns(tmp_path: Path) -> None:
    """A packed ShardQuery reads its page as columns (`Engine.query_columns`):
    the same objects, order, versions and stored properties as `query`,
    deleted ones left out, by property order and within token ranges too."""
    e = open_engine(tmp_path)
    schema = e.create_collection(make_schema())
    e.upsert("docs", objects(RNG.normal(size=(40, 8)).astype(np.float32)))
    e.delete("docs", ["id3", "id17"])
    flt = filters.parse({"group": {"$in": ["g0", "g2"]}}, schema)
    cases = [
        (filters.All(), 25, "", False, None),
        (flt, 10, "n", True, None),
        (flt, 40, "", False, [(0, 1 << 63), (3 << 62, None)]),
    ]
    for f, limit, order_by, descending, ranges in cases:
        stored = e.query("docs", f, limit, 0, order_by, descending, ranges)
        cols = e.query_columns("docs", f, limit, order_by, descending, ranges)
        assert cols.ids and cols.ids == [o.id for o in stored]
        assert [tuple(v) for v in cols.versions] == [o.version.as_tuple() for o in stored]
        assert cols.properties == [o.properties for o in stored]
        assert not any(cols.deleted) and {"id3", "id17"}.isdisjoint(cols.ids)


def test_map_full_is_resource_exhausted_and_writes_nothing(tmp_path: Path) -> None:
    e = open_engine(tmp_path, initial_map_bytes=1 << 20, max_map_bytes=4 << 20)
    e.create_collection(make_schema(dim=256))
    written = 0
    with pytest.raises(ResourceExhausted) as err:
        for batch in range(100):
            vecs = RNG.normal(size=(200, 256)).astype(np.float32)
            e.upsert("docs", objects(vecs, start=batch * 200))
            written += 200
    assert err.value.limit == "max_map_bytes"
    assert written > 0  # the map grew from 1 MiB before it filled
    assert e.store.map_bytes == 4 << 20
    # The failed batch left nothing behind: counts, reads and the index agree.
    assert e.count_all("docs") == written
    assert e.get("docs", [f"id{written}"]) == [None]
    e.close()
    again = open_engine(tmp_path, initial_map_bytes=1 << 20, max_map_bytes=4 << 20)
    assert again.count_all("docs") == written
    # Deleting frees room for more writes.
    again.delete("docs", [f"id{i}" for i in range(200)])


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 3 MiB tmpfs: a real full disk (ENOSPC), not a simulated one."""
    import subprocess

    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_is_resource_exhausted_and_writes_nothing(tiny_disk: Path) -> None:
    e = open_engine(tiny_disk / "node", initial_map_bytes=1 << 20, max_map_bytes=1 << 30)
    e.create_collection(make_schema(dim=256))
    written = 0
    with pytest.raises(ResourceExhausted) as err:
        for batch in range(100):
            e.upsert(
                "docs", objects(RNG.normal(size=(100, 256)).astype(np.float32), start=batch * 100)
            )
            written += 100
    assert err.value.limit == "disk", err.value
    assert written > 0
    # The batch that hit the full disk left nothing; what was acknowledged is intact.
    assert e.count_all("docs") == written
    assert e.get("docs", [f"id{written}"]) == [None]
    assert e.get("docs", [f"id{written - 1}"])[0] is not None
    e.store.close()


def test_count_in_ranges_matches_a_plain_check() -> None:
    from vektra.node.query import count_in_ranges

    rng = np.random.default_rng(5)
    tokens = rng.integers(0, 2**64 - 1, size=5000, dtype=np.uint64)
    cuts = sorted(rng.integers(1, 2**64 - 1, size=40, dtype=np.uint64).tolist())
    bounds = [0, *cuts, None]
    ranges = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds) - 1, 2)]
    expected = sum(
        1 for t in tokens.tolist() if any(a <= t and (b is None or t < b) for a, b in ranges)
    )
    assert count_in_ranges(tokens, ranges) == expected
    assert count_in_ranges(tokens, [(0, None)]) == len(tokens)
    assert count_in_ranges(tokens, []) == 0


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize(
    ("flt", "strategy", "config"),
    [
        (None, "hnsw", {"exact_search_max": 0}),
        (None, "exact", {}),
        ({"group": "g1"}, "exact", {}),
        ({"group": "g1"}, "hnsw_filtered", {"exact_search_max": 0, "post_filter_min_share": 1}),
        ({"group": {"$ne": "g1"}}, "hnsw_post_filter", {"exact_search_max": 0}),
    ],
)
def test_a_stored_vector_is_at_distance_zero_from_itself(
    tmp_path: Path, metric: str, flt: dict | None, strategy: str, config: dict
) -> None:
    # float32 rounding puts 1 - dot of a unit vector with itself a few ulps
    # either side of 0 (about a third of random vectors land below): the node
    # clamps, so no distance is ever negative and those come out exactly 0.
    # l2 of a vector with itself is exactly 0 whatever the rounding.
    e = open_engine(tmp_path, **config)
    schema = e.create_collection(make_schema(dim=32, metric=metric))
    base = np.random.default_rng(3).normal(size=(200, 32)).astype(np.float32)
    e.upsert("docs", objects(base))
    parsed = filters.parse(flt, schema)
    rows = [i for i in range(200) if filters.matches(parsed, {"group": f"g{i % 5}", "n": i})]
    results = e.search("docs", schema.vectors[0], base[rows], 5, 200, parsed)
    assert {r.strategy for r in results} == {strategy}
    own = [
        next(h.distance for h in r.hits if h.record.id == f"id{i}")
        for i, r in zip(rows, results, strict=True)
    ]
    assert all(h.distance >= 0.0 for r in results for h in r.hits)
    if metric == "l2":
        assert own == [0.0] * len(rows)
    else:
        assert max(own) < 1e-6  # rounding above 0 stays; it is not a valid distance below
        assert own.count(0.0) >= len(rows) // 5


def test_ip_distances_are_not_clamped(tmp_path: Path) -> None:
    # 1 - dot is legitimately negative for vectors longer than 1.
    e = open_engine(tmp_path)
    schema = e.create_collection(make_schema(dim=8, metric="ip"))
    vecs = np.full((3, 8), 2.0, dtype=np.float32) * np.arange(1, 4, dtype=np.float32)[:, None]
    e.upsert("docs", objects(vecs))
    hits = e.search("docs", schema.vectors[0], vecs[:1], 3, None, filters.All())[0].hits
    assert hits[0].record.id == "id2" and hits[0].distance == 1.0 - 8 * 2.0 * 6.0
