"""The asyncio SDK end to end against a real storage node process (a node
serves the same public API as a router), plus its retry policy as pure
functions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from tests.harness.process import ServerProcess
from vektra import AsyncClient
from vektra.client._aio import AsyncCollection, attempts_allowed, backoff_s, single_field
from vektra.common.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from vektra.common.schema import CollectionSchema

DIM = 8
RNG = np.random.default_rng(11)
VECS = RNG.normal(size=(60, DIM)).astype(np.float32)
# Port 1 on loopback: nothing listens there, so a connection is refused at once.
DEAD = "127.0.0.1:1"


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


async def _create(c: AsyncClient, name: str = "docs") -> dict[str, Any]:
    return await c.create_collection(
        name,
        vectors={"embedding": {"dim": DIM, "metric": "cosine", "hnsw": {"ef": 32}}},
        properties={"module": "keyword", "length": "int", "tags": "keyword[]"},
    )


def _objects(start: int, stop: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"d{i}",
            "vector": VECS[i],  # a bare vector: the only field, from the schema
            "properties": {
                "module": ["os", "sys", "re"][i % 3],
                "length": i,
                "tags": [f"t{i % 2}"],
            },
        }
        for i in range(start, stop)
    ]


# ---------------------------------------------------------------- end to end


def test_async_client_end_to_end(node: ServerProcess) -> None:
    assert node.address is not None
    address = node.address

    async def scenario() -> None:
        async with AsyncClient(address, timeout_s=60) as c:
            created = await _create(c)
            assert created["vectors"][0]["hnsw"]["ef"] == 32
            with pytest.raises(AlreadyExists):
                await _create(c)
            assert [s["name"] for s in await c.list_collections()] == ["docs"]
            status = await c.cluster_status()
            assert [n.state for n in status.nodes] == ["active"]

        # A fresh client has no cached schema: upserting bare vectors makes it
        # look the collection up first.
        async with AsyncClient(address, timeout_s=60) as c:
            col = c.collection("docs")
            assert isinstance(col, AsyncCollection)
            result = await col.upsert(_objects(0, 40), batch_size=16)
            assert result.upserted == 40 and result.version is not None
            # Columns form, into the named field.
            ids = [f"d{i}" for i in range(40, 60)]
            props = [{"module": "os", "length": i} for i in range(40, 60)]
            await col.upsert(ids=ids, vectors={"embedding": VECS[40:60]}, properties=props)
            assert await col.count() == 60
            assert await col.count(filter={"module": "os"}) == 14 + 20
            assert (await col.describe())["objects"] == 60
            assert (await col.schema())["name"] == "docs"

            got = await col.get(["d5", "missing", "d41"], include_vectors=True)
            assert [o.id for o in got] == ["d5", "d41"]
            np.testing.assert_array_equal(got[0].vectors["embedding"], VECS[5])
            assert got[0].properties == {"module": "re", "length": 5, "tags": ["t1"]}

            hits = await col.search(VECS[7], k=5, field="embedding")
            assert hits[0].id == "d7" and len(hits) == 5 and hits.coverage.complete
            filtered = await col.search(VECS[7], k=3, filter={"length": {"$gte": 30}}, ef=64)
            assert len(filtered) == 3 and all(h.properties["length"] >= 30 for h in filtered)

            batch = await col.search_batch(VECS[[3, 9, 20]], k=2)
            assert [r[0].id for r in batch] == ["d3", "d9", "d20"]

            page = await col.query(
                filter={"module": "sys"}, limit=5, order_by="length", descending=True
            )
            lengths = [o.properties["length"] for o in page]
            assert lengths == sorted(lengths, reverse=True) and len(page) == 5

            # Tasks share one client.
            many = await asyncio.gather(*(col.search(VECS[i], k=1) for i in range(10)))
            assert [r[0].id for r in many] == [f"d{i}" for i in range(10)]

            with pytest.raises(InvalidArgument) as bad:
                await col.upsert([{"id": "x", "vector": np.ones(DIM + 1)}])
            assert "dimension" in str(bad.value)
            assert bad.value.field.startswith("objects[0]")
            with pytest.raises(InvalidArgument) as bad_k:
                await col.search(VECS[0], k=0)
            assert bad_k.value.field == "k"
            with pytest.raises(InvalidArgument) as bad_filter:
                await col.search(VECS[0], k=3, filter={"nope": 1})
            assert "nope" in str(bad_filter.value)
            assert await col.count() == 60, "bad input wrote nothing"

            deleted = await col.delete(["d0", "d1", "never-there"])
            assert deleted.deleted == 2
            assert await col.count() == 58
            assert await col.get("d0") == []

            await c.drop_collection("docs")
            with pytest.raises(NotFound):
                await c.describe_collection("docs")
            with pytest.raises(NotFound):
                await c.collection("docs").count()

    run(scenario)


def test_async_client_fails_over_past_a_dead_address(node: ServerProcess) -> None:
    assert node.address is not None
    addresses = [DEAD, node.address]

    async def scenario() -> None:
        async with AsyncClient(addresses, timeout_s=30) as c:
            # Not idempotent, but the refused connection never sent it.
            await _create(c)
            assert (await c.describe_collection("docs"))["objects"] == 0
            assert (await c.cluster_status()).nodes[0].address == node.address

    run(scenario)


def test_async_client_raises_unavailable_when_nothing_answers() -> None:
    async def scenario() -> None:
        async with AsyncClient(DEAD, timeout_s=10, retries=1) as c:
            with pytest.raises(Unavailable):
                await c.list_collections()

    run(scenario)


def test_closed_client_refuses_calls() -> None:
    async def scenario() -> None:
        c = AsyncClient(DEAD)
        await c.close()
        with pytest.raises(RuntimeError, match="closed"):
            await c.list_collections()

    run(scenario)


# ---------------------------------------------------------------- no network


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(InvalidArgument, match="timeout_s"):
        AsyncClient("a:1", timeout_s=0)
    with pytest.raises(InvalidArgument, match="retries"):
        AsyncClient("a:1", retries=-1)
    with pytest.raises(InvalidArgument, match="addresses"):
        AsyncClient(" , ")
    assert AsyncClient("a:1, b:2").addresses == ["a:1", "b:2"]
    with pytest.raises(InvalidArgument, match="name"):
        AsyncClient("a:1").collection("")


def test_retry_policy_matches_the_sync_client() -> None:
    # Idempotent: 1 + retries, and at least one attempt per address.
    assert attempts_allowed(3, True, 1, False) == 4
    assert attempts_allowed(3, True, 6, False) == 6
    # Not idempotent: once, or once per address if the request never left.
    assert attempts_allowed(3, False, 3, False) == 1
    assert attempts_allowed(3, False, 3, True) == 3
    assert attempts_allowed(0, True, 3, True) == 1
    # No pause before every address had a try; then bounded backoff.
    assert backoff_s(1, 3) == 0.0 and backoff_s(2, 3) == 0.0
    assert 0.0 < backoff_s(3, 3) <= 0.1
    assert all(0.0 < backoff_s(k, 1) <= 1.0 for k in range(1, 30))


def test_single_field_names_the_choices() -> None:
    one = CollectionSchema.from_dict({"name": "c", "vectors": {"v": {"dim": 2}}})
    assert single_field(one) == "v"
    two = CollectionSchema.from_dict({"name": "c", "vectors": {"a": {"dim": 2}, "b": {"dim": 3}}})
    with pytest.raises(InvalidArgument, match="a, b"):
        single_field(two)
