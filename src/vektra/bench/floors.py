"""What a call costs before any work is done, measured in the same run, and
the best each target's figure could be above that floor.

The issue asks that a target missed after profiling says what the remaining
limit is, measured (its example: the floor of a Python gRPC round trip,
measured with an empty RPC). Every run measures two floors beside
everything else:

- **the gRPC floor** (`GRPC`): the p50 of an empty call through the same
  three processes a routed call crosses, Python gRPC and nothing else
  (`bench.grpc_floor`: client -> relay -> echo and back), and the CPU of
  those processes per call. An in-process system has none.
- **Vektra's call floor** (`CALL`): the p50 of a topology's get of one id,
  less raw LMDB's p50 for the same get (the work of the get itself). For a
  routed topology this is the gRPC floor plus what Vektra's client, router
  and node do per call around the work (validation, routing, encoding);
  embedded, the SDK's call into the engine. Its CPU: every process
  (client, router, nodes) per get of one id.

A target's **bound** above a floor is its figure if the system did the work
at the fastest speed any in-process system showed for it in this run (raw
hnswlib's for a search, the fastest get, ...) and paid only that floor on
top, by p50 call times. A target whose bound above the gRPC floor misses
the threshold cannot be met by any design that keeps Python gRPC across
three processes; one that is in reach above the gRPC floor but not above
Vektra's call floor is held back by Vektra's own per-call work; one in
reach above both is held back by how Vektra does the work itself. Targets
with no such floor (ingest, memory, recall) have no bound.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CALL",
    "FLOORS",
    "GRPC",
    "GRPC_FLOOR",
    "IN_PROCESS",
    "ROUTED",
    "Bound",
    "Floor",
    "call_floor_ms",
    "cores",
    "fastest_p50_ms",
    "grpc_call_cpu_s",
    "grpc_floor_ms",
    "p50_ms",
    "positive",
    "routed_call_cpu_s",
]

Results = dict[str, Any]

# The systems that run in the benchmark's own process: the fastest of them
# at a workload is the speed its work can be done at, with no call around it.
IN_PROCESS = ("embedded", "raw-hnswlib", "raw-lmdb", "numpy-exact", "chroma", "qdrant-edge")
# The topologies whose calls cross processes over gRPC.
ROUTED = ("node", "cluster")
# The system measuring the empty gRPC round trip (`bench.grpc_floor`).
GRPC_FLOOR = "grpc-floor"


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


def grpc_floor_ms(res: Results, system: str) -> float | None:
    """p50 ms of the empty gRPC round trip a call on `system` makes: the
    gRPC floor's get of one id for a routed topology, 0 in process."""
    if system not in ROUTED:
        return 0.0
    return p50_ms(res, "get_single", GRPC_FLOOR)


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


def grpc_call_cpu_s(res: Results, system: str) -> float | None:
    """CPU seconds of every process of the empty gRPC round trip per call
    (client, relay, echo), for a routed topology."""
    return routed_call_cpu_s(res, GRPC_FLOOR) if system in ROUTED else None


@dataclass(frozen=True)
class Floor:
    """One floor a bound is put on: its name in the report, the p50 ms of a
    call on a system with nothing to do, and the CPU seconds of that call
    across the system's processes."""

    name: str
    ms: Callable[[Results, str], float | None]
    cpu_s: Callable[[Results, str], float | None]


GRPC = Floor("gRPC", grpc_floor_ms, grpc_call_cpu_s)
CALL = Floor("Vektra's call", call_floor_ms, routed_call_cpu_s)
FLOORS = (GRPC, CALL)
# A target's bound above a floor (None: the figures it needs are missing).
Bound = Callable[[Results, Floor], float | None]


def cores(res: Results) -> int:
    count = (res.get("machine") or {}).get("cpu_count")
    return count if isinstance(count, int) and count > 0 else os.cpu_count() or 1
