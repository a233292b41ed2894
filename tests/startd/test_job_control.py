"""What the claim's holder asks of its job (startd.states): suspend, continue and vacate,
as condor_suspend, condor_continue and condor_vacate_job reach the startd."""

from __future__ import annotations

import signal

import pytest

from startd.states import (
    BUSY,
    CLAIMED,
    IDLE,
    KILLING,
    PREEMPTING,
    RETIRING,
    SUSPENDED,
    UNCLAIMED,
    VACATING,
    ContinueJob,
    ContinueRequested,
    JobExited,
    JobVacateRequested,
    KillJob,
    RefuseRequest,
    SuspendRequested,
    VacateJob,
    kill_signal,
)

from .test_states import Driver, job_ad

HOLDER_VACATE = "vacate requested by the claim's holder"


def test_the_holder_suspends_and_continues_its_job():
    driver = Driver().busy()
    driver.send(SuspendRequested(driver.slot.claim_id), after=5)
    assert driver.pair == (CLAIMED, SUSPENDED)
    assert driver.kinds() == ["SuspendJob", "SendUpdate"]
    driver.tick(after=5, Cont=True)  # the owner's CONTINUE does not undo the holder's
    assert driver.pair == (CLAIMED, SUSPENDED) and driver.kinds() == []
    driver.send(SuspendRequested(), after=1)  # again: nothing more to do
    assert driver.out == []
    driver.send(ContinueRequested(driver.slot.claim_id), after=5)
    assert driver.pair == (CLAIMED, BUSY)
    assert driver.out[0] == ContinueJob()
    driver.send(ContinueRequested())  # running already
    assert driver.out == [] and driver.pair == (CLAIMED, BUSY)


def test_preempt_still_evicts_a_job_its_holder_suspended():
    driver = Driver().busy()
    driver.send(SuspendRequested())
    driver.tick(after=5, Pre=True, VacateTime=30)
    assert driver.pair == (PREEMPTING, VACATING)
    assert driver.out[0] == VacateJob("PREEMPT is true", 30)


def test_a_suspension_by_the_owner_stays_while_continue_is_false():
    driver = Driver().suspended()  # the owner's SUSPEND (WANT_SUSPEND is true)
    driver.send(SuspendRequested())
    assert driver.out == [] and driver.pair == (CLAIMED, SUSPENDED)
    driver.tick(after=5, Sus=False, Cont=True)  # the holder holds it too
    assert driver.pair == (CLAIMED, SUSPENDED)
    driver.tick(Cont=False)
    driver.send(ContinueRequested())
    assert driver.out == [RefuseRequest("the machine's owner keeps the job suspended "
                                        "(CONTINUE is not true)")]
    assert driver.pair == (CLAIMED, SUSPENDED)
    driver.tick(after=5, Cont=True)  # the owner's policy continues it, as its own
    assert driver.pair == (CLAIMED, BUSY) and driver.out[0] == ContinueJob()


@pytest.mark.parametrize("event", [SuspendRequested, ContinueRequested])
def test_suspend_and_continue_only_while_busy_or_suspended(event):
    driver = Driver().claimed()
    driver.send(event())
    assert len(driver.out) == 1 and isinstance(driver.out[0], RefuseRequest)
    assert "the slot is Claimed/Idle" in driver.out[0].reason
    retiring = Driver().retiring()
    retiring.send(event())
    assert "the slot is Claimed/Retiring" in retiring.out[0].reason
    assert retiring.pair == (CLAIMED, RETIRING)


@pytest.mark.parametrize("event", [SuspendRequested, ContinueRequested, JobVacateRequested])
def test_requests_with_another_claim_id_are_refused(event):
    driver = Driver().busy()
    driver.send(event("not-the-claim"))
    assert driver.out == [RefuseRequest("claim id mismatch")]
    assert driver.pair == (CLAIMED, BUSY)


def test_a_vacate_skips_retirement_soft_kills_then_hard_kills_and_ends_the_claim():
    driver = Driver()
    driver.job = job_ad(JobMaxVacateTime=20)
    driver.busy().tick(Retire=3600)  # retirement protects from others, not the holder
    driver.send(JobVacateRequested(driver.slot.claim_id), after=5)
    assert driver.pair == (PREEMPTING, VACATING)
    assert driver.out[0] == VacateJob(HOLDER_VACATE, 20, signal.SIGTERM)
    driver.send(JobVacateRequested())  # leaving already
    assert driver.out == [] and driver.pair == (PREEMPTING, VACATING)
    driver.tick(after=19)
    assert driver.pair == (PREEMPTING, VACATING)
    driver.tick(after=1)
    assert driver.pair == (PREEMPTING, KILLING)
    assert driver.out[0] == KillJob("vacate time used up")
    driver.send(JobExited())
    assert driver.pair == (UNCLAIMED, IDLE)
    assert driver.kinds() == ["ReleaseResources", "SendUpdate"]


def test_a_vacate_of_a_suspended_job_and_its_kill_signal():
    driver = Driver()
    driver.job = job_ad(KillSig="SIGUSR1")
    driver.busy().send(SuspendRequested())
    driver.send(JobVacateRequested())
    assert driver.pair == (PREEMPTING, VACATING)
    # The shell sends SIGCONT with the soft kill, so that the stopped job gets it.
    assert driver.out[0] == VacateJob(HOLDER_VACATE, 600, signal.SIGUSR1)


def test_a_vacate_without_a_job_is_refused():
    driver = Driver().claimed()
    driver.send(JobVacateRequested())
    assert driver.out == [RefuseRequest("no job runs on the claim")]
    assert driver.pair == (CLAIMED, IDLE)


def test_without_want_vacate_a_vacate_kills_at_once():
    driver = Driver().busy()
    driver.tick(WantVac=False)
    driver.send(JobVacateRequested())
    assert driver.pair == (PREEMPTING, KILLING)
    assert isinstance(driver.out[0], KillJob)


@pytest.mark.parametrize(("kill_sig", "expected"), [
    (None, signal.SIGTERM), ("SIGINT", signal.SIGINT), ("int", signal.SIGINT),
    (" SIGQUIT ", signal.SIGQUIT), (10, signal.SIGUSR1), ("10", signal.SIGUSR1),
    ("SIGBOGUS", signal.SIGTERM), (9999, signal.SIGTERM), (True, signal.SIGTERM),
])
def test_kill_signal(kill_sig, expected):
    job = job_ad() if kill_sig is None else job_ad(KillSig=kill_sig)
    assert kill_signal(job) == expected
    assert kill_signal(None) == signal.SIGTERM

