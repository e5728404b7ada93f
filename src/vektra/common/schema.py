"""Collection schemas as domain values, with validation.

A collection has named vector fields (dimension, metric, HNSW parameters) and
typed properties, each optionally indexed for filtering. Schemas are plain
frozen dataclasses; `to_dict`/`from_dict` give the form stored on disk and in
the cluster map. Protobuf conversion lives at the service edge.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from typing import Any

from vektra.common.errors import InvalidArgument

__all__ = [
    "DEFAULT_EF",
    "DEFAULT_EF_CONSTRUCTION",
    "DEFAULT_M",
    "MAX_DIM",
    "CollectionSchema",
    "HnswParams",
    "Metric",
    "PropertySpec",
    "PropertyType",
    "VectorSpec",
]

DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_EF = 64
MAX_DIM = 65_536
MAX_FIELDS = 64
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


class Metric(enum.Enum):
    COSINE = "cosine"
    L2 = "l2"
    IP = "ip"

    @property
    def hnsw_space(self) -> str:
        return {Metric.COSINE: "cosine", Metric.L2: "l2", Metric.IP: "ip"}[self]


class PropertyType(enum.Enum):
    KEYWORD = "keyword"
    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"
    KEYWORD_ARRAY = "keyword[]"

    @property
    def orderable(self) -> bool:
        """Whether range operators ($gt ...) apply."""
        return self in (PropertyType.INT, PropertyType.FLOAT, PropertyType.DATETIME)


@dataclass(frozen=True, slots=True)
class HnswParams:
    m: int = DEFAULT_M
    ef_construction: int = DEFAULT_EF_CONSTRUCTION
    ef: int = DEFAULT_EF


@dataclass(frozen=True, slots=True)
class VectorSpec:
    name: str
    dim: int
    metric: Metric = Metric.COSINE
    hnsw: HnswParams = field(default_factory=HnswParams)


@dataclass(frozen=True, slots=True)
class PropertySpec:
    name: str
    type: PropertyType
    indexed: bool = True


@dataclass(frozen=True, slots=True)
class CollectionSchema:
    name: str
    vectors: tuple[VectorSpec, ...]
    properties: tuple[PropertySpec, ...] = ()
    replication_factor: int = 1  # 0 asks the coordinator for the cluster's default
    # Fixed when the collection is created (by the coordinator, or by a node
    # serving alone): a collection dropped and created again under the same
    # name is another incarnation, so copies of the dropped one are recognised.
    incarnation: str = ""

    def vector(self, name: str) -> VectorSpec | None:
        for v in self.vectors:
            if v.name == name:
                return v
        return None

    def property(self, name: str) -> PropertySpec | None:
        for p in self.properties:
            if p.name == name:
                return p
        return None

    def property_number(self, name: str) -> int:
        """Position of the property in the schema: its stable number on disk."""
        for i, p in enumerate(self.properties):
            if p.name == name:
                return i
        raise KeyError(name)

    def validated(self) -> CollectionSchema:
        """Check every field; returns the schema with defaults filled in."""
        check_name("schema.name", self.name)
        if not self.vectors:
            raise InvalidArgument("schema.vectors", "a collection needs at least one vector field")
        if len(self.vectors) > MAX_FIELDS or len(self.properties) > MAX_FIELDS:
            raise InvalidArgument("schema", f"at most {MAX_FIELDS} vector fields and properties")
        seen: set[str] = set()
        vectors = []
        for v in self.vectors:
            where = f"schema.vectors.{v.name}"
            check_name(where, v.name)
            if v.name in seen:
                raise InvalidArgument(where, "duplicate vector field")
            seen.add(v.name)
            if not 1 <= v.dim <= MAX_DIM:
                raise InvalidArgument(f"{where}.dim", f"must be between 1 and {MAX_DIM}")
            h = v.hnsw
            hnsw = HnswParams(
                m=h.m or DEFAULT_M,
                ef_construction=h.ef_construction or DEFAULT_EF_CONSTRUCTION,
                ef=h.ef or DEFAULT_EF,
            )
            if not 2 <= hnsw.m <= 128:
                raise InvalidArgument(f"{where}.hnsw.m", "must be between 2 and 128")
            if not 1 <= hnsw.ef_construction <= 4096:
                raise InvalidArgument(f"{where}.hnsw.ef_construction", "must be between 1 and 4096")
            if not 1 <= hnsw.ef <= 4096:
                raise InvalidArgument(f"{where}.hnsw.ef", "must be between 1 and 4096")
            vectors.append(replace(v, hnsw=hnsw))
        seen_props: set[str] = set()
        for p in self.properties:
            where = f"schema.properties.{p.name}"
            check_name(where, p.name)
            if p.name in seen_props:
                raise InvalidArgument(where, "duplicate property")
            seen_props.add(p.name)
        if not 0 <= self.replication_factor <= 16:
            raise InvalidArgument(
                "schema.replication_factor", "must be between 1 and 16 (0: the cluster default)"
            )
        return replace(self, vectors=tuple(vectors))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "incarnation": self.incarnation,
            "replication_factor": self.replication_factor,
            "vectors": [
                {
                    "name": v.name,
                    "dim": v.dim,
                    "metric": v.metric.value,
                    "hnsw": {
                        "m": v.hnsw.m,
                        "ef_construction": v.hnsw.ef_construction,
                        "ef": v.hnsw.ef,
                    },
                }
                for v in self.vectors
            ],
            "properties": [
                {"name": p.name, "type": p.type.value, "indexed": p.indexed}
                for p in self.properties
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CollectionSchema:
        """Build from the stored form (also the SDK's friendly form: `vectors` and
        `properties` may be mappings of name to spec, and a property spec may be
        just its type name)."""
        vectors_in = d.get("vectors") or []
        if isinstance(vectors_in, dict):
            vectors_in = [{"name": k, **v} for k, v in vectors_in.items()]
        props_in = d.get("properties") or []
        if isinstance(props_in, dict):
            props_in = [
                {"name": k, "type": v} if isinstance(v, str) else {"name": k, **v}
                for k, v in props_in.items()
            ]
        vectors = []
        for v in vectors_in:
            name = str(v.get("name", ""))
            h = v.get("hnsw") or {}
            vectors.append(
                VectorSpec(
                    name=name,
                    dim=_int(v.get("dim", 0), f"schema.vectors.{name}.dim"),
                    metric=_enum(
                        Metric, v.get("metric", "cosine"), f"schema.vectors.{name}.metric"
                    ),
                    hnsw=HnswParams(
                        m=_int(h.get("m", 0), f"schema.vectors.{name}.hnsw.m"),
                        ef_construction=_int(
                            h.get("ef_construction", 0),
                            f"schema.vectors.{name}.hnsw.ef_construction",
                        ),
                        ef=_int(h.get("ef", 0), f"schema.vectors.{name}.hnsw.ef"),
                    ),
                )
            )
        props = [
            PropertySpec(
                name=str(p.get("name", "")),
                type=_enum(PropertyType, p.get("type"), f"schema.properties.{p.get('name')}.type"),
                indexed=bool(p.get("indexed", True)),
            )
            for p in props_in
        ]
        return cls(
            name=str(d.get("name", "")),
            vectors=tuple(vectors),
            properties=tuple(props),
            replication_factor=_int(d.get("replication_factor", 1), "schema.replication_factor"),
            incarnation=str(d.get("incarnation", "")),
        )


def check_name(where: str, name: str) -> None:
    if not _NAME.match(name or ""):
        raise InvalidArgument(
            where,
            f"invalid name {name!r}: 1-64 characters, letters, digits, '_' or '-', "
            "not starting with a digit or '-'",
        )


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(where, f"must be an integer, got {value!r}")
    return value


def _enum(cls: Any, value: Any, where: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise InvalidArgument(where, f"{value!r} is not one of {allowed}") from None
