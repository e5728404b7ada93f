"""ShardSearch and ShardQuery on a real node process serving alone: every key
it holds is at replica position 0, so position 0 whole is the public search,
and ranges keep only objects whose token lies in them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest

from tests.harness.process import ServerProcess
from vektra import Client
from vektra.common.ring import token
from vektra.common.values import pack, unpack
from vektra.v1 import node_pb2 as npb
from vektra.v1 import node_pb2_grpc, vektra_pb2_grpc
from vektra.v1 import vektra_pb2 as pb

DIM, N, K = 8, 400, 5
HALF = 1 << 63  # [0, HALF): the lower half of the ring
RNG = np.random.default_rng(8)
VECS = RNG.normal(size=(N, DIM)).astype(np.float32)


@pytest.fixture
def loaded(client: Client) -> Client:
    client.create_collection(
        "docs",
        vectors={"v": {"dim": DIM, "metric": "cosine"}},
        properties={"n": "int", "group": "keyword"},
    )
    col = client.collection("docs")
    col.upsert(
        [
            {"id": f"d{i}", "vectors": {"v": VECS[i]}, "properties": {"n": i, "group": f"g{i % 3}"}}
            for i in range(N)
        ]
    )
    return client


@pytest.fixture
def nodes(node: ServerProcess) -> Iterator[node_pb2_grpc.NodeStub]:
    assert node.address is not None
    with grpc.insecure_channel(node.address) as channel:
        yield node_pb2_grpc.NodeStub(channel)


def _batch(rows: int = 3, k: int = K, flt: dict[str, Any] | None = None) -> pb.SearchBatchRequest:
    return pb.SearchBatchRequest(
        collection="docs",
        field="v",
        vectors=VECS[:rows].astype("<f4").tobytes(),
        rows=rows,
        k=k,
        filter=pack(flt) if flt else b"",
        include_properties=True,
    )


def _part(position: int = 0, ranges: list[tuple[int, int]] | None = None) -> npb.ShardPart:
    if ranges is None:
        return npb.ShardPart(position=position, all=True)
    return npb.ShardPart(
        position=position, ranges=[npb.TokenRange(start=a, end=b) for a, b in ranges]
    )


def test_position_zero_whole_is_the_public_search(
    node: ServerProcess, loaded: Client, nodes: node_pb2_grpc.NodeStub
) -> None:
    resp = nodes.ShardSearch(npb.ShardSearchRequest(search=_batch(), parts=[_part()]), timeout=30)
    assert resp.searched == N
    assert node.address is not None
    with grpc.insecure_channel(node.address) as channel:
        public = vektra_pb2_grpc.VektraStub(channel).SearchBatch(_batch(), timeout=30)
    assert [[h.id for h in r.hits] for r in resp.results] == [
        [h.id for h in r.hits] for r in public.results
    ]
    assert [r.hits[0].id for r in resp.results] == ["d0", "d1", "d2"]
    assert resp.results[0].plan.strategy == "exact" and resp.results[0].plan.candidates == N
    # Alone, a node keeps one copy of each object: there is no position 1.
    with pytest.raises(grpc.RpcError) as err:
        nodes.ShardSearch(npb.ShardSearchRequest(search=_batch(), parts=[_part(1)]), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_ranges_keep_only_hits_in_them_and_still_fill_k(
    loaded: Client, nodes: node_pb2_grpc.NodeStub
) -> None:
    lower = {f"d{i}" for i in range(N) if token("docs", f"d{i}") < HALF}
    req = npb.ShardSearchRequest(
        search=_batch(rows=10, flt={"group": {"$in": ["g0", "g1"]}}),
        parts=[_part(0, [(0, HALF)])],
    )
    resp = nodes.ShardSearch(req, timeout=30)
    for r in resp.results:
        assert len(r.hits) == K
        assert {h.id for h in r.hits} <= lower
        assert all(unpack(h.properties)["group"] in ("g0", "g1") for h in r.hits)
    upper = nodes.ShardSearch(
        npb.ShardSearchRequest(search=_batch(rows=10), parts=[_part(0, [(HALF, 0)])]), timeout=30
    )
    assert all({h.id for h in r.hits}.isdisjoint(lower) for r in upper.results)


def test_shard_query_returns_the_first_offset_plus_limit_in_its_ranges(
    loaded: Client, nodes: node_pb2_grpc.NodeStub
) -> None:
    lower = sorted(
        (i for i in range(N) if token("docs", f"d{i}") < HALF and i % 3 == 2), reverse=True
    )
    resp = nodes.ShardQuery(
        npb.ShardQueryRequest(
            query=pb.QueryRequest(
                collection="docs",
                filter=pack({"group": "g2"}),
                limit=4,
                offset=3,
                order_by="n",
                descending=True,
            ),
            ranges=[npb.TokenRange(start=0, end=HALF)],
        ),
        timeout=30,
    )
    # offset + limit of them, in the public order: the router pages the union.
    assert [o.id for o in resp.objects] == [f"d{i}" for i in lower[:7]]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (npb.ShardSearchRequest(search=_batch(), parts=[]), "parts"),
        (npb.ShardSearchRequest(search=_batch(), parts=[_part(2)]), "parts[0].position"),
        (
            npb.ShardSearchRequest(search=_batch(), parts=[_part(0), _part(0, [(0, 1)])]),
            "parts[1].position",
        ),
        (npb.ShardSearchRequest(search=_batch(), parts=[_part(0, [(9, 3)])]), "parts[0].ranges[0]"),
        (npb.ShardSearchRequest(search=_batch(), parts=[npb.ShardPart(position=0)]), "parts[0]"),
        (npb.ShardSearchRequest(search=_batch(k=0), parts=[_part()]), "k"),
        (
            npb.ShardQueryRequest(query=pb.QueryRequest(collection="docs"), ranges=[]),
            "ranges",
        ),
        (
            npb.ShardQueryRequest(
                query=pb.QueryRequest(collection="docs", limit=20_000),
                ranges=[npb.TokenRange(start=0, end=0)],
            ),
            "limit",
        ),
        (
            npb.ShardQueryRequest(
                query=pb.QueryRequest(collection="docs", limit=10, offset=99_995),
                ranges=[npb.TokenRange(start=0, end=0)],
            ),
            "offset",
        ),
    ],
)
def test_bad_shard_requests_name_the_field(
    loaded: Client, nodes: node_pb2_grpc.NodeStub, request_: object, field: str
) -> None:
    call = nodes.ShardSearch if isinstance(request_, npb.ShardSearchRequest) else nodes.ShardQuery
    with pytest.raises(grpc.RpcError) as err:
        call(request_, timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith(f"{field}:"), err.value.details()


def test_another_incarnation_is_refused(loaded: Client, nodes: node_pb2_grpc.NodeStub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        nodes.ShardSearch(
            npb.ShardSearchRequest(search=_batch(), parts=[_part()], incarnation="other"),
            timeout=30,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
