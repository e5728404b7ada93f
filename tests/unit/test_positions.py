"""One HNSW index per replica position, on real engines (LMDB + hnswlib):
three engines of one 3-member ring with rf 2, each written the keys it is a
replica of, search each object once, as well as one index over all the data;
searches by token range; checkpoints, replay and ring changes per position."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vektra.common import filters
from vektra.common.hlc import HybridClock
from vektra.common.membership import Member, MemberState
from vektra.common.ring import TOKEN_END, Ring, token
from vektra.common.schema import CollectionSchema
from vektra.common.validation import ObjectIn
from vektra.common.values import unpack
from vektra.node.cluster_view import ClusterView
from vektra.node.doc_table import ABSENT, DocTable
from vektra.node.engine import Engine
from vektra.node.placement import NO_POSITION, Placement
from vektra.node.records import Write
from vektra.node.search import SearchPart, SearchResult
from vektra.node.token_ranges import Span, in_ranges

from .helpers import open_engine, recall

NODES = ("node-a", "node-b", "node-c")
RF, DIM, N, K = 2, 64, 3000, 10


def _view(node_id: str, members: tuple[str, ...] = NODES, **states: MemberState) -> ClusterView:
    return ClusterView(
        node_id,
        cluster_id="c1",
        epoch=1,
        members=tuple(
            Member(m, f"{m}:1", states.get(m.replace("-", "_"), MemberState.ACTIVE))
            for m in members
        ),
    )


def _schema(rf: int = RF) -> CollectionSchema:
    return CollectionSchema.from_dict(
        {
            "name": "docs",
            "vectors": {"v": {"dim": DIM, "metric": "cosine", "hnsw": {"ef": 16}}},
            "properties": {"group": "keyword", "n": "int"},
            "replication_factor": rf,
        }
    ).validated()


def _data(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Clustered vectors (harder for HNSW than uniform noise) and queries."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(40, DIM))
    base = centers[rng.integers(40, size=N)] + 0.35 * rng.normal(size=(N, DIM))
    queries = centers[rng.integers(40, size=100)] + 0.35 * rng.normal(size=(100, DIM))
    return base.astype(np.float32), queries.astype(np.float32)


BASE, QUERIES = _data()
IDS = [f"o{i}" for i in range(N)]
TOKENS = np.asarray([token("docs", i) for i in IDS], dtype=np.uint64)
RING = _view(NODES[0]).ring


def _objects(rows: np.ndarray) -> list[ObjectIn]:
    return [
        ObjectIn(IDS[i], {"group": f"g{i % 4}", "n": int(i)}, {"v": BASE[i]}) for i in rows.tolist()
    ]


_CLOCK = HybridClock("router-test")


def _upsert(e: Engine, objects: list[ObjectIn]) -> None:
    """Write as a router does to a node of a cluster: versioned replica writes."""
    version = _CLOCK.now()
    e.apply("docs", [Write(o.id, version, False, o.properties, o.vectors) for o in objects])


def _delete(e: Engine, ids: list[str]) -> None:
    version = _CLOCK.now()
    e.apply("docs", [Write(i, version, True) for i in ids])


def _replica_rows(node_id: str, ring: Ring = RING) -> np.ndarray:
    return np.asarray(
        [i for i in range(N) if node_id in ring.replicas(int(TOKENS[i]), RF)], dtype=np.int64
    )


def _node(tmp: Path, node_id: str, view: ClusterView | None = None, **config: object) -> Engine:
    """An engine of the 3-node ring holding the keys it is a replica of."""
    e = open_engine(tmp / node_id, node_id=node_id, exact_search_max=64, **config)
    # Created while alone (a node of a cluster takes collections from the
    # coordinator only), empty, then given its ring: nothing to move yet.
    e.create_collection(_schema())
    assert e.set_cluster(view or _view(node_id)) == []
    rows = _replica_rows(node_id)
    for start in range(0, len(rows), 500):
        _upsert(e, _objects(rows[start : start + 500]))
    return e


def _ids_at(e: Engine, position: int) -> set[str]:
    """Ids in the index of one position (reads the engine's internals)."""
    coll = e._colls.get("docs")
    index = coll.indexes["v"].get(position)
    if index is None:
        return set()
    labels = sorted(index.live_labels())
    return {r.id for r in e.store.records.by_docnos(coll.meta, labels) if r is not None}


def _truth(rows: np.ndarray, queries: np.ndarray, k: int = K) -> list[list[int]]:
    b = BASE[rows] / np.linalg.norm(BASE[rows], axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    d = 1 - q @ b.T
    return [rows[np.argsort(row, kind="stable")[:k]].tolist() for row in d]


def _found(results: list[SearchResult]) -> list[list[int]]:
    return [[int(h.record.id[1:]) for h in r.hits] for r in results]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    tmp = tmp_path_factory.mktemp("ring")
    engines = {n: _node(tmp, n) for n in NODES}
    yield engines
    for e in engines.values():
        e.close()


def test_placement_agrees_with_the_ring_key_by_key() -> None:
    for node_id in NODES:
        placement = Placement.of(_view(node_id), RF)
        got = placement.positions(TOKENS)
        want = [RING.position(int(t), node_id, RF) for t in TOKENS]
        assert got.tolist() == [NO_POSITION if p is None else p for p in want]
    alone = Placement.of(ClusterView("solo"), RF)
    assert set(alone.positions(TOKENS).tolist()) == {0}


def test_in_ranges_merges_overlaps_and_open_ends() -> None:
    tokens = np.asarray([0, 5, 15, 50, 99, 100, TOKEN_END - 1], dtype=np.uint64)
    ranges: list[Span] = [(0, 100), (10, 20), (99, None)]
    assert in_ranges(tokens, ranges).tolist() == [True] * 7
    assert in_ranges(tokens, [(10, 20)]).tolist() == [
        False,
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert in_ranges(tokens, [(100, None)]).tolist() == [False] * 5 + [True, True]
    assert in_ranges(tokens, [(5, 5)]).tolist() == [False] * 7
    assert not in_ranges(tokens, []).any()


def test_doc_table_knows_only_what_it_was_given() -> None:
    table = DocTable()
    table.set(
        np.asarray([3, 5], dtype=np.uint64),
        np.asarray([30, 50], dtype=np.uint64),
        np.asarray([0, NO_POSITION], dtype=np.int8),
    )
    asked = np.asarray([3, 4, 5, 10_000], dtype=np.uint64)  # 10 000: beyond the arrays
    assert table.positions_of(asked).tolist() == [0, ABSENT, NO_POSITION, ABSENT]
    assert table.known(asked).tolist() == [True, False, True, False]
    assert table.tokens_of(asked).tolist() == [30, 0, 50, 0]
    table.clear(np.asarray([3], dtype=np.uint64))
    assert table.known(asked).tolist() == [False, False, True, False]
    assert table.docnos_at(0).tolist() == []


def test_each_object_is_indexed_at_one_position_of_each_replica(
    cluster: dict[str, Engine],
) -> None:
    held: dict[tuple[str, int], set[str]] = {}
    for node_id, e in cluster.items():
        p0, p1 = _ids_at(e, 0), _ids_at(e, 1)
        assert not p0 & p1, "a key indexed at two positions of one node"
        assert p0 | p1 == {IDS[i] for i in _replica_rows(node_id)}
        assert e._colls.get("docs").indexes["v"].positions() == [0, 1]
        held[(node_id, 0)], held[(node_id, 1)] = p0, p1
    for i, object_id in enumerate(IDS):
        replicas = RING.replicas(int(TOKENS[i]), RF)
        where = sorted((n, p) for (n, p), ids in held.items() if object_id in ids)
        assert where == sorted((n, replicas.index(n)) for n in replicas)


def test_position_zero_of_every_node_searches_every_object_once(
    cluster: dict[str, Engine], tmp_path: Path
) -> None:
    # Every object is at position 0 of exactly one node.
    leaders = [_ids_at(e, 0) for e in cluster.values()]
    assert sum(len(ids) for ids in leaders) == N and set().union(*leaders) == set(IDS)

    spec = _schema().vectors[0]
    ef = 10  # low enough that one index misses some of the true top 10
    before = {n: e.searched_objects for n, e in cluster.items()}
    per_node = [
        e.search("docs", spec, QUERIES, K, ef, filters.All(), [SearchPart(0)])
        for e in cluster.values()
    ]
    assert {r.strategy for rs in per_node for r in rs} == {"hnsw"}
    searched = sum(rs[0].searched for rs in per_node)
    assert searched == N
    assert sum(e.searched_objects - before[n] for n, e in cluster.items()) == N

    merged: list[list[int]] = []
    for row in range(len(QUERIES)):
        hits = sorted((h.distance, int(h.record.id[1:])) for rs in per_node for h in rs[row].hits)
        ids = [i for _, i in hits]
        assert len(ids) == len(set(ids)), "an object answered twice"
        merged.append(ids[:K])

    single = open_engine(tmp_path / "single", exact_search_max=64)
    single.create_collection(_schema(rf=1))
    for start in range(0, N, 500):
        single.upsert("docs", _objects(np.arange(start, min(start + 500, N))))
    whole = single.search("docs", spec, QUERIES, K, ef, filters.All())
    assert {r.strategy for r in whole} == {"hnsw"} and whole[0].searched == N

    truth = _truth(np.arange(N), QUERIES)
    sharded, alone = recall(merged, truth), recall(_found(whole), truth)
    print(f"recall@{K} ef={ef}: three position-0 indexes {sharded:.4f}, one index {alone:.4f}")
    assert alone < 1.0, "ef too high for the comparison to mean anything"
    assert sharded >= alone - 0.005


def _led_by(leader: str, node_id: str, position: int) -> list[Span]:
    """The ring ranges `leader` leads where `node_id` is at `position`."""
    return [
        (r.start, None if r.end >= TOKEN_END else r.end)
        for r in RING.ranges
        if r.replicas(RF)[0] == leader
        and node_id in r.replicas(RF)
        and r.replicas(RF).index(node_id) == position
    ]


def test_search_by_ranges_keeps_only_hits_in_them_and_still_fills_k(
    cluster: dict[str, Engine],
) -> None:
    # node-b covers for node-a: its position-1 index over the ranges node-a leads.
    e = cluster["node-b"]
    spec = _schema().vectors[0]
    ranges = _led_by("node-a", "node-b", 1)
    inside = np.flatnonzero(in_ranges(TOKENS, ranges))
    at_b1 = {int(i[1:]) for i in _ids_at(e, 1)}
    assert 0 < len(inside) < len(at_b1), "the ranges are part of the index"
    assert set(inside.tolist()) <= at_b1

    results = e.search("docs", spec, QUERIES, K, 64, filters.All(), [SearchPart(1, tuple(ranges))])
    found = _found(results)
    assert all(len(f) == K for f in found)
    assert set().union(*map(set, found)) <= set(inside.tolist())
    assert {r.strategy for r in results} == {"hnsw_post_filter"}
    assert results[0].candidates == len(inside)
    assert results[0].searched == len(at_b1)  # the whole index was used
    assert recall(found, _truth(inside, QUERIES)) >= 0.95

    # With a property filter: the candidates are the matches in the ranges.
    schema = _schema()
    flt = filters.parse({"group": "g1"}, schema)
    both = inside[inside % 4 == 1]
    res = e.search("docs", spec, QUERIES[:20], K, 64, flt, [SearchPart(1, tuple(ranges))])
    assert res[0].candidates == len(both)
    assert {r.strategy for r in res} == {"hnsw_filtered"}
    found = _found(res)
    assert all(len(f) == K for f in found)
    assert set().union(*map(set, found)) <= set(both.tolist())
    assert recall(found, _truth(both, QUERIES[:20])) >= 0.95


def test_search_by_a_narrow_range_returns_all_it_holds(cluster: dict[str, Engine]) -> None:
    e = cluster["node-a"]
    spec = _schema().vectors[0]
    at_a0 = np.asarray(sorted(int(i[1:]) for i in _ids_at(e, 0)))
    lo = int(np.sort(TOKENS[at_a0])[10])
    hi = int(np.sort(TOKENS[at_a0])[15])
    part = SearchPart(0, ((lo, hi),))
    res = e.search("docs", spec, QUERIES[:3], K, None, filters.All(), [part])
    inside = at_a0[in_ranges(TOKENS[at_a0], [(lo, hi)])]
    assert len(inside) == 5
    assert res[0].strategy == "exact"
    assert _found(res) == _truth(inside, QUERIES[:3], k=5)


def test_several_parts_merge_into_one_top_k(cluster: dict[str, Engine]) -> None:
    e = cluster["node-c"]
    spec = _schema().vectors[0]
    both = e.search(
        "docs", spec, QUERIES[:20], K, 200, filters.All(), [SearchPart(0), SearchPart(1)]
    )
    assert both == e.search("docs", spec, QUERIES[:20], K, 200, filters.All())  # None: all parts
    assert both[0].searched == len(_replica_rows("node-c"))
    held = _replica_rows("node-c")
    assert recall(_found(both), _truth(held, QUERIES[:20])) >= 0.97
    assert all(len(set(f)) == K for f in _found(both))


def test_query_by_ranges(cluster: dict[str, Engine]) -> None:
    e = cluster["node-b"]
    ranges = _led_by("node-a", "node-b", 1)
    inside = {IDS[i] for i in np.flatnonzero(in_ranges(TOKENS, ranges))}
    everything = e.query("docs", filters.All(), 10_000, ranges=ranges)
    assert {r.id for r in everything} == inside
    assert [r.id for r in everything] == sorted(inside)
    flt = filters.parse({"group": "g2"}, _schema())
    page = e.query("docs", flt, 7, 3, "n", True, ranges=ranges)
    props = {r.id: unpack(r.properties) for r in everything}
    want = sorted(
        (r for r in everything if props[r.id]["group"] == "g2"), key=lambda r: -props[r.id]["n"]
    )
    assert [r.id for r in page] == [r.id for r in want[3:10]]
    assert e.count_in_ranges("docs", flt, ranges) == len(want)


def test_checkpoint_restart_and_replay_per_position(tmp_path: Path) -> None:
    view = _view("node-a")
    e = _node(tmp_path, "node-a")
    e.checkpoint()
    folder = tmp_path / "node-a" / "index"
    assert sorted(p.name for p in folder.glob("*.manifest.json")) == [
        "c1.v.p0.manifest.json",
        "c1.v.p1.manifest.json",
    ]
    manifest = json.loads((folder / "c1.v.p1.manifest.json").read_text())
    assert manifest["position"] == 1 and manifest["files"]["index"]["name"].startswith("c1.v.p1.")
    # After the checkpoint: deletes at both positions, and updates.
    rows = _replica_rows("node-a")
    at = np.asarray([RING.position(int(TOKENS[i]), "node-a", RF) for i in rows])
    _delete(e, [IDS[i] for i in rows[:100]])
    _upsert(e, _objects(rows[100:150]))
    e.store.close()  # a crash: no closing checkpoint

    again = Engine(e.config, view)
    assert again.recovery == {
        "docs.v.p0": "replayed 150 changes",
        "docs.v.p1": "replayed 150 changes",
    }
    for p in (0, 1):
        assert _ids_at(again, p) == {IDS[i] for i in rows[100:][at[100:] == p]}
    spec = _schema().vectors[0]
    hits = again.search("docs", spec, BASE[rows[120:121]], 1, None, filters.All())[0].hits
    assert hits[0].record.id == IDS[rows[120]]
    again.close()
    assert set(Engine(e.config, view).recovery.values()) == {"loaded"}


def test_a_checkpoint_of_another_ring_is_rebuilt(tmp_path: Path) -> None:
    e = _node(tmp_path, "node-a")
    e.close()
    # Opened alone (no map given): every key it holds is at position 0.
    alone = Engine(e.config)
    assert alone.recovery["docs.v.p0"].startswith("rebuilt: index holds")
    assert set(alone.recovery) == {"docs.v.p0"}
    assert _ids_at(alone, 0) == {IDS[i] for i in _replica_rows("node-a")}
    alone.close()
    folder = tmp_path / "node-a" / "index"
    assert sorted(p.name for p in folder.glob("*.manifest.json")) == ["c1.v.p0.manifest.json"]
    assert not list(folder.glob("c1.v.p1.*"))


def test_the_layout_before_positions_is_rebuilt_and_removed(tmp_path: Path) -> None:
    e = open_engine(tmp_path, exact_search_max=64)
    e.create_collection(_schema(rf=1))
    e.upsert("docs", _objects(np.arange(300)))
    e.close()
    folder = tmp_path / "index"
    # Rename the checkpoint as the node wrote it before positions existed.
    for path in folder.iterdir():
        path.rename(folder / path.name.replace("c1.v.p0.", "c1.v."))
    manifest = json.loads((folder / "c1.v.manifest.json").read_text())
    for entry in manifest["files"].values():
        entry["name"] = entry["name"].replace("c1.v.p0.", "c1.v.")
    manifest["format"] = 1
    (folder / "c1.v.manifest.json").write_text(json.dumps(manifest))

    again = open_engine(tmp_path, exact_search_max=64)
    assert again.recovery == {"docs.v.p0": "rebuilt: no checkpoint"}
    assert sorted(p.name.split(".")[2] for p in folder.iterdir()) == ["p0"] * 3
    res = again.search("docs", _schema().vectors[0], BASE[5:6], 1, None, filters.All())
    assert res[0].hits[0].record.id == "o5"


def test_a_ring_change_repartitions_and_a_state_change_does_not(tmp_path: Path) -> None:
    e = _node(tmp_path, "node-a")
    held = _replica_rows("node-a")
    # A member going down keeps its ring positions: nothing moves.
    assert e.set_cluster(_view("node-a", node_b=MemberState.DOWN)) == []
    # A fourth member takes ranges from everyone.
    four = _view("node-a", (*NODES, "node-d"))
    rebuilt = e.set_cluster(four)
    assert rebuilt == ["docs.v.p0", "docs.v.p1"]
    ring4 = four.ring
    for p in (0, 1):
        want = {IDS[i] for i in held if ring4.position(int(TOKENS[i]), "node-a", RF) == p}
        assert _ids_at(e, p) == want
    # Keys it is no replica of any more stay in LMDB, and are searched by no one.
    orphans = {IDS[i] for i in held if ring4.position(int(TOKENS[i]), "node-a", RF) is None}
    assert orphans and e.count_all("docs") == len(held)
    assert not orphans & (_ids_at(e, 0) | _ids_at(e, 1))
    # New writes follow the new ring; a restart under it loads what was checkpointed.
    _upsert(e, _objects(np.asarray([i for i in range(N) if i not in set(held)][:50])))
    e.close()
    again = Engine(e.config, four)
    assert set(again.recovery.values()) == {"loaded"}
    for p in (0, 1):
        assert all(ring4.position(token("docs", i), "node-a", RF) == p for i in _ids_at(again, p))
    # The node leaves the ring (e.g. the map has it LEFT): nothing is searchable.
    again.set_cluster(_view("node-a", (*NODES, "node-d"), node_a=MemberState.LEFT))
    assert _ids_at(again, 0) == _ids_at(again, 1) == set()
    res = again.search("docs", _schema().vectors[0], BASE[:1], 5, None, filters.All())
    assert res[0].hits == [] and res[0].searched == 0 and res[0].strategy == "empty"
    assert again.count_all("docs") == len(held) + 50
