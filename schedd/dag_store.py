"""DAGs in SQL: the nodes' rows, and what their jobs' ends, their scripts' ends and the
throttles do to them, inside the transactions that record those ends.

Plain functions on a SQLAlchemy Core connection (the caller owns the transaction), each
adding what it did to a ``Step``: the changes for the event stream, the jobs it ended (for
their children), the children whose edges it set, the DAGs to pump.  ``schedd.workflow``
runs the steps to their end; ``schedd.dag_node`` decides.

A node's job waits (``JobStatus.WAITING``) until the node is started: released to Idle, or
first through its PRE script.  A node with a POST script keeps its ended jobs in the queue
(``DAGPostPending``) until the script has run, so that the node's end, and its children's
release, is one commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, insert, select, update

from classad import ClassAd
from schedd import dag_node, dependency_store, lifecycle, queue_store
from schedd.dag_node import (
    ABORTED,
    BLOCKED,
    DONE,
    ENDED,
    FAILED,
    NOT_STARTED,
    POST,
    PRE,
    QUEUED,
    READY,
    REMOVED,
    RUNNING,
    SUCCEEDED,
    UNDER_WAY,
    WAITING,
    Candidate,
    Outcome,
    Rules,
    Script,
)
from schedd.dependencies import FAILED as EDGE_FAILED
from schedd.dependencies import MET, PENDING, Parent
from schedd.dependency_store import Settled
from schedd.job_status import FINISHED, JobStatus
from schedd.models import Cluster, DagNodeRecord, DagRecord, HistoryJob, Job, JobEdge
from schedd.queue_store import JobKey

POST_PENDING = "DAGPostPending"
DAG_ID = "DAGManJobId"
NODE_NAME = "DAGNodeName"


@dataclass
class Step:
    """What a piece of settling did, and what is left for the next."""

    settled: list[Settled] = field(default_factory=list)
    ended: list[tuple[JobKey, ClassAd]] = field(default_factory=list)
    touched: list[int] = field(default_factory=list)  # children whose edges changed
    dags: set[int] = field(default_factory=set)  # to pump
    check: set[int] = field(default_factory=set)  # DAGs that may have ended


# -- reading ---------------------------------------------------------------------------------


def nodes_of(connection: Connection, clusters: Iterable[int]) -> dict[int, DagNodeRecord]:
    """The DAG nodes among ``clusters``, by cluster id."""
    found = {}
    ids = sorted(set(clusters))
    for start in range(0, len(ids), 500):
        for row in connection.execute(select(DagNodeRecord).where(
                DagNodeRecord.cluster_id.in_(ids[start:start + 500]))):
            found[row.cluster_id] = row
    return found


def dag_row(connection: Connection, dag_id: int):
    return connection.execute(select(DagRecord).where(DagRecord.dag_id == dag_id)).first()


def rules(node) -> Rules:
    return Rules(node.max_retries, node.retries, node.unless_exit, node.abort_value,
                 node.abort_return)


def node_jobs(connection: Connection, cluster: int) -> list[tuple[JobKey, object, ClassAd]]:
    """Every proc of a node's cluster: (key, its queue row or None, its ad), from the
    queue, else its latest history."""
    found: dict[int, tuple[JobKey, object, ClassAd]] = {}
    clusters = queue_store.ClusterAds(connection)
    for row in connection.execute(select(Job).where(Job.cluster_id == cluster)):
        found[row.proc_id] = (JobKey(cluster, row.proc_id), row,
                              queue_store.materialize(clusters.get(cluster), row))
    for proc, text in connection.execute(select(HistoryJob.proc_id, HistoryJob.ad).where(
            HistoryJob.cluster_id == cluster).order_by(HistoryJob.id)):
        if proc not in found or found[proc][1] is None:
            found[proc] = (JobKey(cluster, proc), None, queue_store.parse_text(text))
    return [found[proc] for proc in sorted(found)]


def _set(connection: Connection, cluster: int, **values) -> None:
    connection.execute(update(DagNodeRecord).where(DagNodeRecord.cluster_id == cluster)
                       .values(**values))


# -- submitting ------------------------------------------------------------------------------


@dataclass
class NodeSpec:
    """A node as a DAG submit sends it: its DAG (an index), its job, its parents (indices
    of nodes before it) and what the DAG file says of it (``node_ad``)."""

    dag: int
    node_ad: ClassAd
    cluster_ad: ClassAd
    proc_ads: list[ClassAd]
    count: int
    parents: list[int]


@dataclass
class DagSpec:
    dag_ad: ClassAd  # DAGFile, MaxJobs, MaxIdle, Categories
    parent: int = -1  # the index of the DAG a SUBDAG is in


def create(connection: Connection, owner: str, dags: Sequence[DagSpec],
           nodes: Sequence[NodeSpec], now: int, step: Step) -> tuple[list[int], list[int]]:
    """Queue DAGs and their nodes (each node a cluster, its jobs Waiting, its edges rows),
    in one transaction; ValueError for what cannot be queued.  Returns the DAG ids and the
    nodes' cluster ids."""
    if not dags or not nodes:
        raise ValueError("a DAG needs at least one node")
    first = queue_store.allocate_ids(connection, len(dags) + len(nodes))
    dag_ids = [first + i for i in range(len(dags))]
    clusters = [first + len(dags) + i for i in range(len(nodes))]
    names: list[str] = []
    for index, spec in enumerate(dags):
        if spec.parent >= index:
            raise ValueError("a SUBDAG comes after the DAG it is in")
        ad = spec.dag_ad
        dag_file = _text(ad, "DAGFile")
        name = f"{dag_file.rsplit('/', 1)[-1]}+{dag_ids[index]}"
        names.append(name)
        categories = ad.eval("Categories") if "Categories" in ad else None
        limits = {key: categories.eval(key) for key in categories} \
            if isinstance(categories, ClassAd) else {}
        connection.execute(insert(DagRecord).values(
            dag_id=dag_ids[index], owner=owner, name=name, dag_file=dag_file,
            parent_dag=dag_ids[spec.parent] if spec.parent >= 0 else None, status=RUNNING,
            max_jobs=_int(ad, "MaxJobs"), max_idle=_int(ad, "MaxIdle"),
            categories=json.dumps(limits), return_value=None, reason="", submitted=now,
            ended=None))
    submits, node_rows, edge_rows = [], [], []
    node_names: list[str] = []
    for index, node in enumerate(nodes):
        if not 0 <= node.dag < len(dags):
            raise ValueError(f"node {index} names no DAG of the submit")
        ad = node.node_ad
        name = _text(ad, NODE_NAME)
        if not name:
            raise ValueError(f"node {index} has no DAGNodeName")
        node_names.append(name)
        if any(not 0 <= parent < index for parent in node.parents):
            raise ValueError(f"node {name}: a parent comes after its child (or the DAG has a "
                             "cycle)")
        cluster_ad = node.cluster_ad.copy()
        cluster_ad[DAG_ID] = dag_ids[node.dag]
        cluster_ad[NODE_NAME] = name
        cluster_ad["JobBatchName"] = names[node.dag]
        cluster_ad["JobStatus"] = int(JobStatus.WAITING)
        parents = sorted({clusters[p] for p in node.parents})
        if parents:
            cluster_ad["Parents"] = ", ".join(str(p) for p in parents)
            cluster_ad["DAGParentNodeNames"] = ",".join(node_names[p] for p in node.parents)
        post = Script.from_ad(ad.eval("PostScript") if "PostScript" in ad else None)
        if post is not None:
            cluster_ad[POST_PENDING] = True
        priority = _int(ad, "Priority")
        if priority:  # the node's PRIORITY is added to its job's own
            cluster_ad["JobPrio"] = _int(cluster_ad, "JobPrio") + priority
        proc_ads = [proc.copy() for proc in node.proc_ads]
        for proc in proc_ads:
            for attribute in ("JobStatus", "Parents", DAG_ID, NODE_NAME):
                proc.pop(attribute, None)
        submits.append((cluster_ad, proc_ads, node.count))
        pre = Script.from_ad(ad.eval("PreScript") if "PreScript" in ad else None)
        done = ad.eval("Done") is True
        node_rows.append({
            "cluster_id": clusters[index], "dag_id": dag_ids[node.dag], "name": name,
            "phase": WAITING, "category": _text(ad, "Category"), "priority": priority,
            "max_retries": _int(ad, "MaxRetries"), "unless_exit": _opt(ad, "UnlessExit"),
            "retries": 0, "pre": pre.text() if pre else "", "post": post.text() if post else "",
            "pre_skip": _opt(ad, "PreSkip"), "abort_value": _opt(ad, "AbortValue"),
            "abort_return": _opt(ad, "AbortReturn"), "noop": ad.eval("Noop") is True or done,
            "directory": _text(ad, "Directory"), "return_value": None, "pre_return": None,
            "reason": "DONE in the DAG file" if done else ""})
        edge_rows += [{"child_cluster": clusters[index], "parent_cluster": parent,
                       "parent_proc": Parent(parent).proc, "need_success": True,
                       "state": PENDING} for parent in parents]
    queue_store.submit_many(connection, submits, owner=owner, now=now, first_id=clusters[0])
    connection.execute(insert(DagNodeRecord), node_rows)
    if edge_rows:
        connection.execute(insert(JobEdge), edge_rows)
    for index, row in enumerate(node_rows):
        if row["reason"]:  # DONE: ended as a success without running anything
            _set(connection, row["cluster_id"], phase=DONE)
            _skip(connection, row["cluster_id"], "DONE", now, step)
        elif not nodes[index].parents:
            _set(connection, row["cluster_id"], phase=READY)
    step.dags.update(dag_ids)
    return dag_ids, clusters


# -- a node's jobs ended ---------------------------------------------------------------------


def jobs_ended(connection: Connection, node, now: int, step: Step) -> None:
    """Jobs of the node's cluster reached Completed or Removed (this commit): once all of
    them have, the node goes on as its phase and its DAG file say."""
    jobs = node_jobs(connection, node.cluster_id)
    if any(row is not None and row.status not in FINISHED for _, row, _ in jobs):
        return  # the rest of its cluster is still under way
    ads = [ad for _, _, ad in jobs]
    if node.phase in ENDED:  # its end was decided as it was made (a PRE failure, a skip)
        _mark_phase_ended(connection, node, node.phase, step)
        return
    dag = dag_row(connection, node.dag_id)
    if dag.status in (ABORTED, REMOVED):
        _set(connection, node.cluster_id, phase=dag.status, reason=dag.reason)
        _leave_queue(connection, jobs, now, step)
        _mark_phase_ended(connection, node, dag.status, step)
        return
    if node.phase in NOT_STARTED:  # removed before it ran: by a failed parent, or its owner
        blocked = any(isinstance(ad.eval("BlockedBy"), str) for ad in ads)
        reason = next((ad.eval("RemoveReason") for ad in ads
                       if isinstance(ad.eval("RemoveReason"), str)), "removed")
        phase = BLOCKED if blocked else FAILED
        _set(connection, node.cluster_id, phase=phase, reason=reason)
        _leave_queue(connection, jobs, now, step)  # no POST script for a job never run
        _mark_phase_ended(connection, node, phase, step)
        return
    success, value = dag_node.job_return(ads)
    if node.post:
        _set(connection, node.cluster_id, phase=POST, return_value=value)
        _script_due(node, POST, now, step)
        return
    outcome = dag_node.decide(rules(node), success, value, "job")
    _apply(connection, node, outcome, jobs, now, step)


def script_ended(connection: Connection, cluster: int, kind: str, code: int, now: int,
                 step: Step) -> bool:
    """A PRE or POST script of the node ended with ``code``; False if the node is no longer
    where that script ran (the news is stale: the node was removed, or retried)."""
    node = nodes_of(connection, [cluster]).get(cluster)
    if node is None or node.phase != kind:
        return False
    dag = dag_row(connection, node.dag_id)
    if dag.status != RUNNING:
        return False
    jobs = node_jobs(connection, cluster)
    if kind == PRE:
        _set(connection, cluster, pre_return=code)
        if node.pre_skip is not None and code == node.pre_skip:
            _set(connection, cluster, phase=DONE, return_value=0,
                 reason=f"PRE_SKIP: its PRE script returned {code}")
            _skip(connection, cluster, "PRE_SKIP", now, step)
            return True
        if code == 0:
            _start_jobs(connection, [node], now, step)
            return True
        outcome = dag_node.decide(rules(node), False, code, "PRE script")
        _apply(connection, node, outcome, jobs, now, step)
        return True
    outcome = dag_node.decide(rules(node), code == 0, code, "POST script")
    # The node's jobs wait in the queue for this: they leave it now, with the node's fate,
    # unless the node runs again.
    if outcome.phase != READY or outcome.abort:
        changeset = queue_store.Changeset(connection, now)
        for key, row, ad in jobs:
            if row is None:
                continue
            changes = {POST_PENDING: False, "DAGPostReturn": code,
                       "DAGNodeSuccess": outcome.phase == DONE}
            new_ad = changeset.apply(key, row, changes, ad)
            step.settled.append(Settled(key, new_ad.eval("JobStatus"), "post", dict(changes)))
        changeset.flush()
        jobs = node_jobs(connection, cluster)
    _apply(connection, node, outcome, jobs, now, step)
    return True


def _apply(connection: Connection, node, outcome: Outcome, jobs, now: int, step: Step) -> None:
    """Carry out a node's outcome: done, failed, run again, or the DAG aborted."""
    values = {"return_value": outcome.value, "reason": outcome.reason}
    if outcome.abort:
        phase = outcome.phase
        _set(connection, node.cluster_id, phase=phase, **values)
        _remove_unfinished_jobs(connection, [node.cluster_id], now, step,
                                f"the DAG was aborted: node {node.name} {outcome.reason}")
        _mark_phase_ended(connection, node, phase, step)
        abort(connection, node.dag_id, outcome.dag_return,
              f"node {node.name} {outcome.reason}", now, step, status=ABORTED)
        return
    if outcome.phase == READY:
        _set(connection, node.cluster_id, phase=READY, retries=node.retries + 1, **values)
        _requeue(connection, jobs, f"DAG node {node.name}: {outcome.reason}", now, step)
        step.dags.add(node.dag_id)
        return
    _set(connection, node.cluster_id, phase=outcome.phase, **values)
    if any(row is not None and row.status not in FINISHED for _, row, _ in jobs):
        # A PRE script failed: its job, never run, is removed, and so ends the node.
        _remove_unfinished_jobs(connection, [node.cluster_id], now, step,
                                f"DAG node {node.name}: {outcome.reason}")
        return
    _mark_phase_ended(connection, node, outcome.phase, step)


def _leave_queue(connection: Connection, jobs, now: int, step: Step) -> None:
    """Finished jobs kept in the queue for a POST script that will not run leave it."""
    changeset = queue_store.Changeset(connection, now)
    for key, row, ad in jobs:
        if row is not None and row.status in FINISHED and ad.eval(POST_PENDING) is True:
            changeset.apply(key, row, {POST_PENDING: False}, ad)
            step.settled.append(Settled(key, row.status, "post", {POST_PENDING: False}))
    changeset.flush()


def _mark_phase_ended(connection: Connection, node, phase: str, step: Step) -> None:
    step.touched += dependency_store.mark_cluster(connection, node.cluster_id,
                                                  MET if phase == DONE else EDGE_FAILED)
    step.check.add(node.dag_id)
    step.dags.add(node.dag_id)


def _requeue(connection: Connection, jobs, reason: str, now: int, step: Step) -> None:
    """A node's jobs back to Waiting, to run again (a RETRY): those still in the queue
    (waiting for a POST script) in place, those in the history from there."""
    changeset = queue_store.Changeset(connection, now)
    from_history = []
    for key, row, ad in jobs:
        if row is not None and row.status == JobStatus.WAITING:
            continue  # never started (its PRE script failed): it waits already
        changes = lifecycle.retried(ad, reason=reason, now=now, waiting=True)
        for name in ("DAGPostReturn", "DAGNodeSuccess", "DAGNodeSkipped"):
            if name in ad:
                changes[name] = None
        if POST_PENDING in ad:
            changes[POST_PENDING] = True  # its POST script runs again after it
        if row is not None:
            new_ad = changeset.apply(key, row, changes, ad)
        else:
            from_history.append((ad, changes))
            new_ad = lifecycle.applied(ad, changes)
        step.settled.append(Settled(key, int(JobStatus.WAITING), "retried",
                                    {name: new_ad.lookup(name) for name in changes
                                     if name in new_ad}))
    changeset.flush()
    if from_history:
        queue_store.requeue(connection, from_history)


def _remove_unfinished_jobs(connection: Connection, clusters: Sequence[int], now: int,
                            step: Step, reason: str) -> None:
    """Remove the jobs of ``clusters`` that have not finished (the shell stops those that
    run), and let those waiting for a POST script leave the queue."""
    changeset = queue_store.Changeset(connection, now)
    qclusters = queue_store.ClusterAds(connection)
    for start in range(0, len(clusters), 500):
        rows = connection.execute(select(Job).where(
            Job.cluster_id.in_(clusters[start:start + 500])).order_by(
                Job.cluster_id, Job.proc_id)).all()
        for row in rows:
            key = JobKey(row.cluster_id, row.proc_id)
            ad = queue_store.materialize(qclusters.get(row.cluster_id), row)
            if row.status in FINISHED:
                changes: dict = {POST_PENDING: False} if POST_PENDING in ad else {}
            else:
                changes = lifecycle.act(ad, lifecycle.Action.REMOVE, reason=reason, now=now)
                changes.pop(POST_PENDING, None)
                if POST_PENDING in ad:
                    changes[POST_PENDING] = False
            new_ad = changeset.apply(key, row, changes, ad)
            step.settled.append(Settled(key, new_ad.eval("JobStatus"), "remove",
                                        {name: new_ad.lookup(name) for name in changes
                                         if name in new_ad}))
    changeset.flush()
    step.ended += changeset.take_ended()


# -- starting nodes --------------------------------------------------------------------------


def mark_ready(connection: Connection, clusters: Sequence[int], step: Step) -> None:
    """Nodes whose parents have all succeeded: ready, to start as the throttles allow."""
    waiting = [node for node in nodes_of(connection, clusters).values()
               if node.phase == WAITING]
    _set_phases(connection, [node.cluster_id for node in waiting], READY)
    step.dags.update(node.dag_id for node in waiting)


def _set_phases(connection: Connection, clusters: Sequence[int], phase: str) -> None:
    """A phase for many nodes in a few statements: a fan-out's thousand children in one,
    where a statement each held the queue's write lock for seconds."""
    for start in range(0, len(clusters), 500):
        connection.execute(update(DagNodeRecord).where(
            DagNodeRecord.cluster_id.in_(clusters[start:start + 500])).values(phase=phase))


def pump(connection: Connection, dag_id: int, now: int, step: Step) -> None:
    """Start the DAG's ready nodes that its throttles allow (``-maxjobs``, ``-maxidle``,
    each category's MAXJOBS): each counts the nodes under way, never all of them."""
    dag = dag_row(connection, dag_id)
    if dag is None or dag.status != RUNNING:
        return
    ready = connection.execute(select(DagNodeRecord).where(
        DagNodeRecord.dag_id == dag_id, DagNodeRecord.phase == READY).order_by(
            DagNodeRecord.priority.desc(), DagNodeRecord.cluster_id)).all()
    if not ready:
        return
    limits = json.loads(dag.categories or "{}")
    under_way, per_category, idle = 0, {}, 0
    if dag.max_jobs or limits:
        for category, count in connection.execute(
                select(DagNodeRecord.category, func.count()).where(
                    DagNodeRecord.dag_id == dag_id, DagNodeRecord.phase.in_(UNDER_WAY))
                .group_by(DagNodeRecord.category)):
            per_category[category] = count
            under_way += count
    procs = {}
    if dag.max_idle:
        idle = connection.scalar(select(func.count()).select_from(Job).join(
            DagNodeRecord, DagNodeRecord.cluster_id == Job.cluster_id).where(
                DagNodeRecord.dag_id == dag_id, DagNodeRecord.phase == QUEUED,
                Job.status == JobStatus.IDLE))
        procs = dict(connection.execute(select(Cluster.cluster_id, Cluster.total_submitted)
                                        .where(Cluster.cluster_id.in_(
                                            [n.cluster_id for n in ready[:5000]]))).all())
    admitted = set(dag_node.admit(
        [Candidate(n.cluster_id, n.category, procs.get(n.cluster_id, 1)) for n in ready],
        under_way=under_way, idle=idle, per_category=per_category, max_jobs=dag.max_jobs,
        max_idle=dag.max_idle, limits=limits))
    starting = []
    for node in ready:
        if node.cluster_id not in admitted:
            continue
        if node.pre:
            _set(connection, node.cluster_id, phase=PRE)
            _script_due(node, PRE, now, step)
        else:
            starting.append(node)
    _start_jobs(connection, starting, now, step)


def _start_jobs(connection: Connection, nodes: Sequence, now: int, step: Step) -> None:
    """The nodes' jobs go to the queue: Idle, or, for a NOOP node, completed at once."""
    _set_phases(connection, [node.cluster_id for node in nodes], QUEUED)
    for node in nodes:
        if node.noop:
            _skip(connection, node.cluster_id, "NOOP", now, step)
    step.settled += dependency_store.release(
        connection, [node.cluster_id for node in nodes if not node.noop], now)


def _skip(connection: Connection, cluster: int, why: str, now: int, step: Step) -> None:
    changeset = queue_store.Changeset(connection, now)
    for key, row, ad in node_jobs(connection, cluster):
        if row is None or row.status != JobStatus.WAITING:
            continue
        changes = lifecycle.skipped(ad, why, now)
        if why != "NOOP" and POST_PENDING in ad:
            changes[POST_PENDING] = False  # PRE_SKIP and DONE run no POST script
        new_ad = changeset.apply(key, row, changes, ad)
        step.settled.append(Settled(key, int(JobStatus.COMPLETED), "skipped",
                                    {name: new_ad.lookup(name) for name in changes
                                     if name in new_ad}))
    changeset.flush()
    step.ended += changeset.take_ended()


def _script_due(node, kind: str, now: int, step: Step) -> None:
    """Tell the shell (schedd.dag_scripts) that a script is to run."""
    step.settled.append(Settled(JobKey(node.cluster_id, -1), int(JobStatus.WAITING),
                                f"dag-{kind}", {NODE_NAME: node.name, DAG_ID: node.dag_id}))


def scripts_due(connection: Connection) -> list:
    """Every node whose PRE or POST script is to run (after a restart: all of them)."""
    return list(connection.execute(
        select(DagNodeRecord.__table__, DagRecord.owner.label("owner"),
               DagRecord.dag_file.label("dag_file"))
        .join(DagRecord, DagRecord.dag_id == DagNodeRecord.dag_id)
        .where(DagNodeRecord.phase.in_([PRE, POST]), DagRecord.status == RUNNING)
        .order_by(DagNodeRecord.cluster_id)))


# -- the DAG as a whole ----------------------------------------------------------------------


def _dag_and_subdags(connection: Connection, dag_id: int) -> list[int]:
    found, frontier = [dag_id], [dag_id]
    while frontier:
        inner = list(connection.scalars(select(DagRecord.dag_id).where(
            DagRecord.parent_dag.in_(frontier))))
        found += inner
        frontier = inner
    return found


def abort(connection: Connection, dag_id: int, returned: int | None, reason: str, now: int,
          step: Step, *, status: str) -> None:
    """Stop a DAG (ABORT-DAG-ON, or ``roost dag rm``): every node not ended is, and its
    jobs in the queue are removed; its SUBDAGs too."""
    for one in _dag_and_subdags(connection, dag_id):
        connection.execute(update(DagRecord).where(DagRecord.dag_id == one).values(
            status=status, return_value=returned if one == dag_id else None,
            reason=reason, ended=now))
        open_nodes = list(connection.scalars(select(DagNodeRecord.cluster_id).where(
            DagNodeRecord.dag_id == one, DagNodeRecord.phase.not_in(list(ENDED)))))
        if not open_nodes:
            continue
        connection.execute(update(DagNodeRecord).where(
            DagNodeRecord.cluster_id.in_(open_nodes)).values(phase=status, reason=reason))
        words = "via roost dag rm" if status == REMOVED else f"DAG {dag_id} aborted: {reason}"
        _remove_unfinished_jobs(connection, open_nodes, now, step, words)


def finish(connection: Connection, dag_id: int, now: int) -> None:
    """A running DAG none of whose nodes is left to run has succeeded or failed."""
    dag = dag_row(connection, dag_id)
    if dag is None or dag.status != RUNNING:
        return
    open_node = connection.scalar(select(DagNodeRecord.cluster_id).where(
        DagNodeRecord.dag_id == dag_id,
        DagNodeRecord.phase.in_([WAITING, READY, PRE, QUEUED, POST])).limit(1))
    if open_node is not None:
        return
    failed = connection.scalar(select(func.count()).select_from(DagNodeRecord).where(
        DagNodeRecord.dag_id == dag_id, DagNodeRecord.phase != DONE))
    connection.execute(update(DagRecord).where(DagRecord.dag_id == dag_id).values(
        status=FAILED if failed else SUCCEEDED, return_value=1 if failed else 0, ended=now,
        reason=f"{failed} node(s) failed or blocked" if failed else ""))


def retry(connection: Connection, dag_id: int, reason: str, now: int, step: Step) -> int:
    """``roost retry`` of a DAG that ended: its nodes that did not succeed (failed,
    blocked, removed, aborted) wait again, their edges as their parents now stand; those
    that succeeded stay done, as a rescue DAG would have them.  Its SUBDAGs too."""
    requeued = 0
    for one in _dag_and_subdags(connection, dag_id):
        dag = dag_row(connection, one)
        if dag.status == RUNNING:
            raise ValueError(f"DAG {one} is still running: roost dag rm it first, or wait")
        nodes = list(connection.execute(select(DagNodeRecord).where(
            DagNodeRecord.dag_id == one, DagNodeRecord.phase != DONE)))
        _rearm(connection, nodes, reason, now, step)
        requeued += len(nodes)
        connection.execute(update(DagRecord).where(DagRecord.dag_id == one).values(
            status=RUNNING, return_value=None, reason="", ended=None))
        step.dags.add(one)
    return requeued


def retry_node(connection: Connection, cluster: int, reason: str, now: int,
               step: Step) -> int:
    """``roost retry`` of one node that did not succeed: it runs again, and so do the
    nodes blocked behind it that nothing else blocks; its DAG, and the DAGs it is in,
    run again if they had ended.  How many nodes wait again."""
    node = nodes_of(connection, [cluster])[cluster]
    if node.phase not in ENDED or node.phase == DONE:
        raise ValueError(f"DAG node {node.name} (cluster {cluster}) has not failed: it is "
                         f"{node.phase}")
    return len(rerun_nodes(connection, [node], reason, now, step))


def rerun_nodes(connection: Connection, nodes: Sequence, reason: str, now: int,
                step: Step) -> list:
    """Ended nodes (``roost retry`` of a failed one, ``roost rerun`` of any) run again
    whole, and so do the nodes blocked behind them that nothing else blocks; their DAGs,
    and the DAGs those are in, run again if they had ended.  Children that a node's
    earlier success released are left as they are.  The nodes that wait again."""
    chosen = {node.cluster_id: node for node in nodes}
    frontier = list(chosen)
    while frontier:
        children = sorted(set(connection.scalars(select(JobEdge.child_cluster).where(
            JobEdge.parent_cluster.in_(frontier)))) - set(chosen))
        frontier = []
        for child in nodes_of(connection, children).values():
            if child.phase != BLOCKED:
                continue
            parents = list(connection.scalars(select(JobEdge.parent_cluster).where(
                JobEdge.child_cluster == child.cluster_id)))
            done = set(connection.scalars(select(DagNodeRecord.cluster_id).where(
                DagNodeRecord.cluster_id.in_(parents), DagNodeRecord.phase == DONE)))
            if all(parent in chosen or parent in done for parent in parents):
                chosen[child.cluster_id] = child
                frontier.append(child.cluster_id)
    rerun = [chosen[c] for c in sorted(chosen)]
    _rearm(connection, rerun, reason, now, step)
    for dag_id in {node.dag_id for node in nodes}:
        while dag_id is not None:
            dag = dag_row(connection, dag_id)
            if dag.status != RUNNING:
                connection.execute(update(DagRecord).where(DagRecord.dag_id == dag_id).values(
                    status=RUNNING, return_value=None, reason="", ended=None))
            step.dags.add(dag_id)
            dag_id = dag.parent_dag
    return rerun


def _rearm(connection: Connection, nodes: Sequence, reason: str, now: int,
           step: Step) -> None:
    """Nodes that ended wait again, their retries unused, their edges as their parents
    now stand (met where a parent is done, pending else)."""
    for node in nodes:
        _requeue(connection, node_jobs(connection, node.cluster_id), reason, now, step)
        connection.execute(update(DagNodeRecord).where(
            DagNodeRecord.cluster_id == node.cluster_id).values(
                phase=WAITING, retries=0, reason="", return_value=None, pre_return=None))
    retried = [node.cluster_id for node in nodes]
    done_parents = select(DagNodeRecord.cluster_id).where(DagNodeRecord.phase == DONE)
    for start in range(0, len(retried), 500):
        chunk = retried[start:start + 500]
        connection.execute(update(JobEdge).where(JobEdge.child_cluster.in_(chunk))
                           .values(state=PENDING))
        connection.execute(update(JobEdge).where(
            JobEdge.child_cluster.in_(chunk), JobEdge.parent_cluster.in_(done_parents))
            .values(state=MET))
    step.touched += retried


def view(connection: Connection, dag_id: int) -> tuple[object, list[ClassAd]]:
    """The DAG's row and an ad per node (``roost dag status``)."""
    dag = dag_row(connection, dag_id)
    if dag is None:
        raise LookupError(f"no DAG {dag_id}")
    ads = []
    ids = _dag_and_subdags(connection, dag_id)
    nodes = list(connection.execute(select(DagNodeRecord).where(
        DagNodeRecord.dag_id.in_(ids)).order_by(DagNodeRecord.cluster_id)))
    blockers = {}
    for child, parent, state in connection.execute(
            select(JobEdge.child_cluster, JobEdge.parent_cluster, JobEdge.state).where(
                JobEdge.child_cluster.in_([n.cluster_id for n in nodes]))):
        if state == EDGE_FAILED:
            blockers.setdefault(child, []).append(parent)
    names = {node.cluster_id: node.name for node in nodes}
    for node in nodes:
        ad = ClassAd({"DAGNodeName": node.name, "ClusterId": node.cluster_id,
                      DAG_ID: node.dag_id, "Phase": node.phase, "Category": node.category,
                      "Retries": node.retries, "MaxRetries": node.max_retries,
                      "Reason": node.reason})
        if node.return_value is not None:
            ad["ReturnValue"] = node.return_value
        if node.pre_return is not None:
            ad["PreScriptReturn"] = node.pre_return
        if node.cluster_id in blockers:
            ad["BlockedBy"] = ",".join(names.get(p, str(p)) for p in blockers[node.cluster_id])
        ads.append(ad)
    return dag, ads


def dag_of_cluster(connection: Connection, cluster: int) -> int | None:
    return connection.scalar(select(DagNodeRecord.dag_id).where(
        DagNodeRecord.cluster_id == cluster))


def max_idle_dag(connection: Connection, cluster: int) -> int | None:
    """The DAG of a node's cluster when that DAG has a -maxidle (a start frees room)."""
    return connection.scalar(select(DagRecord.dag_id).join(
        DagNodeRecord, DagNodeRecord.dag_id == DagRecord.dag_id).where(
            DagNodeRecord.cluster_id == cluster, DagRecord.max_idle > 0,
            DagRecord.status == RUNNING))


def _int(ad: ClassAd, name: str) -> int:
    value = ad.eval(name) if name in ad else 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _opt(ad: ClassAd, name: str) -> int | None:
    value = ad.eval(name) if name in ad else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(ad: ClassAd, name: str) -> str:
    value = ad.eval(name) if name in ad else ""
    return value if isinstance(value, str) else ""
