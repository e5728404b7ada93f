"""Checks and shaping of what SDK users pass in, shared by both clients.

Pure functions: nothing here makes a call or touches protobuf. They fail fast
with an `InvalidArgument` naming the parameter, so a bad input is reported
before anything is sent; they are conveniences, since the server validates
everything again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from vektra.client.models import Object
from vektra.common.errors import InvalidArgument
from vektra.common.limits import Limits
from vektra.common.schema import CollectionSchema

__all__ = [
    "DEFAULT_ADDRESS",
    "LIMITS",
    "as_matrix",
    "as_vector",
    "check_client_options",
    "check_collection_name",
    "check_offset",
    "chunks",
    "id_list",
    "objects_from_columns",
    "objects_from_dicts",
    "parse_addresses",
    "positive",
    "single_field",
]

LIMITS = Limits()
DEFAULT_ADDRESS = "127.0.0.1:7700"
_OBJECT_KEYS = frozenset({"id", "vectors", "vector", "properties"})

_Sliceable = TypeVar("_Sliceable", list[str], np.ndarray)


# ---------------------------------------------------------------- client options


def parse_addresses(addresses: str | Sequence[str]) -> list[str]:
    if not isinstance(addresses, str | Sequence):
        raise InvalidArgument("addresses", f"expected host:port strings, got {addresses!r}")
    items = addresses.split(",") if isinstance(addresses, str) else list(addresses)
    if not all(isinstance(a, str) for a in items):
        raise InvalidArgument("addresses", f"expected host:port strings, got {addresses!r}")
    out = [a.strip() for a in items if a.strip()]
    if not out:
        raise InvalidArgument("addresses", "no address given")
    return out


def check_client_options(timeout_s: float, retries: int) -> None:
    if not timeout_s > 0:
        raise InvalidArgument("timeout_s", f"must be positive, got {timeout_s!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidArgument("retries", f"must be a non-negative integer, got {retries!r}")


def check_collection_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidArgument("name", f"expected a collection name, got {name!r}")
    return name


# ---------------------------------------------------------------- scalars and ids


def positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidArgument(where, f"must be a positive integer, got {value!r}")
    return int(value)


def check_offset(offset: int) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidArgument("offset", f"must be a non-negative integer, got {offset!r}")
    return offset


def id_list(ids: Sequence[str] | str) -> list[str]:
    if isinstance(ids, str):  # one id, not its characters
        return [ids]
    out = list(ids)
    if set(map(type, out)) <= {str}:
        return out
    for i, object_id in enumerate(out):
        if not isinstance(object_id, str):
            raise InvalidArgument(f"ids[{i}]", f"must be a string, got {type(object_id).__name__}")
    return [str(x) for x in out]  # np.str_ -> str


def chunks(items: _Sliceable, size: int) -> Iterator[_Sliceable]:
    """Consecutive slices of at most `size` (ids, or rows of a matrix); none
    for an empty input, so an empty request makes no call."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------- vectors


def _as_array(value: Any, where: str, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(where, f"not an array of numbers: {exc}") from None
    if arr.ndim != ndim:
        shape = "1-D vector" if ndim == 1 else "2-D array (one row per vector)"
        raise InvalidArgument(where, f"expected a {shape}, got shape {arr.shape}")
    if arr.size == 0 and ndim == 1:
        raise InvalidArgument(where, "empty vector")
    return arr


def as_vector(value: Any, where: str) -> np.ndarray:
    return _as_array(value, where, 1)


def as_matrix(value: Any, where: str) -> np.ndarray:
    arr = _as_array(value, where, 2)
    if arr.shape[0] and not arr.shape[1]:
        raise InvalidArgument(where, "rows are empty")
    return arr


def single_field(schema: CollectionSchema) -> str:
    """The collection's only vector field, for inputs that do not name one."""
    if len(schema.vectors) != 1:
        names = ", ".join(v.name for v in schema.vectors)
        raise InvalidArgument(
            "vectors",
            f"collection {schema.name!r} has vector fields {names}: name the field "
            "({field: vectors})",
        )
    name: str = schema.vectors[0].name
    return name


# ---------------------------------------------------------------- objects

# `default_field` is a callback rather than a name so the schema is looked up
# only when some input actually leaves its vector field unnamed.


def objects_from_dicts(
    objects: Sequence[Mapping[str, Any]], default_field: Callable[[], str]
) -> Iterator[Object]:
    if isinstance(objects, Mapping):
        raise InvalidArgument("objects", "expected a list of objects, got a single mapping")
    for i, item in enumerate(objects):
        where = f"objects[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidArgument(where, f"expected a mapping, got {type(item).__name__}")
        unknown = set(item) - _OBJECT_KEYS
        if unknown:
            raise InvalidArgument(
                where, f"unknown keys {sorted(unknown)}; expected id, vectors, properties"
            )
        object_id = item.get("id")
        if not isinstance(object_id, str):
            raise InvalidArgument(f"{where}.id", f"must be a string, got {object_id!r}")
        raw = item.get("vectors", item.get("vector"))
        vecs: dict[str, np.ndarray] = {}
        if isinstance(raw, Mapping):
            vecs = {f: as_vector(v, f"{where}.vectors.{f}") for f, v in raw.items()}
        elif raw is not None:
            vecs = {default_field(): as_vector(raw, f"{where}.vectors")}
        props = item.get("properties") or {}
        if not isinstance(props, Mapping):
            raise InvalidArgument(f"{where}.properties", "must be a mapping")
        yield Object(id=str(object_id), properties=dict(props), vectors=vecs)


def objects_from_columns(
    ids: Sequence[str],
    vectors: Any,
    properties: Sequence[Mapping[str, Any] | None] | None,
    default_field: Callable[[], str],
) -> Iterator[Object]:
    ids_in = id_list(ids)
    n = len(ids_in)
    columns: dict[str, np.ndarray] = {}
    if isinstance(vectors, Mapping):
        columns = {f: as_matrix(v, f"vectors.{f}") for f, v in vectors.items()}
    elif vectors is not None:
        columns = {default_field(): as_matrix(vectors, "vectors")}
    for f, matrix in columns.items():
        if matrix.shape[0] != n:
            raise InvalidArgument(f"vectors.{f}", f"{matrix.shape[0]} rows for {n} ids")
    if properties is not None and len(properties) != n:
        raise InvalidArgument("properties", f"{len(properties)} entries for {n} ids")
    for i, object_id in enumerate(ids_in):
        props = properties[i] if properties is not None else None
        if props is not None and not isinstance(props, Mapping):
            raise InvalidArgument(f"properties[{i}]", "must be a mapping or None")
        yield Object(
            id=object_id,
            properties=dict(props or {}),
            vectors={f: m[i] for f, m in columns.items()},
        )
