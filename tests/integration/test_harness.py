"""The test harness on real processes: validate() on a healthy cluster and
on a planted copy, its faults (kill and restart, stop and cont, wipe, a
skewed router clock, a failpoint), each cluster test ending with `validate()`
and the history check; and the failpoint client against a real process.

The cluster tests need the node side of issue 8 (identity, epochs, hints,
ScanRange over tombstones, NodeInfo's incarnations and hints, failpoints on
the node's server); the ones that make a node RECOVERING (kill, stop, wipe,
a failed Apply, which leaves a hint) also need anti-entropy to report
`repaired_epoch`, or the node never becomes active again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.harness.cluster import Cluster
from tests.harness.faults import Faults
from tests.harness.history import History
from tests.harness.probe import Probe
from tests.harness.process import ServerProcess, wait_until
from tests.harness.recording import RecordingClient, create_recorded_collection
from vektra import Client
from vektra.common.channels import NodeChannels
from vektra.common.errors import Unavailable
from vektra.common.hlc import HybridClock
from vektra.common.membership import ClusterMap
from vektra.common.pb import version_to_pb
from vektra.common.values import pack
from vektra.v1 import node_pb2 as npb
from vektra.v1 import node_pb2_grpc

DIM = 4
APPLY = "/vektra.v1.Node/Apply"
GET_MAP = "/vektra.v1.Coordinator/GetMap"


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _ids(start: int, stop: int) -> list[str]:
    return [f"o{i}" for i in range(start, stop)]


def _writer(client: Client, history: History, rf: int = 2) -> RecordingClient:
    create_recorded_collection(client, "docs", dim=DIM, rf=rf)
    return RecordingClient(client, history, "w0", "docs")


def _settled(cluster: Cluster, writer: RecordingClient) -> None:
    """How every cluster test ends: the cluster valid (which waits for every
    node to be active again), the history clean."""
    cluster.validate(timeout_s=90)
    writer.check().assert_valid()


# ---------------------------------------------------------------- cluster faults


def _plant(cluster: Cluster, i: int, object_id: str) -> None:
    """Apply one object on node i alone, with the map's headers."""
    m = cluster.map()
    schema = m.collection("docs")
    assert schema is not None
    address = cluster.nodes[i].address
    assert address is not None
    md = NodeChannels("test").metadata(m.epoch, m.cluster_id)
    obj = npb.VersionedObject(
        id=object_id,
        properties=pack({"w": "planted-1"}),
        vectors={"v": _vectors(1)[0].tobytes()},
        version=version_to_pb(HybridClock("test").now()),
    )
    with grpc.insecure_channel(address) as channel:
        node_pb2_grpc.NodeStub(channel).Apply(  # type: ignore[no-untyped-call]
            npb.ApplyRequest(collection="docs", incarnation=schema.incarnation, objects=[obj]),
            timeout=10,
            metadata=md,
        )


def test_validate_passes_a_healthy_cluster_and_catches_a_planted_copy(tmp_path: Path) -> None:
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        w.upsert(_ids(0, 50), _vectors(50), consistency="all")
        w.delete(_ids(0, 2), consistency="all")
        w.get(_ids(0, 4))
        summary = cluster.validate()
        assert (summary["docs"].objects, summary["docs"].tombstones) == (48, 2)
        assert sum(len(cluster.records(i, "docs")) for i in range(3)) == 2 * 50
        w.check().assert_valid()
        # A replica write sent to one node only, as a buggy router might:
        # one copy, on a node the ring may not name. validate() must say so.
        _plant(cluster, 0, "x")
        with pytest.raises(AssertionError, match="below RF in docs: 1 ids") as err:
            cluster.validate(timeout_s=2)
        assert "    x: on node-0" in str(err.value)


def test_a_skewed_router_clock_loses_no_write(tmp_path: Path) -> None:
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        cluster.skew("router-0", 60)
        ahead = w.upsert(["a"], _vectors(1)).version
        assert ahead is not None and ahead.physical_ms > time.time() * 1000 + 50_000
        cluster.skew("router-0", 0)
        # True time again: the replicas hold a version from the future, so the
        # router stamps this write past it rather than losing it.
        later = w.upsert(["a"], _vectors(1, 1)).version
        assert later is not None and later > ahead
        _settled(cluster, w)


def test_kill_and_restart_lose_nothing(tmp_path: Path) -> None:
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        w.upsert(_ids(0, 50), _vectors(50), consistency="all")
        cluster.kill(1)
        cluster.wait_until(lambda: cluster.state(1) == "down", 30, "node-1 is down")
        w.upsert(_ids(50, 100), _vectors(50, 1))  # quorum: stand-ins keep hints
        w.delete(_ids(0, 10))
        w.get(_ids(0, 100))
        cluster.restart(1)
        # validate() waits for node-1 to come back active (hints handed over,
        # its ranges repaired) and then checks every copy.
        summary = cluster.validate(timeout_s=90)
        assert summary["docs"].objects == 90 and summary["docs"].tombstones <= 10
        w.check().assert_valid()


def test_stop_and_cont_a_hung_node(tmp_path: Path) -> None:
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        w.upsert(_ids(0, 40), _vectors(40), consistency="all")
        cluster.stop(2)
        cluster.wait_until(lambda: cluster.state(2) == "down", 30, "the hung node-2 is down")
        assert cluster.nodes[2].running()
        w.upsert(_ids(0, 20), _vectors(20, 1))
        w.delete(_ids(20, 25))
        cluster.cont(2)
        _settled(cluster, w)


def test_a_wiped_node_is_filled_again(tmp_path: Path) -> None:
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=20) as client:
        w = _writer(client, History())
        w.upsert(_ids(0, 60), _vectors(60), consistency="all")
        w.delete(_ids(0, 5), consistency="all")
        before = cluster.node_info(0).boot_id
        cluster.wipe(0)
        assert cluster.node_info(0).boot_id != before
        # Until the coordinator has given the empty node its collections back,
        # a quorum write (rf 2: both replicas) to a key it holds fails; once
        # it has, the node takes writes while anti-entropy fills it.
        cluster.wait_until(
            lambda: [c.name for c in cluster.node_info(0).collections] == ["docs"],
            30,
            "node-0 was given its collection again",
        )
        w.upsert(_ids(60, 80), _vectors(20, 1))
        # validate() waits until node-0 holds every copy the ring gives it.
        summary = cluster.validate(timeout_s=90)
        assert summary["docs"].objects == 75
        mine = [i for i in _ids(0, 80) if "node-0" in cluster.replicas("docs", i)]
        assert set(mine) <= set(cluster.records(0, "docs"))
        w.check().assert_valid()


def test_a_failpoint_on_apply_fails_a_write_at_all_within_its_deadline(tmp_path: Path) -> None:
    # The router's own budget is 2 s, so a dropped Apply is given up on well
    # inside the client's 10 s deadline, and the write reports UNAVAILABLE.
    env = {"VEKTRA__ROUTER__REQUEST_BUDGET_S": "2"}
    with (
        Cluster(tmp_path, nodes=3, rf=2, failpoints=True, env=env) as cluster,
        cluster.client(timeout_s=10, retries=0) as client,
    ):
        w = _writer(client, History())
        # Two ids node-1 holds a copy of.
        k1, k2 = [i for i in _ids(0, 100) if "node-1" in cluster.replicas("docs", i)][:2]
        node1 = cluster.faults("node-1")
        with node1.fail(APPLY, "UNAVAILABLE", caller="router-0"):
            started = time.monotonic()
            with pytest.raises(Unavailable):
                w.upsert([k1], _vectors(1), consistency="all")
            assert time.monotonic() - started < 5
        with node1.drop(APPLY, caller="router-0"):
            started = time.monotonic()
            with pytest.raises(Unavailable):
                w.upsert([k2], _vectors(1), consistency="all")
            assert time.monotonic() - started < 8
        assert node1.count() >= 2 and node1.rules == ()
        # Without the rules, the same write at ALL is acknowledged by both replicas.
        assert w.upsert([k1], _vectors(1, 1), consistency="all").acknowledged == 2
        _settled(cluster, w)


# ---------------------------------------------------------------- the failpoint client


@pytest.fixture
def coordinator(processes: list[ServerProcess], tmp_path: Path) -> ServerProcess:
    """A lone coordinator with fault injection on (it needs no node to serve GetMap)."""
    proc = ServerProcess(
        "coordinator",
        ["serve", "coordinator", "--data-dir", str(tmp_path / "c"), "--listen", "127.0.0.1:0"],
        tmp_path / "logs",
        env={"VEKTRA__COORDINATOR__FAILPOINTS": "1"},
    )
    processes.append(proc)
    proc.start()
    return proc


def _get_map(address: str, caller: str | None = None, timeout_s: float = 5) -> ClusterMap:
    from vektra.common.pb_cluster import map_from_pb
    from vektra.v1 import coordinator_pb2 as cpb
    from vektra.v1 import coordinator_pb2_grpc

    md = (("x-vektra-from", caller),) if caller else None
    with grpc.insecure_channel(address) as channel:
        stub = coordinator_pb2_grpc.CoordinatorStub(channel)
        return map_from_pb(stub.GetMap(cpb.GetMapRequest(), timeout=timeout_s, metadata=md))


def test_fail_and_caller_filters_on_a_real_process(coordinator: ServerProcess) -> None:
    assert coordinator.address is not None
    faults = Faults("coordinator", coordinator.address)
    with faults.fail(GET_MAP, "RESOURCE_EXHAUSTED", caller="router-7"):
        assert _get_map(coordinator.address, "router-1").epoch == 0  # another caller
        with pytest.raises(grpc.RpcError) as err:
            _get_map(coordinator.address, "router-7")
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _get_map(coordinator.address, "router-7").epoch == 0
    assert faults.count() == 1


def test_hold_until_removed_and_delay_on_a_real_process(coordinator: ServerProcess) -> None:
    address = coordinator.address
    assert address is not None
    faults = Faults("coordinator", address)
    got: list[ClusterMap] = []
    with faults.hold(GET_MAP):
        call = threading.Thread(target=lambda: got.append(_get_map(address, timeout_s=30)))
        call.start()
        wait_until(lambda: faults.count() == 1, 10, "the call reached the hold")
        assert call.is_alive() and not got, "held, not answered"
    call.join(10)
    assert got and got[0].epoch == 0
    with faults.delay(GET_MAP, 300):
        started = time.monotonic()
        _get_map(address)
        assert time.monotonic() - started >= 0.3


def test_the_harness_probe_is_not_caught_by_caller_rules(coordinator: ServerProcess) -> None:
    assert coordinator.address is not None
    with Faults("coordinator", coordinator.address) as faults:
        faults.drop(GET_MAP, caller="router-0")
        probe = Probe(timeout_s=5)
        try:
            assert probe.get_map(coordinator.address).epoch == 0
        finally:
            probe.close()


def test_a_process_without_fault_injection_refuses_rules(
    processes: list[ServerProcess], tmp_path: Path
) -> None:
    proc = ServerProcess(
        "plain",
        ["serve", "coordinator", "--data-dir", str(tmp_path / "c"), "--listen", "127.0.0.1:0"],
        tmp_path / "logs",
    )
    processes.append(proc)
    address = proc.start()
    with pytest.raises(RuntimeError, match=r"UNIMPLEMENTED \(was it started with failpoints"):
        Faults("plain", address).drop(GET_MAP)


def test_a_cluster_that_does_not_come_up_leaves_nothing_running(tmp_path: Path) -> None:
    # Without nodes the coordinator publishes no map, so the router never
    # reports every node active: start() gives up and stops what it started.
    cluster = Cluster(tmp_path, nodes=0, failpoints=True)
    with pytest.raises(TimeoutError, match="every node is active"):
        cluster.start(timeout_s=3)
    assert cluster.coordinator is not None and cluster.routers
    assert not any(p.running() for p in cluster.processes())
