"""What the schedd does with the submit commands that ask it for a policy beyond the
Periodic* expressions: allowed_job_duration and allowed_execute_duration hold a run that
lasts too long; leave_in_queue keeps a finished job in the queue until it turns false."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from roost.client import JobAction
from roost.submit_description import parse_submit
from schedd import queue_store
from schedd.job_queue import Caller
from schedd.job_status import HoldCode, JobStatus
from schedd.lifecycle import JobExited, JobStarted
from schedd.models import Job
from schedd.queue_store import JobKey
from schedd.retries import Failure

ALICE = Caller("alice", admin=False)


def submit(pool, text: str) -> None:
    plan = parse_submit(f"executable = /bin/run\n{text}\nqueue\n", cwd=Path("/tmp"),
                        owner="alice", now=int(pool.clock.now))
    pool.jobs.submit(ALICE, plan.cluster_ad, plan.procs, plan.count)


def start(pool) -> int:
    now = int(pool.clock.now)
    pool.jobs.job_started("1.0", JobStarted("slot1@node1", now))
    return now


def status(pool) -> tuple:
    (ad,) = pool.client().query()
    return ad["JobStatus"], ad.get("HoldReasonCode"), ad.get("HoldReason")


def test_a_run_is_held_once_it_has_lasted_its_allowed_job_duration(pool):
    submit(pool, "allowed_job_duration = 600")
    began = start(pool)
    pool.clock.now = began + 599
    assert pool.jobs.periodic() == 0
    assert status(pool)[0] == JobStatus.RUNNING
    pool.clock.now = began + 600
    assert pool.jobs.periodic() == 1
    assert status(pool) == (JobStatus.HELD, HoldCode.JOB_DURATION_EXCEEDED,
                            "The job exceeded allowed job duration of 0:10:00")


def test_a_run_is_held_once_it_has_run_longer_than_its_allowed_execute_duration(pool):
    submit(pool, "allowed_execute_duration = 90000")
    began = start(pool)
    pool.clock.now = began + 90000
    assert pool.jobs.periodic() == 0
    pool.clock.now = began + 90001
    assert pool.jobs.periodic() == 1
    assert status(pool) == (JobStatus.HELD, HoldCode.JOB_EXECUTE_EXCEEDED,
                            "The job exceeded allowed execute duration of 1+01:00:00")


def test_an_idle_job_is_not_held_for_its_durations(pool):
    submit(pool, "allowed_job_duration = 1\nallowed_execute_duration = 1")
    pool.clock.now += 1000
    assert pool.jobs.periodic() == 0
    assert status(pool)[0] == JobStatus.IDLE


def finish(pool, exit_code: int = 0):
    began = start(pool)
    pool.clock.now = began + 10
    return pool.jobs.job_exited("1.0", JobExited(began + 10, "slot1@node1", Failure.NONE,
                                                 exit_code=exit_code))


def test_leave_in_queue_keeps_a_completed_job_until_qedit_lets_it_go(pool):
    submit(pool, "leave_in_queue = true")
    assert finish(pool)["JobStatus"] == JobStatus.COMPLETED
    assert pool.jobs.periodic() == 0  # still true: it stays
    assert status(pool)[0] == JobStatus.COMPLETED
    assert list(pool.client().history()) == []
    assert pool.client().edit("1.0", "LeaveJobInQueue", "false") == 1
    assert pool.client().query() == []
    (done,) = list(pool.client().history())
    assert done["JobStatus"] == JobStatus.COMPLETED


def test_leave_in_queue_lets_the_job_go_at_the_periodic_pass_once_it_turns_false(pool):
    submit(pool, "+Keep = true\nleave_in_queue = Keep")
    finish(pool, exit_code=3)
    assert pool.jobs.periodic() == 0
    # Keep turns false behind the queue's back (as an expression on time() would).
    with pool.engine.begin() as connection:
        row = queue_store.job_row(connection, JobKey(1, 0))
        own = queue_store.parse_text(row.ad)
        own["Keep"] = False
        connection.execute(update(Job).where(Job.cluster_id == 1)
                           .values(ad=queue_store.ad_text(own)))
    assert status(pool)[0] == JobStatus.COMPLETED
    assert pool.jobs.periodic() == 1
    assert pool.client().query() == []
    (done,) = list(pool.client().history())
    assert (done["JobStatus"], done["ExitCode"]) == (JobStatus.COMPLETED, 3)


def test_a_completed_job_left_in_the_queue_leaves_it_when_removed(pool):
    submit(pool, "leave_in_queue = JobStatus == 4")
    finish(pool)
    pool.client().act(JobAction.Remove, "1.0")
    assert pool.client().query() == []
    (gone,) = list(pool.client().history())
    assert gone["JobStatus"] == JobStatus.REMOVED


def test_a_job_without_leave_in_queue_goes_to_the_history_when_it_completes(pool):
    submit(pool, "leave_in_queue = false")
    finish(pool)
    assert pool.client().query() == []
    assert len(list(pool.client().history())) == 1
