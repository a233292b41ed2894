"""Jobs that add jobs: what a running job's credential lets it do.  Pure: no I/O, no
clock, no database (``schedd.job_tokens`` mints the credentials and reads the queue).

A running job holds a credential for its run (``roost.security.JobGrant``).  With it the
job may read the queue and submit jobs into its workflow as its owner, and nothing more;
the credential holds only while that run of the job is Running (or being started on its
claim), so it dies with the run.  A job's workflow is its DAG for a DAG node, else the
workflow it was itself spawned into, else its own cluster: spawned jobs stay in the
workflow of whoever spawned the first of them, and may wait only for jobs of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from classad import ClassAd
from roost.security import JobGrant
from schedd.dependencies import Parent
from schedd.job_status import JobStatus

SPAWNED_BY = "SpawnedBy"  # "12.0": the job whose run submitted this one
WORKFLOW_ID = "WorkflowId"  # the workflow a spawned job belongs to
DAG_ID = "DAGManJobId"
BATCH_NAME = "JobBatchName"

# The Schedd methods a job credential may call (their short names): submitting, and what
# anyone authenticated may read.
JOB_METHODS = frozenset({"Submit", "Query", "History", "Summarize", "JobEvents"})


def workflow_of(ad: ClassAd) -> int:
    """The workflow a job belongs to: its DAG's id, else the workflow it was spawned
    into, else its own cluster id."""
    for name in (DAG_ID, WORKFLOW_ID):
        value = ad.eval(name) if name in ad else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return ad.eval("ClusterId")


def method_refusal(method: str) -> str | None:
    """Why a job credential may not call ``method`` (a short name, "Act"); None if it may."""
    if method in JOB_METHODS:
        return None
    return f"a job's credential may only submit jobs and read the queue, not call {method}"


def run_refusal(grant: JobGrant, ad: ClassAd | None, claimed: bool) -> str | None:
    """Why the run ``grant`` was made for is over, from its job's ad in the queue (None:
    no longer there) and whether a claim of the schedd holds the job; None while it runs.

    A run is minted its credential just before its claim starts it, and the queue hears
    that it started only after its processes did, so a job that is Idle, holds a claim
    and has started one run fewer is taken as starting this run."""
    job = grant.job_id
    if ad is None:
        return f"job {job} is no longer in the queue: its credential died with it"
    starts = ad.eval("NumJobStarts") if "NumJobStarts" in ad else 0
    status = ad.eval("JobStatus")
    if status == JobStatus.RUNNING and starts == grant.run:
        return None
    if status == JobStatus.IDLE and starts == grant.run - 1 and claimed:
        return None
    if starts > grant.run:
        return f"job {job} has run again since: its credential was for run {grant.run}"
    try:
        state = JobStatus(status).name.lower()
    except ValueError:
        state = "not running"
    return f"job {job} is {state}: its credential died with run {grant.run}"


def provenance_refusal(ads: Iterable[ClassAd], spawned: bool) -> str | None:
    """Why a submit may not queue ``ads``: they set what only the schedd sets, who spawned
    a job and its workflow (and, for jobs a job submits, a DAG, which would be their
    workflow); None if they do not."""
    names = (SPAWNED_BY, WORKFLOW_ID, DAG_ID) if spawned else (SPAWNED_BY, WORKFLOW_ID)
    for ad in ads:
        for name in names:
            if name in ad:
                return f"{name} is set by the schedd, not by a submit"
    return None


def spawned_cluster_ad(grant: JobGrant, user: str, spawner: ClassAd,
                       cluster_ad: ClassAd) -> ClassAd:
    """The cluster ad of jobs a running job submits: owned by its owner, naming who spawned
    them and their workflow, grouped under the spawner's batch name unless they have one.
    ValueError, in one line, for an ad that names another owner or other provenance."""
    ad = cluster_ad.copy()
    owner = ad.eval("Owner") if "Owner" in ad else user
    if owner != user:
        raise ValueError(f"a job of {user} may not submit jobs as {owner}")
    ad["Owner"] = user
    ad[SPAWNED_BY] = grant.job_id
    ad[WORKFLOW_ID] = grant.workflow
    if BATCH_NAME not in ad and BATCH_NAME in spawner:
        ad[BATCH_NAME] = spawner.lookup(BATCH_NAME)
    return ad


def parents_refusal(workflow: int, found: Mapping[Parent, ClassAd | None]) -> str | None:
    """Why a spawned job may not wait for the parents ``found`` names (with an ad of each,
    from the queue or its history; None for one never queued); None when all are of
    ``workflow``."""
    for parent, ad in sorted(found.items()):
        if ad is None:
            return f"unknown parent {parent}: no such job in the queue or its history"
        if workflow_of(ad) != workflow:
            return (f"parent {parent} is not in workflow {workflow}: a job may wait only for "
                    "jobs of its own workflow")
    return None
