"""Reading files for `vektra import`: JSON lines and `.npy` matrices, turned
into the SDK's object dicts, one `Item` per object, each remembering where in
the file it came from so an error can name the line.

JSON lines, one object per line, in either form:

    {"id": "a", "vector": [0.1, ...], "properties": {"module": "os"}}
    {"id": "a", "vector": [0.1, ...], "module": "os"}          (flat)

(`"vectors": {"field": [...]}` names the fields.) A record with a
"properties" mapping must have nothing else beside id and vectors; in a flat
record every other key is a property.

`.npy`: a 2-D float array, one row per object. Ids and properties come from an
optional JSON lines file with one row per matrix row (same forms, no
vectors), else the row numbers are the ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vektra.common.errors import InvalidArgument

__all__ = [
    "Item",
    "chunked",
    "count_jsonl",
    "load_matrix",
    "parse_record",
    "read_jsonl",
    "read_npy",
]

_VECTOR_KEYS = ("vector", "vectors")


@dataclass(frozen=True, slots=True)
class Item:
    source: str  # "file.jsonl:12" or "file.npy row 7", for error messages
    obj: dict[str, Any]  # an SDK object dict: id, properties and maybe vector(s)
    nbytes: int  # rough wire size, to keep batches well under the SDK's split


def _object_id(raw: Mapping[str, Any], id_key: str, where: str) -> str:
    if id_key not in raw:
        raise InvalidArgument(where, f"no {id_key!r} key (choose another with --id-key)")
    value = raw[id_key]
    # Integer ids are common in benchmark datasets; the API's ids are strings.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{where}.{id_key}", f"must be a string or integer, got {value!r}")
    return value


def parse_record(
    raw: Any, *, id_key: str = "id", field: str | None = None, where: str = "record"
) -> dict[str, Any]:
    """One decoded JSON record as an SDK object dict ({"id", "properties"} and
    "vectors" when the record has any). `field` names the vector field of a
    bare vector; without it the SDK uses the collection's only field."""
    if not isinstance(raw, Mapping):
        raise InvalidArgument(where, f"expected a JSON object, got {type(raw).__name__}")
    obj: dict[str, Any] = {"id": _object_id(raw, id_key, where)}
    if "vector" in raw and "vectors" in raw:
        raise InvalidArgument(where, "has both 'vector' and 'vectors'")
    vec = raw.get("vector", raw.get("vectors"))
    if isinstance(vec, Mapping):
        obj["vectors"] = dict(vec)
    elif vec is not None:
        obj["vectors"] = {field: vec} if field else vec
    if "properties" in raw:
        props = raw["properties"]
        if not isinstance(props, Mapping):
            raise InvalidArgument(f"{where}.properties", "must be a JSON object")
        extra = sorted(set(raw) - {id_key, "properties", *_VECTOR_KEYS})
        if extra:
            raise InvalidArgument(
                where,
                f"keys {extra} beside 'properties': put them inside it, or drop "
                "'properties' and give every property at the top level",
            )
        obj["properties"] = dict(props)
    else:
        obj["properties"] = {k: v for k, v in raw.items() if k not in (id_key, *_VECTOR_KEYS)}
    return obj


def _json_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of the non-blank lines."""
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, line


def _decode(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(where, f"not valid JSON: {exc.msg} (column {exc.colno})") from None


def count_jsonl(path: Path) -> int:
    """Non-blank lines: the object count, for the progress bar."""
    return sum(1 for _ in _json_lines(path))


def read_jsonl(path: Path, *, id_key: str = "id", field: str | None = None) -> Iterator[Item]:
    for number, line in _json_lines(path):
        where = f"{path.name}:{number}"
        obj = parse_record(_decode(line, where), id_key=id_key, field=field, where=where)
        yield Item(where, obj, len(line))


def load_matrix(path: Path) -> np.ndarray:
    """A 2-D numeric array from a .npy file, memory-mapped (rows are read as
    they are sent, so the file may be larger than memory)."""
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise InvalidArgument(path.name, f"not a readable .npy array: {exc}") from None
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
        shape = getattr(matrix, "shape", "?")
        raise InvalidArgument(path.name, f"expected a 2-D array (one row per vector), got {shape}")
    if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(
        matrix.dtype, np.complexfloating
    ):
        raise InvalidArgument(path.name, f"expected real numbers, got dtype {matrix.dtype}")
    return matrix


def read_npy(
    path: Path,
    *,
    ids_file: Path | None = None,
    id_key: str = "id",
    field: str | None = None,
) -> Iterator[Item]:
    """One object per row. With `ids_file`, its rows give each row's id and
    properties and must be exactly as many as the matrix rows (checked before
    the first object is yielded, so a mismatch imports nothing)."""
    matrix = load_matrix(path)
    rows = matrix.shape[0]
    if ids_file is not None:
        n = count_jsonl(ids_file)
        if n != rows:
            raise InvalidArgument(ids_file.name, f"has {n} rows for the {rows} rows of {path.name}")
        meta: Iterable[tuple[int, str] | None] = _json_lines(ids_file)
    else:
        meta = (None for _ in range(rows))
    for row, line in enumerate(meta):
        vector = np.asarray(matrix[row], dtype=np.float32)
        where = f"{path.name} row {row}"
        if line is None:
            obj: dict[str, Any] = {"id": str(row), "properties": {}}
            size = 0
        else:
            number, text = line
            meta_where = f"{ids_file.name if ids_file else ''}:{number}"
            obj = parse_record(_decode(text, meta_where), id_key=id_key, where=meta_where)
            if "vectors" in obj:
                raise InvalidArgument(
                    meta_where, f"has a vector, but the vectors come from {path.name}"
                )
            where = f"{where} ({meta_where})"
            size = len(text)
        obj["vectors"] = {field: vector} if field else vector
        yield Item(where, obj, size + vector.nbytes)


def chunked(items: Iterable[Item], max_objects: int, max_bytes: int) -> Iterator[list[Item]]:
    """Batches of at most `max_objects` items and about `max_bytes` (a single
    larger item still goes alone)."""
    batch: list[Item] = []
    size = 0
    for item in items:
        if batch and (len(batch) >= max_objects or size + item.nbytes > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.nbytes
    if batch:
        yield batch
