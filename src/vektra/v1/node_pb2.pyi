from vektra.v1 import vektra_pb2 as _vektra_pb2
from vektra.v1 import coordinator_pb2 as _coordinator_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApplyOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPLY_OUTCOME_UNSPECIFIED: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_APPLIED: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_STALE: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_HINTED: _ClassVar[ApplyOutcome]
APPLY_OUTCOME_UNSPECIFIED: ApplyOutcome
APPLY_OUTCOME_APPLIED: ApplyOutcome
APPLY_OUTCOME_STALE: ApplyOutcome
APPLY_OUTCOME_HINTED: ApplyOutcome

class VersionedObject(_message.Message):
    __slots__ = ("id", "properties", "vectors", "version", "deleted", "hint_for")
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
    DELETED_FIELD_NUMBER: _ClassVar[int]
    HINT_FOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    properties: bytes
    vectors: _containers.ScalarMap[str, bytes]
    version: _vektra_pb2.Version
    deleted: bool
    hint_for: str
    def __init__(self, id: _Optional[str] = ..., properties: _Optional[bytes] = ..., vectors: _Optional[_Mapping[str, bytes]] = ..., version: _Optional[_Union[_vektra_pb2.Version, _Mapping]] = ..., deleted: _Optional[bool] = ..., hint_for: _Optional[str] = ...) -> None: ...

class ApplyRequest(_message.Message):
    __slots__ = ("collection", "objects", "incarnation")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    objects: _containers.RepeatedCompositeFieldContainer[VersionedObject]
    incarnation: str
    def __init__(self, collection: _Optional[str] = ..., objects: _Optional[_Iterable[_Union[VersionedObject, _Mapping]]] = ..., incarnation: _Optional[str] = ...) -> None: ...

class ObjectOutcome(_message.Message):
    __slots__ = ("outcome", "held")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    outcome: ApplyOutcome
    held: _vektra_pb2.Version
    def __init__(self, outcome: _Optional[_Union[ApplyOutcome, str]] = ..., held: _Optional[_Union[_vektra_pb2.Version, _Mapping]] = ...) -> None: ...

class ApplyResponse(_message.Message):
    __slots__ = ("applied", "stale", "last_seq", "removed_ids", "outcomes")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    REMOVED_IDS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    applied: int
    stale: int
    last_seq: int
    removed_ids: _containers.RepeatedScalarFieldContainer[str]
    outcomes: _containers.RepeatedCompositeFieldContainer[ObjectOutcome]
    def __init__(self, applied: _Optional[int] = ..., stale: _Optional[int] = ..., last_seq: _Optional[int] = ..., removed_ids: _Optional[_Iterable[str]] = ..., outcomes: _Optional[_Iterable[_Union[ObjectOutcome, _Mapping]]] = ...) -> None: ...

class EnsureCollectionRequest(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: _vektra_pb2.CollectionSchema
    def __init__(self, schema: _Optional[_Union[_vektra_pb2.CollectionSchema, _Mapping]] = ...) -> None: ...

class EnsureCollectionResponse(_message.Message):
    __slots__ = ("created",)
    CREATED_FIELD_NUMBER: _ClassVar[int]
    created: bool
    def __init__(self, created: _Optional[bool] = ...) -> None: ...

class DropIncarnationRequest(_message.Message):
    __slots__ = ("name", "incarnation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    incarnation: str
    def __init__(self, name: _Optional[str] = ..., incarnation: _Optional[str] = ...) -> None: ...

class DropIncarnationResponse(_message.Message):
    __slots__ = ("dropped",)
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    dropped: bool
    def __init__(self, dropped: _Optional[bool] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("collection", "ids", "include_vectors", "incarnation", "hints_for", "packed")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    HINTS_FOR_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    include_vectors: bool
    incarnation: str
    hints_for: str
    packed: bool
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., include_vectors: _Optional[bool] = ..., incarnation: _Optional[str] = ..., hints_for: _Optional[str] = ..., packed: _Optional[bool] = ...) -> None: ...

class FetchResponse(_message.Message):
    __slots__ = ("objects", "missing", "packed")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[VersionedObject]
    missing: _containers.RepeatedScalarFieldContainer[str]
    packed: PackedRecords
    def __init__(self, objects: _Optional[_Iterable[_Union[VersionedObject, _Mapping]]] = ..., missing: _Optional[_Iterable[str]] = ..., packed: _Optional[_Union[PackedRecords, _Mapping]] = ...) -> None: ...

class PackedRecords(_message.Message):
    __slots__ = ("ids", "versions", "writers", "deleted", "properties")
    IDS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    WRITERS_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    versions: bytes
    writers: _containers.RepeatedScalarFieldContainer[str]
    deleted: bytes
    properties: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., versions: _Optional[bytes] = ..., writers: _Optional[_Iterable[str]] = ..., deleted: _Optional[bytes] = ..., properties: _Optional[_Iterable[bytes]] = ...) -> None: ...

class TokenRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class CountRangesRequest(_message.Message):
    __slots__ = ("collection", "filter", "ranges", "incarnation")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: bytes
    ranges: _containers.RepeatedCompositeFieldContainer[TokenRange]
    incarnation: str
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[bytes] = ..., ranges: _Optional[_Iterable[_Union[TokenRange, _Mapping]]] = ..., incarnation: _Optional[str] = ...) -> None: ...

class CountRangesResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class ShardPart(_message.Message):
    __slots__ = ("position", "all", "ranges")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    position: int
    all: bool
    ranges: _containers.RepeatedCompositeFieldContainer[TokenRange]
    def __init__(self, position: _Optional[int] = ..., all: _Optional[bool] = ..., ranges: _Optional[_Iterable[_Union[TokenRange, _Mapping]]] = ...) -> None: ...

class ShardSearchRequest(_message.Message):
    __slots__ = ("search", "parts", "incarnation")
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    search: _vektra_pb2.SearchBatchRequest
    parts: _containers.RepeatedCompositeFieldContainer[ShardPart]
    incarnation: str
    def __init__(self, search: _Optional[_Union[_vektra_pb2.SearchBatchRequest, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[ShardPart, _Mapping]]] = ..., incarnation: _Optional[str] = ...) -> None: ...

class ShardSearchResponse(_message.Message):
    __slots__ = ("results", "searched", "packed", "plan")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SEARCHED_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_vektra_pb2.SearchResponse]
    searched: int
    packed: _vektra_pb2.PackedHits
    plan: _vektra_pb2.SearchPlan
    def __init__(self, results: _Optional[_Iterable[_Union[_vektra_pb2.SearchResponse, _Mapping]]] = ..., searched: _Optional[int] = ..., packed: _Optional[_Union[_vektra_pb2.PackedHits, _Mapping]] = ..., plan: _Optional[_Union[_vektra_pb2.SearchPlan, _Mapping]] = ...) -> None: ...

class ShardQueryRequest(_message.Message):
    __slots__ = ("query", "ranges", "incarnation")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    query: _vektra_pb2.QueryRequest
    ranges: _containers.RepeatedCompositeFieldContainer[TokenRange]
    incarnation: str
    def __init__(self, query: _Optional[_Union[_vektra_pb2.QueryRequest, _Mapping]] = ..., ranges: _Optional[_Iterable[_Union[TokenRange, _Mapping]]] = ..., incarnation: _Optional[str] = ...) -> None: ...

class ShardQueryResponse(_message.Message):
    __slots__ = ("objects", "packed")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[_vektra_pb2.Object]
    packed: _vektra_pb2.PackedObjects
    def __init__(self, objects: _Optional[_Iterable[_Union[_vektra_pb2.Object, _Mapping]]] = ..., packed: _Optional[_Union[_vektra_pb2.PackedObjects, _Mapping]] = ...) -> None: ...

class SetEpochRequest(_message.Message):
    __slots__ = ("epoch", "members", "cluster_id", "vnodes")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    VNODES_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    members: _containers.RepeatedCompositeFieldContainer[_coordinator_pb2.Member]
    cluster_id: str
    vnodes: int
    def __init__(self, epoch: _Optional[int] = ..., members: _Optional[_Iterable[_Union[_coordinator_pb2.Member, _Mapping]]] = ..., cluster_id: _Optional[str] = ..., vnodes: _Optional[int] = ...) -> None: ...

class SetEpochResponse(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    def __init__(self, epoch: _Optional[int] = ...) -> None: ...

class NodeInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ("name", "objects", "incarnation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    objects: int
    incarnation: str
    def __init__(self, name: _Optional[str] = ..., objects: _Optional[int] = ..., incarnation: _Optional[str] = ...) -> None: ...

class HintCount(_message.Message):
    __slots__ = ("target", "hints")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    target: str
    hints: int
    def __init__(self, target: _Optional[str] = ..., hints: _Optional[int] = ...) -> None: ...

class NodeInfoResponse(_message.Message):
    __slots__ = ("node_id", "last_seq", "collections", "epoch", "cluster_id", "boot_id", "hints", "repaired_epoch", "searched_objects")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    REPAIRED_EPOCH_FIELD_NUMBER: _ClassVar[int]
    SEARCHED_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    last_seq: int
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    epoch: int
    cluster_id: str
    boot_id: str
    hints: _containers.RepeatedCompositeFieldContainer[HintCount]
    repaired_epoch: int
    searched_objects: int
    def __init__(self, node_id: _Optional[str] = ..., last_seq: _Optional[int] = ..., collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ..., epoch: _Optional[int] = ..., cluster_id: _Optional[str] = ..., boot_id: _Optional[str] = ..., hints: _Optional[_Iterable[_Union[HintCount, _Mapping]]] = ..., repaired_epoch: _Optional[int] = ..., searched_objects: _Optional[int] = ...) -> None: ...

class ScanRangeRequest(_message.Message):
    __slots__ = ("collection", "token_start", "token_end", "include_vectors", "batch_size")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_START_FIELD_NUMBER: _ClassVar[int]
    TOKEN_END_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    token_start: int
    token_end: int
    include_vectors: bool
    batch_size: int
    def __init__(self, collection: _Optional[str] = ..., token_start: _Optional[int] = ..., token_end: _Optional[int] = ..., include_vectors: _Optional[bool] = ..., batch_size: _Optional[int] = ...) -> None: ...

class ScanRangeBatch(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[VersionedObject]
    def __init__(self, objects: _Optional[_Iterable[_Union[VersionedObject, _Mapping]]] = ...) -> None: ...

class RangeDigestRequest(_message.Message):
    __slots__ = ("collection", "incarnation", "ranges")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    incarnation: str
    ranges: _containers.RepeatedCompositeFieldContainer[TokenRange]
    def __init__(self, collection: _Optional[str] = ..., incarnation: _Optional[str] = ..., ranges: _Optional[_Iterable[_Union[TokenRange, _Mapping]]] = ...) -> None: ...

class RangeDigestResponse(_message.Message):
    __slots__ = ("digests", "records")
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    digests: _containers.RepeatedScalarFieldContainer[bytes]
    records: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, digests: _Optional[_Iterable[bytes]] = ..., records: _Optional[_Iterable[int]] = ...) -> None: ...

class RangeVersionsRequest(_message.Message):
    __slots__ = ("collection", "incarnation", "range")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    incarnation: str
    range: TokenRange
    def __init__(self, collection: _Optional[str] = ..., incarnation: _Optional[str] = ..., range: _Optional[_Union[TokenRange, _Mapping]] = ...) -> None: ...

class RangeVersionsResponse(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[VersionedObject]
    def __init__(self, objects: _Optional[_Iterable[_Union[VersionedObject, _Mapping]]] = ...) -> None: ...
