"""The schedd's DAG requests, each one transaction of the job queue: submit a DAG, record
a script's end, show, remove and retry a DAG.  Who may: a DAG's owner, or a queue
administrator, as for jobs."""

from __future__ import annotations

from collections.abc import Sequence

from schedd import dag_node, dag_store, workflow
from schedd.dag_store import DagSpec, NodeSpec, Step
from schedd.job_queue import ActOutcome, Caller, JobChange, JobQueue, QueueError, settled_change
from schedd.job_status import JobStatus


class DagQueue:
    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs

    def submit(self, caller: Caller, dags: Sequence[DagSpec], nodes: Sequence[NodeSpec]
               ) -> tuple[list[int], list[int]]:
        """Queue DAGs (a DAG and its SUBDAGs) and their nodes as ``caller``; all or
        nothing.  The nodes with no parents start as the throttles allow."""
        for node in nodes:
            for ad in [node.cluster_ad, *node.proc_ads]:
                if "Owner" in ad and ad.eval("Owner") != caller.user:
                    raise QueueError("denied", f"{caller.user} may not submit jobs as "
                                     f"{ad.eval('Owner')}")
                if "Parents" in ad:
                    raise QueueError("invalid", "a DAG's nodes take their parents from the "
                                     "DAG file (PARENT ... CHILD ...), not from Parents")
        now = self.jobs.now()
        nodes = [_owned(node, caller.user) for node in nodes]
        with self.jobs.transaction() as connection:
            step = Step()
            try:
                dag_ids, clusters = dag_store.create(connection, caller.user, dags, nodes,
                                                     now, step)
            except ValueError as error:
                raise QueueError("invalid", str(error)) from None
            events = [JobChange(f"{cluster}.*", JobStatus.WAITING, "submitted", now,
                                {"ClusterId": cluster, "Procs": node.count or
                                 len(node.proc_ads)})
                      for cluster, node in zip(clusters, nodes, strict=True)]
            events += [settled_change(one, now) for one in workflow.settle(connection, now,
                                                                     step=step)]
        self.jobs.tell(events)
        return dag_ids, clusters

    def script_ended(self, cluster: int, kind: str, code: int) -> bool:
        """A node's PRE or POST script exited with ``code`` (the shell, schedd.dag_scripts,
        ran it); False when the node no longer waits for it."""
        now = self.jobs.now()
        with self.jobs.transaction() as connection:
            step = Step()
            if not dag_store.script_ended(connection, cluster, kind, code, now, step):
                return False
            events = [settled_change(one, now) for one in workflow.settle(connection, now,
                                                                    step=step)]
        self.jobs.tell(events)
        return True

    def scripts_due(self) -> list:
        with self.jobs.engine.connect() as connection:
            return dag_store.scripts_due(connection)

    def view(self, dag_id: int):
        with self.jobs.engine.connect() as connection:
            try:
                return dag_store.view(connection, dag_id)
            except LookupError as error:
                raise QueueError("not-found", str(error)) from None

    def remove(self, caller: Caller, dag_id: int, reason: str) -> int:
        """``roost dag rm``: the DAG stops; its nodes' jobs are removed."""
        now = self.jobs.now()
        with self.jobs.transaction() as connection:
            dag = self._owned_dag(connection, caller, dag_id)
            if dag.status != dag_node.RUNNING:
                raise QueueError("invalid", f"DAG {dag_id} has already ended ({dag.status})")
            step = Step()
            dag_store.abort(connection, dag_id, None, reason or "via roost dag rm", now, step,
                            status=dag_node.REMOVED)
            changes = workflow.settle(connection, now, step=step)
            events = [settled_change(one, now) for one in changes]
        self.jobs.tell(events)
        return sum(1 for one in changes if one.kind == "remove")

    def retry(self, caller: Caller, dag_id: int, reason: str) -> ActOutcome:
        """``roost retry DAG``: its nodes that did not succeed run again."""
        now = self.jobs.now()
        with self.jobs.transaction() as connection:
            self._owned_dag(connection, caller, dag_id)
            step = Step()
            try:
                count = dag_store.retry(connection, dag_id, reason or "via roost retry",
                                        now, step)
            except ValueError as error:
                raise QueueError("invalid", str(error)) from None
            events = [settled_change(one, now) for one in workflow.settle(connection, now,
                                                                    step=step)]
        self.jobs.tell(events)
        return ActOutcome(matched=count, changed=count, errors=[])

    def retry_node(self, caller: Caller, cluster: int, reason: str) -> ActOutcome:
        """``roost retry CLUSTER`` of a DAG node's cluster: the node runs again, and what
        it blocked waits again."""
        now = self.jobs.now()
        with self.jobs.transaction() as connection:
            dag_id = dag_store.dag_of_cluster(connection, cluster)
            self._owned_dag(connection, caller, dag_id)
            step = Step()
            try:
                count = dag_store.retry_node(connection, cluster,
                                             reason or "via roost retry", now, step)
            except ValueError as error:
                raise QueueError("invalid", str(error)) from None
            events = [settled_change(one, now) for one in workflow.settle(connection, now,
                                                                    step=step)]
        self.jobs.tell(events)
        return ActOutcome(matched=count, changed=count, errors=[])

    @staticmethod
    def _owned_dag(connection, caller: Caller, dag_id: int):
        dag = dag_store.dag_row(connection, dag_id)
        if dag is None:
            raise QueueError("not-found", f"no DAG {dag_id}")
        if not caller.may_change(dag.owner):
            raise QueueError("denied", f"DAG {dag_id}: permission denied ({caller.user} is "
                             f"not its owner {dag.owner})")
        return dag


def _owned(node: NodeSpec, owner: str) -> NodeSpec:
    cluster_ad = node.cluster_ad.copy()
    cluster_ad["Owner"] = owner
    return NodeSpec(node.dag, node.node_ad, cluster_ad, node.proc_ads, node.count,
                    node.parents)
