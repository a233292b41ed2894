"""The next job a claim takes: JobPrio first, then cluster and proc; the owner's runnable
idle jobs only; and the claim's record names the job before it starts."""

from __future__ import annotations

from classad import ClassAd, ExprTree
from schedd.job_queue import Caller
from schedd.lifecycle import JobExited, JobStarted, job_id
from schedd.retries import Failure

ALICE = Caller("alice", admin=False)
BOB = Caller("bob", admin=False)


def submit(pool, caller=ALICE, count: int = 2, **attrs) -> int:
    cluster, _ = pool.jobs.submit(caller, ClassAd({"Cmd": "/bin/true", **attrs}), [], count)
    return cluster


def taken_in_turn(pool, owner: str = "alice", accept=lambda ad: True) -> list[str]:
    """The jobs the owner's claims would take one after another, each reserved in turn."""
    taken: list[str] = []
    while (job := pool.jobs.idle_job_for(owner, accept, set(taken))) is not None:
        taken.append(job_id(job))
    return taken


def test_jobs_are_taken_by_job_prio_then_cluster_and_proc(pool):
    submit(pool)
    submit(pool, JobPrio=5)
    submit(pool, caller=BOB)
    submit(pool, JobPrio=-1, count=1)
    assert taken_in_turn(pool) == ["2.0", "2.1", "1.0", "1.1", "4.0"]
    assert taken_in_turn(pool, "BOB") == ["3.0", "3.1"]  # owners compare without case


def test_a_job_the_slot_refuses_or_that_waits_out_a_back_off_is_not_taken(pool):
    submit(pool, RequestMemory=4096)
    submit(pool, count=1, JobMaxRetries=1, JobSuccessExitCode=0,
           OnExitRemove=ExprTree(
               "NumJobCompletions > JobMaxRetries || ExitCode is JobSuccessExitCode"))
    small = taken_in_turn(pool, accept=lambda ad: ad.eval("RequestMemory") != 4096)
    assert small == ["2.0"]
    now = pool.jobs.now()
    pool.jobs.job_started("2.0", JobStarted("slot1@node1", now))
    pool.jobs.job_exited("2.0", JobExited(now, "slot1@node1", Failure.NONE, exit_code=1))
    assert taken_in_turn(pool, accept=lambda ad: ad.eval("RequestMemory") != 4096) == []
    pool.clock.now += 3600
    assert taken_in_turn(pool, accept=lambda ad: ad.eval("RequestMemory") != 4096) == ["2.0"]


def test_a_claim_records_the_job_it_takes(pool):
    submit(pool)
    pool.jobs.add_claim(claim_id="claim1", startd_address="127.0.0.1:1", slot_name="slot1",
                        owner="alice", slot_ad="", job_id="", lease=60)
    first = pool.jobs.idle_job_for("alice", lambda ad: True, set(), "claim1")
    (record,) = pool.jobs.claims()
    assert record.job_id == job_id(first) == "1.0"
    second = pool.jobs.idle_job_for("alice", lambda ad: True, {"1.0"}, "claim1")
    (record,) = pool.jobs.claims()
    assert record.job_id == job_id(second) == "1.1"
    assert pool.jobs.idle_job_for("alice", lambda ad: True, {"1.0", "1.1"}, "claim1") is None
    (record,) = pool.jobs.claims()
    assert record.job_id == "1.1"  # no job found: the record keeps the last one
