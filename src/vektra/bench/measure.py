"""Timings, latency percentiles and recall: what one run of a workload on
one system yields, and the median of several rounds of it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Figures", "Timer", "median_figures", "recall_at"]


@dataclass
class Figures:
    """One workload on one system in one round. `ops` counts the unit the
    workload names (objects for writes and gets, queries for searches), so
    a batch of 64 queries is 64 ops and one latency sample."""

    ops: int = 0
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list, repr=False)
    errors: int = 0
    recall: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # plan, matches, ef ...
    cpu_s: dict[str, float] = field(default_factory=dict)  # role -> CPU seconds used
    rss_mb: dict[str, float] = field(default_factory=dict)  # role -> RSS after the run

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float | None:
        if not self.latencies_s:
            return None
        return float(np.percentile(self.latencies_s, p))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ops": self.ops,
            "seconds": self.seconds,
            "rate": self.rate,
            "errors": self.errors,
            "recall": self.recall,
            "p50_ms": _ms(self.percentile(50)),
            "p95_ms": _ms(self.percentile(95)),
            "p99_ms": _ms(self.percentile(99)),
            "cpu_s_per_op": {role: s / self.ops for role, s in self.cpu_s.items() if self.ops},
            "rss_mb": dict(self.rss_mb),
        }
        out.update(self.extra)
        return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


class Timer:
    """Times each call into a Figures; an exception counts as an error, not
    a crash of the whole run (the report says how many)."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures

    def call(self, fn: Callable[..., Any], *args: Any, ops: int = 1) -> Any:
        """`fn(*args)`, timed as one call of `ops` operations."""
        start = time.perf_counter()
        try:
            result = fn(*args)
        except Exception as exc:
            self.figures.errors += 1
            self.figures.extra.setdefault("first_error", f"{type(exc).__name__}: {exc}"[:300])
            result = None
        elapsed = time.perf_counter() - start
        self.figures.latencies_s.append(elapsed)
        self.figures.seconds += elapsed
        self.figures.ops += ops
        return result


def recall_at(found: Sequence[Sequence[int]], truth: np.ndarray, k: int = 10) -> float:
    """Mean share of each query's true k nearest rows found among its hits."""
    if not len(found):
        return 0.0
    hits = [len(set(f[:k]) & set(t[:k].tolist())) / k for f, t in zip(found, truth, strict=False)]
    return float(np.mean(hits))


def median_figures(rounds: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The median over rounds of every number of `Figures.summary()`;
    errors are summed (one error in any round is an error), and other
    values (a plan, a note) are taken from the last round."""
    rounds = list(rounds)
    if not rounds:
        return {}
    out: dict[str, Any] = {"rounds": len(rounds)}
    for key in rounds[-1]:
        values = [r.get(key) for r in rounds]
        if key == "errors":
            out[key] = sum(v or 0 for v in values)
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[key] = statistics.median(float(v) for v in values if v is not None)
        elif all(isinstance(v, dict) for v in values):
            out[key] = median_figures(v for v in values if isinstance(v, dict))
            out[key].pop("rounds", None)
        else:
            out[key] = values[-1]
    return out
