"""The startd's gRPC service: a thin shell around ``startd.startd.Startd``.

Who may call: claims (RequestClaim, ActivateClaim, RunJobs, ReleaseClaim, ControlJob,
KeepAlive) are a schedd's business, so they need the ``advertise-schedd`` scope, and the
claim id (a secret, compared in constant time) says which slot; Drain needs ``admin``.
A startd that has no pool key to check tokens with (an execute host that joined with a
copied token alone, ``interceptor(None)``) lets the claims through on their claim id,
which is a capability all the same: the startd made it and gave it to the negotiator
alone, which handed it to the schedd it matched.  Drain it refuses, since it cannot tell
an administrator's token from anyone's.

An ActivateClaim stream carries the run's events until the job has ended.  RunJobs does
the same for one job after another over one stream, so that a claim reused for many short
jobs costs one call, not one per job.  A stream that breaks (the schedd went away) does
not stop the job: the claim's lease decides that, and a schedd that comes back reads the
run again with ``reconnect``.
"""

from __future__ import annotations

import grpc

from classad import ClassAd, ClassAdSyntaxError
from roost import security
from roost.daemon import MAX_WORKERS
from roost.messages import ad_message, message_ad
from roost.rpc import startd_pb2, startd_pb2_grpc
from startd.startd import CONTINUE, SUSPEND, VACATE, JobEvent, Startd

SERVICE = "roost.rpc.Startd"
METHOD_SCOPES = {
    f"/{SERVICE}/RequestClaim": "advertise-schedd",
    f"/{SERVICE}/ActivateClaim": "advertise-schedd",
    f"/{SERVICE}/RunJobs": "advertise-schedd",
    f"/{SERVICE}/ReleaseClaim": "advertise-schedd",
    f"/{SERVICE}/ControlJob": "advertise-schedd",
    f"/{SERVICE}/KeepAlive": "advertise-schedd",
    f"/{SERVICE}/Drain": "admin",
}
# The methods a claim id authenticates (the rest, Drain, need a verified token).
CLAIM_METHODS = frozenset(method for method, scope in METHOD_SCOPES.items()
                          if scope == "advertise-schedd")
_CONTROLS = {startd_pb2.JOB_CONTROL_SUSPEND: SUSPEND,
             startd_pb2.JOB_CONTROL_CONTINUE: CONTINUE,
             startd_pb2.JOB_CONTROL_VACATE: VACATE}
FOLLOW_WAIT = 1.0  # seconds a stream waits for an event before it checks the caller is there
# A slot that runs a job may hold, at the same time: its claim's RunJobs stream, a
# reconnection (ActivateClaim) whose broken stream has not yet seen its caller go (within
# FOLLOW_WAIT), and a preempting RequestClaim waiting for the job to leave.
CALLS_PER_JOB = 3


def worker_threads(most_jobs: int) -> int:
    """The threads the startd's gRPC server may use, for a machine that runs at most
    ``most_jobs`` jobs at once (``SlotTable.most_jobs``).

    A synchronous gRPC server serves each call on one thread of its pool for the whole
    call, and a claim's RunJobs stream lasts as long as the claim: a pool of a fixed size
    caps the jobs that run at once (the daemons' default of 16 did), and the calls that
    come after (claims, keep-alives, releases) queue behind streams that do not end.  So
    the pool grows with the slots, and ``MAX_WORKERS`` more serve those short calls
    whatever runs.  An asyncio server would hold no thread per stream, but every call into
    the startd's shell blocks (its lock, a preempting claim that waits up to PREEMPT_WAIT,
    a stream waiting for the next event), so its calls would run on a thread pool all the
    same; and the pool makes threads only as calls need them, so a large bound costs an
    idle startd nothing."""
    return MAX_WORKERS + CALLS_PER_JOB * most_jobs


def interceptor(key: security.SigningKey | security.VerifyKey | None
                ) -> grpc.ServerInterceptor:
    """What authenticates the startd's calls: tokens checked with the pool ``key``, or,
    with no key, the claim ids alone (see the module's docstring)."""
    if key is not None:
        return security.AuthInterceptor(key, METHOD_SCOPES)
    return _ClaimsOnly()


class _ClaimsOnly(grpc.ServerInterceptor):
    """Claims pass (their claim id is checked by the startd); the Startd service's other
    methods are refused with a line saying why; other services (health) pass."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if (handler is None or method in CLAIM_METHODS
                or not method.startswith(f"/{SERVICE}/")):
            return handler
        why = (f"this startd has no pool key to verify the {METHOD_SCOPES.get(method)} "
               f"token {method.rpartition('/')[2]} needs (it joined the pool with a token "
               "alone); put the pool's public key (keys/pool.pub) in its roost home to "
               "allow it")

        def refuse(request, context):
            context.abort(grpc.StatusCode.PERMISSION_DENIED, why)

        return _refusing(handler, refuse)


def _refusing(handler: grpc.RpcMethodHandler, refuse) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s shape whose behaviour is ``refuse``."""
    if handler.request_streaming and handler.response_streaming:
        make = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        make = grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        make = grpc.unary_stream_rpc_method_handler
    else:
        make = grpc.unary_unary_rpc_method_handler
    return make(refuse, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)


class StartdService(startd_pb2_grpc.StartdServicer):
    """``startd`` may be set after the server starts (the slots' ads need its port)."""

    def __init__(self, startd: Startd | None) -> None:
        self.startd = startd

    def RequestClaim(self, request, context):
        job_ad = _job_ad(request.job_ad, context)
        reply = self.startd.request_claim(request.claim_id, job_ad, request.lease_seconds,
                                          request.schedd_address)
        message = startd_pb2.RequestClaimReply(accepted=reply.accepted, reason=reply.reason,
                                               claim_id=reply.claim_id)
        if reply.slot_ad is not None:
            message.slot_ad.CopyFrom(ad_message(reply.slot_ad))
        return message

    def ActivateClaim(self, request, context):
        job_ad = None if request.reconnect else _job_ad(request.job_ad, context)
        events = self.startd.activate(request.claim_id, job_ad, reconnect=request.reconnect,
                                      environment=dict(request.environment))
        if isinstance(events, str):
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, events)
        yield from _follow(events, context)

    def RunJobs(self, request_iterator, context):
        for request in request_iterator:
            events = self.startd.activate(request.claim_id, _job_ad(request.job_ad, context),
                                          environment=dict(request.environment))
            if isinstance(events, str):
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, events)
            yield from _follow(events, context)

    def ReleaseClaim(self, request, context):
        return startd_pb2.ReleaseClaimReply(released=self.startd.release(request.claim_id))

    def ControlJob(self, request, context):
        what = _CONTROLS.get(request.control)
        if what is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no job control given")
        refused = self.startd.control(request.claim_id, what)
        return startd_pb2.ControlJobReply(done=not refused, reason=refused)

    def Drain(self, request, context):
        running = self.startd.drain(graceful=request.graceful,
                                    deadline=request.deadline_seconds)
        return startd_pb2.DrainReply(draining=True, running_jobs=running)

    def KeepAlive(self, request_iterator, context):
        for message in request_iterator:
            state = self.startd.keep_alive(message.claim_id)
            yield startd_pb2.KeepAliveMessage(claim_id=message.claim_id,
                                              time=int(self.startd.clock()), state=state)


def _follow(events, context):
    """A run's events until it has ended, the last one marked so."""
    sent = 0
    while context.is_active():
        new, ended = events.after(sent, FOLLOW_WAIT)
        for n, event in enumerate(new, 1):
            yield _event_message(event, last=ended and n == len(new))
        sent += len(new)
        if ended:
            return


def _job_ad(message, context):
    try:
        return message_ad(message)
    except ClassAdSyntaxError as error:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad job ad: {error}")


def _event_message(event: JobEvent, last: bool) -> startd_pb2.StartdJobEvent:
    return startd_pb2.StartdJobEvent(kind=event.kind, time=event.time,
                                     attrs=ad_message(ClassAd(event.attrs)), last=last)
