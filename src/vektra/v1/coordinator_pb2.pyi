from vektra.v1 import vektra_pb2 as _vektra_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Member(_message.Message):
    __slots__ = ("id", "address", "state")
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    address: str
    state: _vektra_pb2.NodeState
    def __init__(self, id: _Optional[str] = ..., address: _Optional[str] = ..., state: _Optional[_Union[_vektra_pb2.NodeState, str]] = ...) -> None: ...

class ClusterMap(_message.Message):
    __slots__ = ("epoch", "members", "collections", "vnodes", "cluster_id", "dropped")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    VNODES_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    members: _containers.RepeatedCompositeFieldContainer[Member]
    collections: _containers.RepeatedCompositeFieldContainer[_vektra_pb2.CollectionSchema]
    vnodes: int
    cluster_id: str
    dropped: _containers.RepeatedCompositeFieldContainer[DroppedCollection]
    def __init__(self, epoch: _Optional[int] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., collections: _Optional[_Iterable[_Union[_vektra_pb2.CollectionSchema, _Mapping]]] = ..., vnodes: _Optional[int] = ..., cluster_id: _Optional[str] = ..., dropped: _Optional[_Iterable[_Union[DroppedCollection, _Mapping]]] = ...) -> None: ...

class DroppedCollection(_message.Message):
    __slots__ = ("name", "incarnation", "epoch")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    name: str
    incarnation: str
    epoch: int
    def __init__(self, name: _Optional[str] = ..., incarnation: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class GetMapRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchMapRequest(_message.Message):
    __slots__ = ("known_epoch",)
    KNOWN_EPOCH_FIELD_NUMBER: _ClassVar[int]
    known_epoch: int
    def __init__(self, known_epoch: _Optional[int] = ...) -> None: ...

class AddNodeRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: str
    def __init__(self, address: _Optional[str] = ...) -> None: ...

class AddNodeResponse(_message.Message):
    __slots__ = ("member", "epoch")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    member: Member
    epoch: int
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., epoch: _Optional[int] = ...) -> None: ...
