"""Dependencies in SQL: the edges of a submitted cluster, and what a parent's end does to
its children, inside the transaction that records the end.

Plain functions on a SQLAlchemy Core connection; the caller owns the transaction, so a
child is released (or blocked) in the very commit that ends its last parent, and a
schedd killed at any moment leaves the edges and the jobs' states in step.

An edge always points from a cluster to one with a smaller id (a parent must be in the
queue or its history when its child is submitted), so the graph has no cycles.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from classad import ClassAd
from schedd import dependencies, lifecycle, queue_store
from schedd.dependencies import FAILED, MET, PENDING, WHOLE_CLUSTER, Parent
from schedd.job_status import FINISHED, JobStatus
from schedd.models import Cluster, HistoryJob, Job, JobEdge
from schedd.queue_store import JobKey

_CHUNK = 500  # ids in one IN list: SQLite's limit on bound parameters is far above


@dataclass(frozen=True)
class Settled:
    """A job the settling changed, for the queue's event stream."""

    key: JobKey
    status: int
    kind: str  # "released", "blocked", "rearmed"
    attrs: dict[str, object] = field(default_factory=dict)


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- what a parent has become ----------------------------------------------------------------


def parent_outcomes(connection: Connection, parent: Parent) -> list[bool | None]:
    """One entry per proc of the parent (True: succeeded, False: ended otherwise, None: not
    ended yet), from the queue and, for procs that left it, their latest history; empty
    when no such job was ever queued."""
    where = [Job.cluster_id == parent.cluster]
    if parent.proc != WHOLE_CLUSTER:
        where.append(Job.proc_id == parent.proc)
    outcomes: dict[int, bool | None] = {}
    clusters = queue_store.ClusterAds(connection)
    for row in connection.execute(select(Job).where(*where)):
        if row.status in FINISHED:
            ad = queue_store.materialize(clusters.get(row.cluster_id), row)
            outcomes[row.proc_id] = dependencies.succeeded(ad)
        else:
            outcomes[row.proc_id] = None
    history = [HistoryJob.cluster_id == parent.cluster]
    if parent.proc != WHOLE_CLUSTER:
        history.append(HistoryJob.proc_id == parent.proc)
    latest: dict[int, str] = {}
    for proc_id, text in connection.execute(select(HistoryJob.proc_id, HistoryJob.ad)
                                            .where(*history).order_by(HistoryJob.id)):
        if proc_id not in outcomes:
            latest[proc_id] = text
    for proc_id, text in latest.items():
        outcomes[proc_id] = dependencies.succeeded(queue_store.parse_text(text))
    return [outcomes[proc] for proc in sorted(outcomes)]


def latest_ad(connection: Connection, key: JobKey) -> ClassAd | None:
    """A job's ad from the queue, else its latest in the history; None if neither."""
    row = queue_store.job_row(connection, key)
    if row is not None:
        return queue_store.materialize(queue_store.cluster_ad(row.cluster_ad), row)
    text = connection.scalar(select(HistoryJob.ad).where(
        HistoryJob.cluster_id == key.cluster_id, HistoryJob.proc_id == key.proc_id)
        .order_by(HistoryJob.id.desc()).limit(1))
    return None if text is None else queue_store.parse_text(text)


def parent_ad(connection: Connection, parent: Parent) -> ClassAd | None:
    """An ad of the parent, a proc or a whole cluster (then its cluster ad, or a proc's
    from the history when none is left in the queue); None if it was never queued."""
    if parent.proc != WHOLE_CLUSTER:
        return latest_ad(connection, JobKey(parent.cluster, parent.proc))
    if connection.scalar(select(Job.proc_id).where(Job.cluster_id == parent.cluster)
                         .limit(1)) is not None:
        ad = queue_store.ClusterAds(connection).get(parent.cluster).copy()
        ad["ClusterId"] = parent.cluster
        return ad
    text = connection.scalar(select(HistoryJob.ad).where(
        HistoryJob.cluster_id == parent.cluster).order_by(HistoryJob.id.desc()).limit(1))
    return None if text is None else queue_store.parse_text(text)


# -- submitting ------------------------------------------------------------------------------


def add_edges(connection: Connection, child: int, parents: Iterable[Parent],
              need_success: bool) -> None:
    """The edges of a cluster just queued (its jobs Waiting), each in the state its
    parent's end so far makes it.  ValueError, in one line, for a parent that is the
    cluster itself (a cycle) or one never queued."""
    rows = []
    for parent in parents:
        if parent.cluster == child:
            raise ValueError(f"cycle: cluster {child} names itself as its parent ({parent})")
        outcomes = parent_outcomes(connection, parent) if parent.cluster < child else []
        if not outcomes:
            raise ValueError(f"unknown parent {parent}: no such job in the queue or its "
                             "history")
        rows.append({"child_cluster": child, "parent_cluster": parent.cluster,
                     "parent_proc": parent.proc, "need_success": need_success,
                     "state": dependencies.edge_state(need_success, outcomes)})
    if rows:
        connection.execute(insert(JobEdge), rows)


def edges_of(connection: Connection, child: int) -> list:
    """A cluster's edges to its parents (rows of job_edges)."""
    return list(connection.execute(select(JobEdge).where(JobEdge.child_cluster == child)
                                   .order_by(JobEdge.parent_cluster, JobEdge.parent_proc)))


def children_of(connection: Connection, parents: Iterable[int]) -> dict[int, list[int]]:
    """Parent cluster -> the clusters that name it (or one of its procs) as a parent."""
    found: dict[int, list[int]] = {}
    for chunk in _chunks(sorted(set(parents))):
        for parent, child in connection.execute(
                select(JobEdge.parent_cluster, JobEdge.child_cluster)
                .where(JobEdge.parent_cluster.in_(chunk)).distinct()
                .order_by(JobEdge.parent_cluster, JobEdge.child_cluster)):
            found.setdefault(parent, []).append(child)
    return found


# -- a parent's end --------------------------------------------------------------------------


_SET_STATE = (update(JobEdge).where(JobEdge.child_cluster == bindparam("key_child"),
                                    JobEdge.parent_cluster == bindparam("key_parent"),
                                    JobEdge.parent_proc == bindparam("key_proc"))
              .values(state=bindparam("new_state")))


def mark_edges(connection: Connection, ended: Sequence[tuple[JobKey, ClassAd]]) -> list[int]:
    """Set the pending edges that the ended jobs decide (each job's own end: a plain
    job's, not a DAG node's); the children whose edges changed."""
    by_cluster: dict[int, list[tuple[JobKey, ClassAd]]] = {}
    for key, ad in ended:
        by_cluster.setdefault(key.cluster_id, []).append((key, ad))
    clusters = sorted(by_cluster)
    edges = []
    for chunk in _chunks(clusters):
        edges += connection.execute(select(JobEdge).where(
            JobEdge.parent_cluster.in_(chunk), JobEdge.state == PENDING)).all()
    if not edges:
        return []
    unfinished: set[int] = set()
    whole = sorted({edge.parent_cluster for edge in edges if edge.parent_proc == WHOLE_CLUSTER})
    for chunk in _chunks(whole):
        unfinished.update(connection.scalars(select(Job.cluster_id).where(
            Job.cluster_id.in_(chunk), Job.status.not_in([int(s) for s in FINISHED]))
            .distinct()))
    changes = []
    touched: set[int] = set()
    for edge in edges:
        jobs = [(key, ad) for key, ad in by_cluster[edge.parent_cluster]
                if edge.parent_proc in (WHOLE_CLUSTER, key.proc_id)]
        if not jobs:
            continue
        state = PENDING
        if edge.need_success and not all(dependencies.succeeded(ad) for _, ad in jobs):
            state = FAILED
        elif edge.parent_proc != WHOLE_CLUSTER or edge.parent_cluster not in unfinished:
            state = MET
        if state != PENDING:
            changes.append({"key_child": edge.child_cluster, "key_parent": edge.parent_cluster,
                            "key_proc": edge.parent_proc, "new_state": state})
            touched.add(edge.child_cluster)
    if changes:
        connection.execute(_SET_STATE, changes)
    return sorted(touched)


def mark_cluster(connection: Connection, cluster: int, state: int) -> list[int]:
    """Set the pending edges from a cluster as a whole (a DAG node's, whose success its
    scripts and retries decide rather than each job's end); the children they join."""
    children = sorted(set(connection.scalars(select(JobEdge.child_cluster).where(
        JobEdge.parent_cluster == cluster, JobEdge.state == PENDING))))
    if children:
        connection.execute(update(JobEdge).where(JobEdge.parent_cluster == cluster,
                                                 JobEdge.state == PENDING).values(state=state))
    return children


def resolve(connection: Connection, children: Sequence[int], now: int
            ) -> tuple[list[int], list[tuple[JobKey, ClassAd]], list[Settled]]:
    """Of ``children``, those whose edges are all met (ready: the caller releases them),
    and block the waiting jobs of those with a failed edge.  Returns the ready clusters,
    the jobs blocked (ended, for their own children) and what changed."""
    failed: dict[int, tuple[int, int]] = {}
    pending: set[int] = set()
    for chunk in _chunks(list(children)):
        for child, parent, proc, state in connection.execute(
                select(JobEdge.child_cluster, JobEdge.parent_cluster, JobEdge.parent_proc,
                       JobEdge.state)
                .where(JobEdge.child_cluster.in_(chunk), JobEdge.state != MET)
                .order_by(JobEdge.child_cluster, JobEdge.parent_cluster, JobEdge.parent_proc)):
            if state == FAILED:
                failed.setdefault(child, (parent, proc))
            else:
                pending.add(child)
    ready = [child for child in children if child not in failed and child not in pending]
    settled: list[Settled] = []
    blocked: list[tuple[JobKey, ClassAd]] = []
    if failed:
        changeset = queue_store.Changeset(connection, now)
        for child in sorted(failed):
            parent = Parent(*failed[child])
            why = _how_parent_ended(connection, parent)
            for key, row, ad in _waiting(connection, child):
                changes = lifecycle.blocked(ad, str(parent), why, now)
                new_ad = changeset.apply(key, row, changes, ad)
                settled.append(Settled(key, int(JobStatus.REMOVED), "blocked",
                                       {name: new_ad.lookup(name) for name in changes
                                        if name in new_ad}))
        changeset.flush()
        blocked = changeset.take_ended()
    return ready, blocked, settled


def _how_parent_ended(connection: Connection, parent: Parent) -> str:
    """The words for a blocked child's reason: how the parent (its first proc that did
    not succeed, for a cluster) ended."""
    procs = [parent.proc]
    if parent.proc == WHOLE_CLUSTER:
        procs = sorted(set(connection.scalars(select(HistoryJob.proc_id).where(
            HistoryJob.cluster_id == parent.cluster))) | set(connection.scalars(
                select(Job.proc_id).where(Job.cluster_id == parent.cluster))))
    for proc in procs:
        ad = latest_ad(connection, JobKey(parent.cluster, proc))
        if (ad is not None and ad.eval("JobStatus") in FINISHED
                and not dependencies.succeeded(ad)):
            words = dependencies.how_it_ended(ad)
            if parent.proc == WHOLE_CLUSTER:
                return f"did not succeed (job {parent.cluster}.{proc} {words})"
            return words
    return "did not succeed"


def _waiting(connection: Connection, cluster: int):
    clusters = queue_store.ClusterAds(connection)
    for row in connection.execute(select(Job).where(Job.cluster_id == cluster,
                                                    Job.status == JobStatus.WAITING)
                                  .order_by(Job.proc_id)):
        yield (JobKey(row.cluster_id, row.proc_id), row,
               queue_store.materialize(clusters.get(row.cluster_id), row))


_RELEASE = (update(Job).where(Job.cluster_id == bindparam("key_cluster"),
                              Job.status == int(JobStatus.WAITING))
            .values(status=int(JobStatus.IDLE), entered_status=bindparam("now")))


def release(connection: Connection, clusters: Sequence[int], now: int) -> list[Settled]:
    """Waiting -> Idle for every waiting job of ``clusters`` (``lifecycle.ready``: only
    the status columns change, so the procs still share their cluster's ad)."""
    settled = []
    for chunk in _chunks(list(clusters)):
        procs = connection.execute(select(Job.cluster_id, Job.proc_id).where(
            Job.cluster_id.in_(chunk), Job.status == JobStatus.WAITING)
            .order_by(Job.cluster_id, Job.proc_id)).all()
        if not procs:
            continue
        connection.execute(_RELEASE, [{"key_cluster": c, "now": now}
                                      for c in sorted({c for c, _ in procs})])
        attrs = {"JobStatus": int(JobStatus.IDLE), "EnteredCurrentStatus": now}
        settled += [Settled(JobKey(c, p), int(JobStatus.IDLE), "released", attrs)
                    for c, p in procs]
    return settled


# -- retrying a parent -----------------------------------------------------------------------


def reset_failed_edges(connection: Connection, requeued: Iterable[JobKey]) -> list[int]:
    """The failed edges from jobs put back in the queue are pending again (their
    parent will end anew); the children those edges join."""
    keys = list(requeued)
    children: set[int] = set()
    for chunk in _chunks(keys, _CHUNK // 2):
        match = or_(*(and_(JobEdge.parent_cluster == key.cluster_id,
                           JobEdge.parent_proc.in_([key.proc_id, WHOLE_CLUSTER]))
                      for key in chunk))
        rows = connection.execute(select(JobEdge.child_cluster, JobEdge.parent_cluster,
                                         JobEdge.parent_proc)
                                  .where(match, JobEdge.state == FAILED)).all()
        if rows:
            connection.execute(_SET_STATE, [{"key_child": c, "key_parent": p, "key_proc": q,
                                             "new_state": PENDING} for c, p, q in rows])
            children.update(c for c, _, _ in rows)
    return sorted(children)


def waits(connection: Connection, cluster: int) -> bool:
    """Whether a cluster has an edge that is not met (so a retried job of it waits)."""
    return connection.scalar(select(func.count()).select_from(JobEdge).where(
        JobEdge.child_cluster == cluster, JobEdge.state != MET)) > 0


def has_failed_edge(connection: Connection, cluster: int) -> bool:
    return connection.scalar(select(func.count()).select_from(JobEdge).where(
        JobEdge.child_cluster == cluster, JobEdge.state == FAILED)) > 0


def queued(connection: Connection, cluster: int) -> bool:
    """Whether a cluster has a row in the queue (some of its procs are not finished, or
    are finished and left in the queue)."""
    return connection.scalar(select(Cluster.cluster_id).where(
        Cluster.cluster_id == cluster)) is not None
