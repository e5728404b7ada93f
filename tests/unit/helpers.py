"""Small helpers for engine-level tests (real LMDB, real hnswlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vektra.common.schema import CollectionSchema
from vektra.common.validation import ObjectIn
from vektra.node.config import EngineConfig
from vektra.node.engine import Engine


def make_schema(
    name: str = "docs", dim: int = 8, metric: str = "cosine", **props: Any
) -> CollectionSchema:
    return CollectionSchema.from_dict(
        {
            "name": name,
            "vectors": {"v": {"dim": dim, "metric": metric}},
            "properties": props or {"group": "keyword", "n": "int"},
        }
    ).validated()


def open_engine(path: Path, **config: Any) -> Engine:
    return Engine(EngineConfig(path, **config))


def objects(vectors: np.ndarray, start: int = 0, groups: int = 5) -> list[ObjectIn]:
    return [
        ObjectIn(
            f"id{start + i}", {"group": f"g{(start + i) % groups}", "n": start + i}, {"v": vec}
        )
        for i, vec in enumerate(vectors)
    ]


def brute_force(base: np.ndarray, query: np.ndarray, k: int, metric: str = "cosine") -> np.ndarray:
    if metric == "l2":
        d = ((base - query) ** 2).sum(axis=1)
    elif metric == "ip":
        d = 1 - base @ query
    else:
        b = base / np.linalg.norm(base, axis=1, keepdims=True)
        d = 1 - b @ (query / np.linalg.norm(query))
    return np.argsort(d, kind="stable")[:k]


def recall(found: list[list[int]], truth: list[list[int]] | np.ndarray) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / sum(len(t) for t in truth)
