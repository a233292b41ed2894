"""The next job a claim takes: JobPrio first, then cluster and proc; the owner's runnable
idle jobs only; the claim's record names the job in the same transaction, and no other
claim is offered a job a claim holds."""

from __future__ import annotations

import itertools
import random
import threading

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from classad import ClassAd, ExprTree
from schedd.job_queue import Caller, JobQueue
from schedd.lifecycle import JobExited, JobStarted, job_id
from schedd.models import ClaimRecord
from schedd.retries import Failure

ALICE = Caller("alice", admin=False)
BOB = Caller("bob", admin=False)
_claim_ids = itertools.count(1)


def submit(pool, caller=ALICE, count: int = 2, **attrs) -> int:
    cluster, _ = pool.jobs.submit(caller, ClassAd({"Cmd": "/bin/true", **attrs}), [], count)
    return cluster


def record(owner: str = "alice") -> dict:
    """A new claim's record but its id and job."""
    return {"startd_address": "127.0.0.1:1", "slot_name": "slot1@node1", "owner": owner,
            "slot_ad": "", "lease": 60}


def new_claim(jobs, owner: str = "alice", accept=lambda ad: True):
    """(claim id, its job) of a claim just granted, or (None, None) when no job is left."""
    claim_id = f"claim{next(_claim_ids)}"
    job = jobs.idle_job_for(owner, accept, claim_id, record(owner))
    return (claim_id, job) if job is not None else (None, None)


def taken_in_turn(pool, owner: str = "alice", accept=lambda ad: True) -> list[str]:
    """The jobs new claims would take one after another, each holding its own; the claims
    are dropped afterwards."""
    claims = []
    while (claim := new_claim(pool.jobs, owner, accept))[1] is not None:
        claims.append(claim)
    for claim_id, _ in claims:
        pool.jobs.drop_claim(claim_id)
    return [job_id(job) for _, job in claims]


def run(pool, job: str, exit_code: int = 0) -> None:
    now = pool.jobs.now()
    pool.jobs.job_started(job, JobStarted("slot1@node1", now))
    pool.jobs.job_exited(job, JobExited(now, "slot1@node1", Failure.NONE, exit_code=exit_code))


def holders(pool) -> dict[str, str]:
    return {r.claim_id: r.job_id for r in pool.jobs.claims()}


def test_jobs_are_taken_by_job_prio_then_cluster_and_proc(pool):
    submit(pool)
    submit(pool, JobPrio=5)
    submit(pool, caller=BOB)
    submit(pool, JobPrio=-1, count=1)
    assert taken_in_turn(pool) == ["2.0", "2.1", "1.0", "1.1", "4.0"]
    assert taken_in_turn(pool, "BOB") == ["3.0", "3.1"]  # owners compare without case
    assert pool.jobs.claims() == []


def test_a_job_the_slot_refuses_or_that_waits_out_a_back_off_is_not_taken(pool):
    submit(pool, RequestMemory=4096)
    submit(pool, count=1, JobMaxRetries=1, JobSuccessExitCode=0,
           OnExitRemove=ExprTree(
               "NumJobCompletions > JobMaxRetries || ExitCode is JobSuccessExitCode"))
    small = taken_in_turn(pool, accept=lambda ad: ad.eval("RequestMemory") != 4096)
    assert small == ["2.0"]
    run(pool, "2.0", exit_code=1)
    assert taken_in_turn(pool, accept=lambda ad: ad.eval("RequestMemory") != 4096) == []
    pool.clock.now += 3600
    assert taken_in_turn(pool, accept=lambda ad: ad.eval("RequestMemory") != 4096) == ["2.0"]


def test_a_claim_records_the_job_it_takes(pool):
    submit(pool)
    claim_id, first = new_claim(pool.jobs)
    assert holders(pool) == {claim_id: job_id(first)} and job_id(first) == "1.0"
    run(pool, "1.0")
    second = pool.jobs.idle_job_for("alice", lambda ad: True, claim_id)
    assert holders(pool) == {claim_id: job_id(second)} and job_id(second) == "1.1"
    run(pool, "1.1")
    assert pool.jobs.idle_job_for("alice", lambda ad: True, claim_id) is None
    assert holders(pool) == {claim_id: "1.1"}  # no job found: the record keeps the last one


def test_a_job_a_claim_holds_is_offered_to_no_other_claim_until_it_lets_go(pool):
    submit(pool, count=1)
    holder, job = new_claim(pool.jobs)
    assert job_id(job) == "1.0"
    # Idle still (not started yet), but held: neither looked at nor taken by another.
    assert pool.jobs.idle_job_for("alice", lambda ad: True) is None
    assert new_claim(pool.jobs) == (None, None)
    # A schedd that restarts reads the holds from the table, not from its memory.
    again = JobQueue(pool.engine, clock=pool.clock)
    try:
        assert again.idle_job_for("alice", lambda ad: True) is None
        assert new_claim(again) == (None, None)
    finally:
        again.close()
    # The holder may take it again (a retry on the same claim); it lets go of it when it
    # takes another job or is dropped.
    assert job_id(pool.jobs.idle_job_for("alice", lambda ad: True, holder)) == "1.0"
    pool.jobs.drop_claim(holder)
    assert job_id(new_claim(pool.jobs)[1]) == "1.0"


def test_a_claim_that_takes_another_job_lets_go_of_its_last(pool):
    submit(pool, count=1)
    submit(pool, count=1, JobPrio=-1)
    holder, job = new_claim(pool.jobs)
    assert job_id(job) == "1.0"
    # 1.0 is not run (its claim went on to 2.0 after, say, the startd refused it).
    assert job_id(pool.jobs.idle_job_for("alice", lambda ad: ad.eval("JobPrio") == -1,
                                         holder)) == "2.0"
    assert job_id(new_claim(pool.jobs)[1]) == "1.0"


def test_a_dropped_claim_takes_nothing(pool):
    submit(pool, count=1)
    holder, _ = new_claim(pool.jobs)
    pool.jobs.drop_claim(holder)
    assert pool.jobs.idle_job_for("alice", lambda ad: True, holder) is None
    assert pool.jobs.claims() == []


def test_holds_count_past_the_first_rows_too(pool):
    # More refused procs than the first rows read: the rest is found cluster by cluster.
    submit(pool, count=100, RequestMemory=4096)
    submit(pool, count=3)
    submit(pool, count=1)
    submit(pool, count=1, JobPrio=-5)
    small = taken_in_turn(pool, accept=lambda ad: ad.eval("RequestMemory") != 4096)
    assert small == ["2.0", "2.1", "2.2", "3.0", "4.0"]


def test_two_claims_cannot_hold_one_job_whatever_writes_them(pool):
    submit(pool, count=1)
    _, job = new_claim(pool.jobs)
    with pool.engine.begin() as connection, pytest.raises(IntegrityError):
        connection.execute(insert(ClaimRecord).values(claim_id="forged", job_id=job_id(job),
                                                      **record()))


def test_many_claims_taking_jobs_at_once_never_hold_one_job_together(pool):
    """Claims of many threads take, run, let go of and requeue jobs through one queue,
    thousands of times; a job a claim took is never given to another before the first
    claim has let go of it (taken another job, or been dropped)."""
    submit(pool, count=400)
    submit(pool, count=40, JobPrio=1)
    threads, takes = 12, 250
    holding: dict[str, str] = {}  # job -> the claim that took it, as the claims see it
    lock = threading.Lock()
    clashes: list[tuple[str, str, str]] = []
    errors: list[str] = []
    taken = [0] * threads

    def claims(n: int) -> None:
        try:
            claim(n)
        except Exception as error:  # noqa: BLE001 - reported by the test, not the thread
            errors.append(repr(error))

    def claim(n: int) -> None:
        rng = random.Random(n)
        # Some claims' slots take only the high-priority cluster, past the others' rows.
        accept = (lambda ad: ad.eval("JobPrio") == 1) if n % 4 == 0 else (lambda ad: True)
        claim_id, job = None, None
        for _ in range(takes):
            if job is not None:
                # Let go in this test's books before the queue lets go (the next take),
                # so that a job seen taken twice here was held twice there.
                with lock:
                    del holding[job]
            if claim_id is not None and rng.random() < 0.05:
                pool.jobs.drop_claim(claim_id)  # the claim's work life is over
                claim_id = None
            if claim_id is None:
                claim_id, ad = new_claim(pool.jobs, accept=accept)
            else:
                ad = pool.jobs.idle_job_for("alice", accept, claim_id)
            if ad is None:
                if claim_id is not None:
                    pool.jobs.drop_claim(claim_id)
                claim_id, job = None, None
                continue
            job = job_id(ad)
            taken[n] += 1
            with lock:
                if job in holding:
                    clashes.append((job, holding[job], claim_id))
                holding[job] = claim_id
            if rng.random() < 0.1:  # most claims move on before running theirs
                run(pool, job, exit_code=rng.choice((0, 0, 0, 1)))

    workers = [threading.Thread(target=claims, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert (clashes, errors) == ([], [])
    assert sum(taken) > 2000
    held = [r.job_id for r in pool.jobs.claims() if r.job_id]
    assert len(held) == len(set(held))
