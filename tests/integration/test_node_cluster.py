"""Storage nodes as real processes, through the node-internal API as the
coordinator and routers use it: the map a node takes from SetEpoch and keeps
through a kill, the cluster check on every call, collection incarnations,
and hints that survive a kill -9 and are handed over once their target is
writable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from tests.harness.process import ServerProcess, node_process, wait_until
from vektra.common.values import pack
from vektra.v1 import coordinator_pb2 as cpb
from vektra.v1 import node_pb2 as npb
from vektra.v1 import node_pb2_grpc, vektra_pb2_grpc
from vektra.v1 import vektra_pb2 as pb

DIM = 8
VEC = np.arange(1, DIM + 1, dtype="<f4").tobytes()


def md(epoch: int | str, cluster: str = "c1", caller: str = "coordinator") -> Any:
    return (
        ("x-vektra-epoch", str(epoch)),
        ("x-vektra-cluster", cluster),
        ("x-vektra-from", caller),
    )


@contextmanager
def stubs(address: str) -> Iterator[tuple[node_pb2_grpc.NodeStub, vektra_pb2_grpc.VektraStub]]:
    with grpc.insecure_channel(address) as channel:
        yield node_pb2_grpc.NodeStub(channel), vektra_pb2_grpc.VektraStub(channel)


def member(node_id: str, address: str, state: int = pb.NODE_STATE_ACTIVE) -> cpb.Member:
    return cpb.Member(id=node_id, address=address, state=state)  # type: ignore[arg-type]


def schema(incarnation: str) -> pb.CollectionSchema:
    return pb.CollectionSchema(
        name="docs",
        incarnation=incarnation,
        vectors=[pb.VectorField(name="v", dim=DIM, metric=pb.METRIC_L2)],
        properties=[pb.PropertyField(name="n", type=pb.PROPERTY_TYPE_INT)],
    )


def obj(object_id: str, ms: int, hint_for: str = "", deleted: bool = False) -> npb.VersionedObject:
    version = pb.Version(physical_ms=ms, logical=0, writer="router-1")
    if deleted:
        return npb.VersionedObject(id=object_id, version=version, deleted=True, hint_for=hint_for)
    return npb.VersionedObject(
        id=object_id,
        properties=pack({"n": ms}),
        vectors={"v": VEC},
        version=version,
        hint_for=hint_for,
    )


def refused(call: Any, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == code, err.value.details()
    return err.value.details() or ""


def test_the_map_comes_from_set_epoch_and_survives_a_kill(node: ServerProcess) -> None:
    assert node.address is not None
    with stubs(node.address) as (stub, public):
        info = stub.NodeInfo(npb.NodeInfoRequest(), timeout=5)
        assert (info.cluster_id, info.epoch) == ("", 0)
        me = member(info.node_id, node.address)
        request = npb.SetEpochRequest(epoch=5, members=[me], cluster_id="c1", vnodes=16)
        assert stub.SetEpoch(request, timeout=5, metadata=md(5)).epoch == 5
    node.kill()
    address = node.restart()
    with stubs(address) as (stub, public):
        again = stub.NodeInfo(npb.NodeInfoRequest(), timeout=5)
        assert (again.cluster_id, again.epoch, again.node_id) == ("c1", 5, info.node_id)
        assert again.boot_id and again.boot_id != info.boot_id
        # An older map is ignored: the node answers its own epoch.
        old = npb.SetEpochRequest(epoch=3, members=[me], cluster_id="c1")
        assert stub.SetEpoch(old, timeout=5, metadata=md(3)).epoch == 5
        # Another cluster's map, or a call of another cluster (or of none), is refused.
        other = npb.SetEpochRequest(epoch=9, members=[me], cluster_id="c2")
        for headers in (md(9, "c2"), md(9, ""), None):
            why = refused(
                lambda h=headers: stub.SetEpoch(other, timeout=5, metadata=h),
                grpc.StatusCode.FAILED_PRECONDITION,
            )
            assert "c1" in why and ("c2" in why or "no cluster" in why), why
        for headers in (md(5, "c2"), md(5, "")):
            refused(
                lambda h=headers: stub.NodeInfo(npb.NodeInfoRequest(), timeout=5, metadata=h),
                grpc.StatusCode.FAILED_PRECONDITION,
            )
        assert stub.NodeInfo(npb.NodeInfoRequest(), timeout=5).epoch == 5
        # A node of a cluster takes collections only from the coordinator.
        why = refused(
            lambda: public.CreateCollection(
                pb.CreateCollectionRequest(schema=schema("")), timeout=5
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert why == "this node belongs to cluster c1; change collections through a router"
        refused(
            lambda: public.DropCollection(pb.DropCollectionRequest(name="docs"), timeout=5),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        ensured = stub.EnsureCollection(
            npb.EnsureCollectionRequest(schema=schema("inc-a")), timeout=5, metadata=md(5)
        )
        assert ensured.created
        [coll] = stub.NodeInfo(npb.NodeInfoRequest(), timeout=5).collections
        assert (coll.name, coll.incarnation, coll.objects) == ("docs", "inc-a", 0)


_EVERYTHING = npb.TokenRange(start=0, end=0)
DATA_CALLS: dict[str, Any] = {
    "Apply": lambda s, inc: s.Apply(
        npb.ApplyRequest(collection="docs", incarnation=inc, objects=[obj("x", 10)]), timeout=5
    ),
    "Fetch": lambda s, inc: s.Fetch(
        npb.FetchRequest(collection="docs", incarnation=inc, ids=["x"]), timeout=5
    ),
    "CountRanges": lambda s, inc: s.CountRanges(
        npb.CountRangesRequest(collection="docs", incarnation=inc, ranges=[_EVERYTHING]),
        timeout=5,
    ),
    "ShardSearch": lambda s, inc: s.ShardSearch(
        npb.ShardSearchRequest(
            search=pb.SearchBatchRequest(collection="docs", field="v", vectors=VEC, rows=1, k=1),
            incarnation=inc,
        ),
        timeout=5,
    ),
    "ShardQuery": lambda s, inc: s.ShardQuery(
        npb.ShardQueryRequest(query=pb.QueryRequest(collection="docs"), incarnation=inc),
        timeout=5,
    ),
    "RangeDigest": lambda s, inc: s.RangeDigest(
        npb.RangeDigestRequest(collection="docs", incarnation=inc, ranges=[_EVERYTHING]),
        timeout=5,
    ),
    "RangeVersions": lambda s, inc: s.RangeVersions(
        npb.RangeVersionsRequest(collection="docs", incarnation=inc, range=_EVERYTHING),
        timeout=5,
    ),
}


def test_every_data_call_naming_another_incarnation_is_refused(node: ServerProcess) -> None:
    assert node.address is not None
    with stubs(node.address) as (stub, _public):
        stub.EnsureCollection(npb.EnsureCollectionRequest(schema=schema("inc-a")), timeout=5)
        for name, call in DATA_CALLS.items():
            why = refused(lambda c=call: c(stub, "inc-old"), grpc.StatusCode.FAILED_PRECONDITION)
            assert "collection docs incarnation mismatch" in why, (name, why)
        # The incarnation held, or none named, is served.
        assert DATA_CALLS["Apply"](stub, "inc-a").outcomes[0].outcome == npb.APPLY_OUTCOME_APPLIED
        assert [o.id for o in DATA_CALLS["Fetch"](stub, "inc-a").objects] == ["x"]
        assert DATA_CALLS["CountRanges"](stub, "").count == 1
        # Dropping another incarnation does nothing; ensuring another replaces this one.
        other = npb.DropIncarnationRequest(name="docs", incarnation="inc-old")
        assert not stub.DropIncarnation(other, timeout=5).dropped
        replaced = stub.EnsureCollection(
            npb.EnsureCollectionRequest(schema=schema("inc-b")), timeout=5
        )
        assert replaced.created
        assert DATA_CALLS["Fetch"](stub, "inc-b").missing == ["x"]
        mine = npb.DropIncarnationRequest(name="docs", incarnation="inc-b")
        assert stub.DropIncarnation(mine, timeout=5).dropped
        assert not stub.NodeInfo(npb.NodeInfoRequest(), timeout=5).collections


def _hints(stub: node_pb2_grpc.NodeStub) -> dict[str, int]:
    return {h.target: h.hints for h in stub.NodeInfo(npb.NodeInfoRequest(), timeout=5).hints}


def test_hints_survive_a_kill_and_are_handed_over_once_the_target_is_writable(
    processes: list[ServerProcess], tmp_path: Path
) -> None:
    a = node_process("node-a", tmp_path / "a", tmp_path / "logs", 0, "--node-id", "node-a")
    b = node_process("node-b", tmp_path / "b", tmp_path / "logs", 0, "--node-id", "node-b")
    processes += [a, b]
    addr_a, addr_b = a.start(), b.start()

    def publish(epoch: int, b_state: int) -> None:
        members = [member("node-a", addr_a), member("node-b", addr_b, b_state)]
        request = npb.SetEpochRequest(epoch=epoch, members=members, cluster_id="c1")
        for address in (addr_a, addr_b):
            with stubs(address) as (stub, _):
                assert stub.SetEpoch(request, timeout=5, metadata=md(epoch)).epoch == epoch

    publish(1, pb.NODE_STATE_DOWN)
    ids = [f"o{i}" for i in range(20)]
    with stubs(addr_b) as (stub_b, _):
        stub_b.EnsureCollection(
            npb.EnsureCollectionRequest(schema=schema("inc-a")), timeout=5, metadata=md(1)
        )
        # node-b holds "gone" from before it went down; its delete is hinted below.
        stub_b.Apply(npb.ApplyRequest(collection="docs", objects=[obj("gone", 5)]), timeout=5)
    with stubs(addr_a) as (stub_a, _):
        stub_a.EnsureCollection(
            npb.EnsureCollectionRequest(schema=schema("inc-a")), timeout=5, metadata=md(1)
        )
        writes = [obj(i, 100 + n, hint_for="node-b") for n, i in enumerate(ids)]
        writes.append(obj("gone", 200, hint_for="node-b", deleted=True))
        answer = stub_a.Apply(
            npb.ApplyRequest(collection="docs", incarnation="inc-a", objects=writes),
            timeout=5,
            metadata=md(1, caller="router-1"),
        )
        assert [o.outcome for o in answer.outcomes] == [npb.APPLY_OUTCOME_HINTED] * 21
        assert (answer.applied, answer.stale) == (0, 0)
        # node-a keeps no copy of its own, only the hints, which a Fetch can read.
        own = stub_a.Fetch(npb.FetchRequest(collection="docs", ids=ids), timeout=5)
        assert own.missing == ids
        hinted = stub_a.Fetch(
            npb.FetchRequest(collection="docs", ids=[*ids, "never"], hints_for="node-b"),
            timeout=5,
        )
        assert [o.id for o in hinted.objects] == ids and hinted.missing == ["never"]
        assert _hints(stub_a) == {"node-b": 21}

    a.kill()  # SIGKILL: no clean close
    a.restart()
    with stubs(addr_a) as (stub_a, _):
        assert _hints(stub_a) == {"node-b": 21}
    publish(2, pb.NODE_STATE_RECOVERING)  # writable again: handoff may begin

    with stubs(addr_b) as (stub_b, _), stubs(addr_a) as (stub_a, _):

        def delivered() -> bool:
            got = stub_b.Fetch(
                npb.FetchRequest(collection="docs", ids=[*ids, "gone"], include_vectors=True),
                timeout=5,
            )
            by_id = {o.id: o for o in got.objects}
            return (
                not got.missing
                and by_id["gone"].deleted
                and all(by_id[i].version.physical_ms == 100 + n for n, i in enumerate(ids))
                and all(by_id[i].vectors["v"] == VEC for i in ids)
                and not _hints(stub_a)
            )

        wait_until(delivered, 30, "node-a handed every hint to node-b and dropped them")
    assert "handed 21 of 21 writes of docs over to node-b" in a.log_path.read_text()
