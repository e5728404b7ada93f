"""`make demo`: load real data, search it embedded, then on a local cluster.

First embedded, the way a user starts: `vektra.connect(DIR)` opens a data
directory in this process, with no server. Then the same program, through a
`Client`, on a local cluster: a coordinator, three storage nodes and a router
as child processes (as `vektra up` starts them), replication factor 2.

Data: the real MiniLM embeddings of ../shared/datasets/docstrings when they
are there; otherwise the docstrings of this machine's own Python standard
library, vectorized on the spot (feature hashing + a fixed random
projection: no download, no model).

    python -m vektra.cli.demo [--data-dir DIR] [--data auto|shared|stdlib]
                              [--mode embedded|cluster|both]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from vektra.cli.demo_data import embed, load_shared_dataset, stdlib_docstrings
from vektra.cli.up import LocalCluster
from vektra.client import Client, LocalClient, connect

_REPO = Path(__file__).resolve().parents[1]


def _shared_datasets() -> Path | None:
    for root in (
        os.environ.get("VEKTRA_DATASETS"),
        _REPO.parent / "shared" / "datasets",
        Path.cwd().parent / "shared" / "datasets",
    ):
        if root and (Path(root) / "docstrings" / "base.npy").is_file():
            return Path(root)
    return None


def _load_data(
    source: str,
) -> tuple[str, list[dict[str, Any]], np.ndarray, list[tuple[str, np.ndarray]]]:
    """(description, metadata rows, vectors, [(query text, query vector)])."""
    root = _shared_datasets() if source != "stdlib" else None
    if source == "shared" and root is None:
        raise SystemExit("no ../shared/datasets here (set VEKTRA_DATASETS to its folder)")
    if root is not None:
        loaded = load_shared_dataset(root)
        if loaded is not None:
            meta, base = loaded
            with (root / "docstrings" / "queries.jsonl").open() as f:
                qmeta = [json.loads(line) for _, line in zip(range(3), f, strict=False)]
            qvecs = np.load(root / "docstrings" / "queries.npy")[:3]
            queries = [(q["text"], v) for q, v in zip(qmeta, qvecs, strict=True)]
            return f"{len(meta):,} real MiniLM embeddings from {root}", meta, base, queries
    meta = stdlib_docstrings()
    started = time.perf_counter()
    base = embed([m["text"] for m in meta])
    texts = [
        "read a text file line by line",
        "parse command line arguments",
        "compress data with gzip",
    ]
    queries = list(zip(texts, embed(texts), strict=True))
    took = time.perf_counter() - started
    return (
        f"{len(meta):,} docstrings of this machine's Python standard library "
        f"(vectorized in {took:.1f}s)",
        meta,
        base,
        queries,
    )


def _short(text: str, width: int = 70) -> str:
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder="...")


def _show_hits(title: str, hits: Any) -> None:
    print(f"\n{title}")
    for h in hits:
        p = h.properties
        print(
            f"  {h.distance:7.4f}  {h.id:<48.48} {p.get('package', ''):<12} len={p.get('length')}"
        )
    if hasattr(hits, "plan") and hits.plan:
        print(f"  (strategy: {hits.plan.strategy}, {hits.plan.candidates:,} candidates)")


def _exercise(
    c: Client | LocalClient,
    what: str,
    meta: list[dict[str, Any]],
    base: np.ndarray,
    queries: list[tuple[str, np.ndarray]],
    rf: int,
) -> None:
    """The same program for every client: load the data, search, filter, count."""
    if "docstrings" in [s["name"] for s in c.list_collections()]:
        c.drop_collection("docstrings")
    c.create_collection(
        "docstrings",
        vectors={"embedding": {"dim": base.shape[1], "metric": "cosine"}},
        properties={"package": "keyword", "module": "keyword", "length": "int"},
        replication_factor=rf,
    )
    col = c.collection("docstrings")
    started = time.perf_counter()
    step = 2000
    for start in range(0, len(meta), step):
        rows = meta[start : start + step]
        col.upsert(
            ids=[m["id"] for m in rows],
            vectors={"embedding": base[start : start + step]},
            properties=[{k: m[k] for k in ("package", "module", "length")} for m in rows],
        )
        done = min(start + step, len(meta))
        if sys.stdout.isatty():
            print(f"\rloading: {done:,}/{len(meta):,}", end="", flush=True)
    took = time.perf_counter() - started
    rate = len(meta) / took
    print(f"\rloaded {col.count():,} objects in {took:.1f}s ({rate:,.0f} objects/s) {what}")

    text, vec = queries[0]
    _show_hits(f'search: "{_short(text)}"', col.search(vec, k=5, field="embedding"))
    flt = {"length": {"$gte": 100, "$lt": 1000}}
    text, vec = queries[1]
    _show_hits(
        f'filtered search {flt}: "{_short(text)}"',
        col.search(vec, k=5, field="embedding", filter=flt),
    )
    qflt = {"length": {"$gte": 1500}}
    page = col.query(filter=qflt, limit=5, order_by="length", descending=True)
    print(f"\nfilter query {qflt}, longest first ({col.count(filter=qflt):,} match):")
    for o in page:
        print(f"  {o.id:<60.60} len={o.properties['length']}")
    started = time.perf_counter()
    probes = base[:1000]
    col.search_batch(probes, k=10)
    took = time.perf_counter() - started
    rate = len(probes) / took
    print(f"\n{len(probes):,} searches in one batch: {took * 1000:,.0f} ms ({rate:,.0f}/s)")


def run_embedded(
    data_dir: Path, data: tuple[str, list[dict[str, Any]], np.ndarray, list[tuple[str, np.ndarray]]]
) -> None:
    """Embedded: the engine in this process, no server (`vektra.connect`)."""
    _, meta, base, queries = data
    print(f"\n== embedded: vektra.connect({str(data_dir)!r}), no server ==")
    with connect(data_dir) as c:
        _exercise(c, "in this process", meta, base, queries, rf=1)
    print(f"\nclosed; `vektra serve node --data-dir {data_dir}` would serve this data as it is")


def run_cluster(
    data_dir: Path,
    data: tuple[str, list[dict[str, Any]], np.ndarray, list[tuple[str, np.ndarray]]],
    nodes: int = 3,
    rf: int = 2,
) -> None:
    """The same program against a local cluster: 3 nodes, a coordinator, a router."""
    _, meta, base, queries = data
    print(f"\n== cluster: {nodes} nodes (replication factor {rf}), a coordinator, a router ==")
    cluster = LocalCluster(
        data_dir, nodes=nodes, rf=rf, host="127.0.0.1", port=0, log_level="WARNING"
    )
    stop = threading.Event()
    try:
        cluster.start(stop)
        cluster.wait_healthy(stop)
        assert cluster.router is not None and cluster.router.address is not None
        address = cluster.router.address
        print(f"router at {address}; logs: {cluster.log_dir}")
        with Client(address, timeout_s=120) as c:
            _exercise(c, f"through the router, {rf} copies each", meta, base, queries, rf)
            status = c.cluster_status()
            print(f"\ncluster status (epoch {status.epoch}; each object is on {rf} nodes):")
            for n in status.nodes:
                held = "?" if n.objects is None else f"{n.objects:,}"  # None: not asked
                print(f"  {n.id:<10} {n.address:<22} {n.state:<8} {held} objects")
    finally:
        cluster.stop(30)
    print("\ncluster stopped")


def run(data_dir: Path, source: str = "auto", mode: str = "both") -> None:
    data = _load_data(source)
    print(f"data: {data[0]}")
    if mode in ("embedded", "both"):
        run_embedded(data_dir / "embedded", data)
    if mode in ("cluster", "both"):
        run_cluster(data_dir / "cluster", data)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep the node's data here (default: a temporary folder)"
    )
    parser.add_argument(
        "--data",
        choices=["auto", "shared", "stdlib"],
        default="auto",
        help="shared: ../shared/datasets; stdlib: this machine's docstrings; "
        "auto: shared if present",
    )
    parser.add_argument(
        "--mode",
        choices=["embedded", "cluster", "both"],
        default="both",
        help="embedded: in this process (vektra.connect); cluster: 3 nodes, rf 2, through a "
        "router; both: embedded first, then the same program on a cluster (default)",
    )
    args = parser.parse_args()
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        run(args.data_dir, args.data, args.mode)
    else:
        with tempfile.TemporaryDirectory(prefix="vektra-demo-") as tmp:
            run(Path(tmp), args.data, args.mode)


if __name__ == "__main__":
    main()
