"""RSS growth for the same data, for systems that run inside a process.

The in-process systems (Qdrant Edge, Chroma, raw hnswlib, Vektra embedded)
all share the benchmark's process during a run, so their memory cannot be
told apart there. Each is measured instead in a child process of its own
that loads the data, starts the system on an empty store, ingests every row
(and builds its index), then idles: the growth is the RSS after ingest less
the RSS after the empty start. The routed topologies' nodes are measured in
the main run directly (their own processes).

    python -m vektra.bench.memory SYSTEM DATA.npz PARAMS.json WORKDIR IDLE_S
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from vektra.bench.data import Dataset
from vektra.bench.systems import Params

__all__ = ["IN_PROCESS", "probe"]

# Systems whose memory is measured in a child (the rest have processes of their own).
IN_PROCESS = ("embedded", "raw-hnswlib", "chroma", "qdrant-edge")
MB = 1024 * 1024


def _save(ds: Dataset, path: Path) -> None:
    arrays: dict[str, Any] = {"base": ds.base, **{f"col_{k}": v for k, v in ds.columns.items()}}
    np.savez(path, **arrays)
    path.with_suffix(".types.json").write_text(json.dumps(ds.property_types))


def _load(path: Path) -> Dataset:
    with np.load(path) as z:
        base = z["base"]
        columns = {k[4:]: z[k] for k in z.files if k.startswith("col_")}
    types = json.loads(path.with_suffix(".types.json").read_text())
    empty = np.empty((0, base.shape[1]), dtype=np.float32)
    return Dataset("probe", "probe", base, empty, np.empty((0, 10), int), columns, types)


def probe(
    system: str, ds: Dataset, params: Params, workdir: Path, idle_s: float, timeout_s: float = 900
) -> dict[str, Any]:
    """Run the probe of `system` in a child; its figures, or {"error": ...}."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "probe-data.npz"
    if not data.exists():
        _save(ds, data)
    params_file = workdir / "probe-params.json"
    params_file.write_text(json.dumps(dataclasses.asdict(params)))
    argv = [sys.executable, "-m", "vektra.bench.memory", system, str(data), str(params_file),
            str(workdir / system), str(idle_s)]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"memory probe of {system} took over {timeout_s:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"memory probe of {system} failed: {done.stderr.strip()[-500:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _rss() -> float:
    return float(psutil.Process().memory_info().rss / MB)


def main(argv: list[str]) -> int:
    from vektra.bench.catalog import SYSTEMS

    name, data, params_file, workdir, idle_s = argv
    ds = _load(Path(data))
    params = Params(**json.loads(Path(params_file).read_text()))
    system = SYSTEMS[name](params)
    system.start(ds, Path(workdir))
    try:
        started = _rss()
        for rows in ds.batches(params.batch_size):
            system.upsert(rows)
        system.after_ingest()
        loaded = _rss()
        time.sleep(float(idle_s))
        idle = _rss()
    finally:
        system.stop()
    print(
        json.dumps(
            {
                "started_mb": started,
                "loaded_mb": loaded,
                "growth_mb": loaded - started,
                "idle_growth_mb": idle - loaded,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
