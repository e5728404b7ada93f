"""vektra.client: the Python SDK.

    from vektra import AsyncClient, Client

    with Client("127.0.0.1:7700") as c:
        hits = c.collection("docs").search(vector, k=10)

    async with AsyncClient("127.0.0.1:7700") as c:
        hits = await c.collection("docs").search(vector, k=10)

    with connect("./vektra-data") as c:   # embedded: no server, same API
        hits = c.collection("docs").search(vector, k=10)

`Client` and `Collection` (and their asyncio twins `AsyncClient` and
`AsyncCollection`, and the embedded `LocalClient` made by `connect`) make
the calls; the value types they return live in
`vektra.client.models`. Errors are the typed `vektra.common.errors` classes.
"""

from __future__ import annotations

from vektra.client._aio import AsyncClient, AsyncCollection
from vektra.client._local import LocalClient, connect
from vektra.client._sync import Client, Collection
from vektra.client.models import (
    ClusterStatus,
    Coverage,
    DeleteResult,
    Hit,
    NodeStatus,
    Object,
    QueryResult,
    SearchPlan,
    SearchResult,
    UpsertResult,
    Version,
)

__all__ = [
    "AsyncClient",
    "AsyncCollection",
    "Client",
    "ClusterStatus",
    "Collection",
    "Coverage",
    "DeleteResult",
    "Hit",
    "LocalClient",
    "NodeStatus",
    "Object",
    "QueryResult",
    "SearchPlan",
    "SearchResult",
    "UpsertResult",
    "Version",
    "connect",
]
