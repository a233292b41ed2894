from roost.rpc import classad_pb2 as _classad_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AdvertiseRequest(_message.Message):
    __slots__ = ("ad_type", "ad", "private_ad")
    AD_TYPE_FIELD_NUMBER: _ClassVar[int]
    AD_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_AD_FIELD_NUMBER: _ClassVar[int]
    ad_type: str
    ad: _classad_pb2.ClassAd
    private_ad: _classad_pb2.ClassAd
    def __init__(self, ad_type: _Optional[str] = ..., ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., private_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ...) -> None: ...

class AdvertiseReply(_message.Message):
    __slots__ = ("accepted", "errors")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    errors: _containers.RepeatedCompositeFieldContainer[AdvertiseError]
    def __init__(self, accepted: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[AdvertiseError, _Mapping]]] = ...) -> None: ...

class AdvertiseError(_message.Message):
    __slots__ = ("index", "name", "reason")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    index: int
    name: str
    reason: str
    def __init__(self, index: _Optional[int] = ..., name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class InvalidateRequest(_message.Message):
    __slots__ = ("ad_type", "names", "constraint")
    AD_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    ad_type: str
    names: _containers.RepeatedScalarFieldContainer[str]
    constraint: str
    def __init__(self, ad_type: _Optional[str] = ..., names: _Optional[_Iterable[str]] = ..., constraint: _Optional[str] = ...) -> None: ...

class InvalidateReply(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("ad_type", "constraint", "projection", "limit", "include_private")
    AD_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PRIVATE_FIELD_NUMBER: _ClassVar[int]
    ad_type: str
    constraint: str
    projection: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    include_private: bool
    def __init__(self, ad_type: _Optional[str] = ..., constraint: _Optional[str] = ..., projection: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., include_private: bool = ...) -> None: ...

class QueryReply(_message.Message):
    __slots__ = ("ads",)
    ADS_FIELD_NUMBER: _ClassVar[int]
    ads: _containers.RepeatedCompositeFieldContainer[_classad_pb2.ClassAd]
    def __init__(self, ads: _Optional[_Iterable[_Union[_classad_pb2.ClassAd, _Mapping]]] = ...) -> None: ...

class DialBackRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: str
    def __init__(self, address: _Optional[str] = ...) -> None: ...

class DialBackReply(_message.Message):
    __slots__ = ("reachable", "reason")
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    reachable: bool
    reason: str
    def __init__(self, reachable: bool = ..., reason: _Optional[str] = ...) -> None: ...

class BrokerRegistration(_message.Message):
    __slots__ = ("broker_id",)
    BROKER_ID_FIELD_NUMBER: _ClassVar[int]
    broker_id: str
    def __init__(self, broker_id: _Optional[str] = ...) -> None: ...

class BrokerMessage(_message.Message):
    __slots__ = ("registered", "connect", "heartbeat")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    CONNECT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    registered: bool
    connect: BrokerConnectRequest
    heartbeat: bool
    def __init__(self, registered: bool = ..., connect: _Optional[_Union[BrokerConnectRequest, _Mapping]] = ..., heartbeat: bool = ...) -> None: ...

class BrokerConnectRequest(_message.Message):
    __slots__ = ("broker_id", "schedd_address", "nonce")
    BROKER_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDD_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    broker_id: str
    schedd_address: str
    nonce: str
    def __init__(self, broker_id: _Optional[str] = ..., schedd_address: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class BrokerConnectReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
