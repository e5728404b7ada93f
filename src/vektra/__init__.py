"""Vektra: a distributed, sharded vector-object database.

`from vektra import Client, AsyncClient` is the SDK's front door. The import
root maps the role folders of the repository: `vektra.common`, `vektra.node`,
`vektra.router`, `vektra.coordinator`, `vektra.client`, and the generated API
`vektra.v1`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["AsyncClient", "Client", "__version__"]


def __getattr__(name: str) -> object:
    # Imported lazily so `import vektra.node` does not pull in the SDK.
    if name == "Client":
        from vektra.client import Client

        return Client
    if name == "AsyncClient":
        from vektra.client import AsyncClient

        return AsyncClient
    raise AttributeError(f"module 'vektra' has no attribute {name!r}")
