"""The job lifecycle: the transition table, actions, run events and periodic policy, each
checked on the Changes it returns and on the ad those Changes make (``validate``)."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest

import classad
from classad import ClassAd
from roost.submit_description import parse_submit
from schedd import lifecycle
from schedd.job_status import HoldCode, JobStatus
from schedd.lifecycle import (
    TRANSITIONS,
    Action,
    IllegalTransition,
    JobExited,
    JobStarted,
    act,
    applied,
    job_exited,
    job_started,
    periodic,
    transition,
    validate,
)
from schedd.retries import Failure, Usage

IDLE = JobStatus.IDLE
RUNNING = JobStatus.RUNNING
REMOVED = JobStatus.REMOVED
COMPLETED = JobStatus.COMPLETED
HELD = JobStatus.HELD
SUSPENDED = JobStatus.SUSPENDED
WAITING = JobStatus.WAITING
T0 = 1_700_000_000


def apply(ad: ClassAd, changes) -> ClassAd:
    """The ad the queue store would write: a copy with the changes made, validated."""
    new = applied(ad, changes)
    validate(new)
    return new


def job(state: JobStatus = IDLE, text: str = "", hold_code: int = HoldCode.JOB_POLICY) -> ClassAd:
    """A valid job ad in ``state``, plus the attributes in ``text`` (new syntax, no [])."""
    ad = classad.parse_one(f"[ ClusterId = 7; ProcId = 0; Owner = \"alice\"; QDate = {T0};"
                           f" JobStatus = 1; EnteredCurrentStatus = {T0}; NumJobStarts = 0;"
                           f" RequestMemory = 512; {text} ]")
    if state in (RUNNING, SUSPENDED):
        ad.update(JobStatus=int(state), RemoteHost="node1", JobCurrentStartDate=T0 + 10,
                  NumJobStarts=1, JobStartDate=T0 + 10)
    elif state == HELD:
        ad.update(JobStatus=int(HELD), HoldReason="held for the test", HoldReasonCode=hold_code,
                  HoldReasonSubCode=0)
    elif state == COMPLETED:
        ad.update(JobStatus=int(COMPLETED), ExitCode=1, ExitBySignal=False, CompletionDate=T0 + 50,
                  NumJobStarts=1, NumJobCompletions=1)
    elif state == REMOVED:
        ad.update(JobStatus=int(REMOVED), RemoveReason="via roost rm")
    elif state == WAITING:
        ad.update(JobStatus=int(WAITING), Parents="3")
    validate(ad)
    return ad


def submitted(text: str) -> ClassAd:
    """A job ad as parse_submit makes it (so OnExitRemove is the generated one)."""
    plan = parse_submit(f"executable = /bin/run\n{text}\nqueue\n", cwd=Path("/home/alice"),
                        owner="alice", now=T0)
    ad = plan.job(0)
    ad["ClusterId"] = 7
    validate(ad)
    return ad


# -- the table -------------------------------------------------------------------------------


def test_table_is_htcondors():
    assert TRANSITIONS[(IDLE, RUNNING)] == "start"
    assert TRANSITIONS[(RUNNING, COMPLETED)] == "exit"
    assert TRANSITIONS[(HELD, IDLE)] == "release"
    assert TRANSITIONS[(RUNNING, SUSPENDED)] == "suspend"
    assert TRANSITIONS[(SUSPENDED, RUNNING)] == "continue"
    assert TRANSITIONS[(COMPLETED, IDLE)] == TRANSITIONS[(REMOVED, IDLE)] == "retry"
    assert {TRANSITIONS[(s, HELD)] for s in (IDLE, RUNNING, SUSPENDED)} == {"hold"}
    assert {TRANSITIONS[(s, REMOVED)] for s in (IDLE, RUNNING, HELD, SUSPENDED)} == {"remove"}
    assert (REMOVED, REMOVED) not in TRANSITIONS and (HELD, HELD) not in TRANSITIONS
    # A Completed job is retried (to wait for its parents again, if it has some), or
    # removed while its LeaveJobInQueue keeps it queued.
    assert {to for (frm, to) in TRANSITIONS if frm == COMPLETED} == {IDLE, REMOVED, WAITING}
    assert TRANSITIONS[(WAITING, COMPLETED)] == "skip"
    # A job waiting for its parents becomes Idle, is removed (by its owner, or blocked by
    # a parent that failed), or, a DAG node's job that is not run, completes; nothing else.
    assert {to for (frm, to) in TRANSITIONS if frm == WAITING} == {IDLE, REMOVED, COMPLETED}
    assert {frm for (frm, to) in TRANSITIONS if to == WAITING} == {COMPLETED, REMOVED}
    assert not any(JobStatus.TRANSFERRING_OUTPUT in pair for pair in TRANSITIONS)


@pytest.mark.parametrize(("frm", "to"), sorted(TRANSITIONS))
def test_every_legal_transition(frm, to):
    assert transition(job(frm), to, T0 + 99) == {
        "JobStatus": int(to), "LastJobStatus": int(frm), "EnteredCurrentStatus": T0 + 99}


@pytest.mark.parametrize(("frm", "to"), [
    pair for pair in product(JobStatus, repeat=2) if pair not in TRANSITIONS])
def test_every_illegal_pair_raises(frm, to):
    ad = job(IDLE)
    ad["JobStatus"] = int(frm)
    with pytest.raises(IllegalTransition) as caught:
        transition(ad, to, T0)
    message = str(caught.value)
    assert "7.0" in message
    assert f"{frm.name.lower()} -> {to.name.lower()}" in message
    assert (caught.value.current, caught.value.to) == (frm, to)


def test_transition_never_mutates_the_ad():
    ad = job(RUNNING)
    before = str(ad)
    job_exited(ad, JobExited(T0 + 20, "node1", Failure.NONE, exit_code=0))
    act(ad, Action.HOLD, now=T0 + 20)
    assert str(ad) == before


# -- actions ---------------------------------------------------------------------------------

POLICY_HELD, USER_HELD = "held by policy", "held by user"
STATES = {"idle": IDLE, "running": RUNNING, POLICY_HELD: HELD, USER_HELD: HELD,
          "suspended": SUSPENDED, "completed": COMPLETED, "removed": REMOVED,
          "waiting": WAITING}
REMOVABLE = {name: REMOVED for name in ("idle", "running", POLICY_HELD, USER_HELD, "suspended",
                                        "completed", "waiting")}

# action -> {state name: the state it leads to}; every state left out must raise.
ACT_TABLE = {
    Action.REMOVE: REMOVABLE,
    Action.REMOVE_X: REMOVABLE,
    Action.HOLD: {"idle": HELD, "running": HELD, POLICY_HELD: HELD, "suspended": HELD},
    Action.RELEASE: {POLICY_HELD: IDLE, USER_HELD: IDLE},
    Action.SUSPEND: {"running": SUSPENDED},
    Action.CONTINUE: {"suspended": RUNNING},
    Action.VACATE: {"running": RUNNING, "suspended": SUSPENDED},  # asked; the machine ends it
    Action.RETRY: {"completed": IDLE, "removed": IDLE},
    Action.RERUN: {"completed": IDLE, "removed": IDLE},
}


def state_job(name: str) -> ClassAd:
    code = HoldCode.USER_REQUEST if name == USER_HELD else HoldCode.JOB_POLICY
    return job(STATES[name], hold_code=code)


@pytest.mark.parametrize(("action", "name"), list(product(Action, STATES)))
def test_act_on_every_state(action, name):
    ad = state_job(name)
    expected = ACT_TABLE[action].get(name)
    if expected is None:
        with pytest.raises(IllegalTransition, match="7.0"):
            act(ad, action, reason="", now=T0 + 60)
        return
    new = apply(ad, act(ad, action, reason="", now=T0 + 60))
    assert new.eval("JobStatus") == expected
    if expected != STATES[name]:
        assert new.eval("LastJobStatus") == STATES[name]
        assert new.eval("EnteredCurrentStatus") == T0 + 60


def test_hold_sets_reason_code_and_counts():
    ad = job(IDLE)
    held = apply(ad, act(ad, Action.HOLD, reason=None, now=T0 + 5))
    assert (held.eval("HoldReason"), held.eval("HoldReasonCode"),
            held.eval("HoldReasonSubCode")) == ("via roost hold", 1, 0)
    assert held.eval("NumHolds") == 1
    assert held.eval("NumHoldsByReason").eval("UserRequest") == 1
    released = apply(held, act(held, Action.RELEASE, reason="fixed", now=T0 + 6))
    again = apply(released, act(released, Action.HOLD, reason="once more", now=T0 + 7))
    assert again.eval("HoldReason") == "once more"
    assert again.eval("NumHolds") == 2
    assert again.eval("NumHoldsByReason").eval("UserRequest") == 2
    # The last release's reason moves aside, as HTCondor's fixReasonAttrs does.
    assert again.eval("LastReleaseReason") == "fixed" and "ReleaseReason" not in again


def test_hold_of_a_policy_hold_makes_it_the_users():
    ad = job(HELD, hold_code=HoldCode.JOB_POLICY)
    changes = act(ad, Action.HOLD, reason="mine now", now=T0 + 5)
    assert "JobStatus" not in changes
    held = apply(ad, changes)
    assert (held.eval("HoldReasonCode"), held.eval("HoldReason")) == (1, "mine now")
    assert held.eval("EnteredCurrentStatus") == T0


def test_hold_of_a_user_hold_says_so():
    with pytest.raises(IllegalTransition, match="already held by its owner"):
        act(job(HELD, hold_code=HoldCode.USER_REQUEST), Action.HOLD, reason="", now=T0)


def test_release_moves_the_hold_reason_aside():
    ad = job(HELD, hold_code=HoldCode.JOB_POLICY)
    new = apply(ad, act(ad, Action.RELEASE, reason="", now=T0 + 9))
    assert new.eval("ReleaseReason") == "via roost release"
    assert (new.eval("LastHoldReason"), new.eval("LastHoldReasonCode"),
            new.eval("LastHoldReasonSubCode")) == ("held for the test", 3, 0)
    for name in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
        assert name not in new


def test_release_error_names_both_states():
    with pytest.raises(IllegalTransition,
                       match=r"job 7\.0: cannot release it: idle -> idle is not a legal"):
        act(job(IDLE), Action.RELEASE, reason="", now=T0)


def test_remove_of_a_running_job_ends_its_run():
    ad = job(RUNNING)
    new = apply(ad, act(ad, Action.REMOVE, reason="", now=T0 + 70))
    assert new.eval("JobStatus") == REMOVED and new.eval("RemoveReason") == "via roost rm"
    assert "RemoteHost" not in new and new.eval("LastRemoteHost") == "node1"
    assert new.eval("RemoteWallClockTime") == 60.0
    (attempt,) = new.eval("Attempts")
    assert (attempt.eval("Outcome"), attempt.eval("Failure")) == ("removed", "evicted")


def test_remove_of_a_held_job_keeps_the_hold_as_last():
    ad = job(HELD)
    new = apply(ad, act(ad, Action.REMOVE_X, reason="stuck", now=T0 + 1))
    assert new.eval("RemoveReason") == "stuck"
    assert new.eval("LastHoldReasonCode") == 3 and "HoldReasonCode" not in new


@pytest.mark.parametrize("state", [RUNNING, SUSPENDED])
def test_vacate_is_asked_and_the_eviction_requeues_without_using_a_retry(state):
    ad = submitted("max_retries = 2")
    ad = apply(ad, job_started(ad, JobStarted("node1", T0 + 10)))
    if state == SUSPENDED:
        ad = apply(ad, act(ad, Action.SUSPEND, now=T0 + 20))
    asked = apply(ad, act(ad, Action.VACATE, reason="", now=T0 + 40))
    # Still on its machine until the machine says the run is over: never Idle while its
    # processes may live, so never started twice at once.
    assert asked.eval("JobStatus") == state and asked.eval("RemoteHost") == "node1"
    assert asked.eval("VacateReason") == "via roost vacate"
    assert asked.eval("VacateRequested") == T0 + 40 and "Attempts" not in asked
    new = apply(asked, job_exited(asked, JobExited(T0 + 45, "node1", Failure.EVICTED)))
    assert new.eval("JobStatus") == IDLE and "VacateRequested" not in new
    assert new.eval("VacateReason") == "via roost vacate"
    assert new.eval("NumJobCompletions") == 0 and "RetryAfter" not in new
    assert new.eval("NumJobEvictions") == 1
    (attempt,) = new.eval("Attempts")
    assert (attempt.eval("Outcome"), attempt.eval("Failure"), attempt.eval("Reason"),
            attempt.eval("WallSeconds")) == ("requeued", "evicted", "via roost vacate", 35.0)


def test_a_vacated_job_that_exits_first_completes():
    ad = submitted("max_retries = 2")
    ad = apply(ad, job_started(ad, JobStarted("node1", T0 + 10)))
    ad = apply(ad, act(ad, Action.VACATE, reason="moving it", now=T0 + 40))
    done = apply(ad, job_exited(ad, JobExited(T0 + 41, "node1", Failure.NONE, exit_code=0)))
    assert done.eval("JobStatus") == COMPLETED and "VacateRequested" not in done
    assert done.eval("Attempts")[0].eval("Reason") == "exited with code 0"


def test_a_vacate_asked_is_over_when_the_job_is_removed():
    ad = job(RUNNING)
    ad = apply(ad, act(ad, Action.VACATE, now=T0 + 20))
    removed = apply(ad, act(ad, Action.REMOVE, now=T0 + 30))
    assert "VacateRequested" not in removed
    broken = applied(job(IDLE), {"VacateRequested": T0})
    with pytest.raises(AssertionError, match="a vacate is asked only of a job on a machine"):
        validate(broken)


def test_suspend_and_continue_count_the_time():
    ad = job(RUNNING)
    suspended = apply(ad, act(ad, Action.SUSPEND, reason="", now=T0 + 20))
    assert suspended.eval("TotalSuspensions") == 1
    running = apply(suspended, act(suspended, Action.CONTINUE, reason="", now=T0 + 50))
    assert running.eval("CumulativeSuspensionTime") == 30
    assert running.eval("LastSuspensionTime") == 0


@pytest.mark.parametrize("state", [COMPLETED, REMOVED])
def test_retry_clears_the_end_and_keeps_the_history(state):
    ad = submitted("max_retries = 0")
    ad = apply(ad, job_started(ad, JobStarted("node1", T0 + 10)))
    ad = apply(ad, job_exited(ad, JobExited(T0 + 20, "node1", Failure.NONE, exit_code=3)))
    assert ad.eval("JobStatus") == COMPLETED
    if state == REMOVED:
        ad.update(JobStatus=int(REMOVED), RemoveReason="gone")
    new = apply(ad, act(ad, Action.RETRY, reason="", now=T0 + 30))
    assert new.eval("JobStatus") == IDLE and new.eval("RetryReason") == "via roost retry"
    for name in ("ExitCode", "ExitBySignal", "ExitSignal", "RemoveReason", "CompletionDate",
                 "RetryAfter"):
        assert name not in new
    assert new.eval("NumJobCompletions") == 0
    assert len(new.eval("Attempts")) == 1 and new.eval("NumJobStarts") == 1


# -- run events ------------------------------------------------------------------------------


def test_job_started():
    ad = job(IDLE, "RetryAfter = 1700000005")
    first = apply(ad, job_started(ad, JobStarted("node1", T0 + 10, slot="slot1_1")))
    assert (first.eval("JobStatus"), first.eval("RemoteHost"), first.eval("RemoteSlot")) == (
        RUNNING, "node1", "slot1_1")
    assert (first.eval("JobStartDate"), first.eval("JobCurrentStartDate")) == (T0 + 10,) * 2
    assert (first.eval("NumJobStarts"), first.eval("JobRunCount")) == (1, 1)
    assert "RetryAfter" not in first
    lost = apply(first, job_exited(first, JobExited(T0 + 20, "node1", Failure.MACHINE_LOST)))
    second = apply(lost, job_started(lost, JobStarted("node2", T0 + 30)))
    assert second.eval("JobStartDate") == T0 + 10  # the first start only
    assert second.eval("JobCurrentStartDate") == T0 + 30
    assert (second.eval("NumJobStarts"), second.eval("JobRunCount")) == (2, 2)
    assert "RemoteSlot" not in lost


@pytest.mark.parametrize("state", [RUNNING, HELD, COMPLETED, REMOVED, SUSPENDED])
def test_job_started_only_from_idle(state):
    with pytest.raises(IllegalTransition, match="cannot start it"):
        job_started(job(state), JobStarted("node1", T0))


USAGE = Usage(cpu_seconds=42.5, peak_memory_mb=300, wall_seconds=55.0)

# failure, exit code, exit signal -> state after, attempt Outcome (max_retries = 2, first run)
EXIT_TABLE = [
    (Failure.NONE, 0, None, COMPLETED, "completed"),
    (Failure.NONE, 1, None, IDLE, "requeued"),
    (Failure.SIGNAL, None, 9, IDLE, "requeued"),
    (Failure.MEMORY, None, None, HELD, "held"),
    (Failure.MACHINE_LOST, None, None, IDLE, "requeued"),
    (Failure.WALLTIME, None, None, IDLE, "requeued"),
    (Failure.EVICTED, None, None, IDLE, "requeued"),
]


@pytest.mark.parametrize("running", [RUNNING, SUSPENDED])
@pytest.mark.parametrize(("failure", "code", "signal", "after", "outcome"), EXIT_TABLE)
def test_job_exited_for_every_failure(running, failure, code, signal, after, outcome):
    ad = job(running, "JobMaxRetries = 2; OnExitRemove = NumJobCompletions > JobMaxRetries || "
                      "ExitCode =?= 0")
    new = apply(ad, job_exited(ad, JobExited(T0 + 70, "node1", failure, exit_code=code,
                                             exit_signal=signal, usage=USAGE)))
    assert new.eval("JobStatus") == after
    assert "RemoteHost" not in new and new.eval("LastRemoteHost") == "node1"
    assert new.eval("RemoteWallClockTime") == 55.0
    assert new.eval("RemoteUserCpu") == 42.5 and new.eval("MemoryUsage") == 300
    (attempt,) = new.eval("Attempts")
    assert attempt.eval("Outcome") == outcome
    assert attempt.eval("Failure") == failure.value
    # Only the job's own doing uses up a retry.
    assert ("NumJobCompletions" in new) == failure.is_jobs_fault
    assert ("CompletionDate" in new) == (after == COMPLETED)


@pytest.mark.parametrize("state", [IDLE, HELD, COMPLETED, REMOVED])
def test_job_exited_only_while_on_a_machine(state):
    with pytest.raises(IllegalTransition, match="cannot record the end of its run"):
        job_exited(job(state), JobExited(T0, "node1", Failure.NONE, exit_code=0))


def test_exit_attributes():
    ad = job(RUNNING, "JobMaxRetries = 2; OnExitRemove = NumJobCompletions > JobMaxRetries")
    signalled = apply(ad, job_exited(ad, JobExited(T0 + 20, "node1", Failure.SIGNAL,
                                                   exit_signal=11)))
    assert (signalled.eval("ExitBySignal"), signalled.eval("ExitSignal")) == (True, 11)
    assert "ExitCode" not in signalled
    assert signalled.eval("Attempts")[0].eval("Reason") == "killed by signal 11"
    rerun = apply(signalled, job_started(signalled, JobStarted("node2", T0 + 40)))
    exited = apply(rerun, job_exited(rerun, JobExited(T0 + 50, "node2", Failure.NONE,
                                                      exit_code=4, reason="segfault?")))
    assert (exited.eval("ExitBySignal"), exited.eval("ExitCode")) == (False, 4)
    assert "ExitSignal" not in exited
    assert exited.eval("Attempts")[1].eval("Reason") == "segfault?"
    assert exited.eval("RemoteWallClockTime") == 20.0  # no usage: reckoned from the start


def test_exit_while_suspended_ends_the_suspension():
    ad = job(RUNNING)
    ad = apply(ad, act(ad, Action.SUSPEND, reason="", now=T0 + 20))
    done = apply(ad, job_exited(ad, JobExited(T0 + 35, "node1", Failure.NONE, exit_code=0)))
    assert done.eval("CumulativeSuspensionTime") == 15


def test_attempts_survive_printing_and_parsing():
    ad = submitted("max_retries = 3")
    for n, failure in enumerate([Failure.NONE, Failure.WALLTIME, Failure.SIGNAL]):
        ad = apply(ad, job_started(ad, JobStarted(f"node{n}", T0 + 100 * n)))
        ad = apply(ad, job_exited(ad, JobExited(T0 + 100 * n + 50, f"node{n}", failure,
                                                exit_code=2, exit_signal=15)))
    again = classad.parse_one(str(ad))
    validate(again)
    assert again.eval("Attempts") == ad.eval("Attempts")
    assert [a.eval("Failure") for a in again.eval("Attempts")] == ["exit", "walltime", "signal"]
    assert [a.eval("Attempt") for a in again.eval("Attempts")] == [1, 2, 3]


# -- periodic policy -------------------------------------------------------------------------


def test_periodic_hold():
    ad = job(RUNNING, "PeriodicHold = NumJobStarts >= 1")
    new = apply(ad, periodic(ad, T0 + 30))
    assert (new.eval("JobStatus"), new.eval("HoldReasonCode"), new.eval("HoldReasonSubCode")
            ) == (HELD, 3, 0)
    assert new.eval("HoldReason") == ("The job attribute PeriodicHold expression "
                                      "'NumJobStarts >= 1' evaluated to TRUE")
    assert new.eval("Attempts")[0].eval("Outcome") == "held"
    assert new.eval("NumHoldsByReason").eval("JobPolicy") == 1


def test_periodic_hold_with_its_reason_and_subcode():
    ad = job(IDLE, 'PeriodicHold = true; PeriodicHoldReason = strcat("too old: ", QDate); '
                "PeriodicHoldSubCode = 40 + 2")
    new = apply(ad, periodic(ad, T0))
    assert (new.eval("HoldReason"), new.eval("HoldReasonSubCode")) == (f"too old: {T0}", 42)


def test_periodic_hold_beats_remove_and_undefined_holds():
    both = job(IDLE, "PeriodicHold = true; PeriodicRemove = true")
    assert apply(both, periodic(both, T0)).eval("JobStatus") == HELD
    undefined = job(IDLE, "PeriodicHold = NoSuchAttribute > 3; PeriodicRemove = true")
    new = apply(undefined, periodic(undefined, T0))
    assert new.eval("HoldReasonCode") == HoldCode.JOB_POLICY_UNDEFINED
    assert "PeriodicHold" in new.eval("HoldReason") and "UNDEFINED" in new.eval("HoldReason")


def test_periodic_remove():
    ad = job(IDLE, "PeriodicRemove = QDate < 1800000000")
    new = apply(ad, periodic(ad, T0))
    assert new.eval("JobStatus") == REMOVED
    assert new.eval("RemoveReason") == ("The job attribute PeriodicRemove expression "
                                        "'QDate < 1800000000' evaluated to TRUE")


@pytest.mark.parametrize(("code", "released"), [
    (HoldCode.USER_REQUEST, False), (HoldCode.JOB_POLICY, True),
    (HoldCode.JOB_OUT_OF_RESOURCES, True), (HoldCode.SUBMITTED_ON_HOLD, True)])
def test_periodic_release_never_for_user_holds(code, released):
    ad = job(HELD, "PeriodicRelease = NumHolds < 3 || true", hold_code=code)
    changes = periodic(ad, T0 + 1)
    if not released:
        assert changes is None
        return
    new = apply(ad, changes)
    assert new.eval("JobStatus") == IDLE
    assert new.eval("ReleaseReason").startswith("The job attribute PeriodicRelease expression")


def test_periodic_release_submitted_on_hold():
    ad = submitted("hold = true\nperiodic_release = true")
    assert apply(ad, periodic(ad, T0)).eval("JobStatus") == IDLE


@pytest.mark.parametrize(("state", "text"), [
    (IDLE, ""),
    (IDLE, "RetryAfter = 1600000000"),  # waiting is over; the negotiator sees to it
    (IDLE, "PeriodicHold = false; PeriodicRemove = 0"),
    (IDLE, "PeriodicHold = undefined"),  # the literal reads as missing
    (IDLE, "PeriodicHold = 0.5"),  # truncated to 0, as HTCondor reads a number
    (HELD, "PeriodicRemove = NoSuchAttribute"),  # already held
    (HELD, "PeriodicRelease = NoSuchAttribute"),
    (COMPLETED, "PeriodicRemove = true"),
    (REMOVED, "PeriodicHold = true"),
])
def test_periodic_nothing_to_do(state, text):
    assert periodic(job(state, text), T0) is None


def test_periodic_error_holds_with_code_5():
    ad = job(RUNNING, 'PeriodicRemove = "yes" + 1')
    new = apply(ad, periodic(ad, T0 + 5))
    assert new.eval("HoldReasonCode") == 5 and "ERROR" in new.eval("HoldReason")


# -- validate --------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "broken", "rule"), [
    (HELD, {"HoldReasonCode": None}, "HoldReasonCode"),
    (RUNNING, {"RemoteHost": None}, "RemoteHost"),
    (IDLE, {"RemoteHost": "node1"}, "RemoteHost"),
    (IDLE, {"JobStatus": 9}, "not a status"),
    (COMPLETED, {"ExitCode": None}, "ExitCode"),
    (REMOVED, {"RemoveReason": None}, "RemoveReason"),
    (IDLE, {"NumJobCompletions": 1}, "NumJobCompletions"),
])
def test_validate_catches_broken_ads(state, broken, rule):
    with pytest.raises(AssertionError, match=rule):
        apply(job(state), broken)


def test_lifecycle_names_the_job():
    assert lifecycle.job_id(job(IDLE)) == "7.0"
    assert lifecycle.job_id(ClassAd()) == "?.?"


# -- file transfer ---------------------------------------------------------------------------


def test_a_run_whose_files_could_not_move_is_held_with_the_startds_code():
    ad = job(RUNNING)
    changes = lifecycle.job_exited(ad, JobExited(
        T0 + 60, "slot1@desk1", Failure.TRANSFER, exit_code=0,
        reason="the job made no file 'out.txt' (listed in transfer_output_files)",
        hold_code=HoldCode.TRANSFER_OUTPUT_ERROR))
    held = apply(ad, changes)
    assert (held["JobStatus"], held["HoldReasonCode"]) == (HELD, 12)
    assert "out.txt" in held["HoldReason"]
    assert held.eval("NumHoldsByReason")["TransferOutputError"] == 1
    (attempt,) = held.eval("Attempts")
    assert (attempt["Failure"], attempt["Outcome"]) == ("transfer-failed", "held")


def test_transfer_time_is_kept_apart_from_run_time():
    ad = job(RUNNING, "CumulativeTransferTime = 1.5")
    usage = Usage(cpu_seconds=2.0, peak_memory_mb=10, wall_seconds=30.0,
                  transfer_input_seconds=4.0, transfer_output_seconds=2.5)
    done = apply(ad, lifecycle.job_exited(ad, JobExited(T0 + 60, "node1", Failure.NONE,
                                                         exit_code=0, usage=usage)))
    assert done["RemoteWallClockTime"] == 30.0
    assert done["CumulativeTransferTime"] == 8.0
    (attempt,) = done.eval("Attempts")
    assert (attempt["WallSeconds"], attempt["TransferInputSeconds"],
            attempt["TransferOutputSeconds"]) == (30.0, 4.0, 2.5)
    plain = apply(ad, lifecycle.job_exited(ad, JobExited(
        T0 + 60, "node1", Failure.NONE, exit_code=0, usage=Usage(2.0, 10, 30.0))))
    assert "TransferInputSeconds" not in plain.eval("Attempts")[0]


# -- dependencies ----------------------------------------------------------------------------


def test_ready_changes_only_the_status_columns():
    ad = job(WAITING)
    assert lifecycle.ready(ad, T0 + 5) == {"JobStatus": int(IDLE), "EnteredCurrentStatus": T0 + 5}
    apply(ad, lifecycle.ready(ad, T0 + 5))
    with pytest.raises(IllegalTransition, match="cannot ready it"):
        lifecycle.ready(job(IDLE), T0)


def test_blocked_names_the_parent_and_a_retry_makes_it_wait_again():
    changes = lifecycle.blocked(job(WAITING), "3.1", "exited with code 2", T0 + 5)
    ad = apply(job(WAITING), changes)
    assert ad.eval("RemoveReason") == "blocked: parent 3.1 exited with code 2"
    assert (ad.eval("JobStatus"), ad.eval("BlockedBy")) == (REMOVED, "3.1")
    again = apply(ad, lifecycle.retried(ad, reason="", now=T0 + 9, waiting=True))
    assert again.eval("JobStatus") == WAITING and "BlockedBy" not in again
    assert again.eval("RetryReason") == "via roost retry"
    done = apply(job(COMPLETED), lifecycle.retried(job(COMPLETED), reason="r", now=T0,
                                                   waiting=False))
    assert done.eval("JobStatus") == IDLE


def test_a_skipped_node_completes_as_a_success_without_a_run():
    ad = apply(job(WAITING), lifecycle.skipped(job(WAITING), "PRE_SKIP", T0 + 3))
    assert (ad.eval("JobStatus"), ad.eval("ExitCode"), ad.eval("NumJobStarts")) == (
        COMPLETED, 0, 0)
    assert ad.eval("DAGNodeSkipped") == "PRE_SKIP"
