"""The operations measured, one function each, and the order they run in.

Each workload takes a started `System` and a `Context` and returns the
`Figures` of one run. Within a round the workloads run in `WORKLOADS`
order, because some change the data: ingest loads all rows but a held-back
tail, single upserts insert the tail, then the reads see the whole dataset,
then the re-upserts (one changes vectors: no search may follow it) and the
deletes. Errors are counted, never raised: an exception or a wrong answer
(fewer objects than exist) is one error.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vektra.bench.data import Dataset
from vektra.bench.measure import Figures, Timer, recall_at
from vektra.bench.systems import Params, System

__all__ = ["WORKLOADS", "Context", "Sizes", "Workload", "by_name"]


@dataclass(frozen=True)
class Sizes:
    """How much each workload does: the full run's defaults; `smoke()` is a
    tiny version."""

    single_upserts: int = 500  # rows held back from ingest and inserted one per call
    gets: int = 1000  # single gets
    # Calls of `get_batch_size` ids: 100 calls were 0.05-0.1 s embedded, and
    # a background pass of the node (a checkpoint, anti-entropy) moved the
    # figure by half.
    get_batches: int = 400
    get_batch_size: int = 100
    filter_queries: int = 100
    filtered_searches: int = 200  # queries per selectivity
    reupsert_rows: int = 5000
    delete_rows: int = 2000
    delete_batch: int = 100
    clients: int = 8  # threads of the concurrent and mixed runs
    duration_s: float = 10.0  # of the concurrent and mixed runs
    write_share: float = 0.2  # of the mixed run's operations
    efs: tuple[int, ...] = (10, 16, 32, 64, 128, 256)
    # Passes over the queries per batched-search figure: one pass of 1,000
    # queries is 16 calls, 0.03-0.1 s, and its ratios moved by ~10% between
    # runs of the same code.
    batch_passes: int = 4
    # ... and more passes until the timed calls add up to this: four passes
    # were 0.1 s for raw hnswlib, and its rate at ef 32 differed 46% between
    # the batched workload and the ef sweep of one run. Slower systems pass
    # it in their four passes already.
    batch_min_s: float = 1.0
    batch_max_passes: int = 100

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(
            single_upserts=100,
            gets=100,
            get_batches=10,
            filter_queries=10,
            filtered_searches=20,
            reupsert_rows=500,
            delete_rows=200,
            duration_s=1.0,
            efs=(16, 64),
            batch_passes=1,
            batch_min_s=0.0,
        )


@dataclass
class Context:
    ds: Dataset
    params: Params
    sizes: Sizes
    seed: int = 0
    hold_back: bool = True  # False when no single-upsert workload will insert the tail
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def tail(self) -> np.ndarray:
        """The rows ingest leaves for the single upserts."""
        n = min(self.sizes.single_upserts, self.ds.rows // 10) if self.hold_back else 0
        return np.arange(self.ds.rows - n, self.ds.rows)

    def random_rows(self, count: int) -> np.ndarray:
        return np.asarray([self.rng.randrange(self.ds.rows) for _ in range(count)])


@dataclass(frozen=True)
class Workload:
    name: str
    title: str  # the report's row label
    unit: str  # what `rate` counts per second
    needs: frozenset[str]
    run: Callable[[System, Context], Figures]
    concurrent_writes: bool = False  # excluded on systems without thread-safe writes

    def applies_to(self, system: System) -> bool:
        if self.concurrent_writes and not getattr(system, "thread_safe_writes", True):
            return False
        return self.needs <= system.supports


# ---------------------------------------------------------------- writes


def ingest(s: System, c: Context) -> Figures:
    fig = Figures()
    timer = Timer(fig)
    rows = np.arange(0, c.ds.rows - len(c.tail))
    for start in range(0, len(rows), c.params.batch_size):
        batch = rows[start : start + c.params.batch_size]
        timer.call(s.upsert, batch, ops=len(batch))
    # Making the data searchable is part of ingesting it (Qdrant Edge's
    # optimizer): its time counts in the rate, not as a batch's latency.
    build = time.perf_counter()
    try:
        s.after_ingest()
    except Exception as exc:
        fig.errors += 1
        fig.extra.setdefault("first_error", f"{type(exc).__name__}: {exc}"[:300])
    fig.extra["index_build_s"] = time.perf_counter() - build
    fig.seconds += fig.extra["index_build_s"]
    return fig


def upsert_single(s: System, c: Context) -> Figures:
    fig = Figures()
    timer = Timer(fig)
    for row in c.tail.tolist():
        timer.call(s.upsert_one, row)
    return fig


def _reupsert(s: System, c: Context, changed: bool) -> Figures:
    fig = Figures()
    timer = Timer(fig)
    rows = np.arange(min(c.sizes.reupsert_rows, c.ds.rows))
    vectors = c.ds.base[rows]
    if changed:
        # A nudge, not new data: the objects stay where they were, roughly.
        noise = np.random.default_rng(c.seed).normal(scale=0.05, size=vectors.shape)
        vectors = (vectors + noise).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for start in range(0, len(rows), c.params.batch_size):
        sl = slice(start, start + c.params.batch_size)
        timer.call(s.upsert, rows[sl], vectors[sl], ops=len(rows[sl]))
    return fig


def reupsert_same(s: System, c: Context) -> Figures:
    return _reupsert(s, c, changed=False)


def reupsert_changed(s: System, c: Context) -> Figures:
    return _reupsert(s, c, changed=True)


def delete(s: System, c: Context) -> Figures:
    fig = Figures()
    timer = Timer(fig)
    rows = np.arange(c.ds.rows - min(c.sizes.delete_rows, c.ds.rows), c.ds.rows)
    for start in range(0, len(rows), c.sizes.delete_batch):
        batch = rows[start : start + c.sizes.delete_batch]
        timer.call(s.delete, batch, ops=len(batch))
    return fig


# ---------------------------------------------------------------- reads


def _checked_get(fig: Figures, found: int | None, wanted: int) -> None:
    if found is not None and found != wanted:
        fig.errors += 1
        fig.extra.setdefault("first_error", f"got {found} of {wanted} objects")


def get_single(s: System, c: Context) -> Figures:
    fig = Figures()
    timer = Timer(fig)
    for row in c.random_rows(c.sizes.gets):
        _checked_get(fig, timer.call(s.get, np.asarray([row])), 1)
    return fig


def get_batch(s: System, c: Context) -> Figures:
    fig = Figures()
    timer = Timer(fig)
    size = min(c.sizes.get_batch_size, c.ds.rows)
    for _ in range(c.sizes.get_batches):
        rows = np.asarray(c.rng.sample(range(c.ds.rows), size))
        _checked_get(fig, timer.call(s.get, rows, ops=size), size)
    return fig


def filter_query(s: System, c: Context) -> Figures:
    fig = Figures()
    timer = Timer(fig)
    case = c.ds.filters[0]
    fig.extra.update(filter=case.vektra(), matches=case.matches, share=case.share)
    for _ in range(c.sizes.filter_queries):
        _checked_get(fig, timer.call(s.filter_query, case), case.matches)
    return fig


def search_single(s: System, c: Context) -> Figures:
    s.prepare_ef(c.params.ef)
    fig = Figures()
    timer = Timer(fig)
    p = c.params
    found = [timer.call(s.search, q, p.k, p.ef) or [] for q in c.ds.queries]
    fig.recall = recall_at(found, c.ds.truth, p.k)
    fig.extra["ef"] = p.ef
    return fig


def _batched(s: System, c: Context, ef: int) -> Figures:
    s.prepare_ef(ef)
    fig = Figures()
    timer = Timer(fig)
    p, queries = c.params, c.ds.queries
    found: list[list[int]] = []
    sizes = c.sizes
    pass_no = 0
    while pass_no < sizes.batch_passes or (
        fig.seconds < sizes.batch_min_s and pass_no < sizes.batch_max_passes
    ):
        for start in range(0, len(queries), p.search_batch):
            batch = queries[start : start + p.search_batch]
            got = timer.call(s.search_batch, batch, p.k, ef, ops=len(batch))
            if pass_no == 0:  # recall from the first pass; the others time the same calls
                found += [[] for _ in batch] if got is None else s.batch_ids(got)
        pass_no += 1
    fig.recall = recall_at(found, c.ds.truth, p.k)
    fig.extra.update(ef=ef, passes=pass_no)
    return fig


def search_batch(s: System, c: Context) -> Figures:
    return _batched(s, c, c.params.ef)


def ef_sweep(s: System, c: Context) -> Figures:
    """Batched searches at each ef: the recall-QPS curve. The figures are
    the sum; the curve is in `extra["curve"]`, keyed by ef."""
    total = Figures()
    curve = {}
    try:
        figs = [(ef, _batched(s, c, ef)) for ef in c.sizes.efs]
    finally:
        s.prepare_ef(c.params.ef)  # the workloads after the sweep search at the run's ef
    for ef, fig in figs:
        curve[str(ef)] = {
            "rate": fig.rate,
            "recall": fig.recall,
            "p50_ms": (fig.percentile(50) or 0.0) * 1000,
            "errors": fig.errors,
        }
        total.ops += fig.ops
        total.seconds += fig.seconds
        total.errors += fig.errors
        total.latencies_s += fig.latencies_s
    total.extra["curve"] = curve
    return total


def _filtered(share_index: int) -> Callable[[System, Context], Figures]:
    def run(s: System, c: Context) -> Figures:
        fig = Figures()
        timer = Timer(fig)
        case = c.ds.filters[share_index]
        p = c.params
        truth = c.ds.filtered_truth(case, p.k)
        count = min(c.sizes.filtered_searches, len(c.ds.queries))
        found: list[list[int]] = []
        plans: dict[str, int] = {}
        for q in c.ds.queries[:count]:
            answer = timer.call(s.filtered_search, q, p.k, case, p.ef)
            hits, plan = answer if answer is not None else ([], None)
            found.append(hits)
            if plan is not None:
                plans[plan] = plans.get(plan, 0) + 1
        fig.recall = recall_at(found, truth, p.k)
        fig.extra.update(filter=case.vektra(), matches=case.matches, share=case.share)
        if plans:
            fig.extra["plan"] = max(plans, key=plans.__getitem__)
        return fig

    return run


def _threads(s: System, c: Context, write_share: float) -> Figures:
    """`clients` threads, each a client issuing single searches (and, with
    `write_share`, single re-upserts of unchanged objects) for `duration_s`."""
    p, queries = c.params, c.ds.queries
    stop_at = time.perf_counter() + c.sizes.duration_s
    lock = threading.Lock()
    per_thread: list[Figures] = []
    found: dict[int, list[int]] = {}
    writes = Figures()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        reads, wfig = Figures(), Figures()
        rt, wt = Timer(reads), Timer(wfig)
        mine: dict[int, list[int]] = {}
        while time.perf_counter() < stop_at:
            if write_share and rng.random() < write_share:
                row = rng.randrange(c.ds.rows)
                wt.call(s.upsert_one, row)
            else:
                i = rng.randrange(len(queries))
                hits = rt.call(s.search, queries[i], p.k, p.ef)
                if hits is not None:
                    mine[i] = hits
        with lock:
            per_thread.append(reads)
            found.update(mine)
            writes.ops += wfig.ops
            writes.errors += wfig.errors
            writes.latencies_s += wfig.latencies_s

    start = time.perf_counter()
    threads = [
        threading.Thread(target=client, args=(c.seed * 1000 + i,), name=f"bench-client-{i}")
        for i in range(c.sizes.clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    fig = Figures(seconds=wall)
    for r in per_thread:
        fig.ops += r.ops
        fig.errors += r.errors
        fig.latencies_s += r.latencies_s
        if "first_error" in r.extra:
            fig.extra.setdefault("first_error", r.extra["first_error"])
    rows = sorted(found)
    fig.recall = recall_at([found[i] for i in rows], c.ds.truth[rows], p.k) if rows else None
    fig.extra["clients"] = c.sizes.clients
    if write_share:
        fig.errors += writes.errors
        fig.extra["writes_per_s"] = writes.ops / wall
        for p_ in (50, 99):
            value = np.percentile(writes.latencies_s, p_) * 1000 if writes.latencies_s else None
            fig.extra[f"write_p{p_}_ms"] = None if value is None else float(value)
    return fig


def search_concurrent(s: System, c: Context) -> Figures:
    return _threads(s, c, 0.0)


def mixed(s: System, c: Context) -> Figures:
    return _threads(s, c, c.sizes.write_share)


def _w(
    name: str,
    title: str,
    unit: str,
    needs: set[str],
    run: Callable[[System, Context], Figures],
    **kw: bool,
) -> Workload:
    return Workload(name, title, unit, frozenset(needs), run, **kw)


# In the order a round runs them (see the module docstring).
WORKLOADS: tuple[Workload, ...] = (
    _w("ingest", "ingest, batches of 1,000", "objects/s", {"upsert"}, ingest),
    _w("upsert_single", "upsert, one object per call", "objects/s", {"upsert_one"}, upsert_single),
    _w("get_single", "get by id, one per call", "objects/s", {"get"}, get_single),
    _w("get_batch", "get by id, 100 per call", "objects/s", {"get"}, get_batch),
    _w("filter_query", "filter query (~1% match, properties)", "queries/s", {"filter_query"},
       filter_query),
    _w("search_single", "vector search, one client, k 10", "queries/s", {"search"}, search_single),
    _w("search_batch", "vector search, 64 per call, k 10", "queries/s", {"search_batch"},
       search_batch),
    _w("filtered_search_1%", "filtered search, ~1% match", "queries/s", {"filtered_search"},
       _filtered(0)),
    _w("filtered_search_10%", "filtered search, ~10% match", "queries/s", {"filtered_search"},
       _filtered(1)),
    _w("filtered_search_50%", "filtered search, ~50% match", "queries/s", {"filtered_search"},
       _filtered(2)),
    _w("ef_sweep", "ef sweep, 64 per call (all efs)", "queries/s", {"search_batch"}, ef_sweep),
    _w("search_concurrent", "vector search, concurrent clients", "queries/s", {"search"},
       search_concurrent),
    _w("mixed", "mixed reads + re-upserts, concurrent clients", "queries/s",
       {"search", "upsert_one"}, mixed, concurrent_writes=True),
    _w("reupsert_same", "re-upsert, vectors unchanged", "objects/s", {"upsert"}, reupsert_same),
    _w("reupsert_changed", "re-upsert, vectors changed", "objects/s", {"upsert"},
       reupsert_changed),
    _w("delete", "delete, 100 ids per call", "objects/s", {"delete"}, delete),
)  # fmt: skip


def by_name(names: list[str] | None) -> tuple[Workload, ...]:
    """The workloads asked for, in run order; ingest is always run (the
    others need data), and an unknown name is an error naming the known."""
    if not names:
        return WORKLOADS
    known = [w.name for w in WORKLOADS]
    # A prefix names every workload it starts ("filtered_search": all selectivities).
    wanted = {"ingest"}
    for name in names:
        matched = {k for k in known if k == name or k.startswith(name + "_")}
        if not matched:
            raise ValueError(f"unknown workload {name!r}; known: {', '.join(known)}")
        wanted |= matched
    return tuple(w for w in WORKLOADS if w.name in wanted)
