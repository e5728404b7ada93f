"""Rounds, rotation and medians.

Each round starts every system on an empty store, then runs each workload
on every system it applies to, one system after the other, in an order
that rotates from round to round, so drift in the machine's load hits every
system alike; each figure is the median over rounds. The systems are all
up at once during a round (the clusters idle while the others are measured),
and are stopped at the end of the round whatever happened.
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vektra.bench import memory
from vektra.bench.catalog import SYSTEMS
from vektra.bench.data import Dataset
from vektra.bench.measure import Figures, median_figures
from vektra.bench.procstats import ProcessSet
from vektra.bench.systems import Params, System
from vektra.bench.workloads import Context, Sizes, Workload

__all__ = ["Plan", "run"]

Log = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    systems: Sequence[str]  # System.name values, Vektra topologies first
    workloads: Sequence[Workload]
    rounds: int
    params: Params
    sizes: Sizes
    idle_s: float = 5.0
    memory_probes: bool = True
    workdir: Path | None = None  # default: a temporary folder, removed after
    notes: list[str] = field(default_factory=list)


def _rotate(items: list[System], r: int) -> list[System]:
    if not items:
        return items
    r %= len(items)
    return items[r:] + items[:r]


def _measured(system: System, workload: Workload, ctx: Context) -> dict[str, Any]:
    procs = system.processes
    before = procs.cpu_s()
    try:
        fig = workload.run(system, ctx)
    except Exception as exc:  # a bug in a workload or an adapter: said, not fatal
        fig = Figures(errors=1, extra={"first_error": f"{type(exc).__name__}: {exc}"[:300]})
        traceback.print_exc(file=sys.stderr)
    fig.cpu_s = ProcessSet.grouped(ProcessSet.delta(before, procs.cpu_s()))
    fig.rss_mb = ProcessSet.grouped(procs.rss_mb())
    return fig.summary()


def run(plan: Plan, ds: Dataset, log: Log) -> dict[str, Any]:
    """Everything measured: {"figures": {workload: {system: median summary}},
    "rounds": raw per-round summaries, "memory", "peak_rss_mb", "skipped"}."""
    skipped: dict[str, str] = {}
    systems: list[System] = []
    for name in plan.systems:
        system = SYSTEMS[name](plan.params)
        reason = system.unavailable()
        if reason:
            skipped[name] = reason
            log(f"{name}: skipped: {reason}")
        else:
            systems.append(system)
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {w.name: {} for w in plan.workloads}
    mem: dict[str, list[dict[str, Any]]] = {}
    peak: dict[str, dict[str, float]] = {}
    root = plan.workdir or Path(tempfile.mkdtemp(prefix="vektra-bench-"))
    try:
        for r in range(plan.rounds):
            log(f"round {r + 1}/{plan.rounds}")
            hold_back = any(w.name == "upsert_single" for w in plan.workloads)
            ctx = Context(ds, plan.params, plan.sizes, seed=r, hold_back=hold_back)
            _round(
                plan,
                ds,
                ctx,
                _rotate(systems, r),
                root / f"round-{r}",
                raw,
                mem,
                peak,
                skipped,
                log,
            )
            if plan.memory_probes:
                for s in _rotate(systems, r):
                    if s.name in memory.IN_PROCESS and s.name not in skipped:
                        log(f"  memory probe: {s.name}")
                        got = memory.probe(
                            s.name, ds, plan.params, root / f"probe-{r}", plan.idle_s
                        )
                        mem.setdefault(s.name, []).append(got)
    finally:
        if plan.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    peak["client"] = {"client": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    figures = {
        w: {s: median_figures(runs) for s, runs in by_system.items()}
        for w, by_system in raw.items()
    }
    return {
        "figures": figures,
        "rounds_raw": raw,
        "memory": {
            s: median_figures([m for m in ms if "error" not in m]) or ms[-1]
            for s, ms in mem.items()
        },
        "peak_rss_mb": peak,
        "skipped": skipped,
    }


def _round(
    plan: Plan,
    ds: Dataset,
    ctx: Context,
    order: list[System],
    workdir: Path,
    raw: dict[str, dict[str, list[dict[str, Any]]]],
    mem: dict[str, list[dict[str, Any]]],
    peak: dict[str, dict[str, float]],
    skipped: dict[str, str],
    log: Log,
) -> None:
    started: list[System] = []
    empty_rss: dict[str, dict[str, float]] = {}
    under_load: dict[str, float] = {}  # router RSS before the concurrent runs
    try:
        for s in order:
            if s.name in skipped:
                continue
            try:
                s.start(ds, workdir / s.name)
            except Exception as exc:
                skipped[s.name] = f"failed to start: {type(exc).__name__}: {exc}"
                log(f"  {s.name}: {skipped[s.name]}")
                s.stop()
                continue
            started.append(s)
            empty_rss[s.name] = ProcessSet.grouped(s.processes.rss_mb())
        for w in plan.workloads:
            for s in started:
                if not w.applies_to(s):
                    continue
                if w.name in _UNDER_LOAD and s.name not in under_load:
                    rss = _router_rss(s)
                    if rss is not None:
                        under_load[s.name] = rss
                t0 = time.perf_counter()
                summary = _measured(s, w, ctx)
                raw[w.name].setdefault(s.name, []).append(summary)
                log(
                    f"  {w.name:<20} {s.name:<12} {summary['rate']:>12,.1f} {w.unit:<10}"
                    f" errors {summary['errors']}"
                    + (
                        f" recall {summary['recall']:.3f}"
                        if summary.get("recall") is not None
                        else ""
                    )
                    + f"  ({time.perf_counter() - t0:.1f} s)"
                )
            if w.name == "upsert_single" or (w.name == "ingest" and "upsert_single" not in raw):
                _loaded_memory(started, empty_rss, mem)
        _router_memory(started, under_load, mem)
        _idle_memory(started, plan.idle_s, mem)
        for s in started:
            if s.kind == "vektra" and s.name not in memory.IN_PROCESS:
                for label, mb in ProcessSet.grouped(s.processes.peak_rss_mb()).items():
                    if label != "client":
                        group = peak.setdefault(s.name, {})
                        group[label] = max(group.get(label, 0.0), mb)
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception as exc:
                log(f"  {s.name}: stop failed: {exc}")


def _loaded_memory(
    started: list[System],
    empty_rss: dict[str, dict[str, float]],
    mem: dict[str, list[dict[str, Any]]],
) -> None:
    """The routed topologies' server processes after all rows are in: their
    growth from the empty start is theirs alone (the client is shared)."""
    for s in started:
        if s.name in memory.IN_PROCESS or s.kind != "vektra":
            continue
        now = ProcessSet.grouped(s.processes.rss_mb())
        before = empty_rss.get(s.name, {})
        mem.setdefault(s.name, []).append(
            {
                "started_mb": before.get("nodes", 0.0),
                "loaded_mb": now.get("nodes", 0.0),
                "growth_mb": now.get("nodes", 0.0) - before.get("nodes", 0.0),
                "by_process_mb": {k: v for k, v in now.items() if k != "client"},
            }
        )


# The workloads that keep a router under sustained load (many clients, a
# fixed time): its RSS is taken before the first and after the last.
_UNDER_LOAD = ("search_concurrent", "mixed")


def _router_rss(s: System) -> float | None:
    if s.kind != "vektra" or s.name in memory.IN_PROCESS:
        return None
    return ProcessSet.grouped(s.processes.rss_mb()).get("router")


def _router_memory(
    started: list[System], under_load: dict[str, float], mem: dict[str, list[dict[str, Any]]]
) -> None:
    """Each router's RSS growth under load: from before the concurrent runs
    to after them (`under_load` holds the RSS before). A stateless router
    keeps nothing per call or per object, so this stays flat; ingest's big
    batches come before, and their buffers are not counted as growth."""
    for s in started:
        before, now = under_load.get(s.name), _router_rss(s)
        if before is None or now is None or not mem.get(s.name):
            continue
        mem[s.name][-1]["router_under_load_mb"] = before
        mem[s.name][-1]["router_load_growth_mb"] = now - before


def _idle_memory(
    started: list[System], idle_s: float, mem: dict[str, list[dict[str, Any]]]
) -> None:
    routed = [s for s in started if s.kind == "vektra" and s.name not in memory.IN_PROCESS]
    if not routed or not idle_s:
        return
    before = {s.name: ProcessSet.grouped(s.processes.rss_mb()) for s in routed}
    time.sleep(idle_s)
    for s in routed:
        after = ProcessSet.grouped(s.processes.rss_mb())
        growth = {k: after[k] - before[s.name].get(k, 0.0) for k in after if k != "client"}
        if mem.get(s.name):
            mem[s.name][-1]["idle_growth_mb"] = growth.get("nodes", 0.0)
            mem[s.name][-1]["idle_growth_by_process_mb"] = growth
