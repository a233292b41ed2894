"""The schedd's job queue: what each request does, one transaction each.

``JobQueue`` joins the SQL store (``schedd.queue_store``) and the pure job lifecycle
(``schedd.lifecycle``): it reads the jobs a request names, asks the lifecycle what changes,
writes the changes, and reports the events to whoever listens.  Writes are serialized by
one lock (SQLite has one writer anyway); reads run beside them on their own snapshot.
Who may do what is decided here, from the caller's user name and whether the caller is a
queue administrator: owners change their own jobs, administrators anyone's; a running job
(a caller with a ``JobGrant``) only adds jobs to its workflow (``schedd.spawning``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from classad import ClassAd, ExprTree
from roost.security import JobGrant
from schedd import (
    dag_node,
    dag_store,
    dependencies,
    dependency_store,
    lifecycle,
    queue_store,
    spawning,
    workflow,
)
from schedd.dag_store import Step
from schedd.job_status import FINISHED, JobStatus
from schedd.lifecycle import Action, IllegalTransition
from schedd.models import ClaimRecord, Job
from schedd.queue_store import JobKey

# Attributes qedit may not set: the job's identity and what only the lifecycle changes.
PROTECTED = frozenset(name.lower() for name in (
    "ClusterId", "ProcId", "Owner", "User", "JobStatus", "LastJobStatus", "QDate",
    "EnteredCurrentStatus", "NumJobStarts", "NumJobCompletions", "RemoteHost", "Attempts",
    "GlobalJobId", "TotalSubmitProcs", "VacateRequested",
    # Edges are rows, made at submit (schedd.dependency_store).
    "Parents", "ParentsSatisfiedBy", "BlockedBy"))
# A finished job is in the queue only while its LeaveJobInQueue holds: editing that is
# how condor_qedit lets it go.
EDITABLE_STATES = frozenset({JobStatus.IDLE, JobStatus.HELD, JobStatus.WAITING}) | FINISHED


class QueueError(Exception):
    """A request the queue refuses; ``kind`` is "invalid", "denied" or "not-found"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class QueueFull(Exception):
    """The disk that holds the job queue is full: the write was rolled back, so nothing of
    the request is kept, and what was committed before is as it was."""


@dataclass(frozen=True)
class Caller:
    user: str
    admin: bool
    job: JobGrant | None = None  # a running job's credential: it only adds jobs

    def may_change(self, owner: str) -> bool:
        return self.admin or owner == self.user


@dataclass(frozen=True)
class JobChange:
    """What happened to a job, for the event stream."""

    job_id: str
    status: int
    kind: str
    time: int
    attrs: dict[str, object]


@dataclass
class ActOutcome:
    matched: int = 0
    changed: int = 0
    errors: list[str] | None = None


class JobQueue:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._write = threading.Lock()
        self._writers: dict[bool, Connection] = {}  # durable or not: see _writing
        self._listeners: list[Callable[[list[JobChange]], None]] = []

    def now(self) -> int:
        return int(self.clock())

    def listen(self, listener: Callable[[list[JobChange]], None]) -> None:
        """Call ``listener`` with the changes of every committed write."""
        self._listeners.append(listener)

    def _tell(self, changes: list[JobChange]) -> None:
        if changes:
            for listener in list(self._listeners):
                listener(changes)

    # -- submit ------------------------------------------------------------------------------

    def submit(self, caller: Caller, cluster_ad: ClassAd, proc_ads: list[ClassAd],
               count: int) -> tuple[int, int]:
        """Queue one cluster as ``caller``, whose name becomes every job's Owner."""
        if not proc_ads and count < 1:
            raise QueueError("invalid", "a submit needs proc ads or a count of at least 1")
        now = self.now()
        cluster_ad = cluster_ad.copy()
        if caller.job is None:
            cluster_ad["Owner"] = caller.user
        for ad in proc_ads:
            if "Owner" in ad and ad.eval("Owner") != caller.user:
                raise QueueError("denied", f"{caller.user} may not submit jobs as "
                                 f"{ad.eval('Owner')}")
        refusal = spawning.provenance_refusal([cluster_ad, *proc_ads], caller.job is not None)
        if refusal is not None:
            raise QueueError("invalid", refusal)
        proc_ads = [ad.copy() for ad in proc_ads]
        need_success = self._dependent(cluster_ad, proc_ads)
        events: list[JobChange] = []
        with self._writing() as connection:
            if caller.job is not None:
                cluster_ad = self._spawned(connection, caller, cluster_ad)
            try:
                cluster_id, procs = queue_store.submit(connection, cluster_ad, proc_ads, count,
                                                       owner=caller.user, now=now)
                if caller.job is not None and need_success is not None:
                    self._check_parents_in(connection, caller.job.workflow, cluster_id,
                                           cluster_ad)
                if need_success is not None:
                    events += self._add_edges(connection, cluster_id, cluster_ad,
                                              need_success, now)
            except ValueError as error:
                raise QueueError("invalid", str(error)) from None
        status = JobStatus.WAITING if need_success is not None else JobStatus.IDLE
        self._tell([JobChange(f"{cluster_id}.*", status, "submitted", now,
                              {"ClusterId": cluster_id, "Procs": procs})] + events)
        return cluster_id, procs

    def _spawned(self, connection, caller: Caller, cluster_ad: ClassAd) -> ClassAd:
        """The cluster ad of a running job's submit, once its run is checked to be live."""
        spawner, claimed = self.run_state(connection, caller.job.job_id)
        refusal = spawning.run_refusal(caller.job, spawner, claimed)
        if refusal is not None:
            raise QueueError("denied", refusal)
        try:
            return spawning.spawned_cluster_ad(caller.job, caller.user, spawner, cluster_ad)
        except ValueError as error:
            raise QueueError("denied", str(error)) from None

    @staticmethod
    def _check_parents_in(connection, workflow_id: int, cluster_id: int,
                          cluster_ad: ClassAd) -> None:
        """A spawned cluster waits only for jobs of its workflow."""
        named = cluster_ad.copy()
        named["ClusterId"] = cluster_id
        parents = dependencies.parse_parents(named.eval(dependencies.PARENTS))
        found = {parent: dependency_store.parent_ad(connection, parent) for parent in parents
                 if parent.cluster != cluster_id}
        refusal = spawning.parents_refusal(workflow_id, found)
        if refusal is not None:
            raise QueueError("denied", refusal)

    @staticmethod
    def run_state(connection, job_id: str) -> tuple[ClassAd | None, bool]:
        """A job's ad in the queue (None if it is not there), and whether a claim holds it:
        what tells whether a run of it still lives (``spawning.run_refusal``)."""
        cluster, _, proc = job_id.partition(".")
        key = JobKey(int(cluster), int(proc))
        row = queue_store.job_row(connection, key)
        if row is None:
            return None, False
        ad = queue_store.materialize(queue_store.cluster_ad(row.cluster_ad), row)
        claimed = connection.scalar(select(ClaimRecord.claim_id).where(
            ClaimRecord.job_id == job_id).limit(1)) is not None
        return ad, claimed

    def run_state_now(self, job_id: str) -> tuple[ClassAd | None, bool]:
        """``run_state`` on a snapshot of its own."""
        with self.engine.connect() as connection:
            return self.run_state(connection, job_id)

    @staticmethod
    def _dependent(cluster_ad: ClassAd, proc_ads: list[ClassAd]) -> bool | None:
        """For a cluster with parents, whether its edges need success (and its ad is made
        Waiting); None for one without."""
        for ad in proc_ads:
            if dependencies.PARENTS in ad or dependencies.SATISFIED_BY in ad:
                raise QueueError("invalid", "Parents and ParentsSatisfiedBy are the same for "
                                 "every job of a cluster: set them once, not per job")
        if dependencies.PARENTS not in cluster_ad:
            if dependencies.SATISFIED_BY in cluster_ad:
                raise QueueError("invalid", "ParentsSatisfiedBy needs Parents")
            return None
        try:
            need = dependencies.need_success(cluster_ad)
        except ValueError as error:
            raise QueueError("invalid", str(error)) from None
        held = [ad for ad in [cluster_ad, *proc_ads]
                if "JobStatus" in ad and ad.eval("JobStatus") == JobStatus.HELD]
        if held:
            raise QueueError("invalid", "a job with parents cannot be submitted on hold: it "
                             "waits for its parents instead")
        cluster_ad["JobStatus"] = int(JobStatus.WAITING)
        for ad in proc_ads:
            ad.pop("JobStatus", None)  # every proc waits, as its cluster's ad now says
        return need

    def _add_edges(self, connection, cluster_id: int, cluster_ad: ClassAd, need: bool,
                   now: int) -> list[JobChange]:
        """The new cluster's edges, and what its parents' ends so far make of its jobs
        (released at once when every parent has ended as asked, blocked when one has not)."""
        named = cluster_ad.copy()
        named["ClusterId"] = cluster_id  # for a Parents that uses $(Cluster)
        parents = dependencies.parse_parents(named.eval(dependencies.PARENTS))
        dependency_store.add_edges(connection, cluster_id, parents, need)
        connection.execute(update(queue_store.Cluster).where(
            queue_store.Cluster.cluster_id == cluster_id).values(ad=queue_store.ad_text(
                _with_parents(connection, cluster_id, parents))))
        settled = workflow.settle(connection, now, step=Step(touched=[cluster_id]))
        return [settled_change(one, now) for one in settled]

    # -- read --------------------------------------------------------------------------------

    def query(self, constraint: str = "", limit: int = 0) -> Iterator[ClassAd]:
        expr = _constraint(constraint)
        with self.engine.connect() as connection:
            yield from queue_store.iter_jobs(connection, expr, limit=limit)

    def query_pairs(self, constraint: str = "", projection: Iterable[str] = (),
                    limit: int = 0) -> Iterator[queue_store.Pairs]:
        """Job ads as wire pairs: what a Query sends, without building ads it need not."""
        expr = _constraint(constraint)
        with self.engine.connect() as connection:
            yield from queue_store.iter_job_pairs(connection, expr, projection, limit)

    def history(self, constraint: str = "", limit: int = 0) -> Iterator[ClassAd]:
        expr = _constraint(constraint)
        with self.engine.connect() as connection:
            yield from queue_store.iter_history(connection, expr, limit=limit)

    def summarize(self, constraint: str = ""):
        expr = _constraint(constraint)
        with self.engine.connect() as connection:
            return queue_store.summarize(connection, expr)

    def status_counts(self) -> dict[str, dict[int, int]]:
        with self.engine.connect() as connection:
            return queue_store.status_counts(connection)

    # -- act and edit ------------------------------------------------------------------------

    def act(self, caller: Caller, action: Action, job_ids: list[str], constraint: str,
            reason: str) -> ActOutcome:
        """Apply ``action`` to the jobs named by id or constraint, in one transaction."""
        if action is Action.RETRY:
            return self._retry(caller, job_ids, reason)
        if action is Action.RERUN:
            return self._rerun(caller, job_ids, constraint, reason)
        outcome = ActOutcome(errors=[])
        events: list[JobChange] = []
        now = self.now()
        # A job named by its full id that the action does not fit is an error; the other
        # ways of naming jobs (a cluster, a constraint) mean those it fits, as the
        # constraints condor_rm and condor_release send do.
        named = {text.strip() for text in job_ids if "." in text}
        with self._writing() as connection:
            changeset = queue_store.Changeset(connection, now)
            for key, row, ad in self._selected(connection, job_ids, constraint):
                try:
                    changes = lifecycle.act(ad, action, reason=reason, now=now)
                except IllegalTransition as error:
                    if str(key) in named:
                        outcome.matched += 1
                        outcome.errors.append(str(error))
                    continue
                outcome.matched += 1
                if not caller.may_change(row.owner):
                    outcome.errors.append(f"Job {key}: permission denied ({caller.user} is "
                                          f"not its owner {row.owner})")
                    continue
                new_ad = changeset.apply(key, row, changes, ad)
                outcome.changed += 1
                events.append(_change(key, new_ad, action.name.lower(), now, changes))
            self._flush(connection, changeset, events)
            if outcome.matched and not outcome.changed and all(
                    "permission denied" in e for e in outcome.errors):
                raise QueueError("denied", outcome.errors[0])
        self._tell(events)
        return outcome

    def _selected(self, connection, job_ids: list[str], constraint: str):
        """(key, row, ad) of each job named by ids, or matching the constraint."""
        if job_ids:
            try:
                where = [queue_store.job_id_filter(job_ids)]
            except ValueError:
                raise QueueError("invalid", f"bad job id in {job_ids}") from None
            expr = None
        elif constraint:
            expr = _constraint(constraint)
            where, exact = queue_store.sql_filter(expr)
            if exact:
                expr = None
        else:
            raise QueueError("invalid", "name the jobs by id or by a constraint")
        clusters = queue_store.ClusterAds(connection)
        for row in queue_store.job_rows(connection, where).all():
            ad = queue_store.materialize(clusters.get(row.cluster_id), row)
            if expr is None or expr.eval(ad) is True:
                yield JobKey(row.cluster_id, row.proc_id), row, ad

    def edit(self, caller: Caller, job_ids: list[str], constraint: str,
             attrs: dict[str, str]) -> int:
        """Set attributes (expression texts) of idle or held jobs, or of finished ones left
        in the queue; all or nothing."""
        values: dict[str, ExprTree] = {}
        for name, text in attrs.items():
            if name.lower() in PROTECTED:
                raise QueueError("invalid", f"{name} cannot be changed with qedit")
            try:
                values[name] = ExprTree(text)
            except ValueError as error:
                raise QueueError("invalid", f"{name}: {error}") from None
        now = self.now()
        events = []
        with self._writing() as connection:
            selected = list(self._selected(connection, job_ids, constraint))
            for key, row, _ad in selected:
                if not caller.may_change(row.owner):
                    raise QueueError("denied", f"Job {key}: permission denied ({caller.user} "
                                     f"is not its owner {row.owner})")
                if row.status not in EDITABLE_STATES:
                    raise QueueError("invalid", f"Job {key} is "
                                     f"{JobStatus(row.status).name.lower()}; only idle or "
                                     "held jobs, or finished ones left in the queue, can be edited")
            changeset = queue_store.Changeset(connection, now)
            for key, row, ad in selected:
                try:
                    new_ad = changeset.apply(key, row, values, ad)
                except ValueError as error:
                    raise QueueError("invalid", f"Job {key}: {error}") from None
                events.append(_change(key, new_ad, "edited", now, values))
            self._flush(connection, changeset, events)
        self._tell(events)
        return len(selected)

    def _flush(self, connection, changeset: queue_store.Changeset, events: list[JobChange]
               ) -> None:
        """Write the changeset, and settle the edges of the jobs it ended: their children
        are released or blocked in this same transaction."""
        changeset.flush()
        ended = changeset.take_ended()
        if ended:
            events += [settled_change(one, changeset.now)
                       for one in workflow.settle(connection, changeset.now, ended=ended)]

    def _retry(self, caller: Caller, job_ids: list[str], reason: str) -> ActOutcome:
        """qdo's retry: re-queue the failed procs of a cluster that has finished, or one
        failed job (``CLUSTER.PROC``); the jobs blocked behind them wait again."""
        if len(job_ids) != 1:
            raise QueueError("invalid", "retry takes one cluster id or job id")
        cluster_text, _, proc_text = job_ids[0].strip().partition(".")
        try:
            cluster_id = int(cluster_text)
            proc_id = int(proc_text) if proc_text else None
        except ValueError:
            raise QueueError("invalid", f"bad job id {job_ids[0]!r}") from None
        with self.engine.connect() as connection:
            is_dag = proc_id is None and dag_store.dag_row(connection, cluster_id) is not None
            is_node = dag_store.dag_of_cluster(connection, cluster_id) is not None
        if is_dag or is_node:
            from schedd.dag_queue import DagQueue

            if is_dag:  # a DAG's id: its nodes that did not succeed run again
                return DagQueue(self).retry(caller, cluster_id, reason)
            if proc_id is not None:
                raise QueueError("invalid", f"job {job_ids[0]} is a DAG node's: retry its "
                                 f"node (roost retry {cluster_id}), which runs whole")
            return DagQueue(self).retry_node(caller, cluster_id, reason)
        now = self.now()
        outcome = ActOutcome(errors=[])
        events: list[JobChange] = []
        with self._writing() as connection:
            if proc_id is None:
                in_queue = connection.scalar(select(Job.proc_id).where(
                    Job.cluster_id == cluster_id).limit(1))
                if in_queue is not None:
                    raise QueueError("invalid", f"cluster {cluster_id} has not finished: it "
                                     "still has jobs in the queue")
                finished = queue_store.finished_jobs(connection, cluster_id)
                if not finished:
                    raise QueueError("not-found", f"no finished cluster {cluster_id}")
            else:
                key = JobKey(cluster_id, proc_id)
                if queue_store.job_row(connection, key) is not None:
                    raise QueueError("invalid", f"job {key} has not finished: it is in the "
                                     "queue")
                ad = dependency_store.latest_ad(connection, key)
                if ad is None:
                    raise QueueError("not-found", f"no finished job {key}")
                finished = [ad]
            owner = finished[0].eval("Owner")
            if not caller.may_change(owner):
                raise QueueError("denied", f"cluster {cluster_id}: permission denied "
                                 f"({caller.user} is not its owner {owner})")
            outcome.matched = len(finished)
            failed = [ad for ad in finished if _failed(ad)]
            if not failed:
                if proc_id is not None:
                    outcome.errors.append(f"job {cluster_id}.{proc_id} succeeded: nothing to "
                                          "retry (roost rerun runs it again)")
                return outcome
            outcome.changed = self._requeue(connection, failed, reason, now, events)
        self._tell(events)
        return outcome

    def _rerun(self, caller: Caller, job_ids: list[str], constraint: str,
               reason: str) -> ActOutcome:
        """qdo's rerun: the finished jobs (out of the queue, whatever their end) that the
        constraint or ids name run again; the jobs blocked behind them wait again."""
        if job_ids:
            ids = " || ".join(
                f"(ClusterId == {c}" + (f" && ProcId == {p})" if p else ")")
                for c, _, p in (one.strip().partition(".") for one in job_ids))
            constraint = f"({constraint}) && ({ids})" if constraint else ids
        if not constraint.strip():
            raise QueueError("invalid", "rerun needs a constraint or job ids")
        expr = _constraint(constraint)
        now = self.now()
        outcome = ActOutcome(errors=[])
        events: list[JobChange] = []
        with self._writing() as connection:
            found = queue_store.latest_history(connection, expr)
            outcome.matched = len(found)
            mine = []
            for ad in found:
                if caller.may_change(ad.eval("Owner")):
                    mine.append(ad)
                else:
                    outcome.errors.append(f"Job {lifecycle.job_id(ad)}: permission denied "
                                          f"({caller.user} is not its owner "
                                          f"{ad.eval('Owner')})")
            if found and not mine:
                raise QueueError("denied", outcome.errors[0])
            reason = reason or "via roost rerun"
            # A DAG node runs again whole, through its node (its scripts, retries and
            # throttles), not job by job.
            nodes = dag_store.nodes_of(connection, {ad.eval("ClusterId") for ad in mine})
            plain = [ad for ad in mine if ad.eval("ClusterId") not in nodes]
            if plain:
                outcome.changed = self._requeue(connection, plain, reason, now, events)
            ended = []
            for node in nodes.values():
                if node.phase in dag_node.ENDED:
                    ended.append(node)
                else:
                    outcome.errors.append(f"DAG node {node.name} (cluster {node.cluster_id})"
                                          f" has not ended: it is {node.phase}")
            if ended:
                step = Step()
                rerun = dag_store.rerun_nodes(connection, ended, reason, now, step)
                outcome.changed += sum(len(dag_store.node_jobs(connection, node.cluster_id))
                                       for node in rerun if node.cluster_id in nodes)
                events += [settled_change(one, now)
                           for one in workflow.settle(connection, now, step=step)]
        self._tell(events)
        return outcome

    def _requeue(self, connection, ads: list[ClassAd], reason: str, now: int,
                 events: list[JobChange]) -> int:
        """Put finished jobs back (Waiting where a parent of theirs has to end again), and
        make the jobs blocked behind them wait again, and those behind those."""
        for ad in ads:
            cluster = ad.eval("ClusterId")
            if dependency_store.has_failed_edge(connection, cluster):
                blocker = ad.eval("BlockedBy")
                raise QueueError("invalid", f"job {lifecycle.job_id(ad)} is blocked by "
                                 f"{blocker if isinstance(blocker, str) else 'a parent'}: "
                                 "retry that parent instead")
        items = [(ad, lifecycle.retried(ad, reason=reason, now=now,
                                        waiting=dependency_store.waits(connection,
                                                                       ad.eval("ClusterId"))))
                 for ad in ads]
        count = self._put_back(connection, items, "retried", now, events)
        frontier = [JobKey(ad.eval("ClusterId"), ad.eval("ProcId")) for ad in ads]
        while frontier:
            children = dependency_store.reset_failed_edges(connection, frontier)
            frontier = []
            for child in children:
                if dependency_store.has_failed_edge(connection, child):
                    continue  # another parent of it failed too: still blocked
                in_queue = set(connection.scalars(select(Job.proc_id).where(
                    Job.cluster_id == child)))
                blocked = [ad for ad in queue_store.finished_jobs(connection, child)
                           if ad.eval("ProcId") not in in_queue
                           and ad.eval("JobStatus") == JobStatus.REMOVED
                           and isinstance(ad.eval(lifecycle.BLOCKED_BY), str)]
                if not blocked:
                    continue
                why = f"its parent {blocked[0].eval(lifecycle.BLOCKED_BY)} was retried"
                self._put_back(connection, [(ad, lifecycle.retried(ad, reason=why, now=now,
                                                                   waiting=True))
                                            for ad in blocked], "rearmed", now, events)
                frontier += [JobKey(child, ad.eval("ProcId")) for ad in blocked]
        return count

    @staticmethod
    def _put_back(connection, items, kind: str, now: int, events: list[JobChange]) -> int:
        try:
            count = queue_store.requeue(connection, items)
        except ValueError as error:
            raise QueueError("invalid", str(error)) from None
        events += [_change(JobKey(ad.eval("ClusterId"), ad.eval("ProcId")),
                           lifecycle.applied(ad, changes), kind, now, changes)
                   for ad, changes in items]
        return count

    # -- runs --------------------------------------------------------------------------------

    def idle_job_for(self, owner: str, accept: Callable[[ClassAd], bool],
                     claim_id: str = "", new_claim: dict | None = None) -> ClassAd | None:
        """The owner's next runnable idle job that ``accept`` takes (a slot's match test)
        and that no other claim holds.

        With ``claim_id``, the job found becomes that claim's in the same transaction (its
        record names it: see ``ClaimRecord``), and the claim's previous job is no longer
        held; ``new_claim`` (the other columns of its record) adds the claim with the job,
        durably, as a claim just granted.  A restarted schedd must know where a job may
        run before it is started there.  None, holding nothing new, when no job is left or
        the claim has been dropped.  Without ``claim_id`` the job is only looked at: what
        a claim is requested with."""
        if not claim_id:
            with self.engine.connect() as connection:
                return queue_store.idle_job_for(connection, owner, self.now(), accept)
        with self._writing(durable=new_claim is not None) as connection:
            job = queue_store.idle_job_for(connection, owner, self.now(), accept, claim_id)
            if job is None:
                return None
            if new_claim is not None:
                connection.execute(insert(ClaimRecord).values(
                    claim_id=claim_id, job_id=lifecycle.job_id(job), **new_claim))
            elif connection.execute(_SET_CLAIM_JOB, {"key_claim": claim_id,
                                                     "job_id": lifecycle.job_id(job)}
                                    ).rowcount != 1:
                connection.rollback()  # the claim was dropped: nothing holds the job
                return None
            return job

    @contextlib.contextmanager
    def _writing(self, durable: bool = True) -> Iterator[Connection]:
        """A write transaction.  ``durable=False`` commits without waiting for the disk
        (SQLite's synchronous=NORMAL in WAL mode, PostgreSQL's synchronous_commit=off), as
        HTCondor's schedd commits a job's run-time updates "non-durably": a crash of the
        process loses nothing, a power cut may lose the last such commits, and the next
        durable commit makes them durable too.  Submits, edits, actions and the end of a
        run are always durable; so is everything acknowledged to a user.

        Writes take turns, each kind on a connection of its own kept open: taking one from
        the pool, resetting it when it goes back and switching its mode for each write
        would cost as much as a run's small transaction."""
        with self._write:
            connection = self._writers.get(durable)
            if connection is None or connection.invalidated:
                if connection is not None:
                    connection.close()
                connection = self._writers[durable] = self.engine.connect()
                if not durable:
                    _commit_without_waiting(connection)
            try:
                with connection.begin():
                    yield connection
            except Exception as error:  # through SQLAlchemy, or from the driver (COPY)
                if not _disk_full(error):
                    raise
                raise QueueFull(_full_message(self.engine)) from None

    def close(self) -> None:
        """Close the writers' connections (the engine's pool keeps the others)."""
        with self._write:
            for connection in self._writers.values():
                connection.close()
            self._writers.clear()

    # -- claims --------------------------------------------------------------------------

    def claims(self) -> list:
        """The claims the schedd holds (``schedd.claims`` keeps them for reconnection)."""
        with self.engine.connect() as connection:
            return list(connection.execute(select(ClaimRecord)).all())

    def drop_claim(self, claim_id: str) -> None:
        with self._writing() as connection:
            connection.execute(delete(ClaimRecord).where(ClaimRecord.claim_id == claim_id))

    def job_started(self, job_id: str, event: lifecycle.JobStarted) -> ClassAd:
        """A claimed slot began running the job (not durable: see ``_writing``).  A DAG
        node's start may let its DAG start more nodes (one idle job fewer: ``-maxidle``)."""
        return self._event(job_id, "started", event.time,
                           lambda ad: lifecycle.job_started(ad, event), durable=False,
                           after=_pump_after_start)

    def job_exited(self, job_id: str, event: lifecycle.JobExited) -> ClassAd:
        """A run ended; the job completes, waits out its back-off, or is held, as its
        retries and policy say."""
        return self._event(job_id, "exited", event.time,
                           lambda ad: lifecycle.job_exited(ad, event))

    def _event(self, job_id: str, kind: str, now: int, decide, *,
               durable: bool = True, after=None) -> ClassAd:
        cluster, _, proc = job_id.partition(".")
        try:
            key = JobKey(int(cluster), int(proc))
        except ValueError:
            raise QueueError("not-found", f"no job {job_id} in the queue") from None
        with self._writing(durable) as connection:
            row = queue_store.job_row(connection, key)
            if row is None:
                raise QueueError("not-found", f"no job {job_id} in the queue")
            ad = queue_store.materialize(queue_store.cluster_ad(row.cluster_ad), row)
            changes = decide(ad)
            changeset = queue_store.Changeset(connection, now)
            new_ad = changeset.apply(key, row, changes, ad)
            events = [_change(key, new_ad, kind, now, changes)]
            self._flush(connection, changeset, events)
            if after is not None:
                events += after(connection, key, new_ad, now)
        self._tell(events)
        return new_ad

    # For the requests of other modules (schedd.dag_queue): a write transaction, and the
    # telling of what it changed once committed.
    def transaction(self, durable: bool = True):
        return self._writing(durable)

    def tell(self, changes: list[JobChange]) -> None:
        self._tell(changes)

    # -- policy ------------------------------------------------------------------------------

    def periodic(self) -> int:
        """Evaluate the periodic policy of every job that has one; returns jobs changed."""
        now = self.now()
        events = []
        with self._writing() as connection:
            clusters = queue_store.ClusterAds(connection)
            changeset = queue_store.Changeset(connection, now)
            rows = connection.execute(
                select(Job).join(queue_store.Cluster).where(queue_store.Cluster.periodic)
            ).all()
            for row in rows:
                ad = queue_store.materialize(clusters.get(row.cluster_id), row)
                if row.status in FINISHED:
                    # Left in the queue (leave_in_queue) until its expression turns false.
                    if not queue_store.left_in_queue(ad):
                        key = JobKey(row.cluster_id, row.proc_id)
                        changeset.apply(key, row, {}, ad)
                        events.append(_change(key, ad, "policy", now, {}))
                    continue
                changes = lifecycle.periodic(ad, now)
                if changes:
                    key = JobKey(row.cluster_id, row.proc_id)
                    new_ad = changeset.apply(key, row, changes, ad)
                    events.append(_change(key, new_ad, "policy", now, changes))
            self._flush(connection, changeset, events)
        self._tell(events)
        return len(events)


# PostgreSQL's SQLSTATE for "could not extend file ...: No space left on device".
_PG_DISK_FULL = "53100"


def _disk_full(error: Exception) -> bool:
    """Whether the database refused a write for want of disk space (SQLite's SQLITE_FULL,
    PostgreSQL's disk_full), rather than for any other reason."""
    orig = error.orig if isinstance(error, DBAPIError) else error
    if getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    return _PG_DISK_FULL in (getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None))


def _full_message(engine: Engine) -> str:
    """One line naming the file system that is full, for the caller and the log."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        database = Path(url.database).absolute()
        return (f"no space left on the file system at {_mount_point(database.parent)} that "
                f"holds the job queue ({database}); nothing of this request was written")
    return (f"no space left on the file systems of the job queue's database server "
            f"({url.host or 'local'}, database {url.database}); nothing of this request "
            "was written")


def _mount_point(directory: Path) -> Path:
    """The directory where the file system holding ``directory`` is mounted."""
    device = directory.stat().st_dev
    while directory.parent != directory and directory.parent.stat().st_dev == device:
        directory = directory.parent
    return directory


def _commit_without_waiting(connection: Connection) -> None:
    """Make the connection's commits not wait for the disk (for the whole session)."""
    if connection.dialect.name == "sqlite":
        connection.connection.dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET synchronous_commit TO OFF")
        connection.commit()


_SET_CLAIM_JOB = (update(ClaimRecord).where(ClaimRecord.claim_id == bindparam("key_claim"))
                  .values(job_id=bindparam("job_id")))


def _constraint(text: str) -> ExprTree | None:
    if not text.strip():
        return None
    try:
        return ExprTree(text)
    except ValueError as error:
        raise QueueError("invalid", f"bad constraint {text!r}: {error}") from None


def _failed(ad: ClassAd) -> bool:
    """A finished job that did not succeed: removed, signalled, or a non-zero exit."""
    return not dependencies.succeeded(ad)


def _with_parents(connection, cluster_id: int, parents) -> ClassAd:
    """The cluster's stored ad with ``Parents`` written as the edges say."""
    ad = queue_store.ClusterAds(connection).get(cluster_id).copy()
    ad[dependencies.PARENTS] = dependencies.parents_text(parents)
    return ad


def _pump_after_start(connection, key: JobKey, ad: ClassAd, now: int) -> list[JobChange]:
    if dag_store.DAG_ID not in ad:
        return []
    dag_id = dag_store.max_idle_dag(connection, key.cluster_id)
    if dag_id is None:
        return []
    return [settled_change(one, now)
            for one in workflow.settle(connection, now, step=Step(dags={dag_id}))]


def settled_change(one: dependency_store.Settled, now: int) -> JobChange:
    """A settled change as the event stream tells it ("CLUSTER.*" for one of a cluster as a
    whole: a DAG node's script that is due)."""
    job_id = str(one.key) if one.key.proc_id >= 0 else f"{one.key.cluster_id}.*"
    return JobChange(job_id, one.status, one.kind, now, dict(one.attrs))


def _change(key: JobKey, ad: ClassAd, kind: str, now: int,
            changes: Iterable[str] | dict) -> JobChange:
    attrs = {name: ad.lookup(name) for name in changes if name in ad}
    return JobChange(str(key), ad.eval("JobStatus"), kind, now, attrs)
