"""HTCondor's job policy expressions: which fires, in what order, and what an expression
that is neither true nor false does."""

from __future__ import annotations

from pathlib import Path

import pytest

import classad
from classad import ClassAd
from roost.submit_description import parse_submit
from schedd.job_policy import (
    COMPLETE,
    HOLD,
    NOTHING,
    RELEASE,
    REMOVE,
    REQUEUE,
    Decision,
    exit_decision,
    periodic_decision,
)
from schedd.job_status import HoldCode, JobStatus

T0 = 1_700_000_000


def job(text: str, status: JobStatus = JobStatus.IDLE, hold_code: int = 3) -> ClassAd:
    held = f"HoldReasonCode = {hold_code}; HoldReason = \"x\";" if status == JobStatus.HELD else ""
    return classad.parse_one(f"[ ClusterId = 1; ProcId = 0; JobStatus = {int(status)}; {held}"
                             f" QDate = {T0}; {text} ]")


# text, status -> action, code (and a piece of the reason)
PERIODIC_TABLE = [
    ("", JobStatus.IDLE, "none", 0, ""),
    ("PeriodicHold = true", JobStatus.IDLE, HOLD, 3, "PeriodicHold expression 'true'"),
    ("PeriodicHold = 1", JobStatus.RUNNING, HOLD, 3, "evaluated to TRUE"),
    ("PeriodicHold = 2.5", JobStatus.SUSPENDED, HOLD, 3, ""),
    ("PeriodicHold = -0.5", JobStatus.IDLE, "none", 0, ""),  # truncated to 0
    ("PeriodicHold = false; PeriodicRemove = true", JobStatus.IDLE, REMOVE, 3, "PeriodicRemove"),
    ("PeriodicHold = true; PeriodicRemove = true", JobStatus.IDLE, HOLD, 3, "PeriodicHold"),
    ("PeriodicHold = Nope == 1", JobStatus.IDLE, HOLD, 5, "evaluated to UNDEFINED"),
    ("PeriodicHold = 1/0", JobStatus.IDLE, HOLD, 5, "evaluated to ERROR"),
    ('PeriodicHold = "true"', JobStatus.IDLE, HOLD, 5, "not a boolean"),
    ("PeriodicHold = undefined; PeriodicRemove = true", JobStatus.IDLE, REMOVE, 3, ""),
    ("PeriodicRemove = Nope", JobStatus.RUNNING, HOLD, 5, "PeriodicRemove"),
    ("PeriodicHold = true", JobStatus.HELD, "none", 0, ""),
    ("PeriodicRelease = true", JobStatus.HELD, RELEASE, 3, "PeriodicRelease"),
    ("PeriodicRelease = true", JobStatus.IDLE, "none", 0, ""),
    ("PeriodicRelease = true; PeriodicRemove = true", JobStatus.HELD, RELEASE, 3, ""),
    ("PeriodicRelease = false; PeriodicRemove = true", JobStatus.HELD, REMOVE, 3, ""),
    ("PeriodicRelease = Nope; PeriodicRemove = true", JobStatus.HELD, REMOVE, 3, ""),
    ("PeriodicRemove = Nope", JobStatus.HELD, "none", 0, ""),
    ("PeriodicRemove = true", JobStatus.COMPLETED, "none", 0, ""),
    ("PeriodicHold = true", JobStatus.REMOVED, "none", 0, ""),
]


@pytest.mark.parametrize(("text", "status", "action", "code", "words"), PERIODIC_TABLE)
def test_periodic_decision(text, status, action, code, words):
    decision = periodic_decision(job(text, status))
    assert (decision.action, decision.code) == (action, code)
    assert words in decision.reason


@pytest.mark.parametrize(("code", "action"), [
    (HoldCode.USER_REQUEST, "none"),
    (HoldCode.JOB_POLICY, RELEASE),
    (HoldCode.SUBMITTED_ON_HOLD, RELEASE),  # HTCondor spares only code 1
    (HoldCode.STARTD_HELD_JOB, RELEASE),
])
def test_periodic_release_spares_user_holds(code, action):
    decision = periodic_decision(job("PeriodicRelease = true", JobStatus.HELD, code))
    assert decision.action == action


def test_hold_reason_and_subcode_attributes():
    decision = periodic_decision(job('PeriodicHold = true; PeriodicHoldReason = "too long";'
                                     " PeriodicHoldSubCode = 7"))
    assert decision == Decision(HOLD, "too long", 3, 7)
    # An empty or non-string reason falls back to HTCondor's words; a bad subcode to 0.
    fallback = periodic_decision(job('PeriodicHold = true; PeriodicHoldReason = "";'
                                     ' PeriodicHoldSubCode = "x"'))
    assert fallback.reason.startswith("The job attribute PeriodicHold expression")
    assert fallback.subcode == 0


def test_undefined_does_not_use_the_reason_attribute():
    decision = periodic_decision(job('PeriodicHold = Nope; PeriodicHoldReason = "mine"'))
    assert decision.code == HoldCode.JOB_POLICY_UNDEFINED
    assert decision.reason == ("The job attribute PeriodicHold expression 'Nope' evaluated "
                               "to UNDEFINED")


def exited(text: str, **exit_attrs) -> ClassAd:
    ad = job(text, JobStatus.RUNNING)
    ad.update(exit_attrs)
    return ad


# text, exit -> action, code
EXIT_TABLE = [
    ("", {"ExitCode": 1}, COMPLETE, 0),  # OnExitRemove missing means TRUE
    ("OnExitRemove = true", {"ExitCode": 1}, COMPLETE, 0),
    ("OnExitRemove = ExitCode == 0", {"ExitCode": 1}, REQUEUE, 0),
    ("OnExitRemove = ExitCode == 0", {"ExitCode": 0}, COMPLETE, 0),
    ("OnExitRemove = ExitCode == 0", {"ExitBySignal": True, "ExitSignal": 9}, HOLD, 5),
    ("OnExitRemove = ExitCode =?= 0", {"ExitBySignal": True, "ExitSignal": 9}, REQUEUE, 0),
    ("OnExitHold = ExitCode == 2; OnExitRemove = false", {"ExitCode": 2}, HOLD, 3),
    ("OnExitHold = ExitCode == 2; OnExitRemove = false", {"ExitCode": 3}, REQUEUE, 0),
    ("OnExitHold = true; OnExitRemove = true", {"ExitCode": 0}, HOLD, 3),
    ("OnExitHold = Nope > 1", {"ExitCode": 0}, HOLD, 5),
    ("PeriodicHold = true; OnExitRemove = true", {"ExitCode": 0}, HOLD, 3),
    ("PeriodicRemove = true; OnExitHold = true", {"ExitCode": 0}, REMOVE, 3),
    ("PeriodicHold = true; PeriodicRemove = true", {"ExitCode": 0}, HOLD, 3),
    ("PeriodicRelease = true; OnExitRemove = false", {"ExitCode": 0}, REQUEUE, 0),
]


@pytest.mark.parametrize(("text", "exit_attrs", "action", "code"), EXIT_TABLE)
def test_exit_decision(text, exit_attrs, action, code):
    decision = exit_decision(exited(text, NumJobCompletions=1, **exit_attrs))
    assert (decision.action, decision.code) == (action, code)


def test_on_exit_hold_reason_and_subcode():
    decision = exit_decision(exited('OnExitHold = ExitCode == 5; OnExitHoldReason = "bad input";'
                                    " OnExitHoldSubCode = ExitCode", ExitCode=5))
    assert decision == Decision(HOLD, "bad input", 3, 5)


def test_requeue_says_why():
    decision = exit_decision(exited("OnExitRemove = ExitCode == 0", ExitCode=1))
    assert decision.reason == ("The job attribute OnExitRemove expression 'ExitCode == 0' "
                               "evaluated to FALSE")


def submitted(text: str) -> ClassAd:
    plan = parse_submit(f"executable = /bin/run\n{text}\nqueue\n", cwd=Path("/home/alice"),
                        owner="alice", now=T0)
    ad = plan.job(0)
    return ad


@pytest.mark.parametrize(("completions", "code", "action"), [
    (1, 1, REQUEUE), (2, 1, REQUEUE), (3, 1, COMPLETE), (1, 0, COMPLETE), (2, 0, COMPLETE)])
def test_generated_on_exit_remove(completions, code, action):
    ad = submitted("max_retries = 2")
    ad.update(JobStatus=2, NumJobCompletions=completions, ExitCode=code, ExitBySignal=False)
    assert exit_decision(ad).action == action


def test_decision_knows_its_actions():
    assert NOTHING.action == "none"
    with pytest.raises(ValueError, match="unknown policy action"):
        Decision("explode")
