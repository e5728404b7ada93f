"""PNG plots of a run (needs matplotlib, in the `bench` extra; importing
this module without it raises ImportError, and the report skips plots):

- `recall_qps.png`: recall@10 against batched-search rate from the ef
  sweep, one curve per system;
- `latency.png`: p50 / p95 / p99 of single-call workloads per system;
- `scaling.png` (with --scaling): ingest rate and search p50 against rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

__all__ = ["write_all"]

PERCENTILE_COLORS = ["#4c72b0", "#dd8452", "#c44e52"]  # p50, p95, p99
LATENCY_WORKLOADS = ("search_single", "get_single", "get_batch", "filter_query", "search_batch")


def _labels(res: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["label"] for s in res["systems"]}


def recall_qps(res: dict[str, Any], path: Path) -> Path | None:
    sweep = res["figures"].get("ef_sweep") or {}
    labels = _labels(res)
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    drawn = 0
    for name, label in labels.items():
        curve = (sweep.get(name) or {}).get("curve")
        if not curve:
            continue
        points = sorted(((int(ef), p) for ef, p in curve.items()), key=lambda x: x[0])
        xs = [p["recall"] for _, p in points]
        ys = [p["rate"] for _, p in points]
        style = "-o" if name in ("embedded", "node", "cluster") else "--s"
        ax.plot(xs, ys, style, label=label, markersize=4)
        for (ef, _), x, y in zip(points, xs, ys, strict=True):
            ax.annotate(str(ef), (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries/s (batches of 64, log scale)")
    ax.set_yscale("log")
    ax.set_title(f"Recall vs QPS over ef — {res['dataset']['description']}", fontsize=8)
    ax.grid(True, alpha=0.3)
    # Beside the plot: inside it, the legend hides the top curves' points.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency(res: dict[str, Any], path: Path) -> Path | None:
    labels = _labels(res)
    rows = [w for w in LATENCY_WORKLOADS if res["figures"].get(w)]
    if not rows:
        return None
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 4), squeeze=False)
    for ax, w in zip(axes[0], rows, strict=True):
        by_system = res["figures"][w]
        names = [n for n in labels if (by_system.get(n) or {}).get("p50_ms") is not None]
        for i, n in enumerate(names):
            f = by_system[n]
            ax.bar([i - 0.25, i, i + 0.25], [f["p50_ms"], f["p95_ms"], f["p99_ms"]], width=0.25,
                   color=PERCENTILE_COLORS)  # fmt: skip
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([labels[n] for n in names], rotation=45, ha="right", fontsize=7)
        ax.set_yscale("log")
        ax.set_title(f"{w} (ms per call)", fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    handles = [
        Patch(color=c, label=p)
        for c, p in zip(PERCENTILE_COLORS, ("p50", "p95", "p99"), strict=True)
    ]
    axes[0][0].legend(handles=handles, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scaling(res: dict[str, Any], path: Path) -> Path | None:
    data = res.get("scaling") or {}
    if not data:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4))
    for system, points in data.items():
        rows = [p["rows"] for p in points]
        a.plot(rows, [p.get("ingest_rate") for p in points], "-o", label=system)
        b.plot(rows, [p.get("search_p50_ms") for p in points], "-o", label=system)
    for ax, title in ((a, "ingest objects/s"), (b, "single search p50 ms")):
        ax.set_xscale("log")
        ax.set_xlabel("rows")
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_all(out: Path, res: dict[str, Any]) -> list[Path]:
    made = [
        recall_qps(res, out / "recall_qps.png"),
        latency(res, out / "latency.png"),
        scaling(res, out / "scaling.png"),
    ]
    return [p for p in made if p is not None]
