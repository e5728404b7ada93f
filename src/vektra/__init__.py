"""Vektra: a distributed, sharded vector-object database.

The SDK's front door:

    from vektra import Client, connect

    with connect("./vektra-data") as c:       # embedded: no server, in this process
        hits = c.collection("docs").search(vector, k=10)

    with Client("127.0.0.1:7700") as c:       # a node or a cluster's router
        hits = c.collection("docs").search(vector, k=10)

`Client`, `AsyncClient` and the embedded `LocalClient` (and their
per-collection handles) make the calls;
the models are the values they return; the errors are what they raise, one
class per gRPC status code, all subclasses of `VektraError`. The SDK itself
is `vektra.client`; the servers are `vektra.node`, `vektra.router` and
`vektra.coordinator`, the command line `vektra.cli`, and the generated API
`vektra.v1`.

Names are loaded on first use, so `import vektra` (and the `vektra` command's
start) costs nothing and never imports a server (`connect` loads the
storage engine when it is called).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "AsyncCollection",
    "Client",
    "ClusterStatus",
    "Collection",
    "Coverage",
    "DataLoss",
    "DeadlineExceeded",
    "DeleteResult",
    "FailedPrecondition",
    "Hit",
    "Internal",
    "InvalidArgument",
    "LocalClient",
    "NodeStatus",
    "NotFound",
    "Object",
    "PermissionDenied",
    "QueryResult",
    "ResourceExhausted",
    "SearchPlan",
    "SearchResult",
    "Unauthenticated",
    "Unavailable",
    "UpsertResult",
    "VektraError",
    "Version",
    "__version__",
    "connect",
]

_ERRORS = (
    "AlreadyExists",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "VektraError",
)
# Where each public name lives.
_HOME = {
    **dict.fromkeys(_ERRORS, "vektra.common.errors"),
    **{name: "vektra.client" for name in __all__ if name not in _ERRORS and name != "__version__"},
}

if TYPE_CHECKING:
    from vektra.client import (
        AsyncClient,
        AsyncCollection,
        Client,
        ClusterStatus,
        Collection,
        Coverage,
        DeleteResult,
        Hit,
        LocalClient,
        NodeStatus,
        Object,
        QueryResult,
        SearchPlan,
        SearchResult,
        UpsertResult,
        Version,
        connect,
    )
    from vektra.common.errors import (
        AlreadyExists,
        DataLoss,
        DeadlineExceeded,
        FailedPrecondition,
        Internal,
        InvalidArgument,
        NotFound,
        PermissionDenied,
        ResourceExhausted,
        Unauthenticated,
        Unavailable,
        VektraError,
    )


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'vektra' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found once, then an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
