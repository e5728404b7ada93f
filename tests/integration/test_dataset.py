"""The real dataset (../shared/datasets/docstrings) on one node: recall@10 at
the default ef, filtered search against exact ground truth, exact filter
queries."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import Docstrings
from vektra import Client

pytestmark = pytest.mark.dataset


@pytest.fixture
def loaded(client: Client, docstrings: Docstrings) -> Client:
    client.create_collection(
        "docstrings",
        vectors={"embedding": {"dim": 384, "metric": "cosine"}},  # default HNSW parameters and ef
        properties={"package": "keyword", "module": "keyword", "length": "int"},
    )
    col = client.collection("docstrings")
    col.upsert(
        ids=[m["id"] for m in docstrings.meta],
        vectors={"embedding": docstrings.base},
        properties=[{k: m[k] for k in ("package", "module", "length")} for m in docstrings.meta],
    )
    assert col.count() == len(docstrings.meta)
    return client


def _recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)) / sum(
        map(len, truth)
    )


def test_recall_at_10_default_ef(loaded: Client, docstrings: Docstrings) -> None:
    col = loaded.collection("docstrings")
    ids = [m["id"] for m in docstrings.meta]
    found: list[list[str]] = []
    for start in range(0, len(docstrings.queries), 250):
        results = col.search_batch(docstrings.queries[start : start + 250], k=10, field="embedding")
        found += [[h.id for h in r] for r in results]
    truth = [[ids[j] for j in row[:10]] for row in docstrings.groundtruth]
    r = _recall(found, truth)
    print(f"recall@10 at default ef: {r:.4f}")
    assert r >= 0.95


@pytest.mark.parametrize(
    "flt",
    [
        {"package": "pip"},  # small: exact scan
        {"package": "transformers"},  # large share: post-filter
        {"length": {"$gte": 200, "$lt": 800}},
        {"$and": [{"package": "stdlib"}, {"length": {"$lt": 300}}]},
        {"module": {"$in": ["os", "json", "asyncio", "typing"]}},
    ],
)
def test_filtered_search_matches_exact_ground_truth(
    loaded: Client, docstrings: Docstrings, flt: dict
) -> None:
    meta = docstrings.meta

    def ok(m: dict) -> bool:
        if "package" in flt:
            return m["package"] == flt["package"]
        if "length" in flt:
            return 200 <= m["length"] < 800
        if "module" in flt:
            return m["module"] in flt["module"]["$in"]
        return m["package"] == "stdlib" and m["length"] < 300

    rows = np.asarray([i for i, m in enumerate(meta) if ok(m)])
    assert len(rows) >= 10
    queries = docstrings.queries[:100]
    sims = queries @ docstrings.base[rows].T
    truth = [[meta[rows[j]]["id"] for j in np.argsort(-s, kind="stable")[:10]] for s in sims]
    results = loaded.collection("docstrings").search_batch(
        queries, k=10, field="embedding", filter=flt
    )
    found = [[h.id for h in r] for r in results]
    assert all(len(f) == 10 for f in found)
    allowed = {meta[i]["id"] for i in rows}
    assert all(h in allowed for f in found for h in f)
    r = _recall(found, truth)
    print(f"filtered recall@10 for {flt} ({len(rows)} matches, {results[0].plan}): {r:.4f}")
    assert r >= 0.95


def test_filter_queries_are_exact(loaded: Client, docstrings: Docstrings) -> None:
    col = loaded.collection("docstrings")
    meta = docstrings.meta
    expected = sorted(
        (m for m in meta if m["package"] in ("pip", "setuptools") and m["length"] >= 1000),
        key=lambda m: (-m["length"], m["id"]),
    )
    flt = {"package": {"$in": ["pip", "setuptools"]}, "length": {"$gte": 1000}}
    assert col.count(filter=flt) == len(expected)
    page = col.query(filter=flt, limit=20, offset=5, order_by="length", descending=True)
    assert [o.properties["length"] for o in page] == [m["length"] for m in expected[5:25]]
    assert col.count(filter={"$not": {"package": "stdlib"}}) == sum(
        m["package"] != "stdlib" for m in meta
    )
