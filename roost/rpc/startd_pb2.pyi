from roost.rpc import classad_pb2 as _classad_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobControl(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_CONTROL_UNSPECIFIED: _ClassVar[JobControl]
    JOB_CONTROL_SUSPEND: _ClassVar[JobControl]
    JOB_CONTROL_CONTINUE: _ClassVar[JobControl]
    JOB_CONTROL_VACATE: _ClassVar[JobControl]
JOB_CONTROL_UNSPECIFIED: JobControl
JOB_CONTROL_SUSPEND: JobControl
JOB_CONTROL_CONTINUE: JobControl
JOB_CONTROL_VACATE: JobControl

class RequestClaimRequest(_message.Message):
    __slots__ = ("claim_id", "job_ad", "schedd_address", "lease_seconds")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_AD_FIELD_NUMBER: _ClassVar[int]
    SCHEDD_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    job_ad: _classad_pb2.ClassAd
    schedd_address: str
    lease_seconds: int
    def __init__(self, claim_id: _Optional[str] = ..., job_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., schedd_address: _Optional[str] = ..., lease_seconds: _Optional[int] = ...) -> None: ...

class RequestClaimReply(_message.Message):
    __slots__ = ("accepted", "reason", "slot_ad", "claim_id")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SLOT_AD_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    reason: str
    slot_ad: _classad_pb2.ClassAd
    claim_id: str
    def __init__(self, accepted: bool = ..., reason: _Optional[str] = ..., slot_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., claim_id: _Optional[str] = ...) -> None: ...

class ActivateClaimRequest(_message.Message):
    __slots__ = ("claim_id", "job_ad", "reconnect", "environment")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_AD_FIELD_NUMBER: _ClassVar[int]
    RECONNECT_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    job_ad: _classad_pb2.ClassAd
    reconnect: bool
    environment: _containers.ScalarMap[str, str]
    def __init__(self, claim_id: _Optional[str] = ..., job_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., reconnect: bool = ..., environment: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StartdJobEvent(_message.Message):
    __slots__ = ("kind", "time", "attrs", "last")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ATTRS_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    kind: str
    time: int
    attrs: _classad_pb2.ClassAd
    last: bool
    def __init__(self, kind: _Optional[str] = ..., time: _Optional[int] = ..., attrs: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., last: bool = ...) -> None: ...

class ReleaseClaimRequest(_message.Message):
    __slots__ = ("claim_id", "reason")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    reason: str
    def __init__(self, claim_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseClaimReply(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: bool = ...) -> None: ...

class ControlJobRequest(_message.Message):
    __slots__ = ("claim_id", "control")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    control: JobControl
    def __init__(self, claim_id: _Optional[str] = ..., control: _Optional[_Union[JobControl, str]] = ...) -> None: ...

class ControlJobReply(_message.Message):
    __slots__ = ("done", "reason")
    DONE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    done: bool
    reason: str
    def __init__(self, done: bool = ..., reason: _Optional[str] = ...) -> None: ...

class DrainRequest(_message.Message):
    __slots__ = ("graceful", "deadline_seconds", "reason")
    GRACEFUL_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    graceful: bool
    deadline_seconds: int
    reason: str
    def __init__(self, graceful: bool = ..., deadline_seconds: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DrainReply(_message.Message):
    __slots__ = ("draining", "running_jobs")
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    draining: bool
    running_jobs: int
    def __init__(self, draining: bool = ..., running_jobs: _Optional[int] = ...) -> None: ...

class KeepAliveMessage(_message.Message):
    __slots__ = ("claim_id", "time", "state")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    time: int
    state: str
    def __init__(self, claim_id: _Optional[str] = ..., time: _Optional[int] = ..., state: _Optional[str] = ...) -> None: ...
