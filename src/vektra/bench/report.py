"""What a run writes to `--out`: `results.json` (everything, with the
machine it ran on), `results.md` (the figures table, then the targets with
their marks) and, with matplotlib installed, PNG plots (`plots`)."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

from vektra.bench import floors
from vektra.bench.targets import MARKS
from vektra.bench.workloads import WORKLOADS

__all__ = ["machine_info", "markdown", "write"]

# The report's order of columns, and the short names ratios use.
SHORT = {
    "raw-hnswlib": "raw",
    "raw-lmdb": "LMDB",
    "numpy-exact": "numpy",
    "chroma": "Chroma",
    "qdrant-edge": "Qdrant",
    "grpc-floor": "gRPC floor",
}
PACKAGES = ("vektra", "hnswlib", "chromadb", "qdrant-edge-py", "lmdb", "numpy", "grpcio")


def machine_info() -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def _num(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "—"
    if digits == 0 and abs(x) >= 10:
        return f"{x:,.0f}"
    return f"{x:,.{max(digits, 1 if abs(x) >= 1 else 2)}f}"


def _ratio(a: float | None, b: float | None) -> str | None:
    if not a or not b:
        return None
    r = a / b
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def _columns(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, label, kind) of every system in the run, Vektra first."""
    return [(s["name"], s["label"], s["kind"]) for s in res["systems"]]


def _cell(fig: dict[str, Any] | None, key: str, digits: int = 0) -> str:
    if not fig or not fig.get("ops"):
        return "—"
    text = _num(fig.get(key), digits)
    if fig.get("errors"):
        text += f" ⚠{fig['errors']} err"
    return text


def markdown(res: dict[str, Any]) -> str:
    cols = _columns(res)
    figures = res["figures"]
    skipped = res.get("skipped", {})
    header = "| workload | unit | " + " | ".join(label for _, label, _ in cols) + " |"
    rule = "|---|---|" + "---|" * len(cols)
    p = res["params"]
    lines = [
        "# Vektra benchmark",
        "",
        f"- **Data:** {res['dataset']['description']}"
        + (f" ({res['dataset']['note']})" if res["dataset"].get("note") else ""),
        f"- **Machine:** {res['machine']['cpu_count']} CPUs, {res['machine']['cpu_model']}; "
        f"Python {res['machine']['python']}; started {res['started']}",
        f"- **Rounds:** {res['rounds']} (median; systems in rotating order each round)",
        f"- **Parameters:** M {p['m']}, ef_construction {p['ef_construction']}, ef {p['ef']}, "
        f"k {p['k']}, {p['threads']} threads, write batches of {p['batch_size']}, "
        f"search batches of {p['search_batch']}, {res['sizes']['clients']} concurrent clients "
        f"for {res['sizes']['duration_s']:g} s",
    ]
    for name, why in skipped.items():
        lines.append(f"- **{name}:** {why}")
    lines += [
        "",
        "## Throughput",
        "",
        "Median rate; each Vektra cell also gives its ratio to every baseline measured on "
        "the same workload (higher is faster).",
        "",
        header,
        rule,
    ]
    for w in WORKLOADS:
        by_system = figures.get(w.name)
        if not by_system:
            continue
        cells = []
        for name, _, kind in cols:
            fig = by_system.get(name)
            text = _cell(fig, "rate")
            if kind == "vektra" and fig and fig.get("ops"):
                ratios = [
                    f"{r} {SHORT.get(other, other)}"
                    for other, _, okind in cols
                    if okind != "vektra"
                    # The empty call is a floor of routed calls only.
                    and (other != floors.GRPC_FLOOR or name in floors.ROUTED)
                    and (r := _ratio(fig.get("rate"), (by_system.get(other) or {}).get("rate")))
                ]
                if ratios:
                    text += " (" + ", ".join(ratios) + ")"
            elif name in skipped:
                text = "not installed" if "not installed" in skipped[name] else "skipped"
            cells.append(text)
        lines.append(f"| {w.title} | {w.unit} | " + " | ".join(cells) + " |")
    lines += ["", "## Latency per call, p50 / p99 (ms)", "", header, rule]
    for w in WORKLOADS:
        by_system = figures.get(w.name) or {}
        if not by_system or w.name == "ef_sweep":
            continue
        cells = []
        for name, _, _ in cols:
            fig = by_system.get(name)
            if not fig or fig.get("p50_ms") is None:
                cells.append("—")
            else:
                cells.append(f"{_num(fig['p50_ms'], 2)} / {_num(fig['p99_ms'], 2)}")
        lines.append(f"| {w.title} | ms | " + " | ".join(cells) + " |")
    lines += ["", "## Recall@10 against exact ground truth", "", header, rule]
    for w in WORKLOADS:
        by_system = figures.get(w.name) or {}
        if not any(isinstance((f or {}).get("recall"), float) for f in by_system.values()):
            continue
        cells = [_cell(by_system.get(name), "recall", 3) for name, _, _ in cols]
        extra = ""
        plans = {
            label: f["plan"]
            for name, label, _ in cols
            if (f := by_system.get(name)) and f.get("plan")
        }
        if plans:
            extra = " (plan: " + ", ".join(f"{k} {v}" for k, v in plans.items()) + ")"
        lines.append(f"| {w.title}{extra} | recall | " + " | ".join(cells) + " |")
    lines += _sweep_table(res)
    lines += _cpu_table(res)
    lines += _memory_table(res)
    lines += _scaling_table(res)
    lines += [
        "",
        "## Targets",
        "",
        "| | group | target | measured | threshold | bound above the gRPC floor / Vektra's call "
        "floor |",
        "|---|---|---|---|---|---|",
    ]
    for t in res["targets"]:
        unit = "" if t["unit"] == "recall" else t["unit"]
        measured = "—" if t["measured"] is None else f"{t['measured']:.3g}{unit}"
        threshold = "—" if t["threshold"] is None else f"{t['threshold']:.3g}{unit}"
        bound = _bound_cell(t, unit)
        lines.append(
            f"| {MARKS[t['status']]} | {t['group']} | {t['target']} | {measured} | {threshold} "
            f"| {bound} |"
        )
    counts = {s: sum(1 for t in res["targets"] if t["status"] == s) for s in MARKS}
    lines += ["", ", ".join(f"{MARKS[s]} {s}: {n}" for s, n in counts.items())]
    missed = [t for t in res["targets"] if t["status"] == "fail"]
    if missed:
        reach = Counter(_reach(t) for t in missed)
        lines += [
            "",
            f"Missed: {len(missed)}; out of reach even above the gRPC floor: "
            f"{reach[_BEYOND]}; in reach above the gRPC floor but not above Vektra's call "
            f"floor: {reach[_CALL]}; in reach above both: {reach[_REACH]}; without a floor: "
            f"{reach[None]}. A bound is the target's figure if the work took the fastest "
            "in-process p50 of this run and the call only the floor (`vektra.bench.floors`).",
        ]
    lines += _floor_lines(res)
    lines.append("")
    return "\n".join(lines)


_BEYOND, _CALL, _REACH = "out of reach", "held by Vektra's call", "in reach"


def _reach(t: dict[str, Any]) -> str | None:
    """Where a target stands against the floors: out of reach above the gRPC
    floor, in reach above it only, in reach above both; None without a bound."""
    reach = t.get("in_reach") or {}
    grpc, call = reach.get(floors.GRPC.name), reach.get(floors.CALL.name)
    if grpc is None and call is None:
        return None
    if grpc is False or (grpc is None and call is False):
        return _BEYOND
    return _REACH if call else _CALL


def _bound_cell(t: dict[str, Any], unit: str) -> str:
    bounds = t.get("bounds") or {}
    shown = [bounds.get(f.name) for f in floors.FLOORS]
    if all(b is None for b in shown):
        return "—"
    cells = " / ".join("—" if b is None else f"{b:.3g}{unit}" for b in shown)
    return f"{cells} ({_reach(t)})"


def _floor_lines(res: dict[str, Any]) -> list[str]:
    """The floors themselves: p50 ms of a call with nothing to do, and its CPU."""
    parts = []
    for name, label, _ in _columns(res):
        if name == floors.GRPC_FLOOR:
            ms, cpu = floors.p50_ms(res, "get_single", name), floors.routed_call_cpu_s(res, name)
            what = "the empty gRPC round trip (client -> relay -> echo)"
        elif name in floors.ROUTED or name == "embedded":
            ms = floors.call_floor_ms(res, name)
            cpu = floors.routed_call_cpu_s(res, name) if name in floors.ROUTED else None
            what = f"Vektra's call, {label}"
        else:
            continue
        if ms is not None:
            cost = f"{ms:.3g} ms" + ("" if cpu is None else f", {cpu * 1e3:.3g} ms CPU")
            parts.append(f"{what}: {cost}")
    if not parts:
        return []
    return [
        "",
        "Floors, the p50 of a call with nothing to do (for Vektra, its get of one id less "
        "raw LMDB's) and its CPU in every process: " + "; ".join(parts) + ".",
    ]


def _sweep_table(res: dict[str, Any]) -> list[str]:
    sweep = res["figures"].get("ef_sweep") or {}
    systems = [(n, label) for n, label, _ in _columns(res) if (sweep.get(n) or {}).get("curve")]
    if not systems:
        return []
    efs = sorted({int(e) for n, _ in systems for e in sweep[n]["curve"]})
    lines = [
        "",
        "## ef sweep: batched search rate (queries/s) @ recall@10",
        "",
        "| ef | " + " | ".join(label for _, label in systems) + " |",
        "|---|" + "---|" * len(systems),
    ]
    for ef in efs:
        cells = []
        for n, _ in systems:
            point = sweep[n]["curve"].get(str(ef))
            cells.append("—" if not point else f"{_num(point['rate'])} @ {point['recall']:.3f}")
        lines.append(f"| {ef} | " + " | ".join(cells) + " |")
    return lines


def _cpu_table(res: dict[str, Any]) -> list[str]:
    cols = [(n, label) for n, label, _ in _columns(res)]
    lines = [
        "",
        "## CPU time per operation (ms): client / router / nodes / coordinator",
        "",
        "In-process systems run in the client. A batched call's CPU is divided by its objects "
        "or queries.",
        "",
        "| workload | " + " | ".join(label for _, label in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for w in WORKLOADS:
        by_system = res["figures"].get(w.name) or {}
        if not by_system or w.name == "ef_sweep":
            continue
        cells = []
        for n, _ in cols:
            per_op = (by_system.get(n) or {}).get("cpu_s_per_op") or {}
            groups = ("client", "router", "nodes", "coordinator")
            parts = [f"{per_op[g] * 1000:.3g}" for g in groups if per_op.get(g) is not None]
            cells.append(" / ".join(parts) if parts else "—")
        lines.append(f"| {w.title} | " + " | ".join(cells) + " |")
    return lines


def _memory_table(res: dict[str, Any]) -> list[str]:
    mem = res.get("memory") or {}
    peak = res.get("peak_rss_mb") or {}
    if not mem and not peak:
        return []
    lines = [
        "",
        "## Memory (MB)",
        "",
        "Growth: RSS after all rows are in less RSS on the empty store (the nodes' for the "
        "routed topologies; an in-process system's own child process otherwise). Idle: "
        f"growth over {res['idle_s']:g} s idle after the workloads (routed) or after ingest "
        "(in-process). Router under load: its growth over the concurrent runs.",
        "",
        "| system | growth for the data | idle growth | router under load | peak RSS per process |",
        "|---|---|---|---|---|",
    ]
    labels = {n: label for n, label, _ in _columns(res)}
    for name, label in labels.items():
        m = mem.get(name) or {}
        if not m and name not in peak:
            continue
        if m.get("error"):
            lines.append(f"| {label} | {m['error']} | — | — | — |")
            continue
        peaks = ", ".join(f"{k} {v:,.0f}" for k, v in (peak.get(name) or {}).items())
        lines.append(
            f"| {label} | {_num(m.get('growth_mb'), 1)} | {_num(m.get('idle_growth_mb'), 1)} "
            f"| {_num(m.get('router_load_growth_mb'), 1)} | {peaks or '—'} |"
        )
    client = (peak.get("client") or {}).get("client")
    if client:
        lines.append(
            f"| benchmark process (client, all in-process systems) | — | — | — | {client:,.0f} |"
        )
    return lines


def _scaling_table(res: dict[str, Any]) -> list[str]:
    scaling = res.get("scaling") or {}
    if not scaling:
        return []
    lines = [
        "",
        "## Scaling (synthetic 128-d)",
        "",
        "| system | rows | ingest s | objects/s | search p50 ms | recall@10 |",
        "|---|---|---|---|---|---|",
    ]
    for system, points in scaling.items():
        for p in points:
            lines.append(
                f"| {system} | {p['rows']:,} | {_num(p.get('ingest_s'), 1)} | "
                f"{_num(p.get('ingest_rate'))} | {_num(p.get('search_p50_ms'), 2)} | "
                f"{_num(p.get('recall'), 3)} |"
            )
    return lines


def write(out: Path, res: dict[str, Any]) -> list[Path]:
    """Write everything; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json", out / "results.md"]
    written[0].write_text(json.dumps(res, indent=1, default=str))
    written[1].write_text(markdown(res))
    try:
        from vektra.bench import plots
    except ImportError:
        return written
    written += plots.write_all(out, res)
    return written
