"""The schedd's gRPC service: a thin adapter from messages to ``JobQueue``.

Any authenticated caller may read the queue; submitting needs the ``submit`` scope, and a
job is changed only by its owner or a queue administrator (``admin``).  The caller's user
name is the part of its identity before the "@" (``alice@pool`` is ``alice``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator

import grpc

import classad
from classad import ClassAd, ClassAdSyntaxError
from roost.messages import ad_message, message_ad
from roost.rpc import classad_pb2, schedd_pb2, schedd_pb2_grpc
from roost.security import current_identity
from schedd.autocluster import AutoclusterIndex
from schedd.job_queue import Caller, JobChange, JobQueue, QueueError
from schedd.lifecycle import Action

log = logging.getLogger("roost.schedd")

SERVICE = "roost.rpc.Schedd"
METHOD_SCOPES = {
    f"/{SERVICE}/Submit": "submit",
    f"/{SERVICE}/Act": "submit",
    f"/{SERVICE}/Edit": "submit",
    f"/{SERVICE}/Negotiate": "negotiate",
}

_ACTIONS = {
    schedd_pb2.JOB_ACTION_REMOVE: Action.REMOVE,
    schedd_pb2.JOB_ACTION_HOLD: Action.HOLD,
    schedd_pb2.JOB_ACTION_RELEASE: Action.RELEASE,
    schedd_pb2.JOB_ACTION_VACATE: Action.VACATE,
    schedd_pb2.JOB_ACTION_SUSPEND: Action.SUSPEND,
    schedd_pb2.JOB_ACTION_CONTINUE: Action.CONTINUE,
    schedd_pb2.JOB_ACTION_REMOVE_X: Action.REMOVE_X,
    schedd_pb2.JOB_ACTION_RETRY: Action.RETRY,
}
_CODES = {"invalid": grpc.StatusCode.INVALID_ARGUMENT,
          "denied": grpc.StatusCode.PERMISSION_DENIED,
          "not-found": grpc.StatusCode.NOT_FOUND}

# How long a JobEvents stream waits for news before it checks that its client is there.
_EVENT_POLL = 1.0


def caller() -> Caller:
    identity = current_identity()
    return Caller(identity.name.partition("@")[0], identity.allows("admin"))


def _pairs(ad: ClassAd, projection: list[str]) -> list[tuple[str, str]]:
    if projection:
        ad = ClassAd({name: ad.lookup(name) for name in projection if name in ad})
    return classad.ad_to_pairs(ad)


class _Subscribers:
    """Queues of the open JobEvents streams; a committed change is put on each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: set[queue.SimpleQueue] = set()

    def add(self) -> queue.SimpleQueue:
        q: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            self._queues.add(q)
        return q

    def remove(self, q: queue.SimpleQueue) -> None:
        with self._lock:
            self._queues.discard(q)

    def publish(self, changes: list[JobChange]) -> None:
        with self._lock:
            for q in self._queues:
                q.put(changes)


class ScheddService(schedd_pb2_grpc.ScheddServicer):
    def __init__(self, jobs: JobQueue, *, name: str, address: str = "",
                 query_batch: int = 500) -> None:
        self.jobs = jobs
        self.name = name
        self.address = address
        self.query_batch = query_batch
        self.autoclusters = AutoclusterIndex()
        # Matches the negotiator handed over, for the claiming of the pool issue.
        self.matches: list[schedd_pb2.Match] = []
        self._subscribers = _Subscribers()
        jobs.listen(self._subscribers.publish)

    def _fail(self, context: grpc.ServicerContext, error: QueueError):
        context.abort(_CODES[error.kind], str(error))

    def Submit(self, request, context):
        try:
            cluster_ad = message_ad(request.cluster_ad)
            proc_ads = [message_ad(ad) for ad in request.proc_ads]
        except ClassAdSyntaxError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad job ad: {error}")
        try:
            cluster_id, procs = self.jobs.submit(caller(), cluster_ad, proc_ads, request.count)
        except QueueError as error:
            self._fail(context, error)
        log.info("cluster %d: %d job(s) submitted by %s", cluster_id, procs, caller().user)
        return schedd_pb2.SubmitReply(cluster_id=cluster_id, first_proc=0, num_procs=procs)

    def _stream(self, ads: Iterator[list[tuple[str, str]]], context):
        batch = []
        try:
            for pairs in ads:
                batch.append(classad_pb2.ClassAd(attrs=[
                    classad_pb2.Attribute(name=name, expr=text) for name, text in pairs]))
                if len(batch) >= self.query_batch:
                    yield schedd_pb2.JobQueryReply(ads=batch)
                    batch = []
        except QueueError as error:
            self._fail(context, error)
        if batch:
            yield schedd_pb2.JobQueryReply(ads=batch)

    def Query(self, request, context):
        return self._stream(self.jobs.query_pairs(request.constraint, request.projection,
                                                  request.limit), context)

    def History(self, request, context):
        projection = list(request.projection)
        ads = self.jobs.history(request.constraint, request.limit)
        return self._stream((_pairs(ad, projection) for ad in ads), context)

    def Summarize(self, request, context):
        try:
            clusters, owners = self.jobs.summarize(request.constraint)
        except QueueError as error:
            self._fail(context, error)
        reply = schedd_pb2.SummaryReply(schedd_name=self.name, schedd_address=self.address)
        for c in clusters:
            reply.clusters.add(cluster_id=c.cluster_id, owner=c.owner, batch_name=c.batch_name,
                               qdate=c.qdate, cmd=c.cmd, total_submitted=c.total_submitted,
                               counts=c.counts, first_proc=c.first_proc,
                               last_proc=c.last_proc, completed=c.completed)
        for owner, counts in owners.items():
            reply.owners[owner].counts.update(counts)
        return reply

    def Act(self, request, context):
        action = _ACTIONS.get(request.action)
        if action is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no action given")
        try:
            outcome = self.jobs.act(caller(), action, list(request.job_ids), request.constraint,
                                    request.reason)
        except QueueError as error:
            self._fail(context, error)
        return schedd_pb2.ActReply(matched=outcome.matched, changed=outcome.changed,
                                   errors=outcome.errors)

    def Edit(self, request, context):
        attrs = {a.name: a.expr for a in request.attrs}
        try:
            changed = self.jobs.edit(caller(), list(request.job_ids), request.constraint, attrs)
        except QueueError as error:
            self._fail(context, error)
        return schedd_pb2.EditReply(changed=changed)

    def JobEvents(self, request, context):
        clusters = set(request.clusters)
        q = self._subscribers.add()
        try:
            if request.include_current:
                constraint = " || ".join(f"ClusterId == {c}" for c in sorted(clusters))
                for ad in self.jobs.query(constraint):
                    yield _event_message(JobChange(
                        f"{ad.eval('ClusterId')}.{ad.eval('ProcId')}", ad.eval("JobStatus"),
                        "current", ad.eval("EnteredCurrentStatus"), {}))
            while context.is_active():
                try:
                    changes = q.get(timeout=_EVENT_POLL)
                except queue.Empty:
                    continue
                for change in changes:
                    cluster = int(change.job_id.partition(".")[0])
                    if not clusters or cluster in clusters:
                        yield _event_message(change)
        finally:
            self._subscribers.remove(q)

    def Negotiate(self, request_iterator, context):
        """One negotiation with the negotiator: the submitter's idle jobs as resource
        requests, one per autocluster; then the matches it hands back are kept for
        claiming."""
        for message in request_iterator:
            body = message.WhichOneof("body")
            if body == "start":
                negotiator_ad = message_ad(message.start.negotiator_ad)
                requests = self.autoclusters.requests(
                    self.jobs, message.start.submitter, negotiator_ad)
                yield schedd_pb2.NegotiateMessage(
                    requests=schedd_pb2.ResourceRequests(requests=[
                        schedd_pb2.ResourceRequest(autocluster_id=r.autocluster_id,
                                                   count=r.count, job_ad=ad_message(r.job_ad))
                        for r in requests]))
            elif body == "match":
                self.matches.append(message.match)
            elif body == "end":
                yield schedd_pb2.NegotiateMessage(end=schedd_pb2.NegotiateEnd(reason="done"))
                return


def _event_message(change: JobChange) -> schedd_pb2.JobEvent:
    attrs = ClassAd({name: value for name, value in change.attrs.items() if value is not None})
    return schedd_pb2.JobEvent(job_id=change.job_id, status=int(change.status),
                               kind=change.kind, time=change.time, attrs=ad_message(attrs))
