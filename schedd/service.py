"""The schedd's gRPC service: a thin adapter from messages to ``JobQueue``.

Any authenticated caller may read the queue; submitting needs the ``submit`` scope, and a
job is changed only by its owner or a queue administrator (``admin``).  The caller's user
name is the part of its identity before the "@" (``alice@pool`` is ``alice``).  A running
job's credential (``schedd.job_tokens``) submits into its workflow and reads, nothing more.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator

import grpc

import classad
from classad import ClassAd, ClassAdSyntaxError
from roost.daemon import MAX_WORKERS
from roost.messages import ad_message, message_ad
from roost.rpc import classad_pb2, schedd_pb2, schedd_pb2_grpc
from roost.security import current_identity
from schedd.autocluster import AutoclusterIndex
from schedd.dag_service import DagService
from schedd.job_queue import Caller, JobChange, JobQueue, QueueError, QueueFull
from schedd.lifecycle import Action

log = logging.getLogger("roost.schedd")

SERVICE = "roost.rpc.Schedd"
METHOD_SCOPES = {
    f"/{SERVICE}/Submit": "submit",
    f"/{SERVICE}/Act": "submit",
    f"/{SERVICE}/Edit": "submit",
    f"/{SERVICE}/Negotiate": "negotiate",
    f"/{SERVICE}/SubmitDag": "submit",
    f"/{SERVICE}/RemoveDag": "submit",
}
# Needs no token: its nonce is the credential (schedd.reverse).
REVERSE_CONNECT = f"/{SERVICE}/ReverseConnect"
# File transfer: the claim id is the credential (schedd.transfer), not a token.
TOKENLESS = (f"/{SERVICE}/FetchInput", f"/{SERVICE}/StoreOutput")

_ACTIONS = {
    schedd_pb2.JOB_ACTION_REMOVE: Action.REMOVE,
    schedd_pb2.JOB_ACTION_HOLD: Action.HOLD,
    schedd_pb2.JOB_ACTION_RELEASE: Action.RELEASE,
    schedd_pb2.JOB_ACTION_VACATE: Action.VACATE,
    schedd_pb2.JOB_ACTION_SUSPEND: Action.SUSPEND,
    schedd_pb2.JOB_ACTION_CONTINUE: Action.CONTINUE,
    schedd_pb2.JOB_ACTION_REMOVE_X: Action.REMOVE_X,
    schedd_pb2.JOB_ACTION_RETRY: Action.RETRY,
    schedd_pb2.JOB_ACTION_RERUN: Action.RERUN,
}
_CODES = {"invalid": grpc.StatusCode.INVALID_ARGUMENT,
          "denied": grpc.StatusCode.PERMISSION_DENIED,
          "not-found": grpc.StatusCode.NOT_FOUND}

# JobEvents streams.  Each holds one of the server's threads while it is open, sleeping
# until there is news, so the schedd serves calls from MAX_WORKERS threads plus one per
# stream it allows (schedd.max_watchers; threads are made only as calls need them), and
# refuses streams beyond that with RESOURCE_EXHAUSTED rather than leave no thread for
# Submit and Act.  A stream whose reader falls _EVENT_BACKLOG changes behind is ended with
# RESOURCE_EXHAUSTED: its reader reconnects and reads the queue again, and the schedd keeps
# nothing for it meanwhile.  With nothing to send, a stream wakes every _EVENT_POLL seconds
# (it is woken at once when its call ends).
_MAX_STREAMS = MAX_WORKERS // 2  # the default, for a server of MAX_WORKERS threads
_EVENT_BACKLOG = 10_000
_EVENT_POLL = 30.0
# The initial metadata a JobEvents stream sends once it is subscribed.
SUBSCRIBED = ("roost-events", "subscribed")
# What a "current" event tells of a job beyond its status: how it ended, or why it is held.
_CURRENT_ATTRS = ("Owner", "ExitCode", "ExitBySignal", "ExitSignal", "JobSuccessExitCode",
                  "HoldReason", "HoldReasonCode", "RemoveReason")
_CURRENT_ATTRS_LOWER = frozenset(name.lower() for name in _CURRENT_ATTRS)


def caller() -> Caller:
    identity = current_identity()
    return Caller(identity.name.partition("@")[0], identity.allows("admin"), identity.job)


def _add_file_system_domain(cluster_ad: ClassAd, proc_ads: list[ClassAd], domain: str) -> None:
    """condor_submit's FileSystemDomain for jobs that do not transfer files always."""
    if any("FileSystemDomain" in ad for ad in (cluster_ad, *proc_ads)):
        return
    should = cluster_ad.eval("ShouldTransferFiles") if "ShouldTransferFiles" in cluster_ad \
        else None
    if not (isinstance(should, str) and should.upper() == "YES"):
        cluster_ad["FileSystemDomain"] = domain


def _pairs(ad: ClassAd, projection: list[str]) -> list[tuple[str, str]]:
    if projection:
        ad = ClassAd({name: ad.lookup(name) for name in projection if name in ad})
    return classad.ad_to_pairs(ad)


class _Subscriber:
    """One JobEvents stream's changes waiting to be sent, bounded: the publisher never
    blocks on it, and a reader that falls too far behind is cut off instead of kept."""

    def __init__(self, clusters: frozenset[int], backlog: int) -> None:
        self.clusters = clusters  # empty: every cluster
        self.backlog = backlog
        self.overflowed = False
        self._ready = threading.Condition(threading.Lock())
        self._batches: deque[list[JobChange]] = deque()
        self._pending = 0  # changes in _batches
        self._closed = False

    def put(self, changes: list[JobChange]) -> bool:
        """Queue a committed batch; False (and the queue dropped) once it is too far
        behind.  A single batch larger than the backlog still goes to a reader that is
        keeping up, or a big ``roost rm`` would cut off every reader."""
        with self._ready:
            if self.overflowed or self._closed:
                return False
            if self._pending and self._pending + len(changes) > self.backlog:
                self.overflowed = True
                self._batches.clear()
                self._pending = 0
                self._ready.notify()
                return False
            self._batches.append(changes)
            self._pending += len(changes)
            self._ready.notify()
            return True

    def get(self, timeout: float) -> list[JobChange] | None:
        """The oldest waiting batch, or None if none came within ``timeout``, the stream
        overflowed or it was closed."""
        with self._ready:
            if not self._batches and not self.overflowed and not self._closed:
                self._ready.wait(timeout)
            if self.overflowed or not self._batches:
                return None
            changes = self._batches.popleft()
            self._pending -= len(changes)
            return changes

    def close(self) -> None:
        """The call ended: wake its stream so that it stops."""
        with self._ready:
            self._closed = True
            self._ready.notify()


class _Subscribers:
    """The open JobEvents streams, indexed by the clusters they follow, so that a commit
    costs a look-up per cluster it touched, not a visit to every stream."""

    def __init__(self, max_streams: int | None = None, backlog: int | None = None) -> None:
        self.max_streams = _MAX_STREAMS if max_streams is None else max_streams
        self.backlog = _EVENT_BACKLOG if backlog is None else backlog
        self._lock = threading.Lock()
        self._open: set[_Subscriber] = set()
        self._every: set[_Subscriber] = set()  # those of every cluster
        self._by_cluster: dict[int, set[_Subscriber]] = {}

    def add(self, clusters: frozenset[int]) -> _Subscriber | None:
        """A new stream's subscriber; None when as many streams as allowed are open."""
        subscriber = _Subscriber(clusters, self.backlog)
        with self._lock:
            if len(self._open) >= self.max_streams:
                return None
            self._open.add(subscriber)
            if not clusters:
                self._every.add(subscriber)
            for cluster in clusters:
                self._by_cluster.setdefault(cluster, set()).add(subscriber)
        return subscriber

    def remove(self, subscriber: _Subscriber) -> None:
        with self._lock:
            if subscriber not in self._open:
                return
            self._open.discard(subscriber)
            self._every.discard(subscriber)
            for cluster in subscriber.clusters:
                followers = self._by_cluster.get(cluster)
                if followers is not None:
                    followers.discard(subscriber)
                    if not followers:
                        del self._by_cluster[cluster]

    def publish(self, changes: list[JobChange]) -> None:
        """Hand a committed batch to the streams that follow its clusters (called by the
        writer after the commit: it takes a lock per stream briefly and never waits)."""
        with self._lock:
            if not self._open:
                return
            deliveries: dict[_Subscriber, list[JobChange]] = dict.fromkeys(self._every,
                                                                            changes)
            if self._by_cluster:
                for change in changes:
                    cluster = int(change.job_id.partition(".")[0])
                    for subscriber in self._by_cluster.get(cluster, ()):
                        deliveries.setdefault(subscriber, []).append(change)
        for subscriber, its in deliveries.items():
            if not subscriber.put(its):
                self.remove(subscriber)

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)


class ScheddService(DagService, schedd_pb2_grpc.ScheddServicer):
    # What joins the startds that dial in to the connections waiting for them
    # (schedd.reverse.Rendezvous), once the schedd has one.
    reverse = None

    def __init__(self, jobs: JobQueue, *, name: str, address: str = "",
                 query_batch: int = 500, on_match=None,
                 max_streams: int | None = None, transfer=None,
                 file_system_domain: str = "") -> None:
        self.jobs = jobs
        self.name = name
        self.address = address
        self.query_batch = query_batch
        self.autoclusters = AutoclusterIndex()
        # What becomes of a match the negotiator hands over: on_match(owner, slot_ad,
        # claim_id), which claims the slot and runs jobs there (schedd.claims).
        self.on_match = on_match
        self._subscribers = _Subscribers(max_streams)
        jobs.listen(self._subscribers.publish)
        # FetchInput and StoreOutput (schedd.transfer.TransferServer); None: not served.
        self.transfer = transfer
        # Put into jobs' ads at submit, as condor_submit does (its FILESYSTEM_DOMAIN), for
        # their Requirements' MY.FileSystemDomain and the startd's IF_NEEDED.
        self.file_system_domain = file_system_domain

        from schedd.dag_queue import DagQueue

        self.dags = DagQueue(jobs)

    def _fail(self, context: grpc.ServicerContext, error: QueueError | QueueFull):
        if isinstance(error, QueueFull):
            log.warning("%s", error)
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        context.abort(_CODES[error.kind], str(error))

    def Submit(self, request, context):
        try:
            cluster_ad = message_ad(request.cluster_ad)
            proc_ads = [message_ad(ad) for ad in request.proc_ads]
        except ClassAdSyntaxError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad job ad: {error}")
        if self.file_system_domain:
            _add_file_system_domain(cluster_ad, proc_ads, self.file_system_domain)
        try:
            cluster_id, procs = self.jobs.submit(caller(), cluster_ad, proc_ads, request.count)
        except (QueueError, QueueFull) as error:
            self._fail(context, error)
        log.info("cluster %d: %d job(s) submitted by %s", cluster_id, procs, caller().user)
        return schedd_pb2.SubmitReply(cluster_id=cluster_id, first_proc=0, num_procs=procs)

    def FetchInput(self, request, context):
        if self.transfer is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this schedd transfers no files")
        yield from self.transfer.fetch_input(request, context)

    def StoreOutput(self, request_iterator, context):
        if self.transfer is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this schedd transfers no files")
        return self.transfer.store_output(request_iterator, context)

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
        except (QueueError, QueueFull) as error:
            self._fail(context, error)
        return schedd_pb2.ActReply(matched=outcome.matched, changed=outcome.changed,
                                   errors=outcome.errors)

    def Edit(self, request, context):
        attrs = {a.name: a.expr for a in request.attrs}
        try:
            changed = self.jobs.edit(caller(), list(request.job_ids), request.constraint, attrs)
        except (QueueError, QueueFull) as error:
            self._fail(context, error)
        return schedd_pb2.EditReply(changed=changed)

    def JobEvents(self, request, context):
        """Job events as they are committed, of the request's clusters (none: every job,
        since anyone may read the queue).  Once the stream is subscribed it sends its
        initial metadata (``SUBSCRIBED``): every change committed from then on reaches it,
        so its reader may read the queue and history then and miss nothing.  With
        ``include_current`` a "current" event per job in the queue comes first (a change
        committed while that is read may come again after it).

        A stream holds a server thread, so at most ``_MAX_STREAMS`` are open at once; and a
        reader that falls ``_EVENT_BACKLOG`` changes behind has its stream ended with
        RESOURCE_EXHAUSTED, to reconnect and read the queue again."""
        clusters = frozenset(request.clusters)
        subscriber = self._subscribers.add(clusters)
        if subscriber is None:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"the schedd has {self._subscribers.max_streams} event streams open, "
                          "as many as it serves; try again later")
        context.add_callback(subscriber.close)
        try:
            context.send_initial_metadata((SUBSCRIBED,))
            if request.include_current:
                yield from self._current_events(clusters)
            while context.is_active():
                changes = subscriber.get(_EVENT_POLL)
                if subscriber.overflowed:
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                  f"this event stream fell more than {subscriber.backlog} "
                                  "changes behind; reconnect and read the jobs' state again")
                for change in changes or ():
                    yield _event_message(change)
        finally:
            self._subscribers.remove(subscriber)

    def _current_events(self, clusters: frozenset[int]) -> Iterator[schedd_pb2.JobEvent]:
        """A "current" event per job in the queue of ``clusters`` (all if none)."""
        constraint = " || ".join(f"ClusterId == {c}" for c in sorted(clusters))
        projection = ("ClusterId", "ProcId", "JobStatus", "EnteredCurrentStatus",
                      *_CURRENT_ATTRS)
        for pairs in self.jobs.query_pairs(constraint, projection):
            texts = {name.lower(): text for name, text in pairs}
            attrs = [classad_pb2.Attribute(name=name, expr=text) for name, text in pairs
                     if name.lower() in _CURRENT_ATTRS_LOWER]
            yield schedd_pb2.JobEvent(
                job_id=f"{texts['clusterid']}.{texts['procid']}",
                status=int(texts["jobstatus"]), kind="current",
                time=int(texts.get("enteredcurrentstatus", "0")),
                attrs=classad_pb2.ClassAd(attrs=attrs))

    def Negotiate(self, request_iterator, context):
        """One negotiation with the negotiator: the submitter's idle jobs as resource
        requests, one per autocluster; then the matches it hands back are kept for
        claiming."""
        owner = ""
        for message in request_iterator:
            body = message.WhichOneof("body")
            if body == "start":
                negotiator_ad = message_ad(message.start.negotiator_ad)
                owner = message.start.submitter.partition("@")[0]
                requests = self.autoclusters.requests(
                    self.jobs, message.start.submitter, negotiator_ad)
                yield schedd_pb2.NegotiateMessage(
                    requests=schedd_pb2.ResourceRequests(requests=[
                        schedd_pb2.ResourceRequest(autocluster_id=r.autocluster_id,
                                                   count=r.count, job_ad=ad_message(r.job_ad))
                        for r in requests]))
            elif body == "match":
                if self.on_match is not None:
                    self.on_match(owner, message_ad(message.match.slot_ad),
                                  message.match.claim_id)
            elif body == "end":
                yield schedd_pb2.NegotiateMessage(end=schedd_pb2.NegotiateEnd(reason="done"))
                return

    def ReverseConnect(self, request_iterator, context):
        """A startd reachable only through the broker dials in (schedd.reverse)."""
        if self.reverse is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the schedd takes no connection "
                          "from startds yet")
        yield from self.reverse.serve(request_iterator, context)


def _event_message(change: JobChange) -> schedd_pb2.JobEvent:
    attrs = ClassAd({name: value for name, value in change.attrs.items() if value is not None})
    return schedd_pb2.JobEvent(job_id=change.job_id, status=int(change.status),
                               kind=change.kind, time=change.time, attrs=ad_message(attrs))
