"""Crash-safe checkpoints of HNSW indexes.

A checkpoint of one index is three files in the node's `index/` folder:

    c{coll}.{field}.{seq}.hnsw        the hnswlib index
    c{coll}.{field}.{seq}.live.npy    its live labels (hnswlib cannot list them)
    c{coll}.{field}.manifest.json     {applied_seq, files with sha256 and size, ...}

Data files are written under a temporary name, fsynced and renamed; the
manifest is replaced the same way last, so it always names a complete pair.
A crash at any point leaves the previous manifest and its files intact. On
load, every file is checked against the manifest's size and sha256 before
hnswlib sees it: an unverified index file is never loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vektra.common.schema import VectorSpec
from vektra.node.vector_index import VectorIndex

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "load_checkpoint",
    "remove_checkpoints",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

FORMAT = 1


class CheckpointError(Exception):
    """The checkpoint is missing, incomplete or fails verification."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    index: VectorIndex
    applied_seq: int


def _stem(coll_no: int, field: str) -> str:
    return f"c{coll_no}.{field}"


def _manifest_path(folder: Path, coll_no: int, field: str) -> Path:
    return folder / f"{_stem(coll_no, field)}.manifest.json"


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


def save_checkpoint(
    folder: Path, coll_no: int, spec: VectorSpec, index: VectorIndex, applied_seq: int
) -> None:
    """Checkpoint `index`, which must contain exactly the changes up to `applied_seq`."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{_stem(coll_no, spec.name)}.{applied_seq}"
    index_path = folder / f"{stem}.hnsw"
    live_path = folder / f"{stem}.live.npy"
    tmp_index = index_path.with_suffix(".hnsw.tmp")
    tmp_live = folder / f"{stem}.live.tmp.npy"

    max_elements, live = index.save(str(tmp_index))
    np.save(tmp_live, np.asarray(live, dtype=np.uint64))
    for tmp in (tmp_index, tmp_live):
        _fsync_file(tmp)
    os.replace(tmp_index, index_path)
    os.replace(tmp_live, live_path)
    _fsync_dir(folder)

    manifest = {
        "format": FORMAT,
        "applied_seq": applied_seq,
        "field": spec.name,
        "dim": spec.dim,
        "metric": spec.metric.value,
        "max_elements": max_elements,
        "live_count": len(live),
        "files": {
            "index": {
                "name": index_path.name,
                "bytes": index_path.stat().st_size,
                "sha256": _sha256(index_path),
            },
            "live": {
                "name": live_path.name,
                "bytes": live_path.stat().st_size,
                "sha256": _sha256(live_path),
            },
        },
    }
    manifest_path = _manifest_path(folder, coll_no, spec.name)
    tmp_manifest = manifest_path.with_suffix(".json.tmp")
    with tmp_manifest.open("w") as f:
        json.dump(manifest, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp_manifest, manifest_path)
    _fsync_dir(folder)
    _remove_stale(folder, coll_no, spec.name, keep={index_path.name, live_path.name})


def load_checkpoint(folder: Path, coll_no: int, spec: VectorSpec) -> Checkpoint:
    """Verify and load the last checkpoint; CheckpointError on any mismatch."""
    manifest_path = _manifest_path(folder, coll_no, spec.name)
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise CheckpointError("no checkpoint") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"unreadable manifest: {exc}") from None
    try:
        if manifest["format"] != FORMAT:
            raise CheckpointError(f"manifest format {manifest['format']} is not {FORMAT}")
        if manifest["dim"] != spec.dim or manifest["metric"] != spec.metric.value:
            raise CheckpointError("manifest does not match the schema")
        files = {}
        for role in ("index", "live"):
            entry = manifest["files"][role]
            path = folder / entry["name"]
            if not path.is_file():
                raise CheckpointError(f"{role} file {path.name} is missing")
            size = path.stat().st_size
            if size != entry["bytes"]:
                raise CheckpointError(
                    f"{role} file is {size} bytes, manifest says {entry['bytes']}"
                )
            digest = _sha256(path)
            if digest != entry["sha256"]:
                raise CheckpointError(
                    f"{role} file checksum {digest[:12]} does not match the manifest"
                )
            files[role] = path
        live = np.load(files["live"], allow_pickle=False)
        if len(live) != manifest["live_count"]:
            raise CheckpointError("live label count does not match the manifest")
        index = VectorIndex.load(
            spec, str(files["index"]), int(manifest["max_elements"]), live.tolist()
        )
        return Checkpoint(index=index, applied_seq=int(manifest["applied_seq"]))
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"invalid checkpoint: {exc}") from None


def remove_checkpoints(folder: Path, coll_no: int, field: str) -> None:
    _manifest_path(folder, coll_no, field).unlink(missing_ok=True)
    _remove_stale(folder, coll_no, field, keep=set())


def _remove_stale(folder: Path, coll_no: int, field: str, keep: set[str]) -> None:
    prefix = f"{_stem(coll_no, field)}."
    for path in folder.glob(f"{prefix}*"):
        if path.name.endswith(".manifest.json") or path.name in keep:
            continue
        # Only this field's files: the next part of the name must be a seq.
        rest = path.name[len(prefix) :]
        if rest.split(".", 1)[0].isdigit():
            path.unlink(missing_ok=True)
