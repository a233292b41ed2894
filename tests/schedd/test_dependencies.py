"""Dependencies between jobs in the queue: edges as rows, a Waiting state apart from Idle,
children released or blocked in the transaction that ends their parent, and retry and
rerun that make blocked children wait again.  On SQLite and PostgreSQL (``pool``)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from classad import ClassAd, ExprTree
from schedd import dependencies, lifecycle, queue_store
from schedd.autocluster import AutoclusterIndex
from schedd.dependencies import ANY_END, Parent, parse_parents
from schedd.job_queue import Caller, QueueError
from schedd.job_status import JobStatus
from schedd.lifecycle import Action, Failure, JobExited, JobStarted
from schedd.models import JobEdge
from schedd.reschedule import Rescheduler

ALICE = Caller("alice", admin=False)
BOB = Caller("bob", admin=False)
WAIT, IDLE, DONE, GONE = (JobStatus.WAITING, JobStatus.IDLE, JobStatus.COMPLETED,
                          JobStatus.REMOVED)


def job(**attrs) -> ClassAd:
    ad = ClassAd({"Cmd": "/bin/true", "JobStatus": 1, "RequestCpus": 1})
    for name, value in attrs.items():
        ad[name] = value
    return ad


class Queue:
    def __init__(self, jobs) -> None:
        self.jobs = jobs
        self.events = []
        jobs.listen(self.events.extend)

    def submit(self, count=1, caller=ALICE, **attrs) -> int:
        return self.jobs.submit(caller, job(**attrs), [], count)[0]

    def status(self, job_id: str) -> JobStatus:
        """The job's status in the queue, else its latest in the history."""
        cluster, proc = (int(n) for n in job_id.split("."))
        for ad in self.jobs.query(f"ClusterId == {cluster} && ProcId == {proc}"):
            lifecycle.validate(ad)
            return JobStatus(ad.eval("JobStatus"))
        ad = self.history(job_id)
        lifecycle.validate(ad)
        return JobStatus(ad.eval("JobStatus"))

    def history(self, job_id: str) -> ClassAd:
        cluster, proc = (int(n) for n in job_id.split("."))
        return next(self.jobs.history(f"ClusterId == {cluster} && ProcId == {proc}"))

    def run(self, job_id: str, code: int = 0, failure=Failure.NONE) -> None:
        self.jobs.job_started(job_id, JobStarted("host", self.jobs.now()))
        self.jobs.job_exited(job_id, JobExited(self.jobs.now(), "host", failure,
                                               exit_code=code if failure is Failure.NONE
                                               else None,
                                               exit_signal=9 if failure is Failure.SIGNAL
                                               else None))

    def kinds(self, job_id: str) -> list[str]:
        return [e.kind for e in self.events if e.job_id == job_id]


@pytest.fixture
def q(pool):
    return Queue(pool.jobs)


# -- the pure part ---------------------------------------------------------------------------


def test_parents_are_clusters_or_procs_in_a_string_or_a_list():
    assert parse_parents("12, 13.4 12") == [Parent(12), Parent(13, 4)]
    assert parse_parents(["7", 8, "9.0"]) == [Parent(7), Parent(8), Parent(9, 0)]
    assert dependencies.parents_text(parse_parents("3.1,2")) == "3.1, 2"
    for bad in ("", "12.x", "0", "-3", [True], 1.5):
        with pytest.raises(ValueError, match="Parents"):
            parse_parents(bad)


def test_edge_states():
    assert dependencies.edge_state(True, [True, None]) == dependencies.PENDING
    assert dependencies.edge_state(True, [True, True]) == dependencies.MET
    assert dependencies.edge_state(True, [None, False]) == dependencies.FAILED
    assert dependencies.edge_state(False, [False, True]) == dependencies.MET


def test_satisfied_by_is_success_or_finished():
    assert dependencies.need_success(ClassAd())
    assert not dependencies.need_success(ClassAd({"ParentsSatisfiedBy": "Finished"}))
    with pytest.raises(ValueError, match="ParentsSatisfiedBy"):
        dependencies.need_success(ClassAd({"ParentsSatisfiedBy": "often"}))


def test_success_is_the_exit_code_the_job_names():
    done = {"JobStatus": 4, "ExitBySignal": False}
    assert dependencies.succeeded(ClassAd({**done, "ExitCode": 0}))
    assert not dependencies.succeeded(ClassAd({**done, "ExitCode": 3}))
    assert dependencies.succeeded(ClassAd({**done, "ExitCode": 3, "JobSuccessExitCode": 3}))
    assert not dependencies.succeeded(ClassAd({"JobStatus": 3}))
    assert not dependencies.succeeded(ClassAd({"JobStatus": 4, "ExitBySignal": True,
                                               "ExitSignal": 9}))


# -- in the queue ----------------------------------------------------------------------------


def test_a_child_waits_apart_from_idle_jobs(q, pool):
    parent = q.submit(count=3)
    child = q.submit(count=2, Parents=str(parent))
    assert q.status(f"{child}.0") == WAIT
    ad = next(pool.jobs.query(f"ClusterId == {child}"))
    assert ad.eval("Parents") == str(parent)
    # Not an idle job: not in the submitter's counts' idle column, nor in the requests
    # the negotiator is sent, nor a job a claim may take.
    assert pool.jobs.status_counts()["alice"] == {int(IDLE): 3, int(WAIT): 2}
    requests = AutoclusterIndex().requests(pool.jobs, "alice@pool", ClassAd())
    assert sum(r.count for r in requests) == 3
    taken = [pool.jobs.idle_job_for("alice", lambda ad: True, f"claim{n}",
                                    new_claim=_claim(f"slot{n}")) for n in range(5)]
    assert [lifecycle.job_id(ad) for ad in taken if ad is not None] == [
        f"{parent}.0", f"{parent}.1", f"{parent}.2"]
    # One edge for the whole cluster, however many procs it has.
    with pool.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(JobEdge)) == 1
    assert q.kinds(f"{child}.*") == ["submitted"]
    assert [e.status for e in q.events if e.kind == "submitted"] == [IDLE, WAIT]


def _claim(slot: str) -> dict:
    return {"startd_address": "fake:1", "slot_name": slot, "owner": "alice", "slot_ad": "",
            "lease": 60}


def test_a_whole_cluster_edge_is_met_by_its_last_proc(q):
    parent = q.submit(count=2)
    child = q.submit(Parents=str(parent))
    q.run(f"{parent}.0")
    assert q.status(f"{child}.0") == WAIT
    q.run(f"{parent}.1")
    assert q.status(f"{child}.0") == IDLE
    released = [e for e in q.events if e.kind == "released"]
    assert [e.job_id for e in released] == [f"{child}.0"]
    # Released in the commit that ended the parent: the events come in one batch.
    exit_time = [e.time for e in q.events if e.job_id == f"{parent}.1" and e.kind == "exited"]
    assert released[0].time == exit_time[0]


def test_a_released_child_asks_for_a_negotiation_cycle_as_a_submitted_job_does(q, pool):
    parent = q.submit()
    child = q.submit(Parents=str(parent))
    pool.jobs.job_started(f"{parent}.0", JobStarted("host", pool.jobs.now()))
    told = []
    pool.jobs.listen(told.append)
    pool.jobs.job_exited(f"{parent}.0", JobExited(pool.jobs.now(), "host", Failure.NONE,
                                                  exit_code=0))
    assert [(e.job_id, e.kind) for batch in told for e in batch if e.status == IDLE] == [
        (f"{child}.0", "released")]
    asked = threading.Event()
    rescheduler = Rescheduler(lambda: None, asked.set)  # the schedd's listener
    try:
        for batch in told:
            rescheduler.changed(batch)
        assert asked.wait(10)
    finally:
        rescheduler.stop()


def test_a_proc_edge_waits_for_that_proc_alone(q):
    parent = q.submit(count=3)
    child = q.submit(Parents=f"{parent}.1")
    q.run(f"{parent}.1")
    assert q.status(f"{child}.0") == IDLE
    assert q.status(f"{parent}.0") == IDLE


def test_a_failed_parent_blocks_the_child_and_its_children_but_not_the_rest(q):
    a = q.submit()
    b = q.submit()
    child = q.submit(Parents=f"{a}, {b}")
    grandchild = q.submit(Parents=str(child))
    other = q.submit(Parents=str(b))  # another branch
    q.run(f"{a}.0", code=2)
    assert q.status(f"{child}.0") == GONE
    reason = q.history(f"{child}.0")
    assert reason.eval("RemoveReason") == f"blocked: parent {a} did not succeed (job {a}.0 " \
                                           "exited with code 2)"
    assert reason.eval("BlockedBy") == str(a)
    grand = q.history(f"{grandchild}.0")
    assert grand.eval("BlockedBy") == str(child)
    assert "was blocked by" in grand.eval("RemoveReason")
    assert q.status(f"{other}.0") == WAIT
    q.run(f"{b}.0")
    assert q.status(f"{other}.0") == IDLE


def test_signals_and_removal_fail_an_edge_that_needs_success(q, pool):
    a = q.submit()
    child = q.submit(Parents=str(a))
    q.run(f"{a}.0", failure=Failure.SIGNAL)
    assert q.history(f"{child}.0").eval("RemoveReason") == (
        f"blocked: parent {a} did not succeed (job {a}.0 was killed by signal 9)")
    a = q.submit()
    child = q.submit(Parents=str(a))
    pool.jobs.act(ALICE, Action.REMOVE, [f"{a}.0"], "", "")
    assert q.status(f"{child}.0") == GONE
    assert q.history(f"{child}.0").eval("RemoveReason") == (
        f"blocked: parent {a} did not succeed (job {a}.0 was removed)")


def test_finished_is_satisfied_by_any_end(q):
    a = q.submit()
    child = q.submit(Parents=str(a), ParentsSatisfiedBy=ANY_END)
    q.run(f"{a}.0", code=1)
    assert q.status(f"{child}.0") == IDLE


def test_parents_already_ended_decide_at_submit(q):
    good = q.submit()
    q.run(f"{good}.0")
    bad = q.submit()
    q.run(f"{bad}.0", code=1)
    assert q.status(f"{q.submit(Parents=str(good))}.0") == IDLE
    blocked = q.submit(Parents=f"{good}, {bad}.0")
    assert q.status(f"{blocked}.0") == GONE
    assert q.history(f"{blocked}.0").eval("BlockedBy") == f"{bad}.0"


def test_unknown_parents_and_cycles_are_refused_and_nothing_is_queued(q, pool):
    a = q.submit()
    for parents, words in ((str(a + 10), f"unknown parent {a + 10}: no such job"),
                           (f"{a}.7", f"unknown parent {a}.7"),
                           (f"{a}, banana", "'banana' is not a job id")):
        with pytest.raises(QueueError, match=words):
            q.submit(Parents=parents)
    with pytest.raises(QueueError, match=f"cycle: cluster {a + 1} names itself"):
        # What `parents = $(Cluster)` in a submit description makes.
        pool.jobs.submit(ALICE, job(Parents=ExprTree("strcat(ClusterId)")), [], 1)
    assert [lifecycle.job_id(ad) for ad in pool.jobs.query()] == [f"{a}.0"]
    with pool.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(JobEdge)) == 0
    # The next cluster takes the next id: the refused submits left nothing behind.
    assert q.submit() == a + 1


def test_parents_are_the_clusters_not_per_proc_and_not_on_hold(q, pool):
    a = q.submit()
    with pytest.raises(QueueError, match="same for every job of a cluster"):
        pool.jobs.submit(ALICE, job(), [ClassAd({"Parents": str(a)})], 0)
    with pytest.raises(QueueError, match="cannot be submitted on hold"):
        q.submit(Parents=str(a), JobStatus=5, HoldReasonCode=15, HoldReason="x")
    with pytest.raises(QueueError, match="ParentsSatisfiedBy needs Parents"):
        q.submit(ParentsSatisfiedBy="finished")


def test_parents_cannot_be_edited(q, pool):
    a = q.submit()
    child = q.submit(Parents=str(a))
    with pytest.raises(QueueError, match="Parents cannot be changed"):
        pool.jobs.edit(ALICE, [f"{child}.0"], "", {"Parents": '""'})
    assert pool.jobs.edit(ALICE, [f"{child}.0"], "", {"Note": '"ok"'}) == 1


def test_a_waiting_job_can_be_removed_not_held(q, pool):
    a = q.submit()
    child = q.submit(Parents=str(a))
    grandchild = q.submit(Parents=str(child))
    outcome = pool.jobs.act(ALICE, Action.HOLD, [f"{child}.0"], "", "")
    assert outcome.changed == 0 and "waiting -> held" in outcome.errors[0]
    pool.jobs.act(ALICE, Action.REMOVE, [f"{child}.0"], "", "")
    assert q.status(f"{child}.0") == GONE
    assert q.history(f"{grandchild}.0").eval("BlockedBy") == str(child)


def test_retry_of_the_failed_parent_rearms_what_it_blocked_and_nothing_else(q, pool):
    a = q.submit()
    ok = q.submit()
    child = q.submit(Parents=f"{a}, {ok}")
    grandchild = q.submit(Parents=str(child))
    q.run(f"{ok}.0")
    q.run(f"{a}.0", code=1)
    assert q.status(f"{grandchild}.0") == GONE
    outcome = pool.jobs.act(ALICE, Action.RETRY, [str(a)], "", "")
    assert outcome.changed == 1
    assert q.status(f"{a}.0") == IDLE
    assert q.status(f"{child}.0") == WAIT and q.status(f"{grandchild}.0") == WAIT
    assert q.status(f"{ok}.0") == DONE  # it succeeded: left as it was
    assert q.kinds(f"{child}.0")[-1] == "rearmed"
    assert "was retried" in next(pool.jobs.query(f"ClusterId == {child}")).eval("RetryReason")
    # This time the parent succeeds (Parsl #473: the children must not stay failed).
    q.run(f"{a}.0")
    assert q.status(f"{child}.0") == IDLE
    q.run(f"{child}.0")
    assert q.status(f"{grandchild}.0") == IDLE


def test_retry_of_one_failed_job_and_of_a_blocked_one(q, pool):
    a = q.submit(count=2)
    child = q.submit(Parents=str(a))
    q.run(f"{a}.0")
    q.run(f"{a}.1", code=1)
    with pytest.raises(QueueError, match=f"job {child}.0 is blocked by {a}: retry that "
                                         "parent instead"):
        pool.jobs.act(ALICE, Action.RETRY, [str(child)], "", "")
    outcome = pool.jobs.act(ALICE, Action.RETRY, [f"{a}.0"], "", "")
    assert outcome.changed == 0 and "succeeded: nothing to retry" in outcome.errors[0]
    assert pool.jobs.act(ALICE, Action.RETRY, [f"{a}.1"], "", "").changed == 1
    assert q.status(f"{child}.0") == WAIT
    q.run(f"{a}.1")
    assert q.status(f"{child}.0") == IDLE


def test_a_child_with_two_failed_parents_stays_blocked_until_both_are_retried(q, pool):
    a, b = q.submit(), q.submit()
    child = q.submit(Parents=f"{a} {b}")
    q.run(f"{a}.0", code=1)
    q.run(f"{b}.0", code=1)
    pool.jobs.act(ALICE, Action.RETRY, [str(a)], "", "")
    assert q.status(f"{child}.0") == GONE
    pool.jobs.act(ALICE, Action.RETRY, [str(b)], "", "")
    assert q.status(f"{child}.0") == WAIT
    q.run(f"{a}.0")
    q.run(f"{b}.0")
    assert q.status(f"{child}.0") == IDLE


def test_rerun_by_constraint_runs_a_finished_subset_again(q, pool):
    a = q.submit(count=4)
    for proc in range(4):
        q.run(f"{a}.{proc}", code=proc % 2)
    outcome = pool.jobs.act(ALICE, Action.RERUN, [], f"ClusterId == {a} && ProcId >= 2", "")
    assert (outcome.matched, outcome.changed) == (2, 2)
    assert [lifecycle.job_id(ad) for ad in pool.jobs.query()] == [f"{a}.2", f"{a}.3"]
    assert q.status(f"{a}.2") == IDLE
    assert pool.jobs.act(ALICE, Action.RERUN, [], "ClusterId == 9999", "").matched == 0
    with pytest.raises(QueueError, match="permission denied"):
        pool.jobs.act(BOB, Action.RERUN, [], f"ClusterId == {a}", "")
    # The rest of the cluster joins the rerun procs in the queue.
    assert pool.jobs.act(ALICE, Action.RERUN, [f"{a}.0"], "", "").changed == 1
    ids = sorted(lifecycle.job_id(ad) for ad in pool.jobs.query())
    assert ids == [f"{a}.0", f"{a}.2", f"{a}.3"]
    for ad in pool.jobs.query():
        lifecycle.validate(ad)
        assert ad.eval("Cmd") == "/bin/true"
    summary = pool.jobs.summarize(f"ClusterId == {a}")[0][0]
    assert summary.completed == 1  # 1.1 is done; 1.0, 1.2 and 1.3 run again


def test_a_released_cluster_still_shares_its_ad(q, pool):
    a = q.submit()
    child = q.submit(count=50, Parents=str(a))
    q.run(f"{a}.0")
    with pool.engine.connect() as connection:
        texts = set(connection.scalars(select(queue_store.Job.ad).where(
            queue_store.Job.cluster_id == child)))
    assert texts == {""}
    assert [count for _, count in _idle(pool)] == [50]


def _idle(pool):
    with pool.engine.connect() as connection:
        return list(queue_store.idle_jobs(connection, "alice", pool.jobs.now()))
