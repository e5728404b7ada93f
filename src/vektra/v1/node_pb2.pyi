from vektra.v1 import vektra_pb2 as _vektra_pb2
from vektra.v1 import coordinator_pb2 as _coordinator_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
    __slots__ = ("collection", "objects")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    objects: _containers.RepeatedCompositeFieldContainer[VersionedObject]
    def __init__(self, collection: _Optional[str] = ..., objects: _Optional[_Iterable[_Union[VersionedObject, _Mapping]]] = ...) -> None: ...

class ApplyResponse(_message.Message):
    __slots__ = ("applied", "stale", "last_seq", "removed_ids")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    REMOVED_IDS_FIELD_NUMBER: _ClassVar[int]
    applied: int
    stale: int
    last_seq: int
    removed_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, applied: _Optional[int] = ..., stale: _Optional[int] = ..., last_seq: _Optional[int] = ..., removed_ids: _Optional[_Iterable[str]] = ...) -> None: ...

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

class FetchRequest(_message.Message):
    __slots__ = ("collection", "ids", "include_vectors")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    include_vectors: bool
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., include_vectors: _Optional[bool] = ...) -> None: ...

class FetchResponse(_message.Message):
    __slots__ = ("objects", "missing")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[VersionedObject]
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, objects: _Optional[_Iterable[_Union[VersionedObject, _Mapping]]] = ..., missing: _Optional[_Iterable[str]] = ...) -> None: ...

class TokenRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class CountRangesRequest(_message.Message):
    __slots__ = ("collection", "filter", "ranges")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: bytes
    ranges: _containers.RepeatedCompositeFieldContainer[TokenRange]
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[bytes] = ..., ranges: _Optional[_Iterable[_Union[TokenRange, _Mapping]]] = ...) -> None: ...

class CountRangesResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class SetEpochRequest(_message.Message):
    __slots__ = ("epoch", "members")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    members: _containers.RepeatedCompositeFieldContainer[_coordinator_pb2.Member]
    def __init__(self, epoch: _Optional[int] = ..., members: _Optional[_Iterable[_Union[_coordinator_pb2.Member, _Mapping]]] = ...) -> None: ...

class SetEpochResponse(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    def __init__(self, epoch: _Optional[int] = ...) -> None: ...

class NodeInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ("name", "objects")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    objects: int
    def __init__(self, name: _Optional[str] = ..., objects: _Optional[int] = ...) -> None: ...

class NodeInfoResponse(_message.Message):
    __slots__ = ("node_id", "last_seq", "collections", "epoch")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    last_seq: int
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    epoch: int
    def __init__(self, node_id: _Optional[str] = ..., last_seq: _Optional[int] = ..., collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ..., epoch: _Optional[int] = ...) -> None: ...

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
