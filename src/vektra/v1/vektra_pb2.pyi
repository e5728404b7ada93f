from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Metric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRIC_UNSPECIFIED: _ClassVar[Metric]
    METRIC_COSINE: _ClassVar[Metric]
    METRIC_L2: _ClassVar[Metric]
    METRIC_IP: _ClassVar[Metric]

class PropertyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROPERTY_TYPE_UNSPECIFIED: _ClassVar[PropertyType]
    PROPERTY_TYPE_KEYWORD: _ClassVar[PropertyType]
    PROPERTY_TYPE_TEXT: _ClassVar[PropertyType]
    PROPERTY_TYPE_INT: _ClassVar[PropertyType]
    PROPERTY_TYPE_FLOAT: _ClassVar[PropertyType]
    PROPERTY_TYPE_BOOL: _ClassVar[PropertyType]
    PROPERTY_TYPE_DATETIME: _ClassVar[PropertyType]
    PROPERTY_TYPE_KEYWORD_ARRAY: _ClassVar[PropertyType]

class Consistency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSISTENCY_UNSPECIFIED: _ClassVar[Consistency]
    CONSISTENCY_ONE: _ClassVar[Consistency]
    CONSISTENCY_QUORUM: _ClassVar[Consistency]
    CONSISTENCY_ALL: _ClassVar[Consistency]

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_JOINING: _ClassVar[NodeState]
    NODE_STATE_ACTIVE: _ClassVar[NodeState]
    NODE_STATE_DRAINING: _ClassVar[NodeState]
    NODE_STATE_DOWN: _ClassVar[NodeState]
    NODE_STATE_RECOVERING: _ClassVar[NodeState]
    NODE_STATE_LEFT: _ClassVar[NodeState]
METRIC_UNSPECIFIED: Metric
METRIC_COSINE: Metric
METRIC_L2: Metric
METRIC_IP: Metric
PROPERTY_TYPE_UNSPECIFIED: PropertyType
PROPERTY_TYPE_KEYWORD: PropertyType
PROPERTY_TYPE_TEXT: PropertyType
PROPERTY_TYPE_INT: PropertyType
PROPERTY_TYPE_FLOAT: PropertyType
PROPERTY_TYPE_BOOL: PropertyType
PROPERTY_TYPE_DATETIME: PropertyType
PROPERTY_TYPE_KEYWORD_ARRAY: PropertyType
CONSISTENCY_UNSPECIFIED: Consistency
CONSISTENCY_ONE: Consistency
CONSISTENCY_QUORUM: Consistency
CONSISTENCY_ALL: Consistency
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_JOINING: NodeState
NODE_STATE_ACTIVE: NodeState
NODE_STATE_DRAINING: NodeState
NODE_STATE_DOWN: NodeState
NODE_STATE_RECOVERING: NodeState
NODE_STATE_LEFT: NodeState

class HnswParams(_message.Message):
    __slots__ = ("m", "ef_construction", "ef")
    M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    m: int
    ef_construction: int
    ef: int
    def __init__(self, m: _Optional[int] = ..., ef_construction: _Optional[int] = ..., ef: _Optional[int] = ...) -> None: ...

class VectorField(_message.Message):
    __slots__ = ("name", "dim", "metric", "hnsw")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    name: str
    dim: int
    metric: Metric
    hnsw: HnswParams
    def __init__(self, name: _Optional[str] = ..., dim: _Optional[int] = ..., metric: _Optional[_Union[Metric, str]] = ..., hnsw: _Optional[_Union[HnswParams, _Mapping]] = ...) -> None: ...

class PropertyField(_message.Message):
    __slots__ = ("name", "type", "indexed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: PropertyType
    indexed: bool
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[PropertyType, str]] = ..., indexed: _Optional[bool] = ...) -> None: ...

class CollectionSchema(_message.Message):
    __slots__ = ("name", "vectors", "properties", "replication_factor", "incarnation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    vectors: _containers.RepeatedCompositeFieldContainer[VectorField]
    properties: _containers.RepeatedCompositeFieldContainer[PropertyField]
    replication_factor: int
    incarnation: str
    def __init__(self, name: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[VectorField, _Mapping]]] = ..., properties: _Optional[_Iterable[_Union[PropertyField, _Mapping]]] = ..., replication_factor: _Optional[int] = ..., incarnation: _Optional[str] = ...) -> None: ...

class Version(_message.Message):
    __slots__ = ("physical_ms", "logical", "writer")
    PHYSICAL_MS_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    physical_ms: int
    logical: int
    writer: str
    def __init__(self, physical_ms: _Optional[int] = ..., logical: _Optional[int] = ..., writer: _Optional[str] = ...) -> None: ...

class Object(_message.Message):
    __slots__ = ("id", "properties", "vectors", "version")
    class VectorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    properties: bytes
    vectors: _containers.ScalarMap[str, bytes]
    version: Version
    def __init__(self, id: _Optional[str] = ..., properties: _Optional[bytes] = ..., vectors: _Optional[_Mapping[str, bytes]] = ..., version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class Coverage(_message.Message):
    __slots__ = ("asked", "answered", "failed", "complete", "ranges_asked", "ranges_answered")
    ASKED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    RANGES_ASKED_FIELD_NUMBER: _ClassVar[int]
    RANGES_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    asked: int
    answered: int
    failed: _containers.RepeatedScalarFieldContainer[str]
    complete: bool
    ranges_asked: int
    ranges_answered: int
    def __init__(self, asked: _Optional[int] = ..., answered: _Optional[int] = ..., failed: _Optional[_Iterable[str]] = ..., complete: _Optional[bool] = ..., ranges_asked: _Optional[int] = ..., ranges_answered: _Optional[int] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: CollectionSchema
    def __init__(self, schema: _Optional[_Union[CollectionSchema, _Mapping]] = ...) -> None: ...

class CreateCollectionResponse(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: CollectionSchema
    def __init__(self, schema: _Optional[_Union[CollectionSchema, _Mapping]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionSchema]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionSchema, _Mapping]]] = ...) -> None: ...

class DescribeCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DescribeCollectionResponse(_message.Message):
    __slots__ = ("schema", "objects")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    schema: CollectionSchema
    objects: int
    def __init__(self, schema: _Optional[_Union[CollectionSchema, _Mapping]] = ..., objects: _Optional[int] = ...) -> None: ...

class DropCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropCollectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpsertRequest(_message.Message):
    __slots__ = ("collection", "objects", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    objects: _containers.RepeatedCompositeFieldContainer[Object]
    consistency: Consistency
    def __init__(self, collection: _Optional[str] = ..., objects: _Optional[_Iterable[_Union[Object, _Mapping]]] = ..., consistency: _Optional[_Union[Consistency, str]] = ...) -> None: ...

class UpsertResponse(_message.Message):
    __slots__ = ("upserted", "acknowledged", "version")
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    acknowledged: int
    version: Version
    def __init__(self, upserted: _Optional[int] = ..., acknowledged: _Optional[int] = ..., version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("collection", "ids", "consistency", "include_vectors", "packed")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    consistency: Consistency
    include_vectors: bool
    packed: bool
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., consistency: _Optional[_Union[Consistency, str]] = ..., include_vectors: _Optional[bool] = ..., packed: _Optional[bool] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("objects", "missing", "packed")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[Object]
    missing: _containers.RepeatedScalarFieldContainer[str]
    packed: PackedObjects
    def __init__(self, objects: _Optional[_Iterable[_Union[Object, _Mapping]]] = ..., missing: _Optional[_Iterable[str]] = ..., packed: _Optional[_Union[PackedObjects, _Mapping]] = ...) -> None: ...

class PackedObjects(_message.Message):
    __slots__ = ("ids", "versions", "writers", "properties")
    IDS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    WRITERS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    versions: bytes
    writers: _containers.RepeatedScalarFieldContainer[str]
    properties: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., versions: _Optional[bytes] = ..., writers: _Optional[_Iterable[str]] = ..., properties: _Optional[_Iterable[bytes]] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("collection", "ids", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    consistency: Consistency
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., consistency: _Optional[_Union[Consistency, str]] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("deleted", "acknowledged", "version")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    acknowledged: int
    version: Version
    def __init__(self, deleted: _Optional[int] = ..., acknowledged: _Optional[int] = ..., version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("collection", "field", "vector", "k", "ef", "filter", "include_properties", "include_vectors", "packed_hits")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    PACKED_HITS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    field: str
    vector: bytes
    k: int
    ef: int
    filter: bytes
    include_properties: bool
    include_vectors: bool
    packed_hits: bool
    def __init__(self, collection: _Optional[str] = ..., field: _Optional[str] = ..., vector: _Optional[bytes] = ..., k: _Optional[int] = ..., ef: _Optional[int] = ..., filter: _Optional[bytes] = ..., include_properties: _Optional[bool] = ..., include_vectors: _Optional[bool] = ..., packed_hits: _Optional[bool] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("id", "distance", "properties", "vectors", "version")
    class VectorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    distance: float
    properties: bytes
    vectors: _containers.ScalarMap[str, bytes]
    version: Version
    def __init__(self, id: _Optional[str] = ..., distance: _Optional[float] = ..., properties: _Optional[bytes] = ..., vectors: _Optional[_Mapping[str, bytes]] = ..., version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class SearchPlan(_message.Message):
    __slots__ = ("strategy", "candidates")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    candidates: int
    def __init__(self, strategy: _Optional[str] = ..., candidates: _Optional[int] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "coverage", "plan", "packed")
    HITS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    coverage: Coverage
    plan: SearchPlan
    packed: PackedHits
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., coverage: _Optional[_Union[Coverage, _Mapping]] = ..., plan: _Optional[_Union[SearchPlan, _Mapping]] = ..., packed: _Optional[_Union[PackedHits, _Mapping]] = ...) -> None: ...

class PackedHits(_message.Message):
    __slots__ = ("ids", "distances", "versions", "writers", "row_lengths", "properties")
    IDS_FIELD_NUMBER: _ClassVar[int]
    DISTANCES_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    WRITERS_FIELD_NUMBER: _ClassVar[int]
    ROW_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    distances: bytes
    versions: bytes
    writers: _containers.RepeatedScalarFieldContainer[str]
    row_lengths: _containers.RepeatedScalarFieldContainer[int]
    properties: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., distances: _Optional[bytes] = ..., versions: _Optional[bytes] = ..., writers: _Optional[_Iterable[str]] = ..., row_lengths: _Optional[_Iterable[int]] = ..., properties: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SearchBatchRequest(_message.Message):
    __slots__ = ("collection", "field", "vectors", "rows", "k", "ef", "filter", "include_properties", "include_vectors", "packed_hits")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    PACKED_HITS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    field: str
    vectors: bytes
    rows: int
    k: int
    ef: int
    filter: bytes
    include_properties: bool
    include_vectors: bool
    packed_hits: bool
    def __init__(self, collection: _Optional[str] = ..., field: _Optional[str] = ..., vectors: _Optional[bytes] = ..., rows: _Optional[int] = ..., k: _Optional[int] = ..., ef: _Optional[int] = ..., filter: _Optional[bytes] = ..., include_properties: _Optional[bool] = ..., include_vectors: _Optional[bool] = ..., packed_hits: _Optional[bool] = ...) -> None: ...

class SearchBatchResponse(_message.Message):
    __slots__ = ("results", "coverage", "packed", "plan")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResponse]
    coverage: Coverage
    packed: PackedHits
    plan: SearchPlan
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResponse, _Mapping]]] = ..., coverage: _Optional[_Union[Coverage, _Mapping]] = ..., packed: _Optional[_Union[PackedHits, _Mapping]] = ..., plan: _Optional[_Union[SearchPlan, _Mapping]] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("collection", "filter", "limit", "offset", "order_by", "descending", "include_vectors", "packed")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    DESCENDING_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: bytes
    limit: int
    offset: int
    order_by: str
    descending: bool
    include_vectors: bool
    packed: bool
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[bytes] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., order_by: _Optional[str] = ..., descending: _Optional[bool] = ..., include_vectors: _Optional[bool] = ..., packed: _Optional[bool] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("objects", "coverage", "packed")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[Object]
    coverage: Coverage
    packed: PackedObjects
    def __init__(self, objects: _Optional[_Iterable[_Union[Object, _Mapping]]] = ..., coverage: _Optional[_Union[Coverage, _Mapping]] = ..., packed: _Optional[_Union[PackedObjects, _Mapping]] = ...) -> None: ...

class CountRequest(_message.Message):
    __slots__ = ("collection", "filter")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: bytes
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[bytes] = ...) -> None: ...

class CountResponse(_message.Message):
    __slots__ = ("count", "coverage")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    count: int
    coverage: Coverage
    def __init__(self, count: _Optional[int] = ..., coverage: _Optional[_Union[Coverage, _Mapping]] = ...) -> None: ...

class NodeStatus(_message.Message):
    __slots__ = ("id", "address", "state", "objects")
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    address: str
    state: NodeState
    objects: int
    def __init__(self, id: _Optional[str] = ..., address: _Optional[str] = ..., state: _Optional[_Union[NodeState, str]] = ..., objects: _Optional[int] = ...) -> None: ...

class ClusterStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterStatusResponse(_message.Message):
    __slots__ = ("epoch", "nodes")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    nodes: _containers.RepeatedCompositeFieldContainer[NodeStatus]
    def __init__(self, epoch: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[NodeStatus, _Mapping]]] = ...) -> None: ...
