"""Settling: what the ends of jobs do to the jobs that wait for them, run to its end inside
the transaction that recorded the ends.

A plain job's end decides its edges itself (``schedd.dependency_store``); a DAG node's
decides its node, whose scripts, retries and ABORT-DAG-ON decide its edges
(``schedd.dag_store``).  Either way the children whose edges changed are released (a
DAG's, as its throttles allow) or blocked, and a blocked job is an end in turn: the loop
goes on until nothing more changes.  Every edge points to a smaller cluster id, so it
ends.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from classad import ClassAd
from schedd import dag_store, dependency_store
from schedd.dag_store import Step
from schedd.dependency_store import Settled
from schedd.queue_store import JobKey


def settle(connection: Connection, now: int, *, ended: Iterable[tuple[JobKey, ClassAd]] = (),
           step: Step | None = None) -> list[Settled]:
    """Run ``step`` (and the ends ``ended``) to its end; every change made, in order."""
    step = step or Step()
    step.ended += list(ended)
    settled: list[Settled] = []
    while step.ended or step.touched or step.dags:
        ended_now, touched, dags = step.ended, step.touched, step.dags
        step.ended, step.touched, step.dags = [], [], set()
        if ended_now:
            nodes = dag_store.nodes_of(connection, {key.cluster_id for key, _ in ended_now})
            plain = [(key, ad) for key, ad in ended_now if key.cluster_id not in nodes]
            if plain:
                step.touched += dependency_store.mark_edges(connection, plain)
            for cluster in sorted({key.cluster_id for key, _ in ended_now} & set(nodes)):
                dag_store.jobs_ended(connection, nodes[cluster], now, step)
        if touched:
            ready, blocked, changed = dependency_store.resolve(connection,
                                                               sorted(set(touched)), now)
            step.settled += changed
            step.ended += blocked
            nodes = dag_store.nodes_of(connection, ready)
            step.settled += dependency_store.release(
                connection, [c for c in ready if c not in nodes], now)
            dag_store.mark_ready(connection, [c for c in ready if c in nodes], step)
        for dag_id in sorted(dags):
            dag_store.pump(connection, dag_id, now, step)
        settled += step.settled
        step.settled = []
    for dag_id in sorted(step.check):
        dag_store.finish(connection, dag_id, now)
    step.check.clear()
    return settled
