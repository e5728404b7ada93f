"""The data a benchmark runs on, and its exact ground truth.

Two sources:

- the real docstrings embeddings (17,971 x 384 MiniLM vectors, cosine), read
  from `$VEKTRA_DATASETS` (the datasets folder, or the docstrings folder
  itself) or `../shared/datasets/docstrings` beside the checkout; their
  `package`, `module` (keywords) and `length` (int) are the properties;
- seeded synthetic clustered vectors of any size and dimension, with keyword
  properties of known selectivities, for a clone without ../shared, the
  smoke run and the scaling run.

Vectors are normalized, so cosine and inner product rank alike and the
ground truth is a plain matrix product. Filters are keyword `$in` sets
chosen to match a target share of the rows; their ground truth is exact,
over the matching rows only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Dataset",
    "FilterCase",
    "docstrings_dir",
    "exact_topk",
    "load",
    "load_docstrings",
    "synthetic",
]

# Shares of the rows a filtered search matches: the first is the ~1% filter
# query; exact plans serve the small ones, HNSW with a filter the large one.
SELECTIVITIES = (0.01, 0.1, 0.5)
TRUTH_K = 100
# The properties of both sources, by Vektra type.
PROPERTY_TYPES = {"package": "keyword", "module": "keyword", "length": "int"}


@dataclass(frozen=True)
class FilterCase:
    """A keyword filter `prop $in values` matching `share` of the rows."""

    name: str  # "1%"
    prop: str  # the keyword property filtered on
    values: tuple[str, ...]
    mask: np.ndarray = field(repr=False)  # bool per row

    @property
    def share(self) -> float:
        return float(self.mask.mean())

    @property
    def matches(self) -> int:
        return int(self.mask.sum())

    def vektra(self) -> dict[str, Any]:
        """The filter as Vektra (and Chroma) write it."""
        if len(self.values) == 1:
            return {self.prop: self.values[0]}
        return {self.prop: {"$in": list(self.values)}}


@dataclass(frozen=True)
class Dataset:
    name: str  # "docstrings" or "synthetic"
    description: str  # said in every report
    base: np.ndarray = field(repr=False)  # (n, d) float32, unit rows
    queries: np.ndarray = field(repr=False)  # (q, d) float32, unit rows
    truth: np.ndarray = field(repr=False)  # (q, >= 10) int row indices, nearest first
    columns: dict[str, np.ndarray] = field(repr=False)  # property name -> one value per row
    property_types: dict[str, str]  # name -> Vektra type ("keyword", "int")
    filters: tuple[FilterCase, ...] = ()
    _truth_cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def rows(self) -> int:
        return int(self.base.shape[0])

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])

    def ids(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        return [str(int(r)) for r in rows]

    def properties(self, rows: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """One property mapping per row, built per batch: a million dicts kept
        for the whole run would cost more memory than the vectors."""
        cols = {name: col[np.asarray(rows)].tolist() for name, col in self.columns.items()}
        return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]

    def batches(self, size: int) -> Iterator[np.ndarray]:
        for start in range(0, self.rows, size):
            yield np.arange(start, min(start + size, self.rows))

    def filtered_truth(self, case: FilterCase, k: int = 10) -> np.ndarray:
        """Exact top-k row indices among the rows `case` matches."""
        key = f"{case.name}/{k}"
        if key not in self._truth_cache:
            rows = np.flatnonzero(case.mask)
            self._truth_cache[key] = rows[exact_topk(self.base[rows], self.queries, k)]
        return self._truth_cache[key]


def exact_topk(
    base: np.ndarray, queries: np.ndarray, k: int, chunk_rows: int = 65_536
) -> np.ndarray:
    """Row indices of each query's k nearest rows of `base` by inner product,
    nearest first, scanning `base` in chunks so a million rows never make a
    (queries x rows) matrix at once."""
    k = min(k, len(base))
    best_ids = np.empty((len(queries), 0), dtype=np.int64)
    best_scores = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(base), chunk_rows):
        scores = queries @ base[start : start + chunk_rows].T
        ids = np.arange(start, start + scores.shape[1])
        scores = np.concatenate([best_scores, scores], axis=1)
        ids = np.concatenate([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))], axis=1)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if scores.shape[1] > k else None
        if top is not None:
            scores = np.take_along_axis(scores, top, axis=1)
            ids = np.take_along_axis(ids, top, axis=1)
        best_scores, best_ids = scores, ids
    order = np.argsort(-best_scores, axis=1, kind="stable")
    nearest: np.ndarray = np.take_along_axis(best_ids, order, axis=1)
    return nearest


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    unit: np.ndarray = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return unit


def docstrings_dir() -> Path | None:
    """Where the docstrings files are, or None."""
    candidates = []
    env = os.environ.get("VEKTRA_DATASETS")
    if env:
        candidates += [Path(env), Path(env) / "docstrings"]
    # <repo>/../shared beside a checkout: src/vektra/bench/data.py is 4 levels down.
    candidates.append(Path(__file__).resolve().parents[4] / "shared" / "datasets" / "docstrings")
    candidates.append(Path.cwd().parent / "shared" / "datasets" / "docstrings")
    return next((c for c in candidates if (c / "base.npy").is_file()), None)


def _module_set(modules: np.ndarray, share: float) -> tuple[str, ...]:
    """Modules whose rows add up to about `share` of the rows, the largest
    that fit first: a realistic `$in` of a handful of modules."""
    names, counts = np.unique(modules, return_counts=True)
    want, got, chosen = share * len(modules), 0, []
    for i in np.argsort(counts, kind="stable")[::-1]:
        if got + counts[i] <= want * 1.05:
            chosen.append(str(names[i]))
            got += int(counts[i])
        if got >= want * 0.95:
            break
    return tuple(sorted(chosen))


def load_docstrings(rows: int | None = None, queries: int | None = None) -> Dataset:
    root = docstrings_dir()
    if root is None:
        raise FileNotFoundError("docstrings dataset not found ($VEKTRA_DATASETS or ../shared)")
    base = np.load(root / "base.npy")
    qs = np.load(root / "queries.npy")
    truth = np.load(root / "groundtruth.npy")
    with (root / "base.jsonl").open() as f:
        meta = [json.loads(line) for line in f]
    n = len(base) if rows is None else min(rows, len(base))
    q = len(qs) if queries is None else min(queries, len(qs))
    if n != len(base):
        truth = exact_topk(_unit(base[:n]), _unit(qs[:q]), TRUTH_K)  # shipped: for all rows
    base, qs, truth, meta = _unit(base[:n]), _unit(qs[:q]), truth[:q], meta[:n]
    columns = {
        "package": np.array([m["package"] for m in meta]),
        "module": np.array([m["module"] for m in meta]),
        "length": np.array([m["length"] for m in meta], dtype=np.int64),
    }
    # 1%: a few modules; 10% and 50%: the packages nearest those shares (pip
    # is 11.5% of the rows, transformers 55%), not a `$in` of a thousand modules.
    choices = [
        ("module", _module_set(columns["module"], SELECTIVITIES[0])),
        ("package", ("pip",)),
        ("package", ("transformers",)),
    ]
    filters = tuple(
        FilterCase(f"{share:.0%}", name, values, np.isin(columns[name], values))
        for share, (name, values) in zip(SELECTIVITIES, choices, strict=True)
    )
    return Dataset(
        name="docstrings",
        description=f"docstrings (real MiniLM embeddings, {n:,} x {base.shape[1]}, "
        f"{q:,} queries, cosine)",
        base=base,
        queries=qs,
        truth=truth,
        columns=columns,
        property_types=dict(PROPERTY_TYPES),
        filters=filters,
    )


def synthetic(
    rows: int, dim: int, queries: int = 1000, *, seed: int = 0, clusters: int | None = None
) -> Dataset:
    """Seeded clustered vectors: Gaussian blobs around random centres, unit
    length, queries drawn like the rows but held out. `package` takes values
    of known shares (1%, 10%, 50%, the rest), `module` 100 even values (1%
    each), `length` a skewed int."""
    rng = np.random.default_rng(seed)
    clusters = clusters or max(8, min(1000, rows // 200))
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    spread = np.float32(0.6)

    def draw(n: int) -> np.ndarray:
        out = np.empty((n, dim), dtype=np.float32)
        for start in range(0, n, 100_000):  # chunks: a million rows of noise at once is 3 GB
            m = min(100_000, n - start)
            noise = rng.standard_normal(size=(m, dim), dtype=np.float32)
            out[start : start + m] = _unit(centers[rng.integers(clusters, size=m)] + spread * noise)
        return out

    base, qs = draw(rows), draw(queries)
    truth = exact_topk(base, qs, TRUTH_K)
    u = rng.random(rows)
    shares = np.cumsum(SELECTIVITIES)
    package = np.where(
        u < shares[0], "p01", np.where(u < shares[1], "p10", np.where(u < shares[2], "p50", "rest"))
    )
    columns = {
        "package": package,
        "module": np.char.add("m", rng.integers(100, size=rows).astype(str)),
        "length": rng.zipf(1.5, size=rows).clip(max=100_000).astype(np.int64),
    }
    filters = tuple(
        FilterCase(f"{share:.0%}", "package", (value,), package == value)
        for share, value in zip(SELECTIVITIES, ("p01", "p10", "p50"), strict=True)
    )
    return Dataset(
        name="synthetic",
        description=f"synthetic (seeded clustered, {rows:,} x {dim}, {queries:,} queries, "
        f"{clusters} clusters, cosine)",
        base=base,
        queries=qs,
        truth=truth,
        columns=columns,
        property_types=dict(PROPERTY_TYPES),
        filters=filters,
    )


def load(
    kind: str, *, rows: int | None, dim: int, queries: int | None, seed: int = 0
) -> tuple[Dataset, str | None]:
    """The dataset asked for, and why another was used instead (None when
    it was the one asked for): docstrings falls back to synthetic data of
    the same shape when the files are absent."""
    if kind == "docstrings":
        try:
            return load_docstrings(rows, queries), None
        except FileNotFoundError as exc:
            why = f"{exc}: used synthetic data of the same shape"
            return synthetic(rows or 17_971, 384, queries or 1000, seed=seed), why
    if kind == "synthetic":
        return synthetic(rows or 10_000, dim, queries or 1000, seed=seed), None
    raise ValueError(f"unknown dataset {kind!r} (docstrings or synthetic)")
