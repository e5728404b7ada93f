"""Crash-safe checkpoints of HNSW indexes.

A node keeps one index per (collection, vector field, replica position);
a checkpoint of one is a manifest and two files per graph of the index in
the node's `index/` folder:

    c{coll}.{field}.p{pos}.{seq}.hnsw        the main hnswlib graph
    c{coll}.{field}.p{pos}.{seq}.live.npy    its live docnos and their labels, (n, 2) uint64
                                             (hnswlib cannot list which labels are live)
    c{coll}.{field}.p{pos}.{seq}.g1.*        the same two for the fresh graph, if any
                                             (`node.vector_index`)
    c{coll}.{field}.p{pos}.manifest.json     {applied_seq, graphs, files with sha256 and size, ...}

Data files are written under a temporary name, fsynced and renamed; the
manifest is replaced the same way last, so it always names a complete set.
A crash at any point leaves the previous manifest and its files intact. On
load, every file is checked against the manifest's size and sha256 before
hnswlib sees it: an unverified index file is never loaded.

The layout before replica positions (`c{coll}.{field}.manifest.json`, one
index per field) is not read: such a node rebuilds its indexes on start,
and `remove_checkpoints` clears the old files with the others. Format 2,
from before an index had labels of its own (each docno was its label),
lists live docnos alone and is still read that way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vektra.common.schema import VectorSpec
from vektra.node.hnsw_graph import Graph
from vektra.node.vector_index import VectorIndex

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "checkpointed_positions",
    "load_checkpoint",
    "remove_checkpoints",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

FORMAT = 3  # 2: one index per replica position; 3: graphs, with (docno, label) pairs
_READS = (2, FORMAT)


class CheckpointError(Exception):
    """The checkpoint is missing, incomplete or fails verification."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    index: VectorIndex
    applied_seq: int


def _field_stem(coll_no: int, field: str) -> str:
    return f"c{coll_no}.{field}"


def _stem(coll_no: int, field: str, position: int) -> str:
    # Field names have no dots, so "p{pos}" cannot be mistaken for a field.
    return f"{_field_stem(coll_no, field)}.p{position}"


def _manifest_path(folder: Path, coll_no: int, field: str, position: int) -> Path:
    return folder / f"{_stem(coll_no, field, position)}.manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _role(name: str, graph: int) -> str:
    """The manifest's name for a file of graph `graph` (the main one: plain)."""
    return name if graph == 0 else f"{name}.g{graph}"


def save_checkpoint(
    folder: Path,
    coll_no: int,
    spec: VectorSpec,
    position: int,
    index: VectorIndex,
    applied_seq: int,
) -> None:
    """Checkpoint the index of one replica position, which must contain exactly
    the changes up to `applied_seq`."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{_stem(coll_no, spec.name, position)}.{applied_seq}"

    def part(graph: int) -> str:
        return stem if graph == 0 else f"{stem}.g{graph}"

    saved = index.save(lambda g: str(folder / f"{part(g)}.hnsw.tmp"))
    files: dict[str, Path] = {}
    for g, graph in enumerate(saved):
        tmp_live = folder / f"{part(g)}.live.tmp.npy"
        np.save(tmp_live, np.stack([graph.docnos, graph.labels], axis=1))
        for role, tmp, final in (
            (_role("index", g), Path(graph.path), folder / f"{part(g)}.hnsw"),
            (_role("live", g), tmp_live, folder / f"{part(g)}.live.npy"),
        ):
            _fsync_file(tmp)
            os.replace(tmp, final)
            files[role] = final
    _fsync_dir(folder)

    manifest = {
        "format": FORMAT,
        "applied_seq": applied_seq,
        "field": spec.name,
        "position": position,
        "dim": spec.dim,
        "metric": spec.metric.value,
        # The main graph first; `files` names each one's "index" and "live".
        "graphs": [{"max_elements": g.max_elements, "live_count": len(g.docnos)} for g in saved],
        "files": {
            role: {"name": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)}
            for role, path in files.items()
        },
    }
    manifest_path = _manifest_path(folder, coll_no, spec.name, position)
    tmp_manifest = manifest_path.with_suffix(".json.tmp")
    with tmp_manifest.open("w") as f:
        json.dump(manifest, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp_manifest, manifest_path)
    _fsync_dir(folder)
    _remove_stale(
        folder, _stem(coll_no, spec.name, position), keep={p.name for p in files.values()}
    )


def load_checkpoint(folder: Path, coll_no: int, spec: VectorSpec, position: int) -> Checkpoint:
    """Verify and load the last checkpoint of one position's index;
    CheckpointError on any mismatch."""
    manifest_path = _manifest_path(folder, coll_no, spec.name, position)
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise CheckpointError("no checkpoint") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"unreadable manifest: {exc}") from None
    try:
        if manifest["format"] not in _READS:
            raise CheckpointError(f"manifest format {manifest['format']} is not {FORMAT}")
        if manifest["position"] != position:
            raise CheckpointError(f"manifest is for position {manifest['position']}")
        if manifest["dim"] != spec.dim or manifest["metric"] != spec.metric.value:
            raise CheckpointError("manifest does not match the schema")
        old = manifest["format"] == 2
        graphs = [manifest] if old else manifest["graphs"]
        if not graphs:
            raise CheckpointError("manifest lists no graph")
        loaded = []
        for g, meta in enumerate(graphs):
            index_file = _verified(folder, manifest, _role("index", g))
            live = np.load(_verified(folder, manifest, _role("live", g)), allow_pickle=False)
            if len(live) != meta["live_count"]:
                raise CheckpointError("live label count does not match the manifest")
            if old:
                live = np.stack([live, live], axis=1)  # each docno was its own label
            if live.ndim != 2 or live.shape[1] != 2:
                raise CheckpointError(f"live list has shape {live.shape}, not (n, 2)")
            live = live.astype(np.uint64, copy=False)
            loaded.append(
                Graph.load(spec, str(index_file), int(meta["max_elements"]), live[:, 0], live[:, 1])
            )
        return Checkpoint(VectorIndex(spec, loaded), applied_seq=int(manifest["applied_seq"]))
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"invalid checkpoint: {exc}") from None


def _verified(folder: Path, manifest: dict[str, Any], role: str) -> Path:
    """The file the manifest names for `role`, once its size and sha256 match."""
    entry = manifest["files"][role]
    path: Path = folder / entry["name"]
    if not path.is_file():
        raise CheckpointError(f"{role} file {path.name} is missing")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise CheckpointError(f"{role} file is {size} bytes, manifest says {entry['bytes']}")
    digest = _sha256(path)
    if digest != entry["sha256"]:
        raise CheckpointError(f"{role} file checksum {digest[:12]} does not match the manifest")
    return path


def checkpointed_positions(folder: Path, coll_no: int, field: str) -> list[int]:
    """Positions of this field that have a manifest, ascending."""
    prefix = f"{_field_stem(coll_no, field)}.p"
    found = []
    for path in folder.glob(f"{prefix}*.manifest.json"):
        rest = path.name[len(prefix) : -len(".manifest.json")]
        if rest.isdigit():
            found.append(int(rest))
    return sorted(found)


def remove_checkpoints(
    folder: Path, coll_no: int, field: str, keep_positions: Collection[int] = ()
) -> None:
    """Every checkpoint of this field but those of `keep_positions`, and any
    left in the layout before positions."""
    for position in checkpointed_positions(folder, coll_no, field):
        if position not in keep_positions:
            _manifest_path(folder, coll_no, field, position).unlink(missing_ok=True)
    for position in _positions_with_files(folder, coll_no, field):
        if position not in keep_positions:
            _remove_stale(folder, _stem(coll_no, field, position), keep=set())
    legacy = _field_stem(coll_no, field)
    (folder / f"{legacy}.manifest.json").unlink(missing_ok=True)
    _remove_stale(folder, legacy, keep=set())


def _positions_with_files(folder: Path, coll_no: int, field: str) -> set[int]:
    prefix = f"{_field_stem(coll_no, field)}.p"
    out = set()
    for path in folder.glob(f"{prefix}*"):
        head = path.name[len(prefix) :].split(".", 1)[0]
        if head.isdigit():
            out.add(int(head))
    return out


def _remove_stale(folder: Path, stem: str, keep: set[str]) -> None:
    """Data files `{stem}.{seq}.*` not in `keep` (never the manifest)."""
    prefix = f"{stem}."
    for path in folder.glob(f"{prefix}*"):
        if path.name.endswith(".manifest.json") or path.name in keep:
            continue
        # Only this stem's files: the next part of the name must be a seq.
        rest = path.name[len(prefix) :]
        if rest.split(".", 1)[0].isdigit():
            path.unlink(missing_ok=True)
