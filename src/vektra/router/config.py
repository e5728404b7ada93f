"""Configuration of a router (see deploy/vektra.example.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RouterConfig"]


@dataclass(frozen=True, slots=True)
class RouterConfig:
    coordinator: str = "127.0.0.1:7710"
    listen: str = "127.0.0.1:7700"
    router_id: str | None = None  # default: generated per process
    # Upper bound on any downstream call; a caller's shorter deadline wins.
    request_budget_s: float = 10.0
    metrics_listen: str | None = None
    grace_s: float = 5.0
