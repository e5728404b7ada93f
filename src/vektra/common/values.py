"""Validation and encoding of the values objects carry: ids, vectors, properties.

Everything here raises `InvalidArgument` naming the exact field
(``objects[2].vectors.embedding``) so bad input is rejected before anything is
written. Vectors travel and are stored as packed little-endian float32;
properties as msgpack maps with datetimes as msgpack Timestamps.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import msgpack
import numpy as np

from vektra.common.errors import InvalidArgument
from vektra.common.limits import Limits
from vektra.common.schema import CollectionSchema, Metric, PropertyType, VectorSpec

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "check_id",
    "check_vector",
    "datetime_micros",
    "decode_vector",
    "encode_vector",
    "normalize_properties",
    "pack",
    "to_datetime",
    "unpack",
    "unpack_each",
    "unpack_joined",
    "unpack_map",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
_F32 = np.dtype("<f4")


def pack(value: Any) -> bytes:
    return msgpack.packb(value, datetime=True, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, timestamp=3, strict_map_key=False)


def unpack_each(chunks: list[bytes]) -> list[Any]:
    """`unpack` of each chunk, in one pass over them joined: a reply's
    properties, one chunk per object. ValueError unless each chunk holds
    exactly one value."""
    if not all(chunks):
        raise ValueError("each chunk must hold one msgpack value")
    return unpack_joined(b"".join(chunks), len(chunks))


def unpack_joined(joined: bytes, n: int) -> list[Any]:
    """The `n` msgpack values `joined` holds one after the other; ValueError
    unless it holds exactly `n`."""
    if not joined:
        if n:
            raise ValueError(f"expected {n} msgpack values, found none")
        return []
    unpacker = msgpack.Unpacker(
        raw=False, timestamp=3, strict_map_key=False, max_buffer_size=len(joined)
    )
    unpacker.feed(joined)
    values = list(unpacker)
    if len(values) != n:
        raise ValueError(f"expected {n} msgpack values, found {len(values)}")
    return values


def unpack_map(data: bytes, where: str) -> dict[str, Any]:
    """Decode a msgpack map sent by a client; empty bytes mean an empty map."""
    if not data:
        return {}
    try:
        value = unpack(data)
    except Exception as exc:  # msgpack raises several unrelated types
        raise InvalidArgument(where, f"not valid msgpack: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(where, f"must be a msgpack map, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise InvalidArgument(where, f"keys must be strings, got {key!r}")
    return value


def check_id(object_id: str, where: str, limits: Limits) -> None:
    if not isinstance(object_id, str):
        raise InvalidArgument(where, "id must be a string")
    try:
        n = len(object_id.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument(where, "id must be valid UTF-8") from None
    if n == 0:
        raise InvalidArgument(where, "id must not be empty")
    if n > limits.max_id_bytes:
        raise InvalidArgument(where, f"id is {n} bytes, above the limit of {limits.max_id_bytes}")


def encode_vector(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=_F32).tobytes()


def decode_vector(data: bytes, spec: VectorSpec, where: str) -> np.ndarray:
    """Packed little-endian float32 -> 1-D float32 array, checked against the field."""
    if not data:
        raise InvalidArgument(where, "empty vector")
    if len(data) % 4:
        raise InvalidArgument(where, f"{len(data)} bytes is not a whole number of float32 values")
    vec = np.frombuffer(data, dtype=_F32)
    if vec.shape[0] != spec.dim:
        raise InvalidArgument(
            where, f"wrong dimension: got {vec.shape[0]}, field {spec.name!r} has {spec.dim}"
        )
    check_vector(vec, spec, where)
    return vec


def check_vector(vec: np.ndarray, spec: VectorSpec, where: str) -> None:
    if not np.isfinite(vec).all():
        raise InvalidArgument(where, "vector contains NaN or infinite values")
    if spec.metric is Metric.COSINE and not vec.any():
        raise InvalidArgument(where, "a zero vector has no direction, so no cosine distance")


def to_datetime(value: Any, where: str) -> dt.datetime:
    """A datetime property or filter operand: an aware datetime (naive means UTC),
    or an ISO-8601 string. Always returned in UTC."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidArgument(where, f"{value!r} is not an ISO-8601 datetime") from None
    if not isinstance(value, dt.datetime):
        raise InvalidArgument(where, f"expected a datetime, got {type(value).__name__}")
    when: dt.datetime = value
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def datetime_micros(value: dt.datetime) -> int:
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _keyword(value: Any, where: str, limits: Limits) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(where, f"expected a keyword string, got {type(value).__name__}")
    n = len(value.encode("utf-8"))
    if n > limits.max_keyword_bytes:
        raise InvalidArgument(
            where, f"keyword is {n} bytes, above the limit of {limits.max_keyword_bytes}"
        )
    return value


def normalize_value(ptype: PropertyType, value: Any, where: str, limits: Limits) -> Any:
    """Check one property value against its type; returns the stored form."""
    match ptype:
        case PropertyType.KEYWORD:
            return _keyword(value, where, limits)
        case PropertyType.TEXT:
            if not isinstance(value, str):
                raise InvalidArgument(where, f"expected text, got {type(value).__name__}")
            n = len(value.encode("utf-8"))
            if n > limits.max_text_bytes:
                raise InvalidArgument(
                    where, f"text is {n} bytes, above the limit of {limits.max_text_bytes}"
                )
            return value
        case PropertyType.INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidArgument(where, f"expected an int, got {type(value).__name__}")
            if not INT64_MIN <= value <= INT64_MAX:
                raise InvalidArgument(where, "int out of the 64-bit range")
            return value
        case PropertyType.FLOAT:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidArgument(where, f"expected a float, got {type(value).__name__}")
            f = float(value)
            if not math.isfinite(f):
                raise InvalidArgument(where, "float must be finite")
            return f
        case PropertyType.BOOL:
            if not isinstance(value, bool):
                raise InvalidArgument(where, f"expected a bool, got {type(value).__name__}")
            return value
        case PropertyType.DATETIME:
            return to_datetime(value, where)
        case PropertyType.KEYWORD_ARRAY:
            if not isinstance(value, list | tuple):
                raise InvalidArgument(
                    where, f"expected a list of keywords, got {type(value).__name__}"
                )
            if len(value) > limits.max_array_items:
                raise InvalidArgument(
                    where, f"{len(value)} items, above the limit of {limits.max_array_items}"
                )
            return [_keyword(v, f"{where}[{i}]", limits) for i, v in enumerate(value)]
    raise AssertionError(ptype)


def normalize_properties(
    schema: CollectionSchema, properties: dict[str, Any], where: str, limits: Limits
) -> dict[str, Any]:
    """Check a property map against the schema. None values are dropped (unset)."""
    out: dict[str, Any] = {}
    for name, value in properties.items():
        spec = schema.property(name)
        if spec is None:
            raise InvalidArgument(
                f"{where}.{name}", f"unknown property for collection {schema.name!r}"
            )
        if value is None:
            continue
        out[name] = normalize_value(spec.type, value, f"{where}.{name}", limits)
    return out
