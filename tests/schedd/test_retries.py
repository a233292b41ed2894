"""Retries: whose fault a run's end is, back-off, memory growth, the MaxLosses valve and
the attempt history, driven through the lifecycle's events as the schedd drives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from classad import ClassAd
from roost.submit_description import parse_submit
from schedd.job_status import HoldCode, JobStatus
from schedd.lifecycle import (
    MAX_ATTEMPTS_KEPT,
    Action,
    JobExited,
    JobStarted,
    act,
    applied,
    job_exited,
    job_started,
    validate,
)
from schedd.retries import Failure, Usage, backoff_seconds, decide_exit, grown_memory

IDLE = JobStatus.IDLE
HELD = JobStatus.HELD
COMPLETED = JobStatus.COMPLETED
T0 = 1_700_000_000


def apply(ad: ClassAd, changes) -> ClassAd:
    """The ad the queue store would write: a copy with the changes made, validated."""
    new = applied(ad, changes)
    validate(new)
    return new


def submitted(text: str = "", **attrs) -> ClassAd:
    plan = parse_submit(f"executable = /bin/run\nrequest_memory = 512\n{text}\nqueue\n",
                        cwd=Path("/home/alice"), owner="alice", now=T0)
    ad = plan.job(0)
    ad["ClusterId"] = 7
    ad.update(attrs)
    validate(ad)
    return ad


def run(ad: ClassAd, start: int, failure: Failure, *, code: int | None = None,
        signal: int | None = None, usage: Usage | None = None, host: str = "node1") -> ClassAd:
    """Start the job at ``start`` and end that run ten seconds later."""
    ad = apply(ad, job_started(ad, JobStarted(host, start)))
    return apply(ad, job_exited(ad, JobExited(start + 10, host, failure, exit_code=code,
                                              exit_signal=signal, usage=usage)))


@pytest.mark.parametrize(("failure", "jobs_fault"), [
    (Failure.NONE, True), (Failure.SIGNAL, True), (Failure.MEMORY, True),
    (Failure.MACHINE_LOST, False), (Failure.WALLTIME, False), (Failure.EVICTED, False)])
def test_whose_fault(failure, jobs_fault):
    assert failure.is_jobs_fault is jobs_fault


# -- retries and back-off --------------------------------------------------------------------


def test_retries_left_then_exhausted():
    ad = submitted("max_retries = 2")
    states, waits = [], []
    for n in range(3):
        ad = run(ad, T0 + 1000 * n, Failure.NONE, code=1)
        states.append(ad.eval("JobStatus"))
        waits.append(ad.eval("RetryAfter") - (T0 + 1000 * n + 10) if "RetryAfter" in ad
                     else None)
    assert states == [IDLE, IDLE, COMPLETED]
    assert waits == [10, 20, None]
    assert ad.eval("NumJobCompletions") == 3 and ad.eval("ExitCode") == 1


def test_success_ends_the_retries():
    ad = run(submitted("max_retries = 5"), T0, Failure.NONE, code=1)
    ad = run(ad, T0 + 100, Failure.NONE, code=0)
    assert ad.eval("JobStatus") == COMPLETED and ad.eval("CompletionDate") == T0 + 110


def test_success_exit_code():
    ad = run(submitted("max_retries = 1\nsuccess_exit_code = 3"), T0, Failure.NONE, code=0)
    assert ad.eval("JobStatus") == IDLE
    assert run(ad, T0 + 100, Failure.NONE, code=3).eval("JobStatus") == COMPLETED


def test_backoff_sequence():
    ad = submitted()
    assert [backoff_seconds(ad, n) for n in range(1, 12)] == [
        10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    assert backoff_seconds(ad, 10_000) == 3600


def test_backoff_set_by_the_job():
    ad = submitted("+RetryBackoffBase = 5\n+RetryBackoffMax = 60")
    assert [backoff_seconds(ad, n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert backoff_seconds(submitted("+RetryBackoffBase = 0"), 4) == 0


def test_backoff_after_requeue_by_on_exit_remove():
    ad = submitted("on_exit_remove = ExitCode == 0\n+RetryBackoffBase = 30")
    ad = run(ad, T0, Failure.NONE, code=2)
    ad = run(ad, T0 + 100, Failure.NONE, code=2)
    assert ad.eval("RetryAfter") == T0 + 110 + 60


def test_signal_uses_a_retry():
    # The generated OnExitRemove reads ExitCode with =?=, as HTCondor's does, so a job
    # killed by a signal (no ExitCode) is retried rather than held as UNDEFINED.
    ad = run(submitted("max_retries = 1"), T0, Failure.SIGNAL, signal=9)
    assert (ad.eval("JobStatus"), ad.eval("NumJobCompletions")) == (IDLE, 1)
    ad = run(ad, T0 + 100, Failure.SIGNAL, signal=9)
    assert ad.eval("JobStatus") == COMPLETED and ad.eval("ExitSignal") == 9


@pytest.mark.parametrize(("failure", "missing"), [(Failure.NONE, "exit code"),
                                                  (Failure.SIGNAL, "signal")])
def test_an_exit_needs_its_code(failure, missing):
    with pytest.raises(ValueError, match=missing):
        decide_exit(submitted(), failure, now=T0)


# -- memory ----------------------------------------------------------------------------------

GROW = "max_retries = 2\n+RetryRequestMemory = true"

# submit text, peak MiB -> state, RequestMemory after, words in the hold reason
MEMORY_TABLE = [
    (GROW, 600, IDLE, 1024, ""),  # the request doubled
    (GROW, 1000, IDLE, 1250, ""),  # the peak plus a quarter is more
    ("max_retries = 2\n+RetryRequestMemory = 1.5", 600, IDLE, 768, ""),
    (GROW + "\n+RetryRequestMemoryMax = 800", 600, IDLE, 800, ""),  # capped
    ("max_retries = 2\nrequest_memory = 800\n+RetryRequestMemory = true\n"
     "+RetryRequestMemoryMax = 800", 900, HELD, 800, "already at RetryRequestMemoryMax (800 MiB)"),
    ("max_retries = 0\n+RetryRequestMemory = true", 600, HELD, 512, "no retries left"),
    ("+RetryRequestMemory = true", 600, HELD, 512, "no retries left"),  # no JobMaxRetries
    ("max_retries = 2", 812, HELD, 512, "Job used 812 MiB, more than its RequestMemory of 512 MiB"),
    ("max_retries = 2\n+RetryRequestMemory = false", 600, HELD, 512, "Job used 600 MiB"),
]


@pytest.mark.parametrize(("text", "peak", "state", "memory", "words"), MEMORY_TABLE)
def test_memory(text, peak, state, memory, words):
    ad = run(submitted(text), T0, Failure.MEMORY, usage=Usage(5.0, peak, 10.0))
    assert ad.eval("JobStatus") == state
    assert ad.eval("RequestMemory") == memory
    assert ad.eval("NumJobCompletions") == 1  # it was the job's doing
    assert "RetryAfter" not in ad  # the larger request is the remedy, not waiting
    if state == HELD:
        assert ad.eval("HoldReasonCode") == HoldCode.JOB_OUT_OF_RESOURCES
        assert words in ad.eval("HoldReason")


def test_memory_grows_until_the_retries_run_out():
    ad = submitted(GROW)
    requests = []
    for n in range(3):
        ad = run(ad, T0 + 100 * n, Failure.MEMORY, usage=Usage(1.0, 10, 10.0))
        requests.append((ad.eval("JobStatus"), ad.eval("RequestMemory")))
    assert requests == [(IDLE, 1024), (IDLE, 2048), (HELD, 2048)]


def test_memory_without_usage_still_says_why():
    ad = run(submitted("max_retries = 2"), T0, Failure.MEMORY)
    assert ad.eval("HoldReason") == "Job used more than its RequestMemory of 512 MiB"


def test_grown_memory_needs_a_request():
    assert grown_memory(ClassAd(), 100) is None


# -- losses and the valve --------------------------------------------------------------------


@pytest.mark.parametrize(("failure", "counter"), [
    (Failure.MACHINE_LOST, "NumMachineLosses"), (Failure.WALLTIME, "NumWalltimeEnds"),
    (Failure.EVICTED, "NumJobEvictions")])
def test_losses_are_counted_apart(failure, counter):
    ad = run(submitted("max_retries = 1"), T0, failure)
    ad = run(ad, T0 + 100, failure)
    assert ad.eval("JobStatus") == IDLE
    assert ad.eval(counter) == 2 and ad.eval("NumConsecutiveLosses") == 2
    assert ad.eval("NumJobCompletions") == 0 and "RetryAfter" not in ad
    assert ad.eval("NumJobStarts") == 2


def test_max_losses_valve():
    ad = submitted("max_retries = 1")
    kinds = [Failure.MACHINE_LOST, Failure.WALLTIME, Failure.EVICTED]
    for n in range(19):
        ad = run(ad, T0 + 100 * n, kinds[n % 3])
        assert ad.eval("JobStatus") == IDLE
    ad = run(ad, T0 + 5000, Failure.MACHINE_LOST)
    assert ad.eval("JobStatus") == HELD
    assert ad.eval("HoldReasonCode") == HoldCode.SYSTEM_POLICY
    assert "20 times in a row" in ad.eval("HoldReason")
    assert "MaxLosses = 20" in ad.eval("HoldReason")
    # Released by a person, the count starts again.
    ad = apply(ad, act(ad, Action.RELEASE, reason="", now=T0 + 6000))
    assert ad.eval("NumConsecutiveLosses") == 0
    assert run(ad, T0 + 7000, Failure.WALLTIME).eval("JobStatus") == IDLE


def test_losses_in_a_row_are_reset_by_an_own_exit():
    ad = submitted("max_retries = 5\n+MaxLosses = 3")
    for n, failure in enumerate([Failure.EVICTED, Failure.EVICTED, Failure.NONE,
                                 Failure.EVICTED, Failure.EVICTED]):
        ad = run(ad, T0 + 100 * n, failure, code=1)
    assert ad.eval("JobStatus") == IDLE and ad.eval("NumConsecutiveLosses") == 2
    ad = run(ad, T0 + 1000, Failure.MACHINE_LOST)
    assert ad.eval("JobStatus") == HELD and "MaxLosses = 3" in ad.eval("HoldReason")


# -- the attempt history ---------------------------------------------------------------------


def test_attempt_history():
    ad = submitted("max_retries = 3\n+RetryRequestMemory = true")
    ad = run(ad, T0, Failure.NONE, code=2, usage=Usage(8.0, 100, 9.5), host="a")
    ad = run(ad, T0 + 100, Failure.WALLTIME, host="b")
    ad = run(ad, T0 + 200, Failure.MEMORY, usage=Usage(3.0, 700, 10.0), host="c")
    ad = run(ad, T0 + 300, Failure.NONE, code=0, host="d")
    records = [dict(attempt) for attempt in ad.eval("Attempts")]
    assert records == [
        {"Attempt": 1, "Host": "a", "Start": T0, "End": T0 + 10, "Failure": "exit",
         "Reason": "exited with code 2", "Outcome": "requeued", "WallSeconds": 9.5,
         "CpuSeconds": 8.0, "PeakMemoryMB": 100, "ExitCode": 2, "RetryAfter": T0 + 20},
        {"Attempt": 2, "Host": "b", "Start": T0 + 100, "End": T0 + 110, "Failure": "walltime",
         "Reason": "The pilot running the job reached the end of its walltime",
         "Outcome": "requeued", "WallSeconds": 10.0},
        {"Attempt": 3, "Host": "c", "Start": T0 + 200, "End": T0 + 210, "Failure": "memory",
         "Reason": "Job used 700 MiB, more than its RequestMemory of 512 MiB; retrying with "
                   "RequestMemory 1024 MiB",
         "Outcome": "requeued", "WallSeconds": 10.0, "CpuSeconds": 3.0, "PeakMemoryMB": 700,
         "RequestMemory": 512},
        {"Attempt": 4, "Host": "d", "Start": T0 + 300, "End": T0 + 310, "Failure": "exit",
         "Reason": "exited with code 0", "Outcome": "completed", "WallSeconds": 10.0,
         "ExitCode": 0},
    ]
    assert ad.eval("RemoteWallClockTime") == 39.5
    assert ad.eval("RemoteUserCpu") == 11.0
    assert ad.eval("NumJobCompletions") == 3 and ad.eval("NumWalltimeEnds") == 1


def test_attempt_history_is_bounded():
    ad = submitted("+MaxLosses = 1000")
    for n in range(MAX_ATTEMPTS_KEPT + 5):
        ad = run(ad, T0 + 100 * n, Failure.EVICTED)
    attempts = ad.eval("Attempts")
    assert len(attempts) == MAX_ATTEMPTS_KEPT
    assert attempts[0].eval("Attempt") == 6 and attempts[-1].eval("Attempt") == 105


def test_a_job_the_startd_could_not_start_is_held_with_its_code():
    result = decide_exit(submitted(), Failure.START, now=T0, reason="No such file: /bin/nope",
                         hold_code=HoldCode.IWD_ERROR, hold_subcode=2)
    decision = result.decision
    assert (decision.action, decision.code, decision.subcode) == ("hold", HoldCode.IWD_ERROR, 2)
    assert decision.reason == "No such file: /bin/nope"
    assert not Failure.START.is_jobs_fault
    fallback = decide_exit(submitted(), Failure.START, now=T0).decision
    assert fallback.code == HoldCode.FAILED_TO_CREATE_PROCESS
