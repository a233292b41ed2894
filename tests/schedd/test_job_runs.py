"""Runs reported to the queue: starts, exits, retries with back-off, attempt history, and
the history table, on a real database."""

from __future__ import annotations

from pathlib import Path

from classad import ClassAd
from roost.submit_description import parse_submit
from schedd import queue_store
from schedd.job_queue import Caller
from schedd.lifecycle import JobExited, JobStarted
from schedd.retries import Failure, Usage

ALICE = Caller("alice", admin=False)


def submit(pool, text: str, count: int = 1) -> int:
    plan = parse_submit(f"executable = /bin/run\n{text}\nqueue {count}\n", cwd=Path("/tmp"),
                        owner="alice", now=int(pool.clock.now))
    cluster, _ = pool.jobs.submit(ALICE, plan.cluster_ad, plan.procs, plan.count)
    return cluster


def runnable(pool) -> int:
    with pool.engine.connect() as connection:
        return sum(count for _, count in queue_store.idle_jobs(connection, "alice",
                                                               pool.jobs.now()))


def run(pool, job_id: str, failure: Failure, **exit) -> ClassAd:
    now = int(pool.clock.now)
    pool.jobs.job_started(job_id, JobStarted("slot1@node1", now))
    pool.clock.now += 100
    return pool.jobs.job_exited(job_id, JobExited(
        now + 100, "slot1@node1", failure, usage=Usage(90.0, 300, 100.0), **exit))


def test_a_failing_job_is_retried_after_a_back_off_then_completes(pool):
    submit(pool, "max_retries = 2")
    ad = run(pool, "1.0", Failure.NONE, exit_code=3)
    assert ad["JobStatus"] == 1
    assert ad["RetryAfter"] == int(pool.clock.now) + 10
    assert runnable(pool) == 0  # waiting out its back-off
    pool.clock.now += 11
    assert runnable(pool) == 1
    ad = run(pool, "1.0", Failure.MACHINE_LOST)  # not the job's fault: no retry used
    assert (ad["JobStatus"], ad["NumJobCompletions"], ad["NumMachineLosses"]) == (1, 1, 1)
    ad = run(pool, "1.0", Failure.NONE, exit_code=0)
    assert ad["JobStatus"] == 4
    (done,) = pool.client().history()
    attempts = done.eval("Attempts")
    assert [a["Failure"] for a in attempts] == ["exit", "machine-lost", "exit"]
    assert [a.get("ExitCode") for a in attempts] == [3, None, 0]
    assert attempts[0]["PeakMemoryMB"] == 300
    assert pool.client().query() == []
    summary = pool.client().summarize()
    assert summary.clusters == []


def test_retries_run_out(pool):
    submit(pool, "max_retries = 1")
    run(pool, "1.0", Failure.NONE, exit_code=1)
    pool.clock.now += 100
    ad = run(pool, "1.0", Failure.NONE, exit_code=1)
    assert (ad["JobStatus"], ad["ExitCode"]) == (4, 1)
    # roost retry brings back only the failed procs of the finished cluster.
    assert pool.client().retry(1) == 1
    (again,) = pool.client().query()
    assert (again["JobStatus"], again["NumJobCompletions"]) == (1, 0)
    assert len(again.eval("Attempts")) == 2


def test_memory_overrun_grows_the_request(pool):
    submit(pool, "max_retries = 2\nrequest_memory = 256\n+RetryRequestMemory = true", count=3)
    ad = run(pool, "1.1", Failure.MEMORY)
    assert (ad["JobStatus"], ad["RequestMemory"]) == (1, 512)
    by_proc = {a["ProcId"]: a["RequestMemory"] for a in pool.client().query()}
    assert by_proc == {0: 256, 1: 512, 2: 256}
    # The grown job is its own autocluster now.
    with pool.engine.connect() as connection:
        assert sorted(n for _, n in queue_store.idle_jobs(connection, "alice", 2**40)) == [1, 2]
