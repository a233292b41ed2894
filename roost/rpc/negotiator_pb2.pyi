from roost.rpc import classad_pb2 as _classad_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserPrioAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USERPRIO_LIST: _ClassVar[UserPrioAction]
    USERPRIO_SET_FACTOR: _ClassVar[UserPrioAction]
    USERPRIO_SET_PRIO: _ClassVar[UserPrioAction]
    USERPRIO_RESET_USAGE: _ClassVar[UserPrioAction]
    USERPRIO_SET_CEILING: _ClassVar[UserPrioAction]
    USERPRIO_SET_FLOOR: _ClassVar[UserPrioAction]
    USERPRIO_DELETE: _ClassVar[UserPrioAction]
USERPRIO_LIST: UserPrioAction
USERPRIO_SET_FACTOR: UserPrioAction
USERPRIO_SET_PRIO: UserPrioAction
USERPRIO_RESET_USAGE: UserPrioAction
USERPRIO_SET_CEILING: UserPrioAction
USERPRIO_SET_FLOOR: UserPrioAction
USERPRIO_DELETE: UserPrioAction

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

class AnalyzeRequest(_message.Message):
    __slots__ = ("owner",)
    OWNER_FIELD_NUMBER: _ClassVar[int]
    owner: str
    def __init__(self, owner: _Optional[str] = ...) -> None: ...

class AutoclusterRecord(_message.Message):
    __slots__ = ("submitter", "schedd", "autocluster_id", "time", "wanted", "considered", "rejected_by_job", "rejected_by_slot", "claimed", "matched", "over_share", "reason", "job_ad", "user_priority", "unavailable")
    class UnavailableEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    SCHEDD_FIELD_NUMBER: _ClassVar[int]
    AUTOCLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    WANTED_FIELD_NUMBER: _ClassVar[int]
    CONSIDERED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BY_JOB_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BY_SLOT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    OVER_SHARE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    JOB_AD_FIELD_NUMBER: _ClassVar[int]
    USER_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    submitter: str
    schedd: str
    autocluster_id: int
    time: int
    wanted: int
    considered: int
    rejected_by_job: int
    rejected_by_slot: int
    claimed: int
    matched: int
    over_share: bool
    reason: str
    job_ad: _classad_pb2.ClassAd
    user_priority: float
    unavailable: _containers.ScalarMap[str, int]
    def __init__(self, submitter: _Optional[str] = ..., schedd: _Optional[str] = ..., autocluster_id: _Optional[int] = ..., time: _Optional[int] = ..., wanted: _Optional[int] = ..., considered: _Optional[int] = ..., rejected_by_job: _Optional[int] = ..., rejected_by_slot: _Optional[int] = ..., claimed: _Optional[int] = ..., matched: _Optional[int] = ..., over_share: bool = ..., reason: _Optional[str] = ..., job_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., user_priority: _Optional[float] = ..., unavailable: _Optional[_Mapping[str, int]] = ...) -> None: ...

class AnalyzeReply(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AutoclusterRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[AutoclusterRecord, _Mapping]]] = ...) -> None: ...

class UserPrioRequest(_message.Message):
    __slots__ = ("action", "name", "value")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    action: UserPrioAction
    name: str
    value: float
    def __init__(self, action: _Optional[_Union[UserPrioAction, str]] = ..., name: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("name", "real_priority", "factor", "effective_priority", "resources_in_use", "weighted_hours", "begin_usage", "last_usage", "floor", "ceiling")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REAL_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_IN_USE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_HOURS_FIELD_NUMBER: _ClassVar[int]
    BEGIN_USAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_USAGE_FIELD_NUMBER: _ClassVar[int]
    FLOOR_FIELD_NUMBER: _ClassVar[int]
    CEILING_FIELD_NUMBER: _ClassVar[int]
    name: str
    real_priority: float
    factor: float
    effective_priority: float
    resources_in_use: float
    weighted_hours: float
    begin_usage: float
    last_usage: float
    floor: float
    ceiling: float
    def __init__(self, name: _Optional[str] = ..., real_priority: _Optional[float] = ..., factor: _Optional[float] = ..., effective_priority: _Optional[float] = ..., resources_in_use: _Optional[float] = ..., weighted_hours: _Optional[float] = ..., begin_usage: _Optional[float] = ..., last_usage: _Optional[float] = ..., floor: _Optional[float] = ..., ceiling: _Optional[float] = ...) -> None: ...

class UserPrioReply(_message.Message):
    __slots__ = ("accounts",)
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    def __init__(self, accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ...) -> None: ...
