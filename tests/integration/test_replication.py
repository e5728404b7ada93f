"""Replication you can trust (issue 8): each finding of the hostile review as
a scenario on a real cluster, through the one harness, ending with the
history checker and `Cluster.validate()`.

Findings already shown elsewhere: epochs taken from headers and hints lost
by a restart (tests/integration/test_node_cluster.py), a killed, wiped or
hung node (tests/integration/test_harness.py), a search racing deletes
(tests/unit/test_search_during_delete.py), the coordinator's plans and
effects (tests/unit/test_planner.py, test_coordinator_core.py).
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.harness.cluster import Cluster
from tests.harness.faults import Installed
from tests.harness.history import History
from tests.harness.recording import RecordingClient, create_recorded_collection
from vektra import Client
from vektra.client import _convert as convert
from vektra.common.errors import Unavailable
from vektra.v1 import node_pb2 as npb
from vektra.v1 import node_pb2_grpc, vektra_pb2_grpc
from vektra.v1 import vektra_pb2 as pb

DIM = 8
APPLY = "/vektra.v1.Node/Apply"
RANGE_DIGEST = "/vektra.v1.Node/RangeDigest"
SET_EPOCH = "/vektra.v1.Node/SetEpoch"


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _ids(start: int, stop: int, prefix: str = "o") -> list[str]:
    return [f"{prefix}{i}" for i in range(start, stop)]


def _writer(client: Client, history: History, rf: int = 2, name: str = "w0") -> RecordingClient:
    create_recorded_collection(client, "docs", dim=DIM, rf=rf)
    return RecordingClient(client, history, name, "docs")


def _settled(cluster: Cluster, *writers: RecordingClient, timeout_s: float = 90) -> None:
    cluster.validate(timeout_s=timeout_s)
    for w in writers:
        w.check().assert_valid()


def _router_client(cluster: Cluster, i: int, **kwargs: object) -> Client:
    address = cluster.routers[i].address
    assert address is not None
    return Client(address, **kwargs)  # type: ignore[arg-type]


def test_a_blank_coordinator_is_refused_and_touches_no_data(tmp_path: Path) -> None:
    """Finding 1: a coordinator started with an empty data directory deleted
    every collection on every node (5,010 acknowledged objects gone)."""
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        w.upsert(_ids(0, 100), _vectors(100), consistency="all")
        held = [len(cluster.records(i, "docs")) for i in range(3)]
        assert sum(held) == 200
        cluster.restart_coordinator(blank=True)
        assert cluster.coordinator is not None
        log = cluster.coordinator.log_path
        cluster.wait_until(
            lambda: "REFUSING TO BOOTSTRAP" in log.read_text(errors="replace"),
            30,
            "the blank coordinator refuses",
        )
        assert "belongs to cluster" in log.read_text(errors="replace")
        # Nothing touched on any node, and the data path still serves on the
        # routers' last map.
        assert [len(cluster.records(i, "docs")) for i in range(3)] == held
        assert len(w.get(_ids(0, 100))) == 100
        # Its disk back, the coordinator carries on where it was.
        cluster.coordinator.kill()
        shutil.rmtree(cluster.coordinator_dir, ignore_errors=True)
        (tmp_path / "coordinator.lost-1").rename(cluster.coordinator_dir)
        cluster.restart_coordinator()
        _settled(cluster, w)


def test_stand_ins_keep_hints_only_and_deleted_objects_stay_deleted(tmp_path: Path) -> None:
    """Finding 2: the stand-in for a down replica kept a searchable copy after
    handing it over; later deletes went to the owners only, and searches then
    returned the deleted objects (at distance 0) or old versions."""
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        cluster.kill(1)
        cluster.wait_until(lambda: cluster.state(1) == "down", 30, "node-1 is down")
        ids = [i for i in _ids(0, 300) if "node-1" in cluster.replicas("docs", i)][:60]
        vectors = _vectors(len(ids), 3)
        w.upsert(ids, vectors)  # quorum: a stand-in keeps node-1's copy as a hint
        # The stand-in of each key (the node that is not one of its replicas)
        # holds a hint for node-1, never a copy of its own.
        for node in (0, 2):
            theirs = set(cluster.records(node, "docs"))
            stood_in = [i for i in ids if f"node-{node}" not in cluster.replicas("docs", i)]
            assert stood_in and not theirs & set(stood_in), f"node-{node} kept copies"
        hinted = sum(
            h.hints
            for node in (0, 2)
            for h in cluster.node_info(node).hints
            if h.target == "node-1"
        )
        assert hinted == len(ids)
        cluster.restart(1)
        cluster.wait_until(lambda: cluster.state(1) == "active", 60, "node-1 is active again")
        w.delete(ids[:30])
        w.upsert(ids[30:40], _vectors(10, 4))
        for row, object_id in enumerate(ids[:30]):
            hits = w.search(vectors[row], k=5)
            assert object_id not in [h.id for h in hits], "a deleted object came back"
        assert w.client.collection("docs").count() == 30
        assert {o.id for o in w.query(limit=100)} == set(ids[30:])
        # No node keeps a copy of a key it is not a replica of.
        _settled(cluster, w)


def test_dropping_and_creating_again_while_a_node_is_down(tmp_path: Path) -> None:
    """Finding 2: dropping and re-creating a collection while a node was down
    brought the dropped objects back when it returned (count 139 for 50)."""
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        first = _writer(client, History())
        first.upsert(_ids(0, 80, "old"), _vectors(80), consistency="all")
        cluster.kill(2)
        cluster.wait_until(lambda: cluster.state(2) == "down", 30, "node-2 is down")
        client.drop_collection("docs")
        history = History()
        second = _writer(client, history)
        second.upsert(_ids(0, 50, "new"), _vectors(50, 1))
        cluster.restart(2)
        cluster.wait_until(lambda: cluster.state(2) == "active", 60, "node-2 is active again")
        assert client.collection("docs").count() == 50
        assert not [o for o in second.get(_ids(0, 80, "old"))]
        _settled(cluster, second)


@pytest.mark.parametrize("skew_s", [2.0, -2.0])
def test_writes_alternating_through_routers_with_skewed_clocks(
    tmp_path: Path, skew_s: float
) -> None:
    """Finding 3: with one router 200 ms behind, 100 of 200 alternating writes
    were dropped as stale on every replica and reported as applied."""
    with Cluster(tmp_path, nodes=3, rf=2, routers=2) as cluster:
        cluster.skew("router-0", skew_s)
        history = History()
        with (
            _router_client(cluster, 0, timeout_s=20) as c0,
            _router_client(cluster, 1, timeout_s=20) as c1,
        ):
            w0 = _writer(c0, history, name="via-router-0")
            w1 = RecordingClient(c1, history, "via-router-1", "docs")
            for n in range(20):
                writer = (w0, w1)[n % 2]
                writer.upsert(["k"], _vectors(1, n))
                (got,) = c0.collection("docs").get(["k"], include_vectors=True, consistency="all")
                assert np.allclose(got.vectors["v"], _vectors(1, n)[0]), (
                    f"write {n} (through router-{n % 2}) is not the stored value"
                )
            _settled(cluster, w0, w1)


def test_a_hung_node_is_recovering_and_not_read_until_it_caught_up(tmp_path: Path) -> None:
    """Finding 5 and the SIGSTOP scenario: after SIGCONT a node served reads
    from before the outage. Held in RECOVERING by a failpoint on its repair
    calls, it is written but never read; released, it becomes active."""
    with (
        Cluster(tmp_path, nodes=3, rf=2, failpoints=True) as cluster,
        cluster.client(timeout_s=20) as client,
    ):
        w = _writer(client, History())
        w.upsert(_ids(0, 100), _vectors(200)[:100], consistency="all")
        w.upsert(_ids(100, 200), _vectors(200)[100:], consistency="all")
        cluster.stop(1)
        # While it hangs, and before it is marked down, writes at ONE do not
        # wait for it (the call to it goes on in the background).
        started = time.monotonic()
        for n in range(5):
            w.upsert(_ids(n * 10, n * 10 + 10), _vectors(10, 10 + n), consistency="one")
        assert time.monotonic() - started < 10, "writes at one waited for the hung replica"
        cluster.wait_until(lambda: cluster.state(1) == "down", 30, "node-1 is marked down")
        # Marked down: quorum writes go through stand-ins.
        w.upsert(_ids(0, 100), _vectors(100, 20))
        w.delete(_ids(100, 120))
        # node-1 cannot finish a repair pass while RangeDigest calls it makes hang.
        holds = [cluster.faults(f"node-{i}").hold(RANGE_DIGEST, caller="node-1") for i in (0, 2)]
        cluster.cont(1)
        cluster.wait_until(lambda: cluster.state(1) == "recovering", 30, "node-1 is recovering")
        searched = cluster.node_info(1).searched_objects
        for row in range(20):
            hits = w.search(_vectors(100, 20)[row], k=3)
            assert hits.coverage.complete
            assert hits[0].id == f"o{row}", "a search answered from before the outage"
        assert len(w.get(_ids(0, 120))) == 100
        assert cluster.node_info(1).searched_objects == searched, "a recovering node was read"
        assert cluster.state(1) == "recovering"
        for h in holds:
            h.remove()
        cluster.wait_until(lambda: cluster.state(1) == "active", 60, "node-1 is active")
        _settled(cluster, w)


def test_dropped_apply_calls_to_one_replica_then_healed(tmp_path: Path) -> None:
    """Apply calls from the router to one replica dropped during ingest: with
    rf 3, quorum writes keep succeeding and hints replay once healed; at
    `all`, writes fail with UNAVAILABLE within their deadline, saying how
    many replicas took them."""
    env = {"VEKTRA__ROUTER__REQUEST_BUDGET_S": "3"}
    with (
        Cluster(tmp_path, nodes=3, rf=3, failpoints=True, env=env) as cluster,
        cluster.client(timeout_s=15, retries=0) as client,
    ):
        w = _writer(client, History(), rf=3)
        with cluster.faults("node-2").drop(APPLY, caller="router-0"):
            for n in range(4):
                w.upsert(_ids(n * 25, n * 25 + 25), _vectors(25, n))
            started = time.monotonic()
            with pytest.raises(Unavailable) as err:
                w.upsert(["all-1"], _vectors(1, 9), consistency="all")
            assert time.monotonic() - started < 12, "it waited past the router's budget"
            # Two of the three replicas took it: the error says so.
            assert "1 of them were written to some replicas and 0 to none" in str(err.value)
        # Healed: the hints kept for node-2 are handed over.
        _settled(cluster, w)
        assert len(cluster.records(2, "docs")) >= 100


def test_with_every_node_readable_each_object_is_searched_once(tmp_path: Path) -> None:
    """Today 3 nodes with rf 2 searched every copy: twice the HNSW work."""
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        w.upsert(_ids(0, 100), _vectors(100))
        w.upsert(_ids(100, 200), _vectors(100, 1))
        before = sum(cluster.node_info(i).searched_objects for i in range(3))
        client.collection("docs").search_batch(_vectors(5, 7), k=5)
        after = sum(cluster.node_info(i).searched_objects for i in range(3))
        assert after - before == 200, "every object searched exactly once per search"
        _settled(cluster, w)


def test_a_router_answers_a_get_as_columns_or_objects_alike(tmp_path: Path) -> None:
    """The router merges its replicas' answers into packed columns when asked
    (`GetRequest.packed` and `QueryRequest.packed`, what the SDK asks for)
    and into one message per object otherwise (an older SDK): the same
    objects, newest versions, in order, through both paths; with a replica
    down too."""
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        w.upsert(_ids(0, 40), _vectors(40))
        w.upsert(_ids(10, 20), _vectors(10, 2))  # newer versions
        w.delete(["o3"])
        ids = ["o12", "o3", "absent", "o0", "o12", "o39"]
        address = cluster.routers[0].address
        assert address is not None
        with grpc.insecure_channel(address) as channel:
            stub = vektra_pb2_grpc.VektraStub(channel)  # type: ignore[no-untyped-call]
            for round_ in ("all up", "node-1 down"):
                if round_ == "node-1 down":  # one replica of some ids gone
                    cluster.kill(1)
                    cluster.wait_until(lambda: cluster.state(1) == "down", 30, "node-1 is down")
                get = pb.GetRequest(collection="docs", ids=ids)
                plain = stub.Get(get)
                get.packed = True
                packed = stub.Get(get)
                assert packed.HasField("packed") and not plain.HasField("packed")
                assert list(packed.missing) == list(plain.missing) == ["o3", "absent"]
                got = convert.objects_from_get(packed)
                assert got == convert.objects_from_get(plain)
                assert [o.id for o in got] == ["o12", "o0", "o12", "o39"]
                assert got[0].version is not None and got[1].version is not None
                assert got[0].version > got[1].version
                assert w.get(ids) == got, round_  # the SDK's get, recorded
                query = pb.QueryRequest(collection="docs", limit=15, offset=5)
                plain_q = stub.Query(query)
                query.packed = True
                packed_q = stub.Query(query)
                assert packed_q.HasField("packed") and not plain_q.HasField("packed")
                page = convert.query_result_from_proto(packed_q)
                assert page == convert.query_result_from_proto(plain_q)
                assert [o.id for o in page.objects] == sorted(set(_ids(0, 40)) - {"o3"})[5:20]
        cluster.restart(1)
        cluster.wait_until(lambda: cluster.state(1) == "active", 60, "node-1 is active again")
        _settled(cluster, w)


def test_a_failed_sync_is_retried_while_the_node_stays_active(tmp_path: Path) -> None:
    """Finding 6: a sync that failed was never retried while the node stayed
    ACTIVE: it missed the new collection for good."""
    with (
        Cluster(tmp_path, nodes=3, rf=2, failpoints=True) as cluster,
        cluster.client(timeout_s=20) as client,
    ):
        node2 = cluster.faults("node-2")
        with node2.fail(SET_EPOCH, "UNAVAILABLE", caller="coordinator"):
            w = _writer(client, History())
            cluster.wait_until(lambda: node2.count() >= 2, 30, "the sync was tried again")
            assert cluster.node_info(2).epoch < cluster.map().epoch
        cluster.wait_until(
            lambda: cluster.node_info(2).epoch == cluster.map().epoch, 30, "node-2 is synced"
        )
        w.upsert(_ids(0, 50), _vectors(50), consistency="all")
        _settled(cluster, w)


def test_a_node_wiped_while_stopped_is_rebuilt_and_counts_stay_right(tmp_path: Path) -> None:
    """Finding 5: a wiped node was never repaired (2,057 of 3,000 objects on
    one replica after 60 s, count 1,785) while answers said complete. Here
    the node's disk is lost while it is stopped, it stays away past the
    failure timeout, and comes back empty: anti-entropy fills it again, and
    no count in between is wrong while saying it is complete."""
    with (
        Cluster(tmp_path, nodes=3, rf=2, failpoints=True) as cluster,
        cluster.client(timeout_s=20) as client,
    ):
        w = _writer(client, History())
        for n in range(3):
            w.upsert(_ids(n * 100, n * 100 + 100), _vectors(100, n), consistency="all")
        w.delete(_ids(0, 20), consistency="all")
        cluster.wipe(0, restart=False)
        cluster.wait_until(lambda: cluster.state(0) == "down", 30, "node-0 is down")
        # Its repair held for a moment, so the counts below run while it is
        # recovering: its ranges are answered by the other replicas.
        holds = [cluster.faults(f"node-{i}").hold(RANGE_DIGEST, caller="node-0") for i in (1, 2)]
        cluster.restart(0)
        cluster.wait_until(lambda: cluster.state(0) == "recovering", 30, "node-0 is recovering")
        col = client.collection("docs")
        for _ in range(5):
            assert col.count() == 280
            result = col.query(limit=1000)
            assert result.coverage.complete and len(result) == 280
        for h in holds:
            h.remove()
        _settled(cluster, w)
        mine = [i for i in _ids(20, 300) if "node-0" in cluster.replicas("docs", i)]
        live = {i for i, r in cluster.records(0, "docs").items() if not r.deleted}
        assert set(mine) <= live


def test_tombstones_are_purged_once_every_replica_holds_them(tmp_path: Path) -> None:
    """Tombstones are forgotten only after the grace period and once every
    replica of their range holds them: a replica that missed the delete (held
    back here by a dropped Apply) keeps everyone's tombstone until it has it."""
    env = {
        "VEKTRA__NODE__TOMBSTONE_GRACE_S": "1",
        "VEKTRA__NODE__ANTI_ENTROPY_INTERVAL_S": "0.5",
        "VEKTRA__ROUTER__REQUEST_BUDGET_S": "2",
    }
    with (
        Cluster(tmp_path, nodes=3, rf=2, failpoints=True, env=env) as cluster,
        cluster.client(timeout_s=10, retries=0) as client,
    ):
        w = _writer(client, History())
        w.upsert(_ids(0, 60), _vectors(60), consistency="all")
        missed = [i for i in _ids(0, 60) if "node-2" in cluster.replicas("docs", i)][:10]
        # node-2 misses the deletes and is cut off from handoff and
        # anti-entropy for a while: nothing reaches it, nobody compares with it.
        cut = [
            cluster.faults("node-2").drop(APPLY, caller=c) for c in ("router-0", "node-0", "node-1")
        ]
        cut += [
            cluster.faults(f"node-{n}").fail(m, "UNAVAILABLE", caller="node-2")
            for n in (0, 1)
            for m in (RANGE_DIGEST, "/vektra.v1.Node/RangeVersions")
        ]
        cut += [
            cluster.faults("node-2").fail(m, "UNAVAILABLE", caller=c)
            for c in ("node-0", "node-1")
            for m in (RANGE_DIGEST, "/vektra.v1.Node/RangeVersions")
        ]
        w.delete(missed, consistency="one")
        # Past the grace period, with anti-entropy running every half second:
        # the other replicas still keep their tombstones, since node-2 has not
        # got them (it still holds the objects).
        time.sleep(3)
        for i in missed:
            (other,) = [n for n in cluster.replicas("docs", i) if n != "node-2"]
            record = cluster.records(int(other[-1]), "docs").get(i)
            assert record is not None and record.deleted, f"{other} forgot {i}'s tombstone"
            assert not cluster.records(2, "docs")[i].deleted
        for rule in cut:
            rule.remove()
        cluster.wait_until(
            lambda: all(i not in cluster.records(n, "docs") for n in range(3) for i in missed),
            60,
            "the tombstones reached every replica and were then purged",
        )
        assert len(w.get(missed, consistency="all")) == 0
        _settled(cluster, w)


def test_a_late_hint_does_not_bring_back_a_purged_delete(tmp_path: Path) -> None:
    """A stand-in keeps node-1's copy of a write as a hint and cannot hand it
    over (its Apply calls to node-1 are dropped); node-1, back, takes the
    delete directly. Both replicas held the tombstone, so past the grace
    period they purged it while the hint waited; handed over, the hint was
    then the only version anywhere: the deleted objects came back on node-1,
    then through anti-entropy on node-0. Tombstones now go only while every
    member is active."""
    env = {
        "VEKTRA__NODE__TOMBSTONE_GRACE_S": "1",
        "VEKTRA__NODE__ANTI_ENTROPY_INTERVAL_S": "0.5",
    }
    with (
        Cluster(tmp_path, nodes=3, rf=2, failpoints=True, env=env) as cluster,
        cluster.client(timeout_s=20) as client,
    ):
        w = _writer(client, History())
        pair = {"node-0", "node-1"}
        ids = [i for i in _ids(0, 300) if set(cluster.replicas("docs", i)) == pair][:10]
        handoff = cluster.faults("node-1").drop(APPLY, caller="node-2")
        # Rules that change nothing count each node's anti-entropy rounds:
        # node-1's at node-0, node-0's at node-2 (every pair shares ranges).
        rounds = {
            "node-1": cluster.faults("node-0"),
            "node-0": cluster.faults("node-2"),
        }
        rounds["node-1"].delay(RANGE_DIGEST, 0, caller="node-1")
        rounds["node-0"].delay(RANGE_DIGEST, 0, caller="node-0")
        cluster.stop(1)
        cluster.wait_until(lambda: cluster.state(1) == "down", 30, "node-1 is down")
        w.upsert(ids, _vectors(len(ids), 6))  # quorum: node-2 keeps node-1's copies as hints
        hinted = sum(h.hints for h in cluster.node_info(2).hints if h.target == "node-1")
        assert hinted == len(ids)
        cluster.cont(1)
        cluster.wait_until(lambda: cluster.state(1) == "recovering", 30, "node-1 is recovering")
        w.delete(ids, consistency="all")
        # The grace period is a span of time: let it pass, then let each
        # replica run two more anti-entropy rounds (the old code purged in
        # the first).
        time.sleep(1.5)
        seen = {n: f.count() for n, f in rounds.items()}
        cluster.wait_until(
            lambda: all(f.count() >= seen[n] + 2 for n, f in rounds.items()),
            30,
            "two more anti-entropy rounds on node-0 and node-1",
        )
        for n in (0, 1):
            held = cluster.records(n, "docs")
            assert all(i in held and held[i].deleted for i in ids), f"node-{n} purged tombstones"
        handoff.remove()
        cluster.wait_until(lambda: cluster.state(1) == "active", 60, "node-1 is active")
        assert len(w.get(ids, consistency="all")) == 0, "deleted objects came back"
        cluster.wait_until(
            lambda: all(i not in cluster.records(n, "docs") for n in range(3) for i in ids),
            60,
            "with every member active, the tombstones were purged",
        )
        assert len(w.get(ids, consistency="all")) == 0
        _settled(cluster, w)


def _epoch_of(cluster: Cluster, i: int) -> int:
    """Node i's epoch, asked without the map's headers (which a node ahead of
    the published map would refuse as stale)."""
    address = cluster.nodes[i].address
    assert address is not None
    with grpc.insecure_channel(address) as channel:
        stub = node_pb2_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]
        return int(stub.NodeInfo(npb.NodeInfoRequest(), timeout=5).epoch)


def _next_map_held_from_routers(
    cluster: Cluster, client: Client, epoch: int
) -> tuple[Installed, threading.Thread]:
    """Create a collection (a new map, `epoch` + 1) with node-2's SetEpoch
    held: node-0 and node-1 take the new map, and the coordinator publishes
    it to the routers only once node-2 has it too. Returns the hold (remove
    it to let the map through) and the thread creating the collection."""
    held = cluster.faults("node-2").hold(SET_EPOCH, caller="coordinator")
    create = threading.Thread(
        target=lambda: client.create_collection("other", vectors={"v": {"dim": 4}})
    )
    create.start()
    cluster.wait_until(
        lambda: min(_epoch_of(cluster, i) for i in (0, 1)) > epoch,
        30,
        "node-0 and node-1 have the new map",
    )
    return held, create


def test_a_write_a_node_refused_as_routed_by_an_old_map_leaves_no_hints(
    tmp_path: Path,
) -> None:
    """A CI run of the stand-in scenario: a delete routed by the map before
    the one a node was already at was refused by that node as stale and
    taken by the other replica, which was told to keep a hint for it. The
    hint made the coordinator mark the node RECOVERING, then ACTIVE again
    (two new epochs), and the retried delete failed with FAILED_PRECONDITION
    "cluster map changed during the call". Now a stale refusal leaves no
    hint (the write goes again by the newer map) and no member changes state."""
    with (
        Cluster(tmp_path, nodes=3, rf=2, failpoints=True) as cluster,
        cluster.client(timeout_s=20) as client,
    ):
        w = _writer(client, History())
        w.upsert(_ids(0, 20), _vectors(20), consistency="all")
        epoch = cluster.map().epoch
        assert cluster.coordinator is not None
        log = cluster.coordinator.log_path
        logged = len(log.read_text(errors="replace"))
        # node-0 and node-1 take the next map; node-2's copy is held, and with
        # it the publication to the router, which keeps routing by the old one.
        held, create = _next_map_held_from_routers(cluster, client, epoch)
        ids = [i for i in _ids(100, 200) if "node-2" in cluster.replicas("docs", i)][:30]
        outcome: dict[str, object] = {}

        def upsert() -> None:
            try:
                outcome["result"] = w.upsert(ids, _vectors(len(ids), 5))
            except Exception as exc:
                outcome["error"] = exc

        writer = threading.Thread(target=upsert)
        writer.start()
        # node-2 takes its copies by the old map; node-0 and node-1 refuse it.
        cluster.wait_until(
            lambda: set(ids) <= set(cluster.records(2, "docs")), 30, "node-2 took the write"
        )
        held.remove()
        writer.join(30)
        create.join(30)
        assert "result" in outcome, outcome
        assert not create.is_alive(), "the collection was not created"
        _settled(cluster, w)
        assert cluster.map().epoch == epoch + 1, "only the new collection changed the map"
        since = log.read_text(errors="replace")[logged:]
        assert "recovering" not in since, since
        assert sum(h.hints for i in range(3) for h in cluster.node_info(i).hints) == 0


def test_a_node_a_moment_ahead_of_the_routers_is_waited_for(tmp_path: Path) -> None:
    """The coordinator gives the nodes a new map before the routers. A call
    routed in between meets a node at a newer epoch than any router knows:
    the router waits for the coordinator to publish it, instead of failing
    with FAILED_PRECONDITION (seen in a CI run of the stand-in scenario)."""
    with (
        Cluster(tmp_path, nodes=3, rf=2, failpoints=True) as cluster,
        cluster.client(timeout_s=20) as client,
    ):
        w = _writer(client, History())
        w.upsert(_ids(0, 50), _vectors(50), consistency="all")
        epoch = cluster.map().epoch
        outcome: dict[str, object] = {}
        # The new map reaches node-0 and node-1 at once; node-2's copy is held,
        # and with it the publication to the routers.
        held, create = _next_map_held_from_routers(cluster, client, epoch)
        assert cluster.map().epoch == epoch, "not yet published to routers"

        def search() -> None:
            try:
                outcome["hits"] = w.search(_vectors(50)[3], k=3)
            except Exception as exc:
                outcome["error"] = exc

        reader = threading.Thread(target=search)
        reader.start()
        reader.join(1.0)  # the scenario: the search is in flight meanwhile
        assert "error" not in outcome, outcome
        held.remove()
        reader.join(30)
        create.join(30)
        assert "error" not in outcome, outcome
        hits = outcome["hits"]
        assert hits[0].id == "o3"  # type: ignore[index]
        _settled(cluster, w)
