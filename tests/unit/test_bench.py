"""The benchmark suite's pure parts: exact ground truth, filters of known
selectivity, workload selection and target evaluation (no timing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vektra.bench import catalog, data, floors, report, targets, workloads
from vektra.bench.baselines import HnswlibBaseline
from vektra.bench.measure import median_figures, recall_at
from vektra.bench.systems import Params
from vektra.cli import bench as cli_bench


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


def test_a_router_that_grows_under_load_fails_flatness() -> None:
    """The router's RSS over the concurrent runs may shrink or grow by at
    most 5% of what it was before them."""

    def status(memory: dict) -> str:
        res = {"figures": {}, "memory": memory}
        by_text = {t["target"]: t for t in targets.evaluate(res)}
        return str(by_text["1 node: router growth under load <= 5% of its RSS"]["status"])

    flat = {"router_under_load_mb": 80.0, "router_load_growth_mb": -6.0}
    assert status({"node": flat}) == "pass"
    assert status({"node": {**flat, "router_load_growth_mb": 3.9}}) == "pass"
    assert status({"node": {**flat, "router_load_growth_mb": 4.1}}) == "fail"
    assert status({"node": {"growth_mb": 100.0}}) == "not measured"


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


CALL, GRPC = floors.CALL.name, floors.GRPC.name


def test_bounds_put_each_floor_on_the_fastest_work() -> None:
    """A routed target's bound: the baseline's p50 over (a floor plus the
    fastest in-process p50 at the workload). The floors: the empty gRPC
    round trip's p50, and the topology's get of one id less raw LMDB's.
    Out of reach when even that misses the threshold."""
    res = {
        "figures": {
            "get_single": {
                "node": _fig(500.0, p50_ms=2.1),
                "embedded": _fig(20_000.0, p50_ms=0.05),
                "raw-lmdb": _fig(90_000.0, p50_ms=0.1),
                "grpc-floor": _fig(1_000.0, p50_ms=1.0),
            },
            "search_batch": {
                "node": _fig(10_000.0, recall=0.97, p50_ms=6.0),
                "embedded": _fig(25_000.0, recall=0.97, p50_ms=2.5),
                "raw-hnswlib": _fig(32_000.0, recall=0.97, p50_ms=2.0),
            },
            "get_batch": {
                "node": _fig(20_000.0, p50_ms=5.0),
                "raw-lmdb": _fig(200_000.0, p50_ms=0.5),
                "qdrant-edge": _fig(400_000.0, p50_ms=0.25),
            },
        },
        "memory": {},
    }
    by_text = {t["target"]: t for t in targets.evaluate(res)}
    batched = by_text["1 node via router >= 0.50x raw hnswlib"]
    # Vektra's call floor 2.1 - 0.1 = 2.0 ms; 2.0 / (2.0 + 2.0) = 0.5: just
    # in reach. Above the gRPC floor, 2.0 / (1.0 + 2.0).
    assert batched["bounds"] == {CALL: pytest.approx(0.5), GRPC: pytest.approx(2.0 / 3.0)}
    assert batched["in_reach"] == {CALL: True, GRPC: True} and batched["status"] == "fail"
    embedded = by_text["embedded >= 0.70x raw hnswlib"]
    # The embedded call's floor is its own get of one id: 0.05 - 0.1 < 0, so
    # 0; in process there is no gRPC floor either.
    assert embedded["bounds"] == {CALL: pytest.approx(1.0), GRPC: pytest.approx(1.0)}
    get = by_text["1 node via router >= 0.30x raw LMDB+msgpack gets"]
    # The fastest get of 100 is Qdrant Edge's: 0.5 / (2.0 + 0.25) misses
    # 0.3; above the bare gRPC round trip, 0.5 / (1.0 + 0.25) meets it.
    assert get["bounds"] == {CALL: pytest.approx(0.5 / 2.25), GRPC: pytest.approx(0.4)}
    assert get["in_reach"] == {CALL: False, GRPC: True}
    assert report._reach(get) == "held by Vektra's call"
    assert report._bound_cell(get, "x") == "0.4x / 0.222x (held by Vektra's call)"
    # No floor without the figures it is made of; none for ingest at all.
    assert by_text["3 nodes rf 2 >= 0.25x raw hnswlib"]["bounds"] == {CALL: None, GRPC: None}
    ingest = by_text["rf 1 (1 node) >= 0.75x raw 2-thread add_items"]
    assert ingest["bounds"] == {CALL: None, GRPC: None}
    assert report._reach(ingest) is None and report._bound_cell(ingest, "x") == "—"


def test_a_latency_bound_is_a_ceiling_and_a_failed_figure_has_no_floor() -> None:
    res = {
        "figures": {
            "get_single": {
                "node": _fig(500.0, p50_ms=2.0),
                "embedded": _fig(20_000.0, p50_ms=0.05),
            },
            "search_single": {
                "node": _fig(400.0, p50_ms=2.4),
                "raw-hnswlib": _fig(8_000.0, p50_ms=0.1),
                "chroma": _fig(900.0, p50_ms=1.0),
            },
        },
        "memory": {},
    }
    by_text = {t["target"]: t for t in targets.evaluate(res)}
    single = by_text["1 node via router p50 <= 0.5x Chroma's (in-process)"]
    # No raw LMDB: the whole get is the floor. (2.0 + 0.1) / 1.0 = 2.1 > 0.5;
    # no gRPC floor measured, no bound above it.
    assert single["bounds"] == {CALL: pytest.approx(2.1), GRPC: None}
    assert single["in_reach"] == {CALL: False, GRPC: None}
    assert report._reach(single) == "out of reach"
    # 8 clients: two cores of calls at the call floor's CPU (1.9 ms) plus the
    # fastest search (0.1 ms) is 1,000 queries/s, 2.5x the single client's
    # 400; at the empty gRPC call's CPU (0.8 ms), 2,222 queries/s, 5.6x.
    res["machine"] = {"cpu_count": 2}
    res["figures"]["get_single"]["node"]["cpu_s_per_op"] = {"client": 0.0004, "router": 0.0015}
    res["figures"]["get_single"]["grpc-floor"] = _fig(1_000.0, p50_ms=0.9)
    res["figures"]["get_single"]["grpc-floor"]["cpu_s_per_op"] = {
        "client": 0.0002,
        "router": 0.0003,
        "nodes": 0.0003,
    }
    res["figures"]["search_concurrent"] = {"node": _fig(900.0)}
    by_text = {t["target"]: t for t in targets.evaluate(res)}
    concurrent = by_text["1 node >= 4x its single-client rate (the issue: 4 x 448 queries/s)"]
    assert concurrent["bounds"] == {CALL: pytest.approx(2.5), GRPC: pytest.approx(2 / 0.0009 / 400)}
    assert concurrent["in_reach"] == {CALL: False, GRPC: True}
    res["figures"]["get_single"]["node"]["errors"] = 3  # a floor from failed calls is no floor
    by_text = {t["target"]: t for t in targets.evaluate(res)}
    single = by_text["1 node via router p50 <= 0.5x Chroma's (in-process)"]
    assert single["bounds"] == {CALL: None, GRPC: pytest.approx(1.0)}


def test_the_cli_names_every_system_the_catalog_runs() -> None:
    """`vektra bench` keeps its own lists of names, so that `vektra --help`
    imports none of the suite: they must be the catalog's, in its order."""
    assert tuple(catalog.TOPOLOGIES) == cli_bench.TOPOLOGIES
    assert tuple(catalog.BASELINES) == cli_bench.BASELINES
