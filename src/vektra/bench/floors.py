"""What a call costs before any work is done, measured in the same run, and
the best each target's figure could be above that floor.

The issue asks that a target missed after profiling says what the remaining
limit is, measured (its example: the floor of a Python gRPC round trip).
Every run measures it beside everything else, from figures it takes anyway:

- **the call floor** of a Vektra topology: the p50 of its get of one id,
  less raw LMDB's p50 for the same get (the work of the get itself). For a
  routed topology this is the client's gRPC call, the router's, the
  node's, and their way back; embedded, the SDK's call into the engine.
- **a routed call's CPU**: the CPU of every process (client, router, nodes)
  per get of one id.

A target's **bound** is its figure if the system did the work at the
fastest speed any in-process system showed for it in this run (raw
hnswlib's for a search, the fastest get, ...) and paid only its call floor
on top, by p50 call times. A target whose bound misses the threshold cannot
be met by any change that keeps those calls (Python gRPC across three
processes, or the SDK's call in process); one whose bound meets it is in
reach, and what lies between the bound and the figure measured is Vektra's
own work. Targets with no such floor (ingest, memory, recall) have no bound.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "IN_PROCESS",
    "Bound",
    "call_floor_ms",
    "cores",
    "fastest_p50_ms",
    "p50_ms",
    "positive",
    "routed_call_cpu_s",
]

Results = dict[str, Any]
Bound = Callable[[Results], float | None]

# The systems that run in the benchmark's own process: the fastest of them
# at a workload is the speed its work can be done at, with no call around it.
IN_PROCESS = ("embedded", "raw-hnswlib", "raw-lmdb", "numpy-exact", "chroma", "qdrant-edge")


def _fig(res: Results, workload: str, system: str) -> dict[str, Any] | None:
    got = res.get("figures", {}).get(workload, {}).get(system)
    return got if got and got.get("ops") and not got.get("errors") else None


def positive(value: object) -> float | None:
    """`value` as a float if it is a positive number, else None."""
    return float(value) if isinstance(value, int | float) and value > 0 else None


def p50_ms(res: Results, workload: str, system: str) -> float | None:
    """The p50 call time of `system` at `workload` (None when it did not run
    cleanly)."""
    return positive((_fig(res, workload, system) or {}).get("p50_ms"))


def call_floor_ms(res: Results, system: str) -> float | None:
    """p50 ms of a call on `system` with nothing to do: its get of one id,
    less raw LMDB's (when raw LMDB ran)."""
    call = p50_ms(res, "get_single", system)
    if call is None:
        return None
    work = p50_ms(res, "get_single", "raw-lmdb") or 0.0
    return max(call - work, 0.0)


def fastest_p50_ms(
    res: Results, workload: str, systems: Sequence[str] = IN_PROCESS
) -> float | None:
    """The lowest p50 call time at `workload` among `systems`."""
    found = [p for s in systems if (p := p50_ms(res, workload, s)) is not None]
    return min(found) if found else None


def routed_call_cpu_s(res: Results, system: str) -> float | None:
    """CPU seconds of every process of `system` (client, router, nodes) per
    get of one id."""
    per_op = (_fig(res, "get_single", system) or {}).get("cpu_s_per_op") or {}
    return positive(sum(v for v in per_op.values() if isinstance(v, int | float)))


def cores(res: Results) -> int:
    count = (res.get("machine") or {}).get("cpu_count")
    return count if isinstance(count, int) and count > 0 else os.cpu_count() or 1
