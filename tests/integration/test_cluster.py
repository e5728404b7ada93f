"""A real cluster — coordinator, three storage nodes, two routers, all
separate processes — through the SDK: replication, recall on the real
dataset, exact filter queries, and a node killed under RF 2 and RF 1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import Docstrings
from tests.harness.cluster import Cluster
from tests.harness.process import ServerProcess
from vektra import Client
from vektra.common.errors import Unavailable
from vektra.common.ring import token

DIM = 16
N = 1500


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Three nodes, two routers; after the test every process it stopped is
    started again and the cluster must validate (every copy where the ring
    says, nothing elsewhere, no hints left, every node at the map's epoch)."""
    with Cluster(tmp_path, nodes=3, rf=2, routers=2) as c:
        yield c
        for i, node in enumerate(c.nodes):
            if not node.running():
                c.restart(i)
        if c.coordinator is not None and not c.coordinator.running():
            c.restart_coordinator()
        c.validate(timeout_s=90)


def _load(c: Client, name: str = "docs", rf: int = 2, n: int = N) -> np.ndarray:
    c.create_collection(
        name,
        vectors={"v": {"dim": DIM, "metric": "l2"}},
        properties={"group": "keyword", "n": "int"},
        replication_factor=rf,
    )
    base = np.random.default_rng(4).normal(size=(n, DIM)).astype(np.float32)
    c.collection(name).upsert(
        ids=[f"o{i}" for i in range(n)],
        vectors={"v": base},
        properties=[{"group": f"g{i % 5}", "n": i} for i in range(n)],
    )
    return base


def test_every_object_is_on_exactly_rf_nodes(cluster: Cluster) -> None:
    with cluster.client() as c:
        _load(c)
        assert c.collection("docs").count() == N
        ids = [f"o{i}" for i in range(N)]
        holders = {i: 0 for i in ids}
        per_node = []
        for n in range(3):
            with cluster.node_client(n) as direct:
                col = direct.collection("docs")
                found = []
                for start in range(0, N, 500):
                    found += [o.id for o in col.get(ids[start : start + 500])]
                per_node.append(len(found))
                assert col.count() == len(found)
                for i in found:
                    holders[i] += 1
        assert set(holders.values()) == {2}, "every object on exactly 2 nodes"
        assert all(n > 0.2 * N for n in per_node), per_node  # spread over all three
        status = c.cluster_status()
        assert sum(n.objects for n in status.nodes) == 2 * N
        assert {n.state for n in status.nodes} == {"active"}


def test_filter_queries_are_exact_across_nodes(cluster: Cluster) -> None:
    with cluster.client() as c:
        _load(c)
        col = c.collection("docs")
        flt = {"group": {"$in": ["g1", "g3"]}, "n": {"$gte": 100, "$lt": 1200}}
        expected = [i for i in range(N) if i % 5 in (1, 3) and 100 <= i < 1200]
        assert col.count(filter=flt) == len(expected)
        page = col.query(filter=flt, limit=25, offset=40, order_by="n", descending=True)
        assert [o.properties["n"] for o in page] == sorted(expected, reverse=True)[40:65]
        by_id = col.query(filter={"group": "g2"}, limit=1000)
        assert by_id.ids == sorted(f"o{i}" for i in range(N) if i % 5 == 2)[:1000]
        assert page.coverage.complete


def test_a_lone_nodes_query_pages_are_exact_whether_sent_on_or_merged(tmp_path: Path) -> None:
    """Behind one node the router sends the node's page on as it came when
    it is already the page (by id, no offset); else it merges it. Either
    way the page is exact, with its properties."""
    with Cluster(tmp_path, nodes=1, rf=1) as cluster:
        with cluster.client() as c:
            _load(c, rf=1, n=300)
            col = c.collection("docs")
            ids = sorted(f"o{i}" for i in range(300))
            g1 = sorted(f"o{i}" for i in range(300) if i % 5 == 1)
            assert col.query(limit=25).ids == ids[:25]  # sent on
            assert col.query(limit=25, descending=True).ids == ids[::-1][:25]  # sent on
            assert col.query(limit=25, offset=40).ids == ids[40:65]  # merged
            page = col.query(filter={"group": "g1"}, limit=1000)  # fewer than the limit
            assert page.ids == g1 and page.coverage.complete
            assert [o.properties for o in page] == [{"group": "g1", "n": int(i[1:])} for i in g1]
            assert all(o.version is not None for o in page)
            by_n = col.query(filter={"group": "g1"}, limit=5, order_by="n", descending=True)
            assert [o.properties["n"] for o in by_n] == [296, 291, 286, 281, 276]  # merged
        cluster.validate(timeout_s=60)


def test_search_recall_on_the_real_dataset(cluster: Cluster, docstrings: Docstrings) -> None:
    with cluster.client(timeout_s=120) as c:
        c.create_collection(
            "docstrings",
            vectors={"embedding": {"dim": 384, "metric": "cosine"}},
            properties={"package": "keyword", "length": "int"},
            replication_factor=2,
        )
        col = c.collection("docstrings")
        meta = docstrings.meta
        col.upsert(
            ids=[m["id"] for m in meta],
            vectors={"embedding": docstrings.base},
            properties=[{"package": m["package"], "length": m["length"]} for m in meta],
        )
        assert col.count() == len(meta)
        queries = docstrings.queries[:300]
        results = col.search_batch(queries, k=10, field="embedding")
        truth = [[meta[j]["id"] for j in row[:10]] for row in docstrings.groundtruth[:300]]
        recall = (
            sum(len({h.id for h in r} & set(t)) for r, t in zip(results, truth, strict=True)) / 3000
        )
        print(f"cluster recall@10: {recall:.4f}")
        assert recall >= 0.95
        assert all(r.coverage.complete and len(r) == 10 for r in results)
        # Filtered, against exact numpy ground truth over the matching rows.
        rows = np.asarray([i for i, m in enumerate(meta) if m["package"] == "pip"])
        sims = queries[:50] @ docstrings.base[rows].T
        ftruth = [[meta[rows[j]]["id"] for j in np.argsort(-s)[:10]] for s in sims]
        fres = col.search_batch(queries[:50], k=10, field="embedding", filter={"package": "pip"})
        frecall = (
            sum(len({h.id for h in r} & set(t)) for r, t in zip(fres, ftruth, strict=True)) / 500
        )
        assert frecall >= 0.95


def test_with_one_node_killed_rf2_keeps_working(cluster: Cluster) -> None:
    with cluster.client() as c:
        base = _load(c)
        col = c.collection("docs")
        before = [r.ids for r in col.search_batch(base[:50], k=10)]
        cluster.kill(1)
        cluster.wait_until(lambda: cluster.state(1) == "down", 30, "node-1 is marked down")
        # Searches stay complete: every object has a replica on a reachable node.
        after = col.search_batch(base[:50], k=10)
        assert all(r.coverage.complete for r in after)
        assert [r.ids for r in after] == before
        # Quorum writes land on the two reachable replicas of each key.
        new = np.random.default_rng(8).normal(size=(200, DIM)).astype(np.float32)
        res = col.upsert(
            ids=[f"new{i}" for i in range(200)],
            vectors={"v": new},
            properties=[{"group": "g9", "n": i} for i in range(200)],
            consistency="quorum",
        )
        assert res.acknowledged >= 2
        got = col.get([f"o{i}" for i in range(0, N, 7)] + [f"new{i}" for i in range(200)])
        assert len(got) == len(range(0, N, 7)) + 200
        assert col.count() == N + 200
        assert col.count(filter={"group": "g9"}) == 200
        col.delete(["o3"])
        assert col.get(["o3"]) == []
        # With a second node down, two replicas can no longer acknowledge.
        cluster.kill(2)
        cluster.wait_until(lambda: cluster.state(2) == "down", 30, "node-2 is marked down")
        with cluster.client(retries=0) as c2, pytest.raises(Unavailable) as err:
            c2.collection("docs").upsert([{"id": "z", "vectors": {"v": np.ones(DIM)}}])
        assert "replicas" in str(err.value)
        # ONE still works on the last node.
        c.collection("docs").upsert(
            [{"id": "z", "vectors": {"v": np.ones(DIM)}}], consistency="one"
        )
        assert [o.id for o in c.collection("docs").get(["z"], consistency="one")] == ["z"]


def test_rf1_with_a_node_killed_reports_partial_coverage(cluster: Cluster) -> None:
    with cluster.client() as c:
        base = _load(c, "single", rf=1)
        col = c.collection("single")
        assert col.search(base[0], k=5).coverage.complete
        cluster.kill(0)
        cluster.wait_until(lambda: cluster.state(0) == "down", 30, "node-0 is marked down")
        res = col.search(base[0], k=5)
        assert not res.coverage.complete
        assert res.coverage.answered == 2 and "node-0" in res.coverage.failed
        assert len(res) == 5  # what the other nodes hold, clearly marked partial
        assert not col.query(limit=5).coverage.complete


def test_down_node_comes_back_active(cluster: Cluster) -> None:
    with cluster.client() as c:
        _load(c, n=200)
        epoch = c.cluster_status().epoch
        cluster.kill(2)
        cluster.wait_until(lambda: cluster.state(2) == "down", 30, "node-2 is marked down")
        cluster.restart(2)
        cluster.wait_until(lambda: cluster.state(2) == "active", 30, "node-2 is active again")
        # Down, back as recovering (written, not read, until it has caught
        # up), then active: one epoch each.
        assert c.cluster_status().epoch == epoch + 3
        # It kept its data through the kill (LMDB) and serves again.
        with cluster.node_client(2) as direct:
            assert direct.collection("docs").count() > 0
        assert c.collection("docs").count() == 200


def test_routers_keep_serving_while_the_coordinator_is_away(cluster: Cluster) -> None:
    assert cluster.coordinator is not None
    with cluster.client() as c:
        base = _load(c, n=300)
        cluster.coordinator.kill()
        col = c.collection("docs")
        col.upsert([{"id": "late", "vectors": {"v": base[0] + 0.01}, "properties": {"n": 1}}])
        assert [o.id for o in col.get(["late", "o1"])] == ["late", "o1"]
        assert col.search(base[0], k=2).ids == ["o0", "late"]
        # The map survives a coordinator restart: same epoch, members, schemas.
        epoch = c.cluster_status().epoch
        cluster.coordinator.restart()
        cluster.wait_until(lambda: cluster.states() == ["active"] * 3, 30, "all active again")
        assert c.cluster_status().epoch == epoch
        assert [s["name"] for s in c.list_collections()] == ["docs"]
        assert col.count() == 301


def test_stale_epochs_are_refused_and_newer_ones_never_adopted(node: ServerProcess) -> None:
    """One node process is enough: what a header does to a node. (It used to
    adopt any caller's epoch: one header of epoch+10^6 made every caller
    routing by the real map stale, and 2^64 made NodeInfo fail with INTERNAL.)"""
    import grpc

    from vektra.node.epoch import STALE_EPOCH
    from vektra.v1 import coordinator_pb2 as cpb
    from vektra.v1 import node_pb2 as npb
    from vektra.v1 import node_pb2_grpc
    from vektra.v1 import vektra_pb2 as pb

    def md(epoch: object) -> tuple[tuple[str, str], ...]:
        return (
            ("x-vektra-epoch", str(epoch)),
            ("x-vektra-cluster", "c1"),
            ("x-vektra-from", "router-1"),
        )

    assert node.address is not None
    with grpc.insecure_channel(node.address) as channel:
        stub = node_pb2_grpc.NodeStub(channel)
        me = stub.NodeInfo(npb.NodeInfoRequest(), timeout=5).node_id
        members = [cpb.Member(id=me, address=node.address, state=pb.NODE_STATE_ACTIVE)]
        request = npb.SetEpochRequest(epoch=7, members=members, cluster_id="c1")
        assert stub.SetEpoch(request, timeout=5, metadata=md(7)).epoch == 7

        def info(epoch: object) -> npb.NodeInfoResponse:
            return stub.NodeInfo(npb.NodeInfoRequest(), timeout=5, metadata=md(epoch))

        # A caller routing by an older map is refused ...
        with pytest.raises(grpc.RpcError) as err:
            info(6)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert STALE_EPOCH in (err.value.details() or "")
        # ... a newer epoch is served but never adopted: callers at the node's
        # epoch are still served, and only SetEpoch moves it.
        for ahead in (8, 7 + 10**6, 2**63 - 1):
            assert info(ahead).epoch == 7
        assert info(7).epoch == 7
        assert stub.NodeInfo(npb.NodeInfoRequest(), timeout=5).epoch == 7
        # A header that is no epoch is bad input naming the header, not INTERNAL.
        for bad in (2**63, 2**64, -1, "abc", ""):
            with pytest.raises(grpc.RpcError) as err:
                info(bad)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
            assert "x-vektra-epoch" in (err.value.details() or "")


def _ring(cluster: Cluster):  # type: ignore[no-untyped-def]
    """The ring as routers build it, from the coordinator's own map."""
    import grpc

    from vektra.common.pb_cluster import map_from_pb
    from vektra.router.replication import Topology
    from vektra.v1 import coordinator_pb2 as cpb
    from vektra.v1 import coordinator_pb2_grpc

    assert cluster.coordinator is not None and cluster.coordinator.address is not None
    with grpc.insecure_channel(cluster.coordinator.address) as channel:
        msg = coordinator_pb2_grpc.CoordinatorStub(channel).GetMap(cpb.GetMapRequest(), timeout=5)
    return Topology(map_from_pb(msg)).ring


def test_a_node_that_was_down_catches_up(cluster: Cluster) -> None:
    with cluster.client() as c:
        base = _load(c, n=400)
        col = c.collection("docs")
        cluster.kill(1)
        cluster.wait_until(lambda: cluster.state(1) == "down", 30, "node-1 is marked down")
        # While it is down: new objects, updates and deletes.
        new = np.random.default_rng(12).normal(size=(300, DIM)).astype(np.float32)
        col.upsert(
            ids=[f"new{i}" for i in range(300)],
            vectors={"v": new},
            properties=[{"group": "g7", "n": i} for i in range(300)],
        )
        col.upsert(
            ids=[f"o{i}" for i in range(20)],
            vectors={"v": base[:20]},
            properties=[{"group": "updated", "n": i} for i in range(20)],
        )
        col.delete([f"o{i}" for i in range(20, 40)])
        cluster.restart(1)
        cluster.wait_until(lambda: cluster.state(1) == "active", 30, "node-1 is active again")

        ring = _ring(cluster)
        live = [f"o{i}" for i in range(400) if not 20 <= i < 40] + [f"new{i}" for i in range(300)]
        mine = [i for i in live if "node-1" in ring.replicas(token("docs", i), 2)]
        gone = [
            f"o{i}" for i in range(20, 40) if "node-1" in ring.replicas(token("docs", f"o{i}"), 2)
        ]
        assert mine and gone

        def caught_up() -> bool:
            with cluster.node_client(1) as direct:
                d = direct.collection("docs")
                held = {o.id: o for o in d.get(mine)}
                return (
                    len(held) == len(mine)
                    and all(
                        held[f"o{i}"].properties["group"] == "updated"
                        for i in range(20)
                        if f"o{i}" in held
                    )
                    and d.get(gone) == []
                )

        cluster.wait_until(caught_up, 30, "node-1 has every write it missed")
        assert (
            "handed"
            in cluster.nodes[0].log_path.read_text() + cluster.nodes[2].log_path.read_text()
        )
        assert col.count() == len(live)
        assert col.count(filter={"group": "updated"}) == 20
