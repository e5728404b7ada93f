"""Configuration of a storage node (see deploy/vektra.example.yaml).

Plain frozen dataclasses and nothing heavier: `vektra serve node --help`
reads its defaults from `NodeConfig()`, and that must not pull in LMDB,
hnswlib or gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vektra.common.keepalive import DEFAULT_INTERVAL_S, Keepalive
from vektra.common.limits import Limits

__all__ = ["EngineConfig", "NodeConfig", "RepairConfig"]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What the storage engine itself needs (the process settings are `NodeConfig`'s)."""

    data_dir: Path
    node_id: str | None = None
    limits: Limits = field(default_factory=Limits)
    initial_map_bytes: int = 64 << 20
    max_map_bytes: int = 256 << 30
    # Filtered search: exact scan when at most this many objects match ...
    exact_search_max: int = 4096
    # ... oversampled post-filtering when at least this share of them match,
    # HNSW with an allow-filter in between (see node.search_planner).
    post_filter_min_share: float = 0.3


@dataclass(frozen=True, slots=True)
class RepairConfig:
    """Anti-entropy (see node.repair)."""

    enabled: bool = True
    interval_s: float = 30.0  # between background passes (at once while RECOVERING)
    max_objects_per_s: float = 5000.0  # records pulled and pushed, together; 0: no limit
    tombstone_grace_s: float = 3600.0  # a tombstone is kept at least this long
    batch: int = 256  # records per Fetch or Apply
    timeout_s: float = 10.0  # per call to a peer


@dataclass(frozen=True, slots=True)
class NodeConfig:
    data_dir: Path = Path("./vektra-data/node")
    listen: str = "127.0.0.1:7701"
    node_id: str | None = None  # default: generated once and kept in the store
    advertise: str | None = None  # address others reach this node at; default: listen
    metrics_listen: str | None = None  # host:port for Prometheus /metrics; None = off
    initial_map_bytes: int = 64 << 20
    max_map_bytes: int = 256 << 30
    checkpoint_interval_s: float = 30.0
    grace_s: float = 5.0
    # Tests only: serve vektra.v1.Faults and apply its rules (common/failpoints.py).
    failpoints: bool = False
    # Every process of a cluster should use the same value (see common/keepalive.py).
    keepalive_interval_s: float = DEFAULT_INTERVAL_S
    exact_search_max: int = 4096
    post_filter_min_share: float = 0.3
    # Anti-entropy: replicas compare every range they share and exchange the
    # differences, at once while this node is RECOVERING and every interval.
    anti_entropy: bool = True
    anti_entropy_interval_s: float = 30.0
    anti_entropy_max_objects_per_s: float = 5000.0
    tombstone_grace_s: float = 3600.0

    @property
    def keepalive(self) -> Keepalive:
        return Keepalive(self.keepalive_interval_s)

    @property
    def repair(self) -> RepairConfig:
        return RepairConfig(
            enabled=self.anti_entropy,
            interval_s=self.anti_entropy_interval_s,
            max_objects_per_s=self.anti_entropy_max_objects_per_s,
            tombstone_grace_s=self.tombstone_grace_s,
        )

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            data_dir=self.data_dir,
            node_id=self.node_id,
            limits=Limits(),
            initial_map_bytes=self.initial_map_bytes,
            max_map_bytes=self.max_map_bytes,
            exact_search_max=self.exact_search_max,
            post_filter_min_share=self.post_filter_min_share,
        )
