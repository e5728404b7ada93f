"""A hypothesis state machine drives the engine (real LMDB, real hnswlib)
through upserts, updates, deletes, searches, filter queries, checkpoints,
crashes and restarts, against an in-memory model.

Invariants: no duplicates, counts match, every filter result is exact, and
recall@10 against brute force stays >= 0.95 over the run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from vektra.common import filters
from vektra.common.validation import ObjectIn
from vektra.node.config import EngineConfig
from vektra.node.engine import Engine

from .helpers import make_schema

DIM = 8
IDS = st.integers(0, 400).map(lambda i: f"o{i}")
GROUPS = ["a", "b", "c", "d"]
FILTERS = st.one_of(
    st.none(),
    st.sampled_from(GROUPS).map(lambda g: {"group": g}),
    st.integers(0, 100).map(lambda n: {"n": {"$lt": n}}),
    st.lists(st.sampled_from(GROUPS), min_size=1, max_size=3).map(
        lambda gs: {"group": {"$nin": gs}}
    ),
    st.tuples(st.sampled_from(GROUPS), st.integers(0, 100)).map(
        lambda t: {"$or": [{"group": t[0]}, {"n": {"$gte": t[1]}}]}
    ),
)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="vektra-sm-"))
        # Small thresholds so HNSW, allow-filter and post-filter paths all run.
        self.config = EngineConfig(self.dir, exact_search_max=20, post_filter_min_share=0.6)
        self.engine = Engine(self.config)
        self.schema = self.engine.create_collection(make_schema(dim=DIM, metric="l2"))
        self.model: dict[str, tuple[dict, np.ndarray]] = {}
        self.found = 0
        self.expected = 0

    def teardown(self) -> None:
        try:
            self.engine.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.expected:
            assert self.found / self.expected >= 0.95, (self.found, self.expected)

    @rule(ids=st.lists(IDS, min_size=1, max_size=40, unique=True), seed=st.integers(0, 2**32 - 1))
    def upsert(self, ids: list[str], seed: int) -> None:
        rng = np.random.default_rng(seed)
        batch = []
        for object_id in ids:
            props = {"group": GROUPS[rng.integers(4)], "n": int(rng.integers(100))}
            vec = rng.normal(size=DIM).astype(np.float32)
            batch.append(ObjectIn(object_id, props, {"v": vec}))
            self.model[object_id] = (props, vec)
        self.engine.upsert("docs", batch)

    @rule(ids=st.lists(IDS, min_size=1, max_size=20, unique=True))
    def delete(self, ids: list[str]) -> None:
        deleted, _ = self.engine.delete("docs", ids)
        assert deleted == sum(1 for i in ids if i in self.model)
        for i in ids:
            self.model.pop(i, None)

    @rule()
    def checkpoint(self) -> None:
        self.engine.checkpoint()

    @rule(clean=st.booleans())
    def restart(self, clean: bool) -> None:
        if clean:
            self.engine.close()
        else:  # a crash: no closing checkpoint
            self.engine.store.close()
        self.engine = Engine(self.config)

    @precondition(lambda self: len(self.model) > 0)
    @rule(flt=FILTERS, seed=st.integers(0, 2**32 - 1), k=st.integers(1, 10))
    def search(self, flt: dict | None, seed: int, k: int) -> None:
        parsed = filters.parse(flt, self.schema)
        query = np.random.default_rng(seed).normal(size=(1, DIM)).astype(np.float32)
        hits = self.engine.search("docs", self.schema.vectors[0], query, k, None, parsed)[0].hits
        ids = [h.record.id for h in hits]
        assert len(ids) == len(set(ids)), "duplicate hits"
        matching = [i for i, (p, _) in self.model.items() if filters.matches(parsed, p)]
        assert len(ids) == min(k, len(matching))
        assert set(ids) <= set(matching), "a hit does not match the filter"
        if matching:
            vecs = np.stack([self.model[i][1] for i in matching])
            d = ((vecs - query[0]) ** 2).sum(axis=1)
            want = min(k, len(matching))
            # Ids tied with the k-th nearest are all right answers: a seed
            # drawn twice gives two ids one vector, and either may be the hit.
            kth = np.sort(d)[want - 1]
            truth = {matching[j] for j in np.flatnonzero(d <= kth)}
            self.found += min(len(truth & set(ids)), want)
            self.expected += want

    @rule(flt=FILTERS)
    def query_and_count(self, flt: dict | None) -> None:
        parsed = filters.parse(flt, self.schema)
        expected = sorted(i for i, (p, _) in self.model.items() if filters.matches(parsed, p))
        got = [r.id for r in self.engine.query("docs", parsed, limit=1000)]
        assert got == expected
        assert self.engine.count("docs", parsed) == len(expected)

    @invariant()
    def counts_match(self) -> None:
        assert self.engine.count_all("docs") == len(self.model)

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        ids = data.draw(
            st.lists(
                st.sampled_from(sorted(self.model)) | IDS, min_size=1, max_size=10, unique=True
            )
        )
        for object_id, rec in zip(ids, self.engine.get("docs", ids), strict=True):
            if object_id in self.model:
                props, vec = self.model[object_id]
                assert rec is not None and rec.properties == props
                np.testing.assert_array_equal(rec.vector("v"), vec)
            else:
                assert rec is None


EngineMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestEngineStateMachine = EngineMachine.TestCase
