"""The filter language: Mongo-style documents parsed into a small typed tree.

    {"module": "os"}                          equality
    {"module": {"$in": ["os", "sys"]}}        $in / $nin
    {"length": {"$gte": 10, "$lt": 100}}      $gt $gte $lt $lte (numbers, datetimes)
    {"summary": {"$exists": True}}            $exists
    {"$and": [...]}, {"$or": [...]}, {"$not": {...}}
    {"length": {"$not": {"$gt": 5}}}          field-level $not
    {"tags": "a"}                             keyword[]: matches when any element does

`parse` validates the document against the collection schema (unknown
property, wrong operand type, range on a keyword ... are `InvalidArgument`
naming the place in the filter) and returns a tree of frozen nodes. `matches`
evaluates a tree against one object's properties; the node's index-backed
evaluator must agree with it exactly (the property tests check that).

Semantics follow MongoDB where they are well known: `$nin`, `$ne` and `$not`
also match objects that lack the property; comparisons never match a missing
property.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from vektra.common.errors import InvalidArgument
from vektra.common.schema import CollectionSchema, PropertySpec, PropertyType
from vektra.common.values import INT64_MAX, INT64_MIN, datetime_micros, to_datetime

__all__ = [
    "All",
    "And",
    "Exists",
    "Filter",
    "In",
    "Not",
    "Or",
    "Range",
    "comparable",
    "matches",
    "parse",
]

Scalar: TypeAlias = str | int | float | bool


@dataclass(frozen=True, slots=True)
class All:
    """Matches every object (the empty filter)."""


@dataclass(frozen=True, slots=True)
class In:
    """Property equals one of `values` (for keyword[]: any element does).
    Values are in comparable form (see `comparable`)."""

    prop: PropertySpec
    values: frozenset[Scalar]


@dataclass(frozen=True, slots=True)
class Range:
    prop: PropertySpec
    lo: int | float | None
    lo_inclusive: bool
    hi: int | float | None
    hi_inclusive: bool


@dataclass(frozen=True, slots=True)
class Exists:
    prop: PropertySpec
    present: bool


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Filter


Filter: TypeAlias = All | In | Range | Exists | And | Or | Not

_RANGE_OPS = {"$gt", "$gte", "$lt", "$lte"}
_FIELD_OPS = _RANGE_OPS | {"$eq", "$ne", "$in", "$nin", "$exists", "$not"}
_MAX_DEPTH = 32
_MAX_IN_VALUES = 10_000


def comparable(ptype: PropertyType, value: Any) -> Any:
    """The form a stored property value is compared in: datetimes as epoch
    microseconds, floats as float; everything else as stored."""
    if ptype is PropertyType.DATETIME:
        return datetime_micros(value)
    if ptype is PropertyType.FLOAT:
        return float(value)
    return value


def parse(doc: Mapping[str, Any] | None, schema: CollectionSchema, where: str = "filter") -> Filter:
    if doc is None:
        return All()
    return _parse_doc(doc, schema, where, 0)


def _parse_doc(doc: Any, schema: CollectionSchema, where: str, depth: int) -> Filter:
    if depth > _MAX_DEPTH:
        raise InvalidArgument(where, f"filter nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(doc, Mapping):
        raise InvalidArgument(where, f"a filter must be a document (map), got {type(doc).__name__}")
    parts: list[Filter] = []
    for key, value in doc.items():
        at = f"{where}.{key}"
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple) or not value:
                raise InvalidArgument(at, f"{key} takes a non-empty list of filters")
            children = tuple(
                _parse_doc(v, schema, f"{at}[{i}]", depth + 1) for i, v in enumerate(value)
            )
            parts.append(And(children) if key == "$and" else Or(children))
        elif key == "$not":
            parts.append(Not(_parse_doc(value, schema, at, depth + 1)))
        elif isinstance(key, str) and key.startswith("$"):
            raise InvalidArgument(at, f"unknown operator {key!r} (top level takes $and, $or, $not)")
        else:
            prop = schema.property(key)
            if prop is None:
                raise InvalidArgument(at, f"unknown property for collection {schema.name!r}")
            parts.append(_parse_field(prop, value, at, depth))
    if not parts:
        return All()
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _parse_field(prop: PropertySpec, value: Any, where: str, depth: int) -> Filter:
    if not isinstance(value, Mapping):
        return _equals(prop, value, where)
    if not value:
        raise InvalidArgument(where, "empty operator document")
    parts: list[Filter] = []
    lo: int | float | None = None
    hi: int | float | None = None
    lo_inc = hi_inc = True
    has_range = False
    for op, operand in value.items():
        at = f"{where}.{op}"
        if op not in _FIELD_OPS:
            raise InvalidArgument(
                at, f"unknown operator {op!r}; use one of {', '.join(sorted(_FIELD_OPS))}"
            )
        if op == "$eq":
            parts.append(_equals(prop, operand, at))
        elif op == "$ne":
            parts.append(Not(_equals(prop, operand, at)))
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list | tuple):
                raise InvalidArgument(at, f"{op} takes a list of values")
            if len(operand) > _MAX_IN_VALUES:
                raise InvalidArgument(at, f"at most {_MAX_IN_VALUES} values")
            node = In(
                prop, frozenset(_scalar(prop, v, f"{at}[{i}]") for i, v in enumerate(operand))
            )
            node = _drop_impossible(node)
            parts.append(node if op == "$in" else Not(node))
        elif op == "$exists":
            if not isinstance(operand, bool):
                raise InvalidArgument(at, "$exists takes true or false")
            parts.append(Exists(prop, operand))
        elif op == "$not":
            if not isinstance(operand, Mapping):
                raise InvalidArgument(at, "field-level $not takes an operator document")
            parts.append(Not(_parse_field(prop, operand, at, depth + 1)))
        else:
            if not prop.type.orderable:
                raise InvalidArgument(
                    at,
                    f"{op} needs a number or datetime property; {prop.name!r} is {prop.type.value}",
                )
            bound = _scalar(prop, operand, at)
            # orderable properties (int, float, datetime) give numbers only
            assert isinstance(bound, int | float)
            has_range = True
            if op in ("$gt", "$gte"):
                inclusive = op == "$gte"
                if lo is None or bound > lo or (bound == lo and not inclusive):
                    lo, lo_inc = bound, inclusive
            else:
                inclusive = op == "$lte"
                if hi is None or bound < hi or (bound == hi and not inclusive):
                    hi, hi_inc = bound, inclusive
    if has_range:
        parts.append(Range(prop, lo, lo_inc, hi, hi_inc))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _equals(prop: PropertySpec, value: Any, where: str) -> Filter:
    if isinstance(value, list | tuple):
        raise InvalidArgument(where, "to match any of several values use {'$in': [...]}")
    return _drop_impossible(In(prop, frozenset({_scalar(prop, value, where)})))


def _drop_impossible(node: In) -> In:
    # An int property never equals 2.5 or 1e20: drop such values so the index
    # and the predicate agree without special cases.
    if node.prop.type is PropertyType.INT:
        return In(
            node.prop,
            frozenset(v for v in node.values if isinstance(v, int) and INT64_MIN <= v <= INT64_MAX),
        )
    return node


def _scalar(prop: PropertySpec, value: Any, where: str) -> Scalar:
    """An operand in comparable form, type-checked against the property."""
    t = prop.type
    if value is None:
        raise InvalidArgument(where, "null is not a value; use {'$exists': false}")
    if t in (PropertyType.KEYWORD, PropertyType.KEYWORD_ARRAY, PropertyType.TEXT):
        if not isinstance(value, str):
            raise InvalidArgument(where, f"{prop.name!r} is {t.value}: expected a string")
        return value
    if t is PropertyType.BOOL:
        if not isinstance(value, bool):
            raise InvalidArgument(where, f"{prop.name!r} is bool: expected true or false")
        return value
    if t is PropertyType.DATETIME:
        return datetime_micros(to_datetime(value, where))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(where, f"{prop.name!r} is {t.value}: expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(where, "number must be finite")
    if t is PropertyType.FLOAT:
        return float(value)
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise InvalidArgument(where, "int out of the 64-bit range")
    if isinstance(value, float) and value.is_integer() and INT64_MIN <= value <= INT64_MAX:
        return int(value)
    return value


def matches(node: Filter, props: Mapping[str, Any]) -> bool:
    """Evaluate a parsed filter against one object's (stored) properties."""
    match node:
        case All():
            return True
        case In(prop, values):
            v = props.get(prop.name)
            if v is None:
                return False
            if prop.type is PropertyType.KEYWORD_ARRAY:
                return any(e in values for e in v)
            return comparable(prop.type, v) in values
        case Range(prop, lo, lo_inc, hi, hi_inc):
            v = props.get(prop.name)
            if v is None:
                return False
            c = comparable(prop.type, v)
            if lo is not None and (c < lo or (c == lo and not lo_inc)):
                return False
            return not (hi is not None and (c > hi or (c == hi and not hi_inc)))
        case Exists(prop, present):
            return (props.get(prop.name) is not None) == present
        case And(children):
            return all(matches(c, props) for c in children)
        case Or(children):
            return any(matches(c, props) for c in children)
        case Not(child):
            return not matches(child, props)
    raise AssertionError(node)
