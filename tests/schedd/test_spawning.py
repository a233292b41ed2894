"""What a running job's credential allows (schedd.spawning): pure checks, no daemon."""

import pytest

from classad import ClassAd
from roost.security import JobGrant
from schedd import spawning
from schedd.dependencies import Parent
from schedd.job_status import JobStatus

GRANT = JobGrant("12.0", run=2, workflow=12)


def job(status, starts, **attrs):
    return ClassAd({"ClusterId": 12, "ProcId": 0, "JobStatus": int(status),
                    "NumJobStarts": starts, **attrs})


@pytest.mark.parametrize(("ad", "expected"), [
    (ClassAd({"ClusterId": 7}), 7),
    (ClassAd({"ClusterId": 7, "WorkflowId": 3}), 3),
    (ClassAd({"ClusterId": 7, "WorkflowId": 3, "DAGManJobId": 5}), 5),
    (ClassAd({"ClusterId": 7, "WorkflowId": "x"}), 7),
])
def test_workflow_of(ad, expected):
    assert spawning.workflow_of(ad) == expected


def test_only_submit_and_reads_are_allowed():
    for method in ("Submit", "Query", "History", "Summarize", "JobEvents"):
        assert spawning.method_refusal(method) is None
    for method in ("Act", "Edit", "SubmitDag", "RemoveDag", "Negotiate"):
        assert f"not call {method}" in spawning.method_refusal(method)


def test_the_run_lives_while_it_runs_or_starts_on_its_claim():
    assert spawning.run_refusal(GRANT, job(JobStatus.RUNNING, 2), claimed=True) is None
    assert spawning.run_refusal(GRANT, job(JobStatus.RUNNING, 2), claimed=False) is None
    # Minted as its claim starts it; the queue has not heard it started yet.
    assert spawning.run_refusal(GRANT, job(JobStatus.IDLE, 1), claimed=True) is None


@pytest.mark.parametrize(("ad", "claimed", "words"), [
    (None, False, "job 12.0 is no longer in the queue"),
    (job(JobStatus.COMPLETED, 2), False, "job 12.0 is completed"),
    (job(JobStatus.IDLE, 2), True, "job 12.0 is idle"),  # its run ended; back in the queue
    (job(JobStatus.IDLE, 1), False, "job 12.0 is idle"),  # not starting on any claim
    (job(JobStatus.HELD, 2), False, "job 12.0 is held"),
    (job(JobStatus.RUNNING, 3), True, "has run again since"),
    (job(JobStatus.RUNNING, 1), True, "job 12.0 is running"),  # an earlier run
])
def test_the_credential_dies_with_the_run(ad, claimed, words):
    assert words in spawning.run_refusal(GRANT, ad, claimed)


def test_spawned_jobs_carry_owner_spawner_workflow_and_batch():
    spawner = job(JobStatus.RUNNING, 2, JobBatchName="eigen")
    ad = spawning.spawned_cluster_ad(GRANT, "alice", spawner, ClassAd({"Cmd": "/bin/true"}))
    assert (ad.eval("Owner"), ad.eval("SpawnedBy"), ad.eval("WorkflowId"),
            ad.eval("JobBatchName")) == ("alice", "12.0", 12, "eigen")
    own = spawning.spawned_cluster_ad(GRANT, "alice", spawner, ClassAd({"JobBatchName": "x"}))
    assert own.eval("JobBatchName") == "x"


def test_spawned_jobs_cannot_claim_another_owner():
    with pytest.raises(ValueError, match="a job of alice may not submit jobs as bob"):
        spawning.spawned_cluster_ad(GRANT, "alice", job(JobStatus.RUNNING, 2),
                                    ClassAd({"Owner": "bob"}))


@pytest.mark.parametrize(("attrs", "spawned", "refused"), [
    ({"SpawnedBy": "1.0"}, False, "SpawnedBy"),
    ({"WorkflowId": 1}, True, "WorkflowId"),
    ({"DAGManJobId": 1}, True, "DAGManJobId"),  # it would be the jobs' workflow
    ({"DAGManJobId": 1}, False, None),
    ({"JobBatchName": "x"}, True, None),
])
def test_only_the_schedd_sets_provenance(attrs, spawned, refused):
    found = spawning.provenance_refusal([ClassAd(), ClassAd(attrs)], spawned)
    assert found == (refused and f"{refused} is set by the schedd, not by a submit")


def test_parents_must_be_of_the_workflow():
    ours = {Parent(12): ClassAd({"ClusterId": 12}),
            Parent(14, 3): ClassAd({"ClusterId": 14, "WorkflowId": 12})}
    assert spawning.parents_refusal(12, ours) is None
    assert "parent 9 is not in workflow 12" in spawning.parents_refusal(
        12, {**ours, Parent(9): ClassAd({"ClusterId": 9})})
    assert "unknown parent 99" in spawning.parents_refusal(12, {Parent(99): None})
