"""Configuration of a router (see deploy/vektra.example.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from vektra.common.keepalive import DEFAULT_INTERVAL_S, Keepalive

__all__ = ["RouterConfig"]


@dataclass(frozen=True, slots=True)
class RouterConfig:
    coordinator: str = "127.0.0.1:7710"
    listen: str = "127.0.0.1:7700"
    router_id: str | None = None  # default: generated per process
    # Upper bound on any downstream call; a caller's shorter deadline wins.
    request_budget_s: float = 10.0
    metrics_listen: str | None = None
    # Tests only: serve vektra.v1.Faults and apply its rules (common/failpoints.py).
    failpoints: bool = False
    # Every process of a cluster should use the same value (see common/keepalive.py).
    keepalive_interval_s: float = DEFAULT_INTERVAL_S
    # Fault injection for tests: this process's wall clock runs this many
    # seconds ahead (negative: behind). Never set it in production.
    clock_offset_s: float = 0.0
    grace_s: float = 5.0

    @property
    def keepalive(self) -> Keepalive:
        return Keepalive(self.keepalive_interval_s)
