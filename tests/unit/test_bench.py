"""The benchmark suite's pure parts: exact ground truth, filters of known
selectivity, workload selection and target evaluation (no timing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vektra.bench import data, targets, workloads
from vektra.bench.baselines import HnswlibBaseline
from vektra.bench.measure import median_figures, recall_at
from vektra.bench.systems import Params


def test_exact_topk_in_chunks_matches_a_full_sort() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(1000, 16)).astype(np.float32)
    queries = rng.normal(size=(20, 16)).astype(np.float32)
    expected = np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :10]
    got = data.exact_topk(base, queries, 10, chunk_rows=97)
    assert (got == expected).all()


def test_synthetic_filters_have_their_shares_and_exact_truth() -> None:
    ds = data.synthetic(5000, 16, 30, seed=1)
    assert [f.name for f in ds.filters] == ["1%", "10%", "50%"]
    for case, share in zip(ds.filters, (0.01, 0.1, 0.5), strict=True):
        assert abs(case.share - share) < share * 0.3 + 0.005
        truth = ds.filtered_truth(case, 10)
        assert case.mask[truth].all()
    assert ds.properties([0])[0].keys() == {"package", "module", "length"}
    assert recall_at(ds.truth[:, :10].tolist(), ds.truth) == 1.0


def test_workload_prefixes_select_families_and_ingest_always_runs() -> None:
    names = [w.name for w in workloads.by_name(["filtered_search"])]
    assert names == ["ingest", "filtered_search_1%", "filtered_search_10%", "filtered_search_50%"]
    with pytest.raises(ValueError, match="unknown workload"):
        workloads.by_name(["nope"])


def test_medians_sum_errors_and_keep_nested_curves() -> None:
    rounds = [
        {"rate": 1.0, "errors": 0, "plan": "exact", "curve": {"16": {"rate": 5.0}}},
        {"rate": 3.0, "errors": 1, "plan": "exact", "curve": {"16": {"rate": 7.0}}},
        {"rate": 2.0, "errors": 0, "plan": "hnsw", "curve": {"16": {"rate": 6.0}}},
    ]
    got = median_figures(rounds)
    assert got["rate"] == 2.0 and got["errors"] == 1 and got["plan"] == "hnsw"
    assert got["curve"]["16"]["rate"] == 6.0


def _fig(rate: float, **extra: object) -> dict:
    return {"ops": 100, "rate": rate, **extra}


def test_targets_pass_fail_and_not_measured() -> None:
    res = {
        "figures": {
            "ingest": {"node": _fig(80.0), "raw-hnswlib": _fig(100.0), "qdrant-edge": _fig(90.0)},
            "search_batch": {
                "node": _fig(10.0, recall=0.96),
                "raw-hnswlib": _fig(30.0, recall=0.97),
            },
        },
        "memory": {},
    }
    by_text = {t["target"]: t for t in targets.evaluate(res)}
    assert by_text["rf 1 (1 node) >= 0.75x raw 2-thread add_items"]["status"] == "pass"
    assert by_text["rf 1 (1 node) ahead of Qdrant Edge"]["status"] == "fail"
    assert by_text["1 node via router >= 0.50x raw hnswlib"]["status"] == "fail"
    assert by_text["rf 2 on 3 nodes >= 0.40x raw add_items"]["status"] == "not measured"
    assert by_text["ingest time grows no faster than n log n"]["status"] == "not measured"


def test_a_batched_figure_times_every_pass_and_scores_the_first(tmp_path: Path) -> None:
    """Batched-search figures time `batch_passes` passes over the queries
    (one pass is too short to read), on the real hnswlib baseline; recall
    is scored once, on the first pass's answers."""
    ds = data.synthetic(600, 16, 100, seed=2)
    params = Params(ef_construction=64, search_batch=32)
    system = HnswlibBaseline(params)
    system.start(ds, tmp_path)
    system.upsert(np.arange(ds.rows))
    for passes in (1, 3):
        sizes = workloads.Sizes(batch_passes=passes, batch_min_s=0.0)
        fig = workloads.search_batch(system, workloads.Context(ds, params, sizes))
        assert fig.ops == passes * 100
        assert len(fig.latencies_s) == passes * 4  # calls of 32, 32, 32 and 4 queries
        assert fig.recall is not None and fig.recall > 0.9
    system.stop()


def test_a_batched_figure_of_a_fast_system_runs_passes_until_its_minimum_time(
    tmp_path: Path,
) -> None:
    """A system whose passes are quick is timed over more of them, up to the
    minimum time (or the cap on passes): a few milliseconds of calls are no
    figure on a shared machine."""
    ds = data.synthetic(600, 16, 100, seed=2)
    params = Params(ef_construction=64, search_batch=32)
    system = HnswlibBaseline(params)
    system.start(ds, tmp_path)
    system.upsert(np.arange(ds.rows))
    sizes = workloads.Sizes(batch_passes=2, batch_min_s=0.25, batch_max_passes=10_000)
    fig = workloads.search_batch(system, workloads.Context(ds, params, sizes))
    passes = fig.extra["passes"]
    assert passes > 2 and fig.seconds >= 0.25
    assert fig.ops == passes * 100 and len(fig.latencies_s) == passes * 4
    assert fig.recall is not None and fig.recall > 0.9  # scored once, on the first pass
    capped = workloads.Sizes(batch_passes=2, batch_min_s=60.0, batch_max_passes=3)
    fig = workloads.search_batch(system, workloads.Context(ds, params, capped))
    assert fig.extra["passes"] == 3 and fig.ops == 300
    system.stop()
