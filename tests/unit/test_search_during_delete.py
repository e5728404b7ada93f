"""Exact-scan searches racing deletes on one engine: a label deleted between
the moment the scan lists its labels and the moment it reads their vectors
must be skipped, not fail the search (hnswlib raises "Label not found" for a
label marked deleted, which reached callers as INTERNAL)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np

from vektra.common import filters

from .helpers import make_schema, objects, open_engine

RNG = np.random.default_rng(23)


def test_exact_searches_during_deletes_skip_labels_deleted_mid_search(tmp_path: Path) -> None:
    e = open_engine(tmp_path)  # 600 objects <= exact_search_max: every search is an exact scan
    schema = e.create_collection(make_schema(dim=32))
    spec = schema.vectors[0]
    n = 600
    e.upsert("docs", objects(RNG.normal(size=(n, 32)).astype(np.float32)))
    queries = RNG.normal(size=(4, 32)).astype(np.float32)
    everything = filters.All()
    some = filters.parse({"group": {"$in": ["g1", "g2", "g3"]}}, schema)
    errors: list[BaseException] = []
    strategies: set[str] = set()
    deleting = threading.Event()
    deleting.set()

    def search() -> None:
        try:
            while deleting.is_set():
                for flt in (everything, some):
                    for r in e.search("docs", spec, queries, 10, None, flt):
                        strategies.add(r.strategy)
                        assert all(not h.record.deleted for h in r.hits)
        except BaseException as exc:  # reported below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(2)]
    # Switch threads often, so a delete lands inside a search's window (the
    # race is real at any interval; this only makes it show up quickly).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    for t in threads:
        t.start()
    try:
        for i in range(0, n, 2):
            e.delete("docs", [f"id{i}", f"id{i + 1}"])
            if errors:
                break
    finally:
        deleting.clear()
        for t in threads:
            t.join(timeout=60)
        sys.setswitchinterval(interval)
    assert not errors, f"a search failed while objects were deleted: {errors[0]!r}"
    assert strategies <= {"exact", "empty"} and "exact" in strategies
    assert e.count_all("docs") == 0
