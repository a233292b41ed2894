"""Python clients of roost's daemons: ``roost.Collector``, ``roost.Schedd`` and
``roost.client.Startd``.

A client takes an optional ``address=`` and ``token=``; the defaults come from the
configuration and the local user's token file.  Calls have deadlines, and a daemon that
is not (yet) reachable is retried with exponential back-off before the call gives up
with one clear line: ``cannot reach the collector at HOST:PORT (is the pool up?)``.
"""

from __future__ import annotations

import enum
import os
import queue
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from classad import ClassAd, ExprTree
from roost import security
from roost.config import Config, load_config
from roost.errors import RoostError
from roost.messages import ad_message, message_ad
from roost.rpc import (
    classad_pb2,
    collector_pb2,
    collector_pb2_grpc,
    negotiator_pb2,
    negotiator_pb2_grpc,
    schedd_pb2,
    schedd_pb2_grpc,
    startd_pb2,
    startd_pb2_grpc,
)

# A running job's credential, in its environment; the schedd's address comes with it as
# ROOST_SCHEDD_ADDRESS, which is the schedd.address setting (roost.config).
JOB_TOKEN_VARIABLE = "ROOST_JOB_TOKEN"

# Attempts for a call that finds the daemon UNAVAILABLE, and the first pause between them.
RETRIES = 4
BACKOFF = 0.2
# A DAG goes to the schedd in pieces of this size, under the daemons' message limit
# (roost.daemon.MAX_MESSAGE_BYTES), with this much more deadline for each node.
DAG_PIECE_BYTES = 4 * 1024 * 1024
DAG_SECONDS_PER_NODE = 0.002


class Client:
    """A channel to one daemon, with its token and deadlines."""

    what = "daemon"  # the daemon's name in messages
    address_key = ("", "")  # the configuration key of its address

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        *,
        config: Config | None = None,
        timeout: float = 30.0,
        target: str | None = None,
        tls_name: str | None = None,
    ) -> None:
        """``target``: the address the channel dials, when not ``address`` (the loopback
        end of a brokered connection, ``roost.broker``); ``tls_name``: the name the
        daemon's certificate is checked for, when not ``address``'s host."""
        self.config = config or load_config()
        self.address = address or self.config.get(*self.address_key)
        if token is None:
            path = self.config.get("security", "token_file") or security.local_token_path(
                self.config.home
            )
            token = security.load_token(path)
        self._token = token
        self.timeout = timeout
        self._metadata = security.call_metadata(token)
        ca = self.config.get("tls", "ca")
        if ca:
            with open(ca, "rb") as f:
                credentials = security.channel_credentials(f.read())
            options = [("grpc.ssl_target_name_override", tls_name)] if tls_name else []
            self.channel = grpc.secure_channel(target or self.address, credentials,
                                               options=options)
        else:
            self.channel = grpc.insecure_channel(target or self.address)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _failure(self, error: grpc.RpcError) -> RoostError:
        return RoostError(security.describe_rpc_error(error, self.what, self.address))

    def _retry(self, attempt):
        """``attempt()``, again with back-off while the daemon is unavailable; other
        failures become one RoostError line."""
        pause = BACKOFF
        for remaining in range(RETRIES - 1, -1, -1):
            try:
                return attempt()
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or not remaining:
                    raise self._failure(e) from None
                time.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _unary(self, method, request):
        return self._retry(lambda: method(request, timeout=self.timeout, metadata=self._metadata))

    def _stream(self, method, request) -> Iterator:
        """A response stream; only its start is retried, since what was already read
        cannot be taken back.  A stream has no deadline: a gRPC deadline covers the whole
        call, and reading a million job ads rightly takes longer than any answer should."""

        def start():
            replies = method(request, metadata=self._metadata)
            return replies, next(replies, None)

        replies, first = self._retry(start)
        if first is None:
            return
        yield first
        try:
            yield from replies
        except grpc.RpcError as e:
            raise self._failure(e) from None


class Collector(Client):
    """The pool's collector: ``advertise``, ``invalidate`` and ``query`` ads."""

    what = "collector"
    address_key = ("matchmaker", "address")

    def advertise(
        self,
        ads: Iterable[ClassAd],
        ad_type: str = "Machine",
        private: Iterable[ClassAd | None] | None = None,
    ) -> int:
        """Send ads in one stream; returns how many were stored.  A refused ad raises
        RoostError naming it and why (the others are stored).  An update is idempotent,
        so a stream cut off by an unavailable collector is sent again whole."""
        ads = list(ads)
        privates = list(private) if private is not None else [None] * len(ads)

        def requests():
            for ad, extra in zip(ads, privates, strict=True):
                request = collector_pb2.AdvertiseRequest(ad_type=ad_type, ad=ad_message(ad))
                if extra is not None:
                    request.private_ad.CopyFrom(ad_message(extra))
                yield request

        stub = collector_pb2_grpc.CollectorStub(self.channel)
        reply = self._retry(
            lambda: stub.Advertise(requests(), timeout=self.timeout, metadata=self._metadata)
        )
        if reply.errors:
            first = reply.errors[0]
            more = f" (and {len(reply.errors) - 1} more)" if len(reply.errors) > 1 else ""
            raise RoostError(
                f"the collector refused ad {first.name or first.index}: {first.reason}{more}"
            )
        return reply.accepted

    def invalidate(self, ad_type: str, names: Iterable[str] = (), constraint: str = "") -> int:
        """Remove ads by name or by constraint; returns how many were removed."""
        stub = collector_pb2_grpc.CollectorStub(self.channel)
        request = collector_pb2.InvalidateRequest(
            ad_type=ad_type, names=list(names), constraint=constraint
        )
        return self._unary(stub.Invalidate, request).removed

    def query(
        self,
        ad_type: str = "Machine",
        constraint: str = "",
        projection: Iterable[str] = (),
        limit: int = 0,
        include_private: bool = False,
    ) -> list[ClassAd]:
        """The ads of a type for which ``constraint`` (evaluated against each ad alone)
        holds, with only the ``projection`` attributes if given."""
        return list(self.iter_query(ad_type, constraint, projection, limit, include_private))

    def iter_query(
        self,
        ad_type: str = "Machine",
        constraint: str = "",
        projection: Iterable[str] = (),
        limit: int = 0,
        include_private: bool = False,
    ) -> Iterator[ClassAd]:
        stub = collector_pb2_grpc.CollectorStub(self.channel)
        request = collector_pb2.QueryRequest(
            ad_type=ad_type,
            constraint=constraint,
            projection=list(projection),
            limit=limit,
            include_private=include_private,
        )
        for reply in self._stream(stub.Query, request):
            for msg in reply.ads:
                yield message_ad(msg)


class JobAction(enum.IntEnum):
    """What ``Schedd.act`` does to jobs; HTCondor's ``htcondor2.JobAction`` names."""

    Remove = 1
    Hold = 2
    Release = 3
    Vacate = 4
    Suspend = 5
    Continue = 6
    RemoveX = 7  # forced removal
    Retry = 8  # re-queue the failed procs of a finished cluster (qdo's retry)
    Rerun = 9  # run finished jobs again, whatever their end (qdo's rerun)


@dataclass(frozen=True)
class SubmitResult:
    """What a submit queued, as ``htcondor2.SubmitResult`` tells it."""

    cluster_id: int
    first_proc_id: int
    proc_count: int

    def cluster(self) -> int:
        return self.cluster_id

    def first_proc(self) -> int:
        return self.first_proc_id

    def num_procs(self) -> int:
        return self.proc_count


@dataclass(frozen=True)
class ClusterSummary:
    """One cluster's jobs counted by JobStatus, for ``roost q``'s batch view."""

    cluster_id: int
    owner: str
    batch_name: str
    qdate: int
    cmd: str
    total_submitted: int
    counts: dict[int, int]  # JobStatus -> jobs in the queue
    first_proc: int
    last_proc: int
    completed: int  # procs that completed and left the queue


@dataclass(frozen=True)
class QueueSummary:
    clusters: list[ClusterSummary]
    owners: dict[str, dict[int, int]]  # every owner's jobs by JobStatus
    schedd_name: str
    schedd_address: str


_JOB_ID = re.compile(r"\s*\d+(\.\d+)?\s*$")


def job_selection(job_spec: str | Iterable[str]) -> tuple[list[str], str]:
    """HTCondor's job_spec: ids ("12", "12.3", or a list of them) or a constraint."""
    if isinstance(job_spec, str):
        if _JOB_ID.match(job_spec):
            return [job_spec.strip()], ""
        return [], job_spec
    ids = [str(one).strip() for one in job_spec]
    for one in ids:
        if not _JOB_ID.match(one):
            raise RoostError(f"not a job id: {one!r} (use CLUSTER or CLUSTER.PROC)")
    return ids, ""


class Schedd(Client):
    """The job queue: ``submit``, ``query``, ``act``, ``edit`` and ``history``, named and
    shaped as HTCondor's ``htcondor2.Schedd``."""

    what = "schedd"
    address_key = ("schedd", "address")

    def __init__(self, address: str | None = None, token: str | None = None, *,
                 config: Config | None = None, timeout: float = 60.0) -> None:
        config = config or load_config()
        # Inside a running job: the credential of its run (schedd.job_tokens), which
        # needs no token file on a host that shares no file system with the schedd's.
        token = token or os.environ.get(JOB_TOKEN_VARIABLE) or None
        super().__init__(address or schedd_address(config), token, config=config,
                         timeout=timeout)
        self._stub = schedd_pb2_grpc.ScheddStub(self.channel)

    @property
    def user(self) -> str:
        """The user this client acts as: its token's identity up to the "@"."""
        return security.decode_token(self._token).name.partition("@")[0]

    def submit(self, description: ClassAd | str, count: int = 1, *, cwd: str | None = None,
               filename: str = "<submit>", parents: Iterable[int | str] | None = None,
               parents_satisfied_by: str | None = None) -> SubmitResult:
        """Queue ``count`` procs of a job ClassAd, or the jobs of a submit description
        (its text), as one cluster.  ``parents`` (cluster ids, or "CLUSTER.PROC" job ids)
        makes the jobs wait until those have ended with success, or in any way with
        ``parents_satisfied_by="finished"`` (roost's extension)."""
        from roost import submit_description as sd

        owner = self.user
        now = int(time.time())
        here = Path(cwd or os.getcwd())
        arch, opsys = sd.local_platform()
        if isinstance(description, ClassAd):
            ad = sd.complete_job_ad(description, owner=owner, now=now, cwd=here, arch=arch,
                                    opsys=opsys)
            _set_parents(ad, parents, parents_satisfied_by)
            return self.submit_cluster(ad, [], count)
        plan = sd.parse_submit(description, filename=filename, cwd=here, owner=owner, now=now,
                               arch=arch, opsys=opsys, environ=os.environ)
        if count != 1:
            raise RoostError("count applies to a job ClassAd; a submit description has its "
                             "own queue statements")
        _set_parents(plan.cluster_ad, parents, parents_satisfied_by)
        return self.submit_cluster(plan.cluster_ad, plan.procs, plan.count)

    def submit_cluster(self, cluster_ad: ClassAd, proc_ads: Sequence[ClassAd],
                       count: int = 0) -> SubmitResult:
        """One cluster from its shared ad and, per proc, what differs (or ``count``
        identical procs); acknowledged once the schedd has committed it."""
        request = schedd_pb2.SubmitRequest(
            cluster_ad=ad_message(cluster_ad), proc_ads=[ad_message(ad) for ad in proc_ads],
            count=count)
        reply = self._unary(self._stub.Submit, request)
        return SubmitResult(reply.cluster_id, reply.first_proc, reply.num_procs)

    def query(self, constraint: str = "", projection: Iterable[str] = (),
              limit: int = 0) -> list[ClassAd]:
        """The job ads for which ``constraint`` holds (against the job ad alone)."""
        return list(self.iter_query(constraint, projection, limit))

    def iter_query(self, constraint: str = "", projection: Iterable[str] = (),
                   limit: int = 0) -> Iterator[ClassAd]:
        request = schedd_pb2.JobQueryRequest(constraint=constraint, projection=list(projection),
                                             limit=limit)
        yield from _ads(self._stream(self._stub.Query, request))

    def history(self, constraint: str = "", projection: Iterable[str] = (),
                match: int = 0) -> Iterator[ClassAd]:
        """Completed and removed jobs, newest first."""
        request = schedd_pb2.JobQueryRequest(constraint=constraint, projection=list(projection),
                                             limit=match)
        yield from _ads(self._stream(self._stub.History, request))

    def summarize(self, constraint: str = "") -> QueueSummary:
        reply = self._unary(self._stub.Summarize,
                            schedd_pb2.JobQueryRequest(constraint=constraint))
        clusters = [
            ClusterSummary(c.cluster_id, c.owner, c.batch_name, c.qdate, c.cmd,
                           c.total_submitted, dict(c.counts), c.first_proc, c.last_proc,
                           c.completed)
            for c in reply.clusters
        ]
        owners = {name: dict(counts.counts) for name, counts in reply.owners.items()}
        return QueueSummary(clusters, owners, reply.schedd_name, reply.schedd_address)

    def act(self, action: JobAction, job_spec: str | Iterable[str], reason: str = "") -> ClassAd:
        """Remove, hold, release, ... the jobs of ``job_spec``.  Returns a ClassAd with
        TotalJobAds (matched), TotalSuccess (changed) and TotalError."""
        ids, constraint = job_selection(job_spec)
        request = schedd_pb2.ActRequest(action=int(action), job_ids=ids, constraint=constraint,
                                        reason=reason)
        reply = self._unary(self._stub.Act, request)
        result = ClassAd()
        result["TotalJobAds"] = reply.matched
        result["TotalSuccess"] = reply.changed
        result["TotalError"] = len(reply.errors)
        result["Errors"] = list(reply.errors)
        return result

    def edit(self, job_spec: str | Iterable[str], attr: str, value: str | ExprTree) -> int:
        """Set ``attr`` to ``value`` (an expression's text) in the jobs of ``job_spec``;
        returns how many jobs changed."""
        return self.edit_many(job_spec, {attr: value})

    def edit_many(self, job_spec: str | Iterable[str], attrs: dict[str, str | ExprTree]) -> int:
        ids, constraint = job_selection(job_spec)
        request = schedd_pb2.EditRequest(
            job_ids=ids, constraint=constraint,
            attrs=[classad_pb2.Attribute(name=name, expr=str(value))
                   for name, value in attrs.items()])
        return self._unary(self._stub.Edit, request).changed

    def retry(self, cluster: int | str, reason: str = "") -> int:
        """Re-queue the failed procs of a finished cluster, or one failed job
        ("CLUSTER.PROC"); the jobs blocked behind them wait again.  Returns how many were
        re-queued."""
        result = self.act(JobAction.Retry, str(cluster), reason)
        if result.eval("Errors") and not result.eval("TotalSuccess"):
            raise RoostError(result.eval("Errors")[0])
        return result.eval("TotalSuccess")

    def rerun(self, job_spec: str | Iterable[str], reason: str = "") -> int:
        """Run again the finished jobs (out of the queue) that ``job_spec`` names by
        constraint or ids, whatever their end; returns how many were re-queued."""
        return self.act(JobAction.Rerun, job_spec, reason).eval("TotalSuccess")

    def submit_dag(self, dags: Sequence[tuple[ClassAd, int]],
                   nodes: Sequence[tuple[int, ClassAd, ClassAd, Sequence[ClassAd], int,
                                         Sequence[int]]]) -> tuple[list[int], list[int]]:
        """Queue DAGs ((dag ad, index of the DAG a SUBDAG is in or -1)) and their nodes
        ((DAG index, node ad, cluster ad, proc ads, count, parent node indices), parents
        first) in one transaction; the DAG ids and the nodes' cluster ids."""
        first = schedd_pb2.SubmitDagRequest(
            dags=[schedd_pb2.DagDescription(dag_ad=ad_message(ad), parent=parent)
                  for ad, parent in dags])
        messages = [schedd_pb2.DagNode(
            dag=dag, node_ad=ad_message(node_ad),
            job=schedd_pb2.SubmitRequest(cluster_ad=ad_message(cluster_ad),
                                         proc_ads=[ad_message(ad) for ad in proc_ads],
                                         count=count),
            parents=list(parents))
            for dag, node_ad, cluster_ad, proc_ads, count, parents in nodes]

        # One transaction writes every node: a big DAG's takes its time (about 0.5 ms a
        # node here), which the deadline allows for.
        timeout = self.timeout + DAG_SECONDS_PER_NODE * len(messages)
        reply = self._retry(lambda: self._stub.SubmitDag(
            dag_pieces(first, messages, DAG_PIECE_BYTES), timeout=timeout,
            metadata=self._metadata))
        return list(reply.dag_ids), list(reply.cluster_ids)

    def dag_status(self, dag_id: int) -> tuple[ClassAd, list[ClassAd]]:
        """A DAG's ad and an ad per node (its SUBDAGs' too)."""
        reply = self._unary(self._stub.DagStatus, schedd_pb2.DagRequest(dag_id=int(dag_id)))
        return message_ad(reply.dag_ad), [message_ad(ad) for ad in reply.nodes]

    def remove_dag(self, dag_id: int, reason: str = "") -> int:
        """Stop a DAG; how many of its jobs were removed."""
        reply = self._unary(self._stub.RemoveDag, schedd_pb2.DagRequest(dag_id=int(dag_id),
                                                                        reason=reason))
        return reply.changed

    def job_events(self, clusters: Iterable[int] = (),
                   include_current: bool = True) -> Iterator[JobEvent]:
        """The job events of ``clusters`` (none: of every job) as the schedd commits them.

        The first event is a "subscribed" one (no job id): every change committed after
        it follows, so that what the queue and history say once it has come is all a
        follower needs to read.  With ``include_current`` a "current" event per job in the
        queue comes next.  A stream the schedd ends because its reader fell behind
        (RESOURCE_EXHAUSTED), or loses on a restart, is opened again and starts with a
        "subscribed" event again: the follower reads again what it may have missed.  The
        stream has no end and no deadline; closing the client ends it (from any thread)."""
        request = schedd_pb2.JobEventsRequest(clusters=[int(c) for c in clusters],
                                              include_current=include_current)

        def subscribe():
            call = self._stub.JobEvents(request, metadata=self._metadata)
            call.initial_metadata()  # the schedd sends it once the stream is subscribed
            if call.done() and call.code() != grpc.StatusCode.OK:
                raise call  # the call is its own RpcError
            return call

        while True:
            call = self._retry(subscribe)
            try:
                yield JobEvent("", 0, "subscribed", 0, ClassAd())
                for message in call:
                    yield JobEvent(message.job_id, message.status, message.kind, message.time,
                                   message_ad(message.attrs))
                return
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    grpc.StatusCode.UNAVAILABLE):
                    raise self._failure(e) from None
            finally:
                call.cancel()


def _set_parents(ad: ClassAd, parents: Iterable[int | str] | None,
                 satisfied_by: str | None) -> None:
    if parents is not None:
        names = [str(parent).strip() for parent in parents]
        if not names:
            raise RoostError("parents names no job")
        ad["Parents"] = ", ".join(names)
    if satisfied_by is not None:
        ad["ParentsSatisfiedBy"] = satisfied_by


@dataclass(frozen=True)
class JobEvent:
    """What ``Schedd.job_events`` yields: a job's new status (HTCondor's JobStatus numbers)
    and the attributes that changed; ``kind`` says what happened ("started", "exited",
    "hold", ...; "current" for a job's state when the stream began, "subscribed" with no
    job id and status 0 when the stream is subscribed; a submit's job id is "CLUSTER.*")."""

    job_id: str
    status: int
    kind: str
    time: int
    attrs: ClassAd


def _ads(replies: Iterable) -> Iterator[ClassAd]:
    for reply in replies:
        for msg in reply.ads:
            yield message_ad(msg)


@dataclass(frozen=True)
class ClaimResult:
    """A startd's answer to a claim: the claimed (perhaps dynamic) slot's ad and the claim
    id to use from now on."""

    accepted: bool
    reason: str
    slot_ad: ClassAd | None
    claim_id: str


@dataclass(frozen=True)
class StartdJobEvent:
    kind: str  # started, suspended, continued, usage, exited, evicted
    time: int
    attrs: ClassAd


_JOB_CONTROLS = {"suspend": startd_pb2.JOB_CONTROL_SUSPEND,
                 "continue": startd_pb2.JOB_CONTROL_CONTINUE,
                 "vacate": startd_pb2.JOB_CONTROL_VACATE}


class Startd(Client):
    """A startd, as a schedd uses it: claim a slot with the claim id the negotiator
    handed out, run jobs on the claim (and suspend, continue or vacate them), keep it
    alive, release it."""

    what = "startd"
    address_key = ("startd", "address")

    def __init__(self, address: str, token: str | None = None, *,
                 config: Config | None = None, timeout: float = 30.0,
                 rendezvous=None) -> None:
        """``rendezvous``: what reaches a startd at a broker address (``roost.broker``;
        a schedd's ``schedd.reverse.Rendezvous``): its ``target(address)`` is the local
        address to dial instead."""
        from roost.broker import is_broker_address, parse_broker_address

        target = tls_name = None
        if is_broker_address(address):
            if rendezvous is None:
                raise RoostError(f"the startd at {address} accepts no connection: it is "
                                 "reached through its collector's broker, by a schedd")
            # TLS stays end to end: the startd's certificate names its host.
            tls_name = parse_broker_address(address).broker_id
            target = rendezvous.target(address)
        super().__init__(address, token, config=config, timeout=timeout, target=target,
                         tls_name=tls_name)
        self._stub = startd_pb2_grpc.StartdStub(self.channel)
        # The RunJobs stream the runs go over, opened by the first run: its requests, the
        # call (its replies), or None.
        self._runs: tuple[queue.SimpleQueue, Iterator] | None = None

    def request_claim(self, claim_id: str, job_ad: ClassAd, *, lease: int = 0,
                      schedd_address: str = "") -> ClaimResult:
        reply = self._unary(self._stub.RequestClaim, startd_pb2.RequestClaimRequest(
            claim_id=claim_id, job_ad=ad_message(job_ad), schedd_address=schedd_address,
            lease_seconds=lease))
        slot_ad = message_ad(reply.slot_ad) if reply.HasField("slot_ad") else None
        return ClaimResult(reply.accepted, reply.reason, slot_ad, reply.claim_id)

    def activate(self, claim_id: str, job_ad: ClassAd | None = None, *,
                 reconnect: bool = False, environment: dict[str, str] | None = None,
                 ) -> Iterator[StartdJobEvent]:
        """Run ``job_ad`` on the claim (``reconnect``: follow its current or last run
        again); the run's events until it ends.  ``environment``: secrets for the job's
        environment that are not in its ad (its credential).  The runs of a claim go one
        after another over one RunJobs stream, so use a client for one claim; a
        reconnection reads the run with ActivateClaim."""
        if job_ad is not None and not reconnect:
            yield from self._run(claim_id, job_ad, environment or {})
            return
        request = startd_pb2.ActivateClaimRequest(claim_id=claim_id, reconnect=reconnect)
        if job_ad is not None:
            request.job_ad.CopyFrom(ad_message(job_ad))
        for event in self._stream(self._stub.ActivateClaim, request):
            yield StartdJobEvent(event.kind, event.time, message_ad(event.attrs))

    def _run(self, claim_id: str, job_ad: ClassAd,
             environment: dict[str, str]) -> Iterator[StartdJobEvent]:
        if self._runs is None:
            requests: queue.SimpleQueue = queue.SimpleQueue()
            self._runs = requests, self._stub.RunJobs(iter(requests.get, None),
                                                      metadata=self._metadata)
        requests, replies = self._runs
        requests.put(startd_pb2.ActivateClaimRequest(claim_id=claim_id,
                                                     job_ad=ad_message(job_ad),
                                                     environment=environment))
        finished = False
        try:
            for event in replies:
                finished = event.last
                yield StartdJobEvent(event.kind, event.time, message_ad(event.attrs))
                if finished:
                    return
        except grpc.RpcError as e:
            raise self._failure(e) from None
        finally:
            if not finished:
                # Left before the run's end, or the stream broke: its next events would
                # be this run's, so the next run opens a stream of its own.
                self._end_runs()

    def _end_runs(self) -> None:
        if self._runs is not None:
            requests, replies = self._runs
            self._runs = None
            requests.put(None)
            replies.cancel()

    def close(self) -> None:
        self._end_runs()
        super().close()

    def release(self, claim_id: str, reason: str = "") -> bool:
        return self._unary(self._stub.ReleaseClaim, startd_pb2.ReleaseClaimRequest(
            claim_id=claim_id, reason=reason)).released

    def control_job(self, claim_id: str, control: str) -> str:
        """Ask the claim's job to be suspended, continued or vacated (``control``:
        "suspend", "continue", "vacate"); "" when done (a vacate: under way), else the
        startd's reason why not."""
        reply = self._unary(self._stub.ControlJob, startd_pb2.ControlJobRequest(
            claim_id=claim_id, control=_JOB_CONTROLS[control]))
        return "" if reply.done else reply.reason

    def keep_alive(self, claim_id: str) -> str:
        """Renew the claim's lease; the slot's state ("Claimed/Busy"), "" if the claim is
        gone."""
        request = startd_pb2.KeepAliveMessage(claim_id=claim_id, time=int(time.time()))
        replies = self._retry(lambda: list(self._stub.KeepAlive(
            iter([request]), timeout=self.timeout, metadata=self._metadata)))
        return replies[0].state

    def drain(self, graceful: bool = True, deadline: int = 0, reason: str = "") -> int:
        """Stop the startd taking jobs; how many jobs it is running."""
        return self._unary(self._stub.Drain, startd_pb2.DrainRequest(
            graceful=graceful, deadline_seconds=deadline, reason=reason)).running_jobs


def dag_pieces(first, nodes: Sequence, limit: int) -> Iterator:
    """The SubmitDag requests that carry ``first`` (the DAGs) and then ``nodes`` (DagNode
    messages, in order), each at most ``limit`` bytes unless one node alone is more."""
    piece = schedd_pb2.SubmitDagRequest()
    piece.CopyFrom(first)  # a retry makes the pieces again from the same start
    size = piece.ByteSize()
    for node in nodes:
        length = node.ByteSize()
        # As the field encodes it: a byte of tag, the length as a varint, the node.
        encoded = 1 + (length.bit_length() + 6) // 7 + length if length else 2
        if size and size + encoded > limit:
            yield piece
            piece, size = schedd_pb2.SubmitDagRequest(), 0
        piece.nodes.append(node)
        size += encoded
    yield piece


def schedd_address(config: Config) -> str:
    """The schedd's address: the configured one if it names a port, else the one the
    running schedd wrote under the roost home."""
    configured = config.get("schedd", "address")
    if not configured.endswith(":0"):
        return configured
    path = address_file(config.home, "schedd")
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise RoostError(
            f"no schedd is running for {config.home} (start one with 'roost schedd', or set "
            "schedd.address)") from None


def address_file(home: Path, daemon: str) -> Path:
    """Where a daemon that bound port 0 writes the address it got."""
    return home / "run" / f"{daemon}.address"


class Negotiator(Client):
    """The pool's negotiator (in the matchmaker, at the collector's address)."""

    what = "negotiator"
    address_key = ("matchmaker", "address")

    def __init__(self, address: str | None = None, token: str | None = None, *,
                 config: Config | None = None, timeout: float = 30.0) -> None:
        super().__init__(address, token, config=config, timeout=timeout)
        self._stub = negotiator_pb2_grpc.NegotiatorStub(self.channel)

    def reschedule(self, schedd_name: str = "") -> None:
        """Ask for a negotiation cycle soon."""
        self._unary(self._stub.Reschedule, negotiator_pb2.RescheduleRequest(
            schedd_name=schedd_name))

    def analyze(self, owner: str = "") -> list:
        """What the last cycles found for the owner's autoclusters (``AutoclusterRecord``
        messages, their ``job_ad`` as a ClassAd message)."""
        return list(self._unary(self._stub.Analyze,
                                negotiator_pb2.AnalyzeRequest(owner=owner)).records)

    def user_priorities(self, action: int = 0, name: str = "", value: float = 0.0) -> list:
        """The accounts (``Account`` messages), after the change ``action`` asks for
        (``negotiator_pb2.USERPRIO_*``; the default only lists)."""
        return list(self._unary(self._stub.UserPrio, negotiator_pb2.UserPrioRequest(
            action=action, name=name, value=value)).accounts)

    def cycle_stats(self, last: int = 0) -> list:
        return list(self._unary(self._stub.CycleStats,
                                negotiator_pb2.CycleStatsRequest(last=last)).cycles)


class Broker(Client):
    """The collector's connection broker (``roost.broker``): whether a startd can be
    dialled, a startd's registration, and a schedd's request for a connection."""

    what = "collector's broker"
    address_key = ("matchmaker", "address")

    def __init__(self, address: str | None = None, token: str | None = None, *,
                 config: Config | None = None, timeout: float = 30.0) -> None:
        super().__init__(address, token, config=config, timeout=timeout)
        self._stub = collector_pb2_grpc.BrokerStub(self.channel)

    def dial_back(self, address: str) -> tuple[bool, str]:
        """Whether the collector can connect to ``address``, and why not."""
        reply = self._unary(self._stub.DialBack, collector_pb2.DialBackRequest(address=address))
        return reply.reachable, reply.reason

    def register(self, broker_id: str):
        """The registration stream of ``BrokerMessage``s (a gRPC call: cancel it to end
        it), without a deadline or retries: its holder re-registers as it sees fit."""
        return self._stub.Register(collector_pb2.BrokerRegistration(broker_id=broker_id),
                                   metadata=self._metadata)

    def connect(self, broker_id: str, schedd_address: str, nonce: str) -> None:
        """Ask the startd registered as ``broker_id`` to dial ``schedd_address``."""
        self._unary(self._stub.Connect, collector_pb2.BrokerConnectRequest(
            broker_id=broker_id, schedd_address=schedd_address, nonce=nonce))
