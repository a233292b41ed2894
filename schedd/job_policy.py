"""HTCondor's job policy expressions, evaluated against the job ad alone (MY is the job,
there is no TARGET).

What a job asks for about itself, in the attributes ``condor_submit`` writes:

- ``PeriodicHold``, ``PeriodicRelease`` and ``PeriodicRemove``, evaluated every
  ``PERIODIC_EXPR_INTERVAL`` and when the job exits (``periodic_decision``);
- ``OnExitHold`` and ``OnExitRemove``, evaluated when the job exits (``exit_decision``).

The order is HTCondor's (``src/condor_utils/user_job_policy.cpp``, ``AnalyzePolicy``), the
first that fires wins: PeriodicHold (unless the job is held), PeriodicRelease (only a held
job, never one held by ``condor_hold``), PeriodicRemove, then at exit OnExitHold and
OnExitRemove.  So periodic beats on-exit, and hold beats remove.

How an expression counts (``AnalyzeSinglePeriodicPolicy``): a missing attribute does not
fire (a missing OnExitRemove means TRUE); a number fires when its integer part is not zero
(HTCondor reads the value with ``IsNumber(long long)``, so 0.5 does not fire); booleans are
numbers.  Anything else, UNDEFINED, ERROR or a string, puts the job on hold with code 5
(JobPolicyUndefined), except an attribute written as the literal ``undefined``, which reads
as missing (older HTCondor did the same, and the queue store marks deleted attributes so).
When a job attribute fires, its ``<Attr>Reason`` and ``<Attr>SubCode`` give the hold
reason and subcode (``PeriodicHoldReason``, ``OnExitHoldSubCode``...); the code is 3
(JobPolicy).  The functions only decide; ``schedd.lifecycle`` makes the change.

Before all of them, a Running or Suspended job is held when its run has lasted longer
than it allows (``allowed_job_duration``, ``allowed_execute_duration``): code 46
(JobDurationExceeded) once ``AllowedJobDuration`` seconds have passed since the run
began, 47 (JobExecuteExceeded) once more than ``AllowedExecuteDuration`` have, with
HTCondor's reasons.  HTCondor counts the first from the shadow's start and the second
from the job's (after its input transfer); roost transfers no files, so both count from
``JobCurrentStartDate``.
"""

from __future__ import annotations

from dataclasses import dataclass

from classad import ClassAd, Value
from schedd.job_status import HoldCode, JobStatus

# What a decision asks for.
HOLD = "hold"
RELEASE = "release"
REMOVE = "remove"
REQUEUE = "requeue"  # back to Idle to run again
COMPLETE = "complete"
NONE = "none"
ACTIONS = frozenset({HOLD, RELEASE, REMOVE, REQUEUE, COMPLETE, NONE})

PERIODIC_HOLD = "PeriodicHold"
PERIODIC_RELEASE = "PeriodicRelease"
PERIODIC_REMOVE = "PeriodicRemove"
ON_EXIT_HOLD = "OnExitHold"
ON_EXIT_REMOVE = "OnExitRemove"
ALLOWED_JOB_DURATION = "AllowedJobDuration"
ALLOWED_EXECUTE_DURATION = "AllowedExecuteDuration"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy says should happen to a job, and why (for the hold or remove
    reason).  ``code`` and ``subcode`` are the ``HoldReasonCode``/``SubCode`` of a hold."""

    action: str
    reason: str = ""
    code: int = 0
    subcode: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown policy action {self.action!r}")


NOTHING = Decision(NONE)


def periodic_decision(ad: ClassAd, now: int | None = None) -> Decision:
    """What the job's periodic expressions ask for now (``NOTHING`` if none fires); the
    allowed durations are checked when ``now`` is given."""
    status = ad.eval("JobStatus")
    if status in (JobStatus.COMPLETED, JobStatus.REMOVED):
        return NOTHING  # finished jobs have left the queue; policy no longer applies
    if now is not None and status in (JobStatus.RUNNING, JobStatus.SUSPENDED):
        decision = duration_decision(ad, now)
        if decision is not None:
            return decision
    held = status == JobStatus.HELD
    if not held:
        decision = _fire(ad, PERIODIC_HOLD, HOLD)
        if decision is not None:
            return decision
    elif ad.eval("HoldReasonCode") != HoldCode.USER_REQUEST:
        # A job the user held stays held until the user releases it.
        decision = _fire(ad, PERIODIC_RELEASE, RELEASE)
        if decision is not None and decision.action == RELEASE:
            return decision
        # A held job whose PeriodicRelease is UNDEFINED is simply not released.
    decision = _fire(ad, PERIODIC_REMOVE, REMOVE)
    if decision is None or (held and decision.action == HOLD):
        return NOTHING  # an UNDEFINED PeriodicRemove cannot hold a job already held
    return decision


def exit_decision(ad: ClassAd) -> Decision:
    """What happens to a job that has just exited on its own: ``ad`` already holds the exit
    (``ExitCode`` or ``ExitSignal``, ``ExitBySignal``, the new ``NumJobCompletions``) and
    still its running status.  One of hold, remove, requeue or complete."""
    for name, action in ((PERIODIC_HOLD, HOLD), (PERIODIC_REMOVE, REMOVE),
                         (ON_EXIT_HOLD, HOLD)):
        decision = _fire(ad, name, action)
        if decision is not None:
            return decision
    if _defined(ad, ON_EXIT_REMOVE):
        truth = _truth(ad.eval(ON_EXIT_REMOVE))
        if truth is None:
            return _undefined(ad, ON_EXIT_REMOVE)
        if not truth:
            return Decision(REQUEUE, _firing_text(ad, ON_EXIT_REMOVE, "FALSE"))
    return Decision(COMPLETE)


def duration_decision(ad: ClassAd, now: int) -> Decision | None:
    """The hold of a run that has outlasted its AllowedJobDuration or
    AllowedExecuteDuration (whole seconds, as HTCondor reads them), or None."""
    began = _integer(ad, "JobCurrentStartDate")
    if began is None:
        return None
    allowed = _integer(ad, ALLOWED_JOB_DURATION)
    if allowed is not None and now - began >= allowed:
        return Decision(HOLD, f"The job exceeded allowed job duration of {_short(allowed)}",
                        HoldCode.JOB_DURATION_EXCEEDED)
    allowed = _integer(ad, ALLOWED_EXECUTE_DURATION)
    if allowed is not None and now - began > allowed:
        return Decision(HOLD, "The job exceeded allowed execute duration of "
                              f"{_short(allowed)}", HoldCode.JOB_EXECUTE_EXCEEDED)
    return None


def _integer(ad: ClassAd, name: str) -> int | None:
    value = ad.eval(name) if name in ad else None
    if isinstance(value, float) and value == value and abs(value) < 2**63:
        value = int(value)  # HTCondor's LookupInteger truncates a real
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _short(seconds: int) -> str:
    """A duration as HTCondor's hold reasons write it: ``20:00:00``, ``3+00:00:00``."""
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}+{hours:02d}:{rest // 60:02d}:{rest % 60:02d}" if days else clock


# -- evaluation ------------------------------------------------------------------------------


def _fire(ad: ClassAd, name: str, action: str) -> Decision | None:
    """The decision if the expression ``name`` fires (a hold with code 5 if it cannot be
    read as true or false), None if it is missing or false."""
    if not _defined(ad, name):
        return None
    truth = _truth(ad.eval(name))
    if truth is None:
        return _undefined(ad, name)
    if not truth:
        return None
    reason = ad.eval(name + "Reason")
    if not isinstance(reason, str) or not reason:
        reason = _firing_text(ad, name, "TRUE")
    subcode = ad.eval(name + "SubCode")
    if isinstance(subcode, bool) or not isinstance(subcode, int | float):
        subcode = 0
    return Decision(action, reason, HoldCode.JOB_POLICY, _to_int(subcode))


def _defined(ad: ClassAd, name: str) -> bool:
    # An attribute holding the literal undefined is one deleted (or never really set).
    return name in ad and ad[name] is not Value.Undefined


def _truth(value) -> bool | None:
    """HTCondor's reading of a policy value: a number (booleans included) by its integer
    part, anything else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, float):
        # Truncated toward zero as C does; NaN and the infinities are not zero.
        return not -1.0 < value < 1.0
    return None


def _undefined(ad: ClassAd, name: str) -> Decision:
    value = ad.eval(name)
    what = "ERROR" if value is Value.Error else (
        "UNDEFINED" if value is Value.Undefined else "a value that is not a boolean")
    return Decision(HOLD, _firing_text(ad, name, what), HoldCode.JOB_POLICY_UNDEFINED, 0)


def _firing_text(ad: ClassAd, name: str, value: str) -> str:
    # HTCondor's words (UserPolicy::FiringReason), so users' scripts that grep them work.
    return f"The job attribute {name} expression '{ad.lookup(name)}' evaluated to {value}"


def _to_int(number: int | float) -> int:
    if isinstance(number, float):
        return int(number) if number == number and abs(number) < 2**31 else 0
    return number
