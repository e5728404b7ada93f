"""Request validation shared by every server role (node and router).

Checks a whole request before anything is written and raises
`InvalidArgument` naming the first offending field. Input arrives as plain
values (ids, msgpack bytes, packed float32 bytes) from the service edge; the
output is domain values ready for the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vektra.common import filters
from vektra.common.errors import InvalidArgument
from vektra.common.limits import Limits
from vektra.common.schema import CollectionSchema, Metric, VectorSpec
from vektra.common.values import (
    check_id,
    check_vector,
    decode_vector,
    normalize_properties,
    unpack_map,
)

__all__ = [
    "ObjectIn",
    "check_ids",
    "decode_query_rows",
    "parse_filter",
    "resolve_field",
    "validate_objects",
    "validate_search",
]


@dataclass(frozen=True, slots=True)
class ObjectIn:
    """A validated object to write."""

    id: str
    properties: dict[str, Any]
    vectors: dict[str, np.ndarray]


def validate_objects(
    schema: CollectionSchema,
    limits: Limits,
    items: Sequence[tuple[str, bytes, Mapping[str, bytes]]],
) -> list[ObjectIn]:
    """items: (id, msgpack properties, {field: packed float32}) per object."""
    if not items:
        raise InvalidArgument("objects", "the batch is empty")
    if len(items) > limits.max_batch_objects:
        raise InvalidArgument(
            "objects", f"{len(items)} objects, above the batch limit of {limits.max_batch_objects}"
        )
    total = 0
    seen: set[str] = set()
    out: list[ObjectIn] = []
    # Each field's vectors are checked for the whole batch at once (below):
    # field -> (object index, packed bytes) per object that sets it.
    by_field: dict[str, list[tuple[int, bytes]]] = {}
    for i, (object_id, props_raw, vectors_raw) in enumerate(items):
        where = f"objects[{i}]"
        check_id(object_id, f"{where}.id", limits)
        if object_id in seen:
            raise InvalidArgument(f"{where}.id", f"duplicate id {object_id!r} in one batch")
        seen.add(object_id)
        size = len(object_id) + len(props_raw) + sum(len(v) for v in vectors_raw.values())
        if size > limits.max_object_bytes:
            raise InvalidArgument(
                where, f"object is {size} bytes, above the limit of {limits.max_object_bytes}"
            )
        total += size
        if total > limits.max_batch_bytes:
            raise InvalidArgument(
                "objects", f"batch is above the limit of {limits.max_batch_bytes} bytes"
            )
        for name, data in vectors_raw.items():
            if schema.vector(name) is None:
                raise InvalidArgument(
                    f"{where}.vectors.{name}",
                    f"unknown vector field for collection {schema.name!r}",
                )
            by_field.setdefault(name, []).append((i, data))
        props = normalize_properties(
            schema, unpack_map(props_raw, f"{where}.properties"), f"{where}.properties", limits
        )
        out.append(ObjectIn(object_id, props, {}))
    for name, packed in by_field.items():
        spec = schema.vector(name)
        assert spec is not None
        for i, vector in zip((i for i, _ in packed), _decode_vectors(spec, packed), strict=True):
            out[i].vectors[name] = vector
    return out


def _decode_vectors(spec: VectorSpec, packed: list[tuple[int, bytes]]) -> list[np.ndarray]:
    """Each (object index, bytes) decoded as a vector of `spec`, checked as
    `decode_vector` checks one, in one pass over a matrix of them all; the
    first bad one raises `decode_vector`'s error naming its object."""
    width = spec.dim * 4
    if all(len(data) == width for _, data in packed):
        matrix = np.frombuffer(b"".join(data for _, data in packed), dtype="<f4")
        matrix = matrix.reshape(len(packed), spec.dim)
        fine = np.isfinite(matrix).all(axis=1)
        if spec.metric is Metric.COSINE:
            fine &= matrix.any(axis=1)
        if fine.all():
            return list(matrix)
    for i, data in packed:  # the first bad one raises
        decode_vector(data, spec, f"objects[{i}].vectors.{spec.name}")
    raise AssertionError("a vector failed the batch check but passes alone")


def check_ids(ids: Sequence[str], limits: Limits, *, allow_duplicates: bool = False) -> None:
    if not ids:
        raise InvalidArgument("ids", "no ids given")
    if len(ids) > limits.max_batch_objects:
        raise InvalidArgument(
            "ids", f"{len(ids)} ids, above the limit of {limits.max_batch_objects}"
        )
    if _plainly_valid(ids, limits) and (allow_duplicates or len(set(ids)) == len(ids)):
        return
    seen: set[str] = set()
    for i, object_id in enumerate(ids):
        check_id(object_id, f"ids[{i}]", limits)
        if not allow_duplicates and object_id in seen:
            raise InvalidArgument(f"ids[{i}]", f"duplicate id {object_id!r}")
        seen.add(object_id)


def _plainly_valid(ids: Sequence[str], limits: Limits) -> bool:
    """Whether every id surely passes `check_id`, told without a Python step
    per id: all strings, all ASCII (valid UTF-8, one byte per character),
    none empty, none longer than the limit. Anything else (a wrong type,
    non-ASCII, a bad length) goes through `check_id` one by one, which
    names the id at fault."""
    if not set(map(type, ids)) <= {str} or not "".join(ids).isascii():
        return False
    lengths = list(map(len, ids))
    return min(lengths) > 0 and max(lengths) <= limits.max_id_bytes


def resolve_field(schema: CollectionSchema, field: str) -> VectorSpec:
    """The vector field to search; may be omitted when the collection has one."""
    if not field:
        if len(schema.vectors) == 1:
            return schema.vectors[0]
        names = ", ".join(v.name for v in schema.vectors)
        raise InvalidArgument("field", f"collection has several vector fields ({names}): name one")
    spec = schema.vector(field)
    if spec is None:
        raise InvalidArgument(
            "field", f"unknown vector field {field!r} for collection {schema.name!r}"
        )
    return spec


def parse_filter(schema: CollectionSchema, limits: Limits, raw: bytes) -> filters.Filter:
    if len(raw) > limits.max_filter_bytes:
        raise InvalidArgument(
            "filter", f"filter is above the limit of {limits.max_filter_bytes} bytes"
        )
    return filters.parse(unpack_map(raw, "filter") if raw else None, schema)


def validate_search(limits: Limits, k: int, ef: int) -> None:
    if k <= 0:
        raise InvalidArgument("k", "k must be at least 1")
    if k > limits.max_k:
        raise InvalidArgument("k", f"k={k} is above the limit of {limits.max_k}")
    if ef < 0 or ef > limits.max_ef:
        raise InvalidArgument(
            "ef", f"ef must be between 1 and {limits.max_ef} (0 = collection default)"
        )


def decode_query_rows(data: bytes, rows: int, spec: VectorSpec, limits: Limits) -> np.ndarray:
    """A batch of query vectors: `rows` packed float32 rows of the field's dimension."""
    if not 1 <= rows <= limits.max_search_batch_rows:
        raise InvalidArgument("rows", f"must be between 1 and {limits.max_search_batch_rows}")
    if len(data) != rows * spec.dim * 4:
        raise InvalidArgument("vectors", f"expected {rows} rows of {spec.dim} float32 values")
    queries = np.frombuffer(data, dtype="<f4").reshape(rows, spec.dim)
    # One pass over the whole matrix; the row at fault is looked for only
    # when there is one (a check per row cost 2 µs each, 6% of a batch).
    bad = ~np.isfinite(queries).all(axis=1)
    if spec.metric is Metric.COSINE:
        bad |= ~queries.any(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        check_vector(queries[row], spec, f"vectors[{row}]")
    return queries
