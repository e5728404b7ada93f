from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FaultRule(_message.Message):
    __slots__ = ("method", "caller", "action", "delay_ms", "code")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    method: str
    caller: str
    action: str
    delay_ms: int
    code: str
    def __init__(self, method: _Optional[str] = ..., caller: _Optional[str] = ..., action: _Optional[str] = ..., delay_ms: _Optional[int] = ..., code: _Optional[str] = ...) -> None: ...

class SetFaultsRequest(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[FaultRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[FaultRule, _Mapping]]] = ...) -> None: ...

class SetFaultsResponse(_message.Message):
    __slots__ = ("matched",)
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    matched: int
    def __init__(self, matched: _Optional[int] = ...) -> None: ...
