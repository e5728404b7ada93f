"""Configuration of the coordinator (see deploy/vektra.example.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vektra.common.keepalive import DEFAULT_INTERVAL_S, Keepalive

__all__ = ["CoordinatorConfig"]


@dataclass(frozen=True, slots=True)
class CoordinatorConfig:
    data_dir: Path = Path("./vektra-data/coordinator")
    listen: str = "127.0.0.1:7710"
    # Storage nodes of the initial cluster, by address. The first map is
    # published once every one of them has answered.
    nodes: tuple[str, ...] = ()
    heartbeat_interval_s: float = 1.0
    failure_threshold: int = 3  # missed heartbeats before a node is DOWN
    default_replication_factor: int = 1
    vnodes: int = 64  # virtual nodes per member on the ring
    metrics_listen: str | None = None
    # Tests only: serve vektra.v1.Faults and apply its rules (common/failpoints.py).
    failpoints: bool = False
    # Every process of a cluster should use the same value (see common/keepalive.py).
    keepalive_interval_s: float = DEFAULT_INTERVAL_S
    grace_s: float = 2.0

    @property
    def keepalive(self) -> Keepalive:
        return Keepalive(self.keepalive_interval_s)
