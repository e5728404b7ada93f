"""docker-compose.cluster.yml as users run it — a coordinator, three nodes and
two routers in containers on a private network — driven through the SDK
while containers are killed, cut off the network, stopped and restarted.

The tests share one cluster and run in order; each leaves it healthy.
"""

from __future__ import annotations

import contextlib
import json
import time

import numpy as np

from tests.conftest import DATASETS
from tests.harness.compose import ComposeCluster, wait_for
from tests.harness.history import History
from tests.harness.recording import RecordingClient, create_recorded_collection
from vektra import Client
from vektra.common.errors import VektraError
from vektra.common.membership import MemberState
from vektra.common.ring import Ring, token

N = 3000
DIM = 384
K = 10


def _data() -> tuple[list[dict], np.ndarray]:
    """A few thousand real embeddings, or seeded clustered data without ../shared."""
    root = DATASETS / "docstrings"
    if (root / "base.npy").is_file():
        with (root / "base.jsonl").open() as f:
            meta = [json.loads(line) for _, line in zip(range(N), f, strict=False)]
        return [
            {"id": m["id"], "package": m["package"], "length": m["length"]} for m in meta
        ], np.load(root / "base.npy")[:N]
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(30, DIM))
    base = (centers[rng.integers(30, size=N)] + 0.3 * rng.normal(size=(N, DIM))).astype(np.float32)
    pkgs = ["stdlib", "pip", "setuptools", "transformers"]
    return [{"id": f"d{i}", "package": pkgs[i % 4], "length": i % 1000} for i in range(N)], base


META, BASE = _data()


def client(cluster: ComposeCluster, **kw: object) -> Client:
    return Client(cluster.routers, timeout_s=kw.pop("timeout_s", 60), **kw)  # type: ignore[attr-defined, arg-type]


def states(c: Client) -> dict[str, str]:
    return {n.id: n.state for n in c.cluster_status().nodes}


def ring(c: Client) -> Ring:
    status = c.cluster_status()
    return Ring([n.id for n in status.nodes if MemberState(n.state).in_ring], 64)


def wait_state(c: Client, node: str, state: str, timeout_s: float = 60) -> None:
    wait_for(
        lambda: states(c).get(node) == state, timeout_s, f"{node} is {state}", lambda: states(c)
    )


def expected_holdings(c: Client, ids: list[str], node: str) -> int:
    r = ring(c)
    return sum(1 for i in ids if node in r.replicas(token("docs", i), 2))


def test_ingest_search_and_filter(cluster: ComposeCluster) -> None:
    with client(cluster) as c:
        wait_for(lambda: set(states(c).values()) == {"active"}, 60, "all nodes active")
        c.create_collection(
            "docs",
            vectors={"embedding": {"dim": DIM, "metric": "cosine"}},
            properties={"package": "keyword", "length": "int"},
            replication_factor=2,
        )
        col = c.collection("docs")
        col.upsert(
            ids=[m["id"] for m in META],
            vectors={"embedding": BASE},
            properties=[{"package": m["package"], "length": m["length"]} for m in META],
        )
        assert col.count() == N
        queries = BASE[:100] + 0.05 * np.random.default_rng(1).normal(size=(100, DIM)).astype(
            np.float32
        )
        norm = BASE / np.linalg.norm(BASE, axis=1, keepdims=True)
        truth = [set(np.argsort(-(norm @ q))[:K].tolist()) for q in queries]
        index = {m["id"]: i for i, m in enumerate(META)}
        results = col.search_batch(queries, k=K, field="embedding")
        recall = sum(
            len({index[h.id] for h in r} & t) for r, t in zip(results, truth, strict=True)
        ) / (K * 100)
        print(f"recall@10 through the compose cluster: {recall:.4f}")
        assert recall >= 0.95 and all(r.coverage.complete for r in results)
        flt = {"package": "pip", "length": {"$gte": 100}}
        expected = sorted(m["id"] for m in META if m["package"] == "pip" and m["length"] >= 100)
        assert col.count(filter=flt) == len(expected)
        assert col.query(filter=flt, limit=len(expected) + 5).ids == expected
        # Nodes hold RF copies between them.
        assert sum(n.objects for n in c.cluster_status().nodes) == 2 * N
    cluster.validate()


def test_killed_node_then_started_again_catches_up(cluster: ComposeCluster) -> None:
    with client(cluster) as c:
        cluster.kill("node-2")
        wait_state(c, "node-2", "down")
        col = c.collection("docs")
        ids = [f"k{i}" for i in range(300)]
        vecs = np.random.default_rng(2).normal(size=(300, DIM)).astype(np.float32)
        col.upsert(ids=ids, vectors={"embedding": vecs}, properties=[{"package": "killed"}] * 300)
        # Both routers serve quorum gets and complete searches meanwhile.
        for address in cluster.routers:  # type: ignore[attr-defined]
            with Client(address, timeout_s=60) as one:
                assert (
                    len(one.collection("docs").get(ids[:100] + [m["id"] for m in META[:100]]))
                    == 200
                )
                res = one.collection("docs").search_batch(BASE[:20], k=K, field="embedding")
                assert all(
                    r.coverage.complete and r[0].id == META[i]["id"] for i, r in enumerate(res)
                )
        cluster.restart("node-2")
        wait_state(c, "node-2", "active")
        everything = [m["id"] for m in META] + ids
        want = expected_holdings(c, everything, "node-2")
        wait_for(
            # At least its own share (it may also hold stand-in copies for others).
            lambda: next(n.objects for n in c.cluster_status().nodes if n.id == "node-2") >= want,
            60,
            f"node-2 holds its {want} objects",
            lambda: c.cluster_status(),
        )
        assert col.count() == N + 300
    cluster.validate()


def test_disconnected_node_loses_no_acknowledged_write(cluster: ComposeCluster) -> None:
    with client(cluster, retries=20) as c:
        create_recorded_collection(c, "history", dim=DIM, rf=2)
        writer = RecordingClient(c, History(), "w0", "history")
        cluster.disconnect("node-3")
        rng = np.random.default_rng(3)
        deadline = time.monotonic() + 20  # writes across the detection window and after
        b = 0
        while time.monotonic() < deadline:
            batch = [f"net{b}-{i}" for i in range(20)]
            # An error is recorded as an unknown outcome: the check below
            # holds every acknowledged write to account.
            with contextlib.suppress(VektraError):
                writer.upsert(batch, rng.normal(size=(20, DIM)).astype(np.float32))
            b += 1
        wait_state(c, "node-3", "down")
        cluster.reconnect("node-3")
        wait_state(c, "node-3", "active")
        cluster.validate()
        writer.check().assert_valid()


def test_sdk_with_both_routers_survives_a_stopped_router(cluster: ComposeCluster) -> None:
    with client(cluster) as c:
        cluster.container("router-1").stop()
        col = c.collection("docs")
        col.upsert([{"id": "after-router-stop", "vectors": {"embedding": BASE[0]}}])
        assert col.search(BASE[1], k=1, field="embedding")[0].id == META[1]["id"]
        assert [o.id for o in col.get(["after-router-stop"])] == ["after-router-stop"]
        cluster.container("router-1").start()
        cluster.wait_healthy(["router-1"])
    cluster.validate()


def test_whole_cluster_restart_keeps_every_object(cluster: ComposeCluster) -> None:
    with client(cluster) as c:
        before = c.collection("docs").count()
    # `down` without --volumes: containers and network go, named volumes stay.
    cluster.stop(down=False)
    cluster._run_command([*cluster.compose_command_property, "down"])
    cluster.start()
    cluster.wait_healthy(["coordinator", "node-1", "node-2", "node-3", "router-1", "router-2"])
    with client(cluster) as c:
        wait_for(lambda: set(states(c).values()) == {"active"}, 60, "all nodes active")
        col = c.collection("docs")
        assert col.count() == before
        sample = [m["id"] for m in META[::50]] + ["after-router-stop"]
        assert len(col.get(sample)) == len(sample)
        assert col.search(BASE[7], k=1, field="embedding")[0].id == META[7]["id"]
    cluster.validate()
