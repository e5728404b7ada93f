"""Every system the suite knows, by the name `--topology` and `--baselines`
take."""

from __future__ import annotations

from vektra.bench.baselines import HnswlibBaseline, LmdbBaseline, NumpyExactBaseline
from vektra.bench.grpc_floor import GrpcFloor
from vektra.bench.peers import ChromaPeer, QdrantEdgePeer
from vektra.bench.systems import System
from vektra.bench.topologies import ClusterTopology, EmbeddedTopology, NodeTopology

__all__ = ["BASELINES", "SYSTEMS", "TOPOLOGIES"]

TOPOLOGIES: dict[str, type[System]] = {
    "embedded": EmbeddedTopology,
    "node": NodeTopology,
    "cluster": ClusterTopology,
}
BASELINES: dict[str, type[System]] = {
    "raw": HnswlibBaseline,
    "lmdb": LmdbBaseline,
    "numpy": NumpyExactBaseline,
    "chroma": ChromaPeer,
    "qdrant": QdrantEdgePeer,
    "grpc": GrpcFloor,
}
# By the system's own name (`System.name`), as results are keyed.
SYSTEMS: dict[str, type[System]] = {
    cls.name: cls for cls in (*TOPOLOGIES.values(), *BASELINES.values())
}
