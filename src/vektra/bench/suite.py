"""`vektra bench` from its parsed flags to the files in `--out`: choose the
data and systems, run the rounds (and the scaling run), evaluate the
targets, write the report."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import signal
import sys
import time
from typing import Any

from vektra.bench import data, report, runner, targets, workloads
from vektra.bench.catalog import BASELINES, TOPOLOGIES
from vektra.bench.systems import Params
from vektra.bench.workloads import Sizes

__all__ = ["main"]

SMOKE_ROWS, SMOKE_DIM, SMOKE_QUERIES = 2000, 32, 100
SCALING_SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)


def _log(line: str) -> None:
    print(f"vektra bench: {line}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so every cluster started is stopped.
    raise KeyboardInterrupt


def _systems(args: argparse.Namespace) -> list[str]:
    return [TOPOLOGIES[t].name for t in args.topology] + [BASELINES[b].name for b in args.baselines]


def _scaling(args: argparse.Namespace, params: Params, log: runner.Log) -> dict[str, Any]:
    """Ingest time and single-search p50 of 1 node via a router (and raw
    hnswlib beside it) at growing sizes of 128-d synthetic data."""
    sizes = [n for n in SCALING_SIZES if n <= max(args.scaling_max_rows, SCALING_SIZES[0])]
    wanted = workloads.by_name(["search_single"])
    systems = [s for s in ("node", "raw-hnswlib") if s in _systems(args)] or ["node"]
    points: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
    for n in sizes:
        log(f"scaling: {n:,} rows")
        ds = data.synthetic(n, 128, 200, seed=1)
        plan = runner.Plan(
            systems=systems,
            workloads=wanted,
            rounds=1,
            params=params,
            sizes=dataclasses.replace(Sizes(), single_upserts=0),
            idle_s=0,
            memory_probes=False,
        )
        got = runner.run(plan, ds, log)
        for s in systems:
            ingest = got["figures"]["ingest"].get(s) or {}
            search = got["figures"]["search_single"].get(s) or {}
            points[s].append(
                {
                    "rows": n,
                    "ingest_s": ingest.get("seconds"),
                    "ingest_rate": ingest.get("rate"),
                    "search_p50_ms": search.get("p50_ms"),
                    "recall": search.get("recall"),
                    "errors": (ingest.get("errors") or 0) + (search.get("errors") or 0),
                }
            )
    return points


def main(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    sizes = Sizes(clients=args.clients, duration_s=args.duration_s)
    rounds, idle_s = args.rounds, args.idle_s
    note: str | None
    if args.smoke:
        ds, note = data.synthetic(SMOKE_ROWS, SMOKE_DIM, SMOKE_QUERIES), "smoke run"
        sizes = dataclasses.replace(Sizes.smoke(), clients=min(args.clients, 4))
        rounds, idle_s = 1, 0.5
    else:
        ds, note = data.load(args.dataset, rows=args.rows, dim=args.dim, queries=args.queries)
    if note and not args.smoke:
        _log(note)
    _log(f"data: {ds.description}")
    params = Params(ef=args.ef)
    try:
        chosen = workloads.by_name(args.workloads)
    except ValueError as exc:
        print(f"vektra: {exc}", file=sys.stderr)
        return 2
    workdir = (args.out / "work") if args.keep_data else None
    plan = runner.Plan(
        systems=_systems(args),
        workloads=chosen,
        rounds=rounds,
        params=params,
        sizes=sizes,
        idle_s=idle_s,
        workdir=workdir,
    )
    machine = report.machine_info()
    try:
        res = runner.run(plan, ds, _log)
        if args.scaling:
            res["scaling"] = _scaling(args, params, _log)
    except KeyboardInterrupt:
        _log("interrupted; every cluster started was stopped")
        return 130
    from vektra.bench.catalog import SYSTEMS

    res.update(
        started=started,
        seconds=time.perf_counter() - t0,
        machine=machine,
        load_average_after=report.machine_info()["load_average"],
        dataset={
            "name": ds.name,
            "description": ds.description,
            "note": note,
            "filters": [
                {"name": f.name, "filter": f.vektra(), "share": f.share, "matches": f.matches}
                for f in ds.filters
            ],
        },
        systems=[
            {"name": n, "label": SYSTEMS[n].label, "kind": SYSTEMS[n].kind} for n in plan.systems
        ],
        rounds=rounds,
        params=dataclasses.asdict(params),
        sizes=dataclasses.asdict(sizes),
        idle_s=idle_s,
        workloads=[w.name for w in chosen],
    )
    res["targets"] = targets.evaluate(res)
    written = report.write(args.out, res)
    print(report.markdown(res))
    _log(f"done in {res['seconds']:.0f} s; wrote {', '.join(str(p) for p in written)}")
    return 0


if __name__ == "__main__":
    from vektra.cli.main import main as cli_main

    sys.exit(cli_main(["bench", *sys.argv[1:]]))
