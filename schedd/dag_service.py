"""The DAG methods of the Schedd service: thin adapters from messages to
``schedd.dag_queue.DagQueue``, mixed into ``schedd.service.ScheddService``."""

from __future__ import annotations

import logging

import grpc

from classad import ClassAd, ClassAdSyntaxError
from roost.messages import ad_message, message_ad
from roost.rpc import schedd_pb2
from roost.security import current_identity
from schedd.job_queue import Caller, QueueError, QueueFull

log = logging.getLogger("roost.schedd")


def caller() -> Caller:
    identity = current_identity()
    return Caller(identity.name.partition("@")[0], identity.allows("admin"))


class DagService:
    """The DAG methods of the Schedd service (``schedd.dag_queue``), mixed into it."""

    dags = None  # a DagQueue, set by ScheddService

    def SubmitDag(self, requests, context):
        from schedd.dag_store import DagSpec, NodeSpec

        dags, nodes = [], []
        try:
            for request in requests:  # the pieces of one DAG submit, the DAGs in the first
                dags += [DagSpec(message_ad(one.dag_ad), one.parent) for one in request.dags]
                nodes += [NodeSpec(one.dag, message_ad(one.node_ad),
                                   message_ad(one.job.cluster_ad),
                                   [message_ad(ad) for ad in one.job.proc_ads],
                                   one.job.count, list(one.parents))
                          for one in request.nodes]
        except ClassAdSyntaxError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad ad: {error}")
        try:
            dag_ids, clusters = self.dags.submit(caller(), dags, nodes)
        except (QueueError, QueueFull) as error:
            self._fail(context, error)
        log.info("DAG %d: %d node(s) submitted by %s", dag_ids[0], len(clusters),
                 caller().user)
        return schedd_pb2.SubmitDagReply(dag_ids=dag_ids, cluster_ids=clusters)

    def DagStatus(self, request, context):
        try:
            dag, nodes = self.dags.view(request.dag_id)
        except QueueError as error:
            self._fail(context, error)
        return schedd_pb2.DagReply(dag_ad=ad_message(_dag_ad(dag)),
                                   nodes=[ad_message(ad) for ad in nodes])

    def RemoveDag(self, request, context):
        try:
            removed = self.dags.remove(caller(), request.dag_id, request.reason)
            dag, nodes = self.dags.view(request.dag_id)
        except (QueueError, QueueFull) as error:
            self._fail(context, error)
        return schedd_pb2.DagReply(dag_ad=ad_message(_dag_ad(dag)),
                                   nodes=[ad_message(ad) for ad in nodes], changed=removed)


def _dag_ad(dag) -> ClassAd:
    ad = ClassAd({"DAGManJobId": dag.dag_id, "Owner": dag.owner, "JobBatchName": dag.name,
                  "DAGFile": dag.dag_file, "DAGStatus": dag.status, "MaxJobs": dag.max_jobs,
                  "MaxIdle": dag.max_idle, "Reason": dag.reason, "QDate": dag.submitted})
    if dag.return_value is not None:
        ad["ReturnValue"] = dag.return_value
    if dag.ended is not None:
        ad["CompletionDate"] = dag.ended
    if dag.parent_dag is not None:
        ad["ParentDAGManJobId"] = dag.parent_dag
    return ad
