from roost.rpc import classad_pb2 as _classad_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_ACTION_UNSPECIFIED: _ClassVar[JobAction]
    JOB_ACTION_REMOVE: _ClassVar[JobAction]
    JOB_ACTION_HOLD: _ClassVar[JobAction]
    JOB_ACTION_RELEASE: _ClassVar[JobAction]
    JOB_ACTION_VACATE: _ClassVar[JobAction]
    JOB_ACTION_SUSPEND: _ClassVar[JobAction]
    JOB_ACTION_CONTINUE: _ClassVar[JobAction]
    JOB_ACTION_REMOVE_X: _ClassVar[JobAction]
    JOB_ACTION_RETRY: _ClassVar[JobAction]
    JOB_ACTION_RERUN: _ClassVar[JobAction]
JOB_ACTION_UNSPECIFIED: JobAction
JOB_ACTION_REMOVE: JobAction
JOB_ACTION_HOLD: JobAction
JOB_ACTION_RELEASE: JobAction
JOB_ACTION_VACATE: JobAction
JOB_ACTION_SUSPEND: JobAction
JOB_ACTION_CONTINUE: JobAction
JOB_ACTION_REMOVE_X: JobAction
JOB_ACTION_RETRY: JobAction
JOB_ACTION_RERUN: JobAction

class SubmitRequest(_message.Message):
    __slots__ = ("cluster_ad", "proc_ads", "count")
    CLUSTER_AD_FIELD_NUMBER: _ClassVar[int]
    PROC_ADS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    cluster_ad: _classad_pb2.ClassAd
    proc_ads: _containers.RepeatedCompositeFieldContainer[_classad_pb2.ClassAd]
    count: int
    def __init__(self, cluster_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., proc_ads: _Optional[_Iterable[_Union[_classad_pb2.ClassAd, _Mapping]]] = ..., count: _Optional[int] = ...) -> None: ...

class SubmitReply(_message.Message):
    __slots__ = ("cluster_id", "first_proc", "num_procs")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_PROC_FIELD_NUMBER: _ClassVar[int]
    NUM_PROCS_FIELD_NUMBER: _ClassVar[int]
    cluster_id: int
    first_proc: int
    num_procs: int
    def __init__(self, cluster_id: _Optional[int] = ..., first_proc: _Optional[int] = ..., num_procs: _Optional[int] = ...) -> None: ...

class JobQueryRequest(_message.Message):
    __slots__ = ("constraint", "projection", "limit")
    CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    constraint: str
    projection: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    def __init__(self, constraint: _Optional[str] = ..., projection: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ...) -> None: ...

class JobQueryReply(_message.Message):
    __slots__ = ("ads",)
    ADS_FIELD_NUMBER: _ClassVar[int]
    ads: _containers.RepeatedCompositeFieldContainer[_classad_pb2.ClassAd]
    def __init__(self, ads: _Optional[_Iterable[_Union[_classad_pb2.ClassAd, _Mapping]]] = ...) -> None: ...

class ClusterSummary(_message.Message):
    __slots__ = ("cluster_id", "owner", "batch_name", "qdate", "cmd", "total_submitted", "counts", "first_proc", "last_proc", "completed")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    BATCH_NAME_FIELD_NUMBER: _ClassVar[int]
    QDATE_FIELD_NUMBER: _ClassVar[int]
    CMD_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_PROC_FIELD_NUMBER: _ClassVar[int]
    LAST_PROC_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    cluster_id: int
    owner: str
    batch_name: str
    qdate: int
    cmd: str
    total_submitted: int
    counts: _containers.ScalarMap[int, int]
    first_proc: int
    last_proc: int
    completed: int
    def __init__(self, cluster_id: _Optional[int] = ..., owner: _Optional[str] = ..., batch_name: _Optional[str] = ..., qdate: _Optional[int] = ..., cmd: _Optional[str] = ..., total_submitted: _Optional[int] = ..., counts: _Optional[_Mapping[int, int]] = ..., first_proc: _Optional[int] = ..., last_proc: _Optional[int] = ..., completed: _Optional[int] = ...) -> None: ...

class SummaryReply(_message.Message):
    __slots__ = ("clusters", "owners", "schedd_name", "schedd_address")
    class OwnersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StatusCounts
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StatusCounts, _Mapping]] = ...) -> None: ...
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    SCHEDD_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDD_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedCompositeFieldContainer[ClusterSummary]
    owners: _containers.MessageMap[str, StatusCounts]
    schedd_name: str
    schedd_address: str
    def __init__(self, clusters: _Optional[_Iterable[_Union[ClusterSummary, _Mapping]]] = ..., owners: _Optional[_Mapping[str, StatusCounts]] = ..., schedd_name: _Optional[str] = ..., schedd_address: _Optional[str] = ...) -> None: ...

class StatusCounts(_message.Message):
    __slots__ = ("counts",)
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.ScalarMap[int, int]
    def __init__(self, counts: _Optional[_Mapping[int, int]] = ...) -> None: ...

class ActRequest(_message.Message):
    __slots__ = ("action", "job_ids", "constraint", "reason")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    action: JobAction
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    constraint: str
    reason: str
    def __init__(self, action: _Optional[_Union[JobAction, str]] = ..., job_ids: _Optional[_Iterable[str]] = ..., constraint: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ActReply(_message.Message):
    __slots__ = ("matched", "changed", "errors")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    matched: int
    changed: int
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, matched: _Optional[int] = ..., changed: _Optional[int] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class EditRequest(_message.Message):
    __slots__ = ("job_ids", "constraint", "attrs")
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    ATTRS_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    constraint: str
    attrs: _containers.RepeatedCompositeFieldContainer[_classad_pb2.Attribute]
    def __init__(self, job_ids: _Optional[_Iterable[str]] = ..., constraint: _Optional[str] = ..., attrs: _Optional[_Iterable[_Union[_classad_pb2.Attribute, _Mapping]]] = ...) -> None: ...

class EditReply(_message.Message):
    __slots__ = ("changed",)
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    changed: int
    def __init__(self, changed: _Optional[int] = ...) -> None: ...

class NegotiateMessage(_message.Message):
    __slots__ = ("start", "requests", "match", "rejection", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: NegotiateStart
    requests: ResourceRequests
    match: Match
    rejection: Rejection
    end: NegotiateEnd
    def __init__(self, start: _Optional[_Union[NegotiateStart, _Mapping]] = ..., requests: _Optional[_Union[ResourceRequests, _Mapping]] = ..., match: _Optional[_Union[Match, _Mapping]] = ..., rejection: _Optional[_Union[Rejection, _Mapping]] = ..., end: _Optional[_Union[NegotiateEnd, _Mapping]] = ...) -> None: ...

class NegotiateStart(_message.Message):
    __slots__ = ("submitter", "negotiator_ad")
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    NEGOTIATOR_AD_FIELD_NUMBER: _ClassVar[int]
    submitter: str
    negotiator_ad: _classad_pb2.ClassAd
    def __init__(self, submitter: _Optional[str] = ..., negotiator_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ...) -> None: ...

class ResourceRequest(_message.Message):
    __slots__ = ("autocluster_id", "count", "job_ad")
    AUTOCLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    JOB_AD_FIELD_NUMBER: _ClassVar[int]
    autocluster_id: int
    count: int
    job_ad: _classad_pb2.ClassAd
    def __init__(self, autocluster_id: _Optional[int] = ..., count: _Optional[int] = ..., job_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ...) -> None: ...

class ResourceRequests(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[ResourceRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[ResourceRequest, _Mapping]]] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("autocluster_id", "slot_ad", "claim_id")
    AUTOCLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    SLOT_AD_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    autocluster_id: int
    slot_ad: _classad_pb2.ClassAd
    claim_id: str
    def __init__(self, autocluster_id: _Optional[int] = ..., slot_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., claim_id: _Optional[str] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("autocluster_id", "reason")
    AUTOCLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    autocluster_id: int
    reason: str
    def __init__(self, autocluster_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class NegotiateEnd(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class JobEventsRequest(_message.Message):
    __slots__ = ("clusters", "include_current")
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CURRENT_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedScalarFieldContainer[int]
    include_current: bool
    def __init__(self, clusters: _Optional[_Iterable[int]] = ..., include_current: bool = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "status", "kind", "time", "attrs")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ATTRS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    status: int
    kind: str
    time: int
    attrs: _classad_pb2.ClassAd
    def __init__(self, job_id: _Optional[str] = ..., status: _Optional[int] = ..., kind: _Optional[str] = ..., time: _Optional[int] = ..., attrs: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ...) -> None: ...

class ReverseChunk(_message.Message):
    __slots__ = ("nonce", "data")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    data: bytes
    def __init__(self, nonce: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class FetchInputRequest(_message.Message):
    __slots__ = ("claim_id", "job_id")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    job_id: str
    def __init__(self, claim_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class TransferFile(_message.Message):
    __slots__ = ("name", "size", "mode", "directory", "intermediate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    mode: int
    directory: bool
    intermediate: bool
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., mode: _Optional[int] = ..., directory: bool = ..., intermediate: bool = ...) -> None: ...

class FilePiece(_message.Message):
    __slots__ = ("file", "data", "last", "sha256")
    FILE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    file: int
    data: bytes
    last: bool
    sha256: str
    def __init__(self, file: _Optional[int] = ..., data: _Optional[bytes] = ..., last: bool = ..., sha256: _Optional[str] = ...) -> None: ...

class FileTransferMessage(_message.Message):
    __slots__ = ("claim_id", "job_id", "evicted", "files", "pieces")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EVICTED_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    PIECES_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    job_id: str
    evicted: bool
    files: _containers.RepeatedCompositeFieldContainer[TransferFile]
    pieces: _containers.RepeatedCompositeFieldContainer[FilePiece]
    def __init__(self, claim_id: _Optional[str] = ..., job_id: _Optional[str] = ..., evicted: bool = ..., files: _Optional[_Iterable[_Union[TransferFile, _Mapping]]] = ..., pieces: _Optional[_Iterable[_Union[FilePiece, _Mapping]]] = ...) -> None: ...

class StoreOutputReply(_message.Message):
    __slots__ = ("files", "bytes")
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    files: int
    bytes: int
    def __init__(self, files: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class DagDescription(_message.Message):
    __slots__ = ("dag_ad", "parent")
    DAG_AD_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    dag_ad: _classad_pb2.ClassAd
    parent: int
    def __init__(self, dag_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., parent: _Optional[int] = ...) -> None: ...

class DagNode(_message.Message):
    __slots__ = ("dag", "node_ad", "job", "parents")
    DAG_FIELD_NUMBER: _ClassVar[int]
    NODE_AD_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    dag: int
    node_ad: _classad_pb2.ClassAd
    job: SubmitRequest
    parents: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, dag: _Optional[int] = ..., node_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., job: _Optional[_Union[SubmitRequest, _Mapping]] = ..., parents: _Optional[_Iterable[int]] = ...) -> None: ...

class SubmitDagRequest(_message.Message):
    __slots__ = ("dags", "nodes")
    DAGS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    dags: _containers.RepeatedCompositeFieldContainer[DagDescription]
    nodes: _containers.RepeatedCompositeFieldContainer[DagNode]
    def __init__(self, dags: _Optional[_Iterable[_Union[DagDescription, _Mapping]]] = ..., nodes: _Optional[_Iterable[_Union[DagNode, _Mapping]]] = ...) -> None: ...

class SubmitDagReply(_message.Message):
    __slots__ = ("dag_ids", "cluster_ids")
    DAG_IDS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_IDS_FIELD_NUMBER: _ClassVar[int]
    dag_ids: _containers.RepeatedScalarFieldContainer[int]
    cluster_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, dag_ids: _Optional[_Iterable[int]] = ..., cluster_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class DagRequest(_message.Message):
    __slots__ = ("dag_id", "reason")
    DAG_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    dag_id: int
    reason: str
    def __init__(self, dag_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DagReply(_message.Message):
    __slots__ = ("dag_ad", "nodes", "changed")
    DAG_AD_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    dag_ad: _classad_pb2.ClassAd
    nodes: _containers.RepeatedCompositeFieldContainer[_classad_pb2.ClassAd]
    changed: int
    def __init__(self, dag_ad: _Optional[_Union[_classad_pb2.ClassAd, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[_classad_pb2.ClassAd, _Mapping]]] = ..., changed: _Optional[int] = ...) -> None: ...
