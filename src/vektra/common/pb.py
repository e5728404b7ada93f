"""Conversions between protobuf messages and domain values, for the servers'
service edges (node and router). Engines never see `*_pb2` types.
"""

from __future__ import annotations

from vektra.common.errors import InvalidArgument
from vektra.common.hlc import Version
from vektra.common.schema import (
    CollectionSchema,
    HnswParams,
    Metric,
    PropertySpec,
    PropertyType,
    VectorSpec,
)
from vektra.v1 import vektra_pb2 as pb

__all__ = [
    "metric_from_pb",
    "schema_from_pb",
    "schema_to_pb",
    "version_from_pb",
    "version_to_pb",
]

_METRIC_TO_PB = {Metric.COSINE: pb.METRIC_COSINE, Metric.L2: pb.METRIC_L2, Metric.IP: pb.METRIC_IP}
_METRIC_FROM_PB = {v: k for k, v in _METRIC_TO_PB.items()}
_PTYPE_TO_PB = {
    PropertyType.KEYWORD: pb.PROPERTY_TYPE_KEYWORD,
    PropertyType.TEXT: pb.PROPERTY_TYPE_TEXT,
    PropertyType.INT: pb.PROPERTY_TYPE_INT,
    PropertyType.FLOAT: pb.PROPERTY_TYPE_FLOAT,
    PropertyType.BOOL: pb.PROPERTY_TYPE_BOOL,
    PropertyType.DATETIME: pb.PROPERTY_TYPE_DATETIME,
    PropertyType.KEYWORD_ARRAY: pb.PROPERTY_TYPE_KEYWORD_ARRAY,
}
_PTYPE_FROM_PB = {v: k for k, v in _PTYPE_TO_PB.items()}


def metric_from_pb(value: int, where: str) -> Metric:
    if value == pb.METRIC_UNSPECIFIED:
        return Metric.COSINE
    try:
        return _METRIC_FROM_PB[value]  # type: ignore[index]
    except KeyError:
        raise InvalidArgument(where, f"unknown metric {value}") from None


def schema_from_pb(msg: pb.CollectionSchema) -> CollectionSchema:
    vectors = tuple(
        VectorSpec(
            name=v.name,
            dim=v.dim,
            metric=metric_from_pb(v.metric, f"schema.vectors.{v.name}.metric"),
            hnsw=HnswParams(m=v.hnsw.m, ef_construction=v.hnsw.ef_construction, ef=v.hnsw.ef),
        )
        for v in msg.vectors
    )
    props = []
    for p in msg.properties:
        ptype = _PTYPE_FROM_PB.get(p.type)
        if ptype is None:
            raise InvalidArgument(
                f"schema.properties.{p.name}.type", "missing or unknown property type"
            )
        props.append(PropertySpec(name=p.name, type=ptype, indexed=p.indexed))
    return CollectionSchema(
        name=msg.name,
        vectors=vectors,
        properties=tuple(props),
        replication_factor=msg.replication_factor,  # 0 = the cluster's default
        incarnation=msg.incarnation,
    )


def schema_to_pb(schema: CollectionSchema) -> pb.CollectionSchema:
    return pb.CollectionSchema(
        name=schema.name,
        replication_factor=schema.replication_factor,
        incarnation=schema.incarnation,
        vectors=[
            pb.VectorField(
                name=v.name,
                dim=v.dim,
                metric=_METRIC_TO_PB[v.metric],
                hnsw=pb.HnswParams(
                    m=v.hnsw.m, ef_construction=v.hnsw.ef_construction, ef=v.hnsw.ef
                ),
            )
            for v in schema.vectors
        ],
        properties=[
            pb.PropertyField(name=p.name, type=_PTYPE_TO_PB[p.type], indexed=p.indexed)
            for p in schema.properties
        ],
    )


def version_to_pb(v: Version) -> pb.Version:
    return pb.Version(physical_ms=v.physical_ms, logical=v.logical, writer=v.writer)


def version_from_pb(msg: pb.Version, where: str) -> Version:
    if msg.physical_ms == 0 and msg.logical == 0 and not msg.writer:
        raise InvalidArgument(where, "a version is required")
    return Version(msg.physical_ms, msg.logical, msg.writer)
