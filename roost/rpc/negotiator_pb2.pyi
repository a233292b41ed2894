from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RescheduleRequest(_message.Message):
    __slots__ = ("schedd_name",)
    SCHEDD_NAME_FIELD_NUMBER: _ClassVar[int]
    schedd_name: str
    def __init__(self, schedd_name: _Optional[str] = ...) -> None: ...

class RescheduleReply(_message.Message):
    __slots__ = ("scheduled",)
    SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    scheduled: bool
    def __init__(self, scheduled: bool = ...) -> None: ...

class CycleStatsRequest(_message.Message):
    __slots__ = ("last",)
    LAST_FIELD_NUMBER: _ClassVar[int]
    last: int
    def __init__(self, last: _Optional[int] = ...) -> None: ...

class CycleStats(_message.Message):
    __slots__ = ("started", "duration", "submitters", "slots", "matches", "rejections", "autoclusters")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    SUBMITTERS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    AUTOCLUSTERS_FIELD_NUMBER: _ClassVar[int]
    started: int
    duration: float
    submitters: int
    slots: int
    matches: int
    rejections: int
    autoclusters: int
    def __init__(self, started: _Optional[int] = ..., duration: _Optional[float] = ..., submitters: _Optional[int] = ..., slots: _Optional[int] = ..., matches: _Optional[int] = ..., rejections: _Optional[int] = ..., autoclusters: _Optional[int] = ...) -> None: ...

class CycleStatsReply(_message.Message):
    __slots__ = ("cycles",)
    CYCLES_FIELD_NUMBER: _ClassVar[int]
    cycles: _containers.RepeatedCompositeFieldContainer[CycleStats]
    def __init__(self, cycles: _Optional[_Iterable[_Union[CycleStats, _Mapping]]] = ...) -> None: ...
