"""The job lifecycle: how one job's ad changes as it is started, ends a run, is held,
released, removed, suspended, vacated or retried, and as its periodic policy fires.

Pure: no I/O, no clock (``now`` is an argument), no database.  Every function takes the
full job ad (cluster ad and proc attributes merged), never changes it, and returns the
``Changes`` to make: attribute name -> new value, where None deletes the attribute.  The
queue store applies them; the shell carries out what they imply (a Running job that became
Held, Removed or Idle is stopped on its machine).

States and their numbers are HTCondor's (``schedd.job_status``), and so are the legal moves
(``TRANSITIONS``); anything else raises ``IllegalTransition``.  Whether a run that ended is
retried, held or finished is decided in ``schedd.retries`` and ``schedd.job_policy``.

Attributes written here beyond HTCondor's own: ``Attempts`` (one nested ad per run that
ended: ``Attempt``, ``Host``, ``Slot``, ``Start``, ``End``, ``Failure``, ``Reason``,
``ExitCode``/``ExitSignal``, ``CpuSeconds``, ``PeakMemoryMB``, ``WallSeconds``,
``Outcome``, ``TransferInputSeconds``/``TransferOutputSeconds`` for a run whose files
moved, and ``RetryAfter``/``RequestMemory`` when they matter; the last
``MAX_ATTEMPTS_KEPT`` are kept), ``CumulativeTransferTime`` (HTCondor's: the seconds all
runs' files took to move, apart from RemoteWallClockTime), ``RemoteSlot`` (the slot a
running job is on), ``RetryReason`` (why it was retried) and ``VacateRequested`` (when a
vacate was asked for, until the run ends).

A vacate (condor_vacate_job) does not move the job by itself: it asks (``VacateReason``,
``VacateRequested``) and the job stays Running, or Suspended, until its machine reports
the run's end, an eviction, which requeues it without using up a retry.  So the job is
never Idle, and never started again, while its processes may still be alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from classad import ClassAd, Value
from schedd import job_policy
from schedd.job_policy import COMPLETE, HOLD, NONE, RELEASE, REMOVE, REQUEUE
from schedd.job_status import HoldCode, JobStatus
from schedd.retries import Changes, Failure, Usage, decide_exit, losses_reset

__all__ = [
    "TRANSITIONS", "Action", "Changes", "Failure", "IllegalTransition", "JobExited",
    "JobStarted", "Usage", "act", "blocked", "job_exited", "job_id", "job_started",
    "periodic", "ready", "retried", "skipped", "transition", "validate",
]

IDLE, RUNNING, REMOVED = JobStatus.IDLE, JobStatus.RUNNING, JobStatus.REMOVED
COMPLETED, HELD, SUSPENDED = JobStatus.COMPLETED, JobStatus.HELD, JobStatus.SUSPENDED
WAITING = JobStatus.WAITING
ON_A_MACHINE = frozenset({RUNNING, SUSPENDED})

# Every legal move and what makes it.  "requeue" is any run ending with the job back in
# the queue: evicted, vacated, its machine lost, or retried after failing.
TRANSITIONS: dict[tuple[JobStatus, JobStatus], str] = {
    (IDLE, RUNNING): "start",
    (RUNNING, IDLE): "requeue",
    (SUSPENDED, IDLE): "requeue",
    (RUNNING, COMPLETED): "exit",
    (SUSPENDED, COMPLETED): "exit",
    (IDLE, HELD): "hold",
    (RUNNING, HELD): "hold",
    (SUSPENDED, HELD): "hold",
    (HELD, IDLE): "release",
    (IDLE, REMOVED): "remove",
    (RUNNING, REMOVED): "remove",
    (HELD, REMOVED): "remove",
    (SUSPENDED, REMOVED): "remove",
    (COMPLETED, REMOVED): "remove",  # one left in the queue by its LeaveJobInQueue
    (RUNNING, SUSPENDED): "suspend",
    (SUSPENDED, RUNNING): "continue",
    (COMPLETED, IDLE): "retry",
    (REMOVED, IDLE): "retry",
    # A job with parents (schedd.dependencies): it waits until they have ended as its
    # edges ask, or is blocked (removed, naming the parent) when one cannot; a retry of it
    # or of the parent that blocked it makes it wait again.
    (WAITING, IDLE): "ready",
    (WAITING, REMOVED): "remove",
    (WAITING, COMPLETED): "skip",  # a DAG node's job not run: NOOP, DONE or PRE_SKIP
    (COMPLETED, WAITING): "retry",
    (REMOVED, WAITING): "retry",
}

# HTCondor's names for the attributes written most.
JOB_STATUS = "JobStatus"
REMOTE_HOST = "RemoteHost"
HOLD_REASON = "HoldReason"
HOLD_REASON_CODE = "HoldReasonCode"
HOLD_REASON_SUBCODE = "HoldReasonSubCode"
RELEASE_REASON = "ReleaseReason"
REMOVE_REASON = "RemoveReason"
BLOCKED_BY = "BlockedBy"  # roost's: the parent whose end blocked a waiting job
VACATE_REASON = "VacateReason"
VACATE_REQUESTED = "VacateRequested"
ATTEMPTS = "Attempts"
MAX_ATTEMPTS_KEPT = 100  # the history rides in the job's row; keep it bounded

# An attempt's Outcome, by the decision that ended it.
_OUTCOMES = {REQUEUE: "requeued", COMPLETE: "completed", HOLD: "held", REMOVE: "removed"}
_TARGETS = {REQUEUE: IDLE, COMPLETE: COMPLETED, HOLD: HELD, REMOVE: REMOVED}
OUTCOMES = frozenset(_OUTCOMES.values())
_STATUS_NUMBERS = frozenset(int(state) for state in JobStatus)
FAILURES = frozenset(failure.value for failure in Failure)


class IllegalTransition(ValueError):
    """A change the job's state does not allow (releasing a job that is not held...)."""

    def __init__(self, job_id: str, current: JobStatus, to: JobStatus, doing: str = "",
                 detail: str = "", via: str = "") -> None:
        self.job_id = job_id
        self.current = current
        self.to = to
        what = f"job {job_id}: cannot {doing}" if doing else f"job {job_id}"
        made_by = TRANSITIONS.get((current, to))
        rule = ("is not a legal transition" if made_by is None or not via
                else f"is a {made_by}, not a {via}")
        message = f"{what}: {_name(current)} -> {_name(to)} {rule}"
        super().__init__(f"{message} ({detail})" if detail else message)


class Action(Enum):
    """What a user or administrator asks of a job, as HTCondor's tools do."""

    REMOVE = "remove"  # condor_rm
    HOLD = "hold"  # condor_hold
    RELEASE = "release"  # condor_release
    SUSPEND = "suspend"  # condor_suspend
    CONTINUE = "continue"  # condor_continue
    VACATE = "vacate"  # condor_vacate_job: off its machine and back to Idle
    REMOVE_X = "remove-x"  # condor_rm -forcex: removed, and stopped without grace
    RETRY = "retry"  # qdo's retry: a finished job that failed goes back to Idle
    RERUN = "rerun"  # qdo's rerun: finished jobs, whatever their end, run again


_DEFAULT_REASONS = {
    Action.REMOVE: "via roost rm",
    Action.REMOVE_X: "via roost rm -forcex",
    Action.HOLD: "via roost hold",
    Action.RELEASE: "via roost release",
    Action.VACATE: "via roost vacate",
    Action.RETRY: "via roost retry",
    Action.RERUN: "via roost rerun",
}


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobStarted:
    """The job began running on ``host`` (in ``slot``, if the shell knows it)."""

    host: str
    time: int
    slot: str = ""


@dataclass(frozen=True, slots=True)
class JobExited:
    """A run ended: on its own (``Failure.NONE``/``SIGNAL``), or it was stopped."""

    time: int
    host: str
    failure: Failure
    exit_code: int | None = None
    exit_signal: int | None = None
    usage: Usage | None = None
    reason: str = ""
    hold_code: int | None = None  # the startd's, for a job it could not start
    hold_subcode: int = 0


# -- the state machine -----------------------------------------------------------------------


def job_id(ad: ClassAd) -> str:
    """``ClusterId.ProcId``, as HTCondor writes a job id."""
    cluster, proc = (ad.eval(name) for name in ("ClusterId", "ProcId"))
    cluster = cluster if isinstance(cluster, int) else "?"
    return f"{cluster}.{proc if isinstance(proc, int) else '?'}"


def status(ad: ClassAd) -> JobStatus:
    value = ad.eval(JOB_STATUS)
    try:
        return JobStatus(value)
    except ValueError:
        raise ValueError(f"job {job_id(ad)} has no valid JobStatus: {value!r}") from None


def transition(ad: ClassAd, to: JobStatus, now: int, *, via: str = "") -> Changes:
    """The status bookkeeping of moving the job to ``to``; IllegalTransition if it may not,
    or if ``via`` is given and the move is not that one (Running -> Idle is a requeue, so a
    release may not make it)."""
    current = status(ad)
    made_by = TRANSITIONS.get((current, to))
    if made_by is None or (via and made_by != via):
        raise IllegalTransition(job_id(ad), current, to, f"{via} it" if via else "", via=via)
    return {JOB_STATUS: int(to), "LastJobStatus": int(current), "EnteredCurrentStatus": int(now)}


def job_started(ad: ClassAd, event: JobStarted) -> Changes:
    """Idle -> Running on ``event.host``."""
    changes = transition(ad, RUNNING, event.time, via="start")
    changes.update({
        REMOTE_HOST: event.host,
        "JobCurrentStartDate": event.time,
        "NumJobStarts": _int(ad, "NumJobStarts") + 1,
        "JobRunCount": _int(ad, "JobRunCount") + 1,
    })
    if event.slot:
        changes["RemoteSlot"] = event.slot
    if not _present(ad, "JobStartDate"):
        changes["JobStartDate"] = event.time  # the first start only
    if _present(ad, "RetryAfter"):
        changes["RetryAfter"] = None  # its wait is over
    return changes


def job_exited(ad: ClassAd, event: JobExited) -> Changes:
    """A run ended: completed, back to Idle, or held (or removed by PeriodicRemove), as the
    job's retries and policy say; the run's usage and an attempt record are kept."""
    current = status(ad)
    result = decide_exit(ad, event.failure, exit_code=event.exit_code,
                         exit_signal=event.exit_signal,
                         peak_memory_mb=event.usage.peak_memory_mb if event.usage else None,
                         now=event.time, reason=event.reason, hold_code=event.hold_code,
                         hold_subcode=event.hold_subcode)
    decision = result.decision
    target = _TARGETS[decision.action]
    if current not in ON_A_MACHINE:
        # Checked here: Completed -> Idle is legal (a retry) but no run of it can end.
        raise IllegalTransition(job_id(ad), current, target, "record the end of its run")
    changes = transition(ad, target, event.time)
    changes.update(result.changes)
    if decision.action == HOLD:
        changes.update(_hold_attributes(ad, decision.reason, decision.code, decision.subcode))
    elif decision.action == REMOVE:
        changes[REMOVE_REASON] = decision.reason
    elif decision.action == COMPLETE:
        changes["CompletionDate"] = event.time
    record: dict[str, object] = {}
    if event.exit_code is not None and event.failure is Failure.NONE:
        record["ExitCode"] = event.exit_code
    if event.exit_signal is not None and event.failure is Failure.SIGNAL:
        record["ExitSignal"] = event.exit_signal
    if event.failure is Failure.MEMORY and _present(ad, "RequestMemory"):
        record["RequestMemory"] = ad.eval("RequestMemory")
    if changes.get("RetryAfter") is not None:
        record["RetryAfter"] = changes["RetryAfter"]
    vacated = event.failure is Failure.EVICTED and _present(ad, VACATE_REQUESTED)
    reason = (event.reason or _describe(event)
              or (_string(ad, VACATE_REASON) if vacated else "") or decision.reason)
    changes.update(_end_run(ad, end=event.time, host=event.host, failure=event.failure,
                            outcome=_OUTCOMES[decision.action], reason=reason,
                            usage=event.usage, record=record))
    return changes


def act(ad: ClassAd, action: Action, *, reason: str | None = None, now: int) -> Changes:
    """What a user's or administrator's ``action`` does to the job; IllegalTransition when
    it does not apply (releasing a job that is not held, holding a finished one...)."""
    return _ACTS[action](ad, reason or _DEFAULT_REASONS.get(action, ""), int(now))


def retried(ad: ClassAd, *, reason: str, now: int, waiting: bool) -> Changes:
    """``roost retry``/``rerun`` of a finished job: back to Idle, or to Waiting when
    ``waiting`` (its parents have not all ended as its edges ask)."""
    return _retry(ad, reason or _DEFAULT_REASONS[Action.RETRY], int(now),
                  WAITING if waiting else IDLE)


def ready(ad: ClassAd, now: int) -> Changes:
    """Waiting -> Idle: every parent has ended as the job's edges ask.  Only the status
    columns change (no LastJobStatus in the proc's text), so the procs of a released
    cluster still share their cluster's ad, as they did when they were submitted."""
    changes = transition(ad, IDLE, now, via="ready")
    del changes["LastJobStatus"]
    return changes


def blocked(ad: ClassAd, parent: str, why: str, now: int) -> Changes:
    """Waiting -> Removed: the parent ``parent`` ended so that the job can never run
    (``why``: how it ended).  ``BlockedBy`` names it; ``roost retry`` of the parent (or
    of this job) makes the job wait again."""
    changes = transition(ad, REMOVED, int(now), via="remove")
    changes[REMOVE_REASON] = f"blocked: parent {parent} {why}"
    changes[BLOCKED_BY] = parent
    return changes


def skipped(ad: ClassAd, why: str, now: int) -> Changes:
    """Waiting -> Completed without running: a DAG node that is NOOP, DONE, or whose PRE
    script's exit was its PRE_SKIP value.  It completes as a success (exit code 0), and
    ``DAGNodeSkipped`` says why it did not run."""
    changes = transition(ad, COMPLETED, int(now), via="skip")
    changes.update({"CompletionDate": int(now), "ExitCode": 0, "ExitBySignal": False,
                    "DAGNodeSkipped": why})
    return changes


def periodic(ad: ClassAd, now: int) -> Changes | None:
    """The change the job's periodic policy asks for now, or None.  (An Idle job waiting
    for its RetryAfter needs nothing here: the negotiator compares the time itself.)"""
    now = int(now)
    decision = job_policy.periodic_decision(ad, now)
    current = status(ad)
    if decision.action == NONE:
        return None
    if decision.action == HOLD:
        if current == HELD:
            return None
        return _hold(ad, decision.reason, decision.code, decision.subcode, now)
    if decision.action == RELEASE:
        return _release(ad, decision.reason, now) if current == HELD else None
    if decision.action == REMOVE:
        return _remove(ad, decision.reason, now)
    raise AssertionError(f"periodic policy cannot {decision.action}")


# -- what each action does -------------------------------------------------------------------


def _hold_by_user(ad: ClassAd, reason: str, now: int) -> Changes:
    if status(ad) == HELD:
        # As condor_hold: a job held by policy or the system becomes held by the user, so
        # that PeriodicRelease no longer applies; one the user held stays as it is.
        if ad.eval(HOLD_REASON_CODE) == HoldCode.USER_REQUEST:
            raise IllegalTransition(job_id(ad), HELD, HELD, "hold it",
                                    "it is already held by its owner")
        return _hold_attributes(ad, reason, HoldCode.USER_REQUEST, 0)
    return _hold(ad, reason, HoldCode.USER_REQUEST, 0, now)


def _hold(ad: ClassAd, reason: str, code: int, subcode: int, now: int) -> Changes:
    current = status(ad)
    changes = transition(ad, HELD, now, via="hold")
    changes.update(_hold_attributes(ad, reason, code, subcode))
    if current in ON_A_MACHINE:
        changes.update(_stopped(ad, now, "held", reason))
    return changes


def _hold_attributes(ad: ClassAd, reason: str, code: int, subcode: int) -> Changes:
    """HoldReason and its code, and the hold counters (qmgmt.cpp counts a hold whenever
    HoldReasonCode is set); the last ReleaseReason becomes LastReleaseReason."""
    changes: Changes = {
        HOLD_REASON: reason,
        HOLD_REASON_CODE: int(code),
        HOLD_REASON_SUBCODE: int(subcode),
        "NumHolds": _int(ad, "NumHolds") + 1,
        "NumHoldsByReason": _count_by_reason(ad, code),
    }
    if _present(ad, RELEASE_REASON):
        changes["LastReleaseReason"] = ad.eval(RELEASE_REASON)
        changes[RELEASE_REASON] = None
    return changes


def _count_by_reason(ad: ClassAd, code: int) -> ClassAd:
    """``NumHoldsByReason`` with one more hold of ``code``: a nested ad keyed by HTCondor's
    names of the codes (``[ UserRequest = 2; JobPolicy = 1 ]``)."""
    counts = ad.eval("NumHoldsByReason")
    counts = counts.copy() if isinstance(counts, ClassAd) else ClassAd()
    try:
        name = "".join(word.capitalize() for word in HoldCode(code).name.split("_"))
    except ValueError:
        name = "Unspecified"  # HTCondor's name for a code it does not know
    counts[name] = _int(counts, name) + 1
    return counts


def _release(ad: ClassAd, reason: str, now: int) -> Changes:
    changes = transition(ad, IDLE, now, via="release")
    changes[RELEASE_REASON] = reason
    changes.update(_hold_to_last(ad))
    changes.update(losses_reset(ad))  # released by a person: the valve starts afresh
    return changes


def _hold_to_last(ad: ClassAd) -> Changes:
    """HoldReason, HoldReasonCode and HoldReasonSubCode move to their Last* names, as the
    schedd's fixReasonAttrs does on release and remove."""
    changes: Changes = {}
    for name in (HOLD_REASON, HOLD_REASON_CODE, HOLD_REASON_SUBCODE):
        if _present(ad, name):
            changes["Last" + name] = ad.eval(name)
            changes[name] = None
    return changes


def _remove(ad: ClassAd, reason: str, now: int) -> Changes:
    current = status(ad)
    changes = transition(ad, REMOVED, now, via="remove")
    changes[REMOVE_REASON] = reason
    changes.update(_hold_to_last(ad))
    if current in ON_A_MACHINE:
        changes.update(_stopped(ad, now, "removed", reason))
    return changes


def _remove_by_user(ad: ClassAd, reason: str, now: int) -> Changes:
    return _remove(ad, reason, now)


def _suspend(ad: ClassAd, _reason: str, now: int) -> Changes:
    changes = transition(ad, SUSPENDED, now, via="suspend")
    changes["TotalSuspensions"] = _int(ad, "TotalSuspensions") + 1
    changes["LastSuspensionTime"] = now
    return changes


def _continue(ad: ClassAd, _reason: str, now: int) -> Changes:
    changes = transition(ad, RUNNING, now, via="continue")
    changes.update(_suspension_over(ad, now))
    return changes


def _suspension_over(ad: ClassAd, now: int) -> Changes:
    since = _int(ad, "LastSuspensionTime")
    if not since:
        return {}
    return {"CumulativeSuspensionTime": _int(ad, "CumulativeSuspensionTime") + max(0, now - since),
            "LastSuspensionTime": 0}


def _vacate(ad: ClassAd, reason: str, now: int) -> Changes:
    # Only asked for here: the job goes back to Idle when its machine reports the run's
    # end (an eviction: not the job's doing, so no retry is used and no back-off applies).
    current = status(ad)
    if current not in ON_A_MACHINE:
        raise IllegalTransition(job_id(ad), current, IDLE, "vacate it")
    return {VACATE_REASON: reason, VACATE_REQUESTED: now}


def _retry(ad: ClassAd, reason: str, now: int, to: JobStatus = IDLE) -> Changes:
    """A finished job that failed goes back to Idle (or, when its parents have to end
    again first, to Waiting) with a fresh retry budget; its history (Attempts,
    NumJobStarts, the usage totals) stays."""
    changes = transition(ad, to, now, via="retry")
    for name in ("ExitCode", "ExitBySignal", "ExitSignal", REMOVE_REASON, "CompletionDate",
                 "RetryAfter", BLOCKED_BY):
        if name in ad:
            changes[name] = None
    if _int(ad, "NumJobCompletions"):
        changes["NumJobCompletions"] = 0
    changes.update(losses_reset(ad))
    changes["RetryReason"] = reason
    return changes


_ACTS = {
    Action.REMOVE: _remove_by_user,
    Action.REMOVE_X: _remove_by_user,  # the same change; the shell stops it without grace
    Action.HOLD: _hold_by_user,
    Action.RELEASE: _release,
    Action.SUSPEND: _suspend,
    Action.CONTINUE: _continue,
    Action.VACATE: _vacate,
    Action.RETRY: _retry,
    Action.RERUN: _retry,
}


# -- the end of a run ------------------------------------------------------------------------


def _stopped(ad: ClassAd, now: int, outcome: str, reason: str) -> Changes:
    """A run ended from outside (held or removed while on its machine): the shell stops
    it; the wall time is reckoned from the start, as no usage is reported."""
    return _end_run(ad, end=now, host=None, failure=Failure.EVICTED, outcome=outcome,
                    reason=reason, usage=None, record={})


def _end_run(ad: ClassAd, *, end: int, host: str | None, failure: Failure, outcome: str,
             reason: str, usage: Usage | None, record: dict[str, object]) -> Changes:
    """Off its machine: the usage totals, and one more attempt in the history."""
    host = host or _string(ad, REMOTE_HOST)
    start = _int(ad, "JobCurrentStartDate")
    wall = usage.wall_seconds if usage else float(max(0, end - start) if start else 0)
    changes: Changes = {
        REMOTE_HOST: None,
        "RemoteWallClockTime": _float(ad, "RemoteWallClockTime") + wall,
        "LastRemoteWallClockTime": float(wall),
    }
    if _present(ad, "RemoteSlot"):
        changes["RemoteSlot"] = None
    if _present(ad, VACATE_REQUESTED):
        changes[VACATE_REQUESTED] = None  # asked of this run, which is over
    if host:
        changes["LastRemoteHost"] = host
    if usage:
        changes["RemoteUserCpu"] = _float(ad, "RemoteUserCpu") + usage.cpu_seconds
        changes["MemoryUsage"] = usage.peak_memory_mb
    transfer = (usage.transfer_input_seconds + usage.transfer_output_seconds) if usage else 0.0
    if transfer:
        changes["CumulativeTransferTime"] = _float(ad, "CumulativeTransferTime") + transfer
    if status(ad) == SUSPENDED:
        changes.update(_suspension_over(ad, end))
    attempt = ClassAd({"Attempt": _int(ad, "NumJobStarts") or len(_attempts(ad)) + 1,
                       "Host": host, "Start": start, "End": end, "Failure": failure.value,
                       "Reason": reason, "Outcome": outcome, "WallSeconds": float(wall)})
    if _present(ad, "RemoteSlot"):
        attempt["Slot"] = _string(ad, "RemoteSlot")
    if usage:
        attempt["CpuSeconds"] = float(usage.cpu_seconds)
        attempt["PeakMemoryMB"] = usage.peak_memory_mb
    if transfer:
        attempt["TransferInputSeconds"] = float(usage.transfer_input_seconds)
        attempt["TransferOutputSeconds"] = float(usage.transfer_output_seconds)
    for name, value in record.items():
        attempt[name] = value
    changes[ATTEMPTS] = (_attempts(ad) + [attempt])[-MAX_ATTEMPTS_KEPT:]
    return changes


def _describe(event: JobExited) -> str:
    if event.failure is Failure.NONE:
        return f"exited with code {event.exit_code}"
    if event.failure is Failure.SIGNAL:
        return f"killed by signal {event.exit_signal}"
    return ""  # the decision's reason says it best


def _attempts(ad: ClassAd) -> list[ClassAd]:
    value = ad.eval(ATTEMPTS)
    if not isinstance(value, list):
        return []
    return [a for a in value if isinstance(a, ClassAd)]


# -- invariants ------------------------------------------------------------------------------


def applied(ad: ClassAd, changes: Changes) -> ClassAd:
    """A copy of ``ad`` with ``changes`` made (a value of None deletes the attribute)."""
    new = ad.copy()
    for name, value in changes.items():
        if value is None:
            new.pop(name, None)
        else:
            new[name] = value
    return new


def validate(ad: ClassAd) -> None:
    """Assert what must hold of any job ad the lifecycle leaves (AssertionError naming the
    job and the broken rule); run by the tests on every ad they make."""
    ident = job_id(ad)

    def check(ok: bool, rule: str) -> None:
        if not ok:
            raise AssertionError(f"job {ident}: {rule}")

    value = ad.eval(JOB_STATUS)
    check(isinstance(value, int) and not isinstance(value, bool) and value in _STATUS_NUMBERS,
          f"JobStatus {value!r} is not a status")
    current = JobStatus(value)
    check(isinstance(ad.eval("EnteredCurrentStatus"), int), "EnteredCurrentStatus is a time")
    last = ad.eval("LastJobStatus")
    check(not _present(ad, "LastJobStatus") or last in _STATUS_NUMBERS,
          f"LastJobStatus {last!r} is not a status")
    on_machine = current in ON_A_MACHINE
    host = ad.eval(REMOTE_HOST)
    check(on_machine == (isinstance(host, str) and host != ""),
          f"RemoteHost {host!r} while {_name(current)}")
    held = current == HELD
    code = ad.eval(HOLD_REASON_CODE)
    check(held == _present(ad, HOLD_REASON_CODE), f"HoldReasonCode {code!r} while "
          f"{_name(current)}")
    if held:
        check(isinstance(code, int) and code > 0, f"HoldReasonCode {code!r} is not a code")
        check(isinstance(ad.eval(HOLD_REASON), str), "a held job has a HoldReason")
    if current == REMOVED:
        check(isinstance(ad.eval(REMOVE_REASON), str), "a removed job has a RemoveReason")
    check(current == REMOVED or not _present(ad, BLOCKED_BY), "only a removed job is blocked")
    if current == COMPLETED:
        check(isinstance(ad.eval("CompletionDate"), int), "a completed job has CompletionDate")
        by_signal = ad.eval("ExitBySignal")
        check(isinstance(by_signal, bool), "a completed job has ExitBySignal")
        exit_attr = "ExitSignal" if by_signal else "ExitCode"
        check(isinstance(ad.eval(exit_attr), int), f"a completed job has {exit_attr}")
    starts = _int(ad, "NumJobStarts")
    check(0 <= _int(ad, "NumJobCompletions") <= starts,
          "NumJobCompletions is between 0 and NumJobStarts")
    after = ad.eval("RetryAfter")
    check(not _present(ad, "RetryAfter") or isinstance(after, int), "RetryAfter is a time")
    check(not (on_machine and _present(ad, "RetryAfter")), "a running job has no RetryAfter")
    check(on_machine or not _present(ad, VACATE_REQUESTED),
          "a vacate is asked only of a job on a machine")
    attempts = ad.eval(ATTEMPTS)
    check(not _present(ad, ATTEMPTS) or isinstance(attempts, list), "Attempts is a list")
    for attempt in attempts if isinstance(attempts, list) else []:
        check(isinstance(attempt, ClassAd), "each attempt is a ClassAd")
        check(attempt.eval("Failure") in FAILURES, f"attempt Failure {attempt.eval('Failure')!r}")
        check(attempt.eval("Outcome") in OUTCOMES, f"attempt Outcome {attempt.eval('Outcome')!r}")
        check(isinstance(attempt.eval("Attempt"), int), "each attempt has its number")
    check(len(attempts) <= starts if isinstance(attempts, list) else True,
          "no more attempts than starts")


# -- reading the ad --------------------------------------------------------------------------


def _name(state: JobStatus) -> str:
    return state.name.lower()


def _present(ad: ClassAd, name: str) -> bool:
    """Whether the attribute has a value (a deleted one may read as undefined)."""
    return name in ad and ad.eval(name) is not Value.Undefined


def _int(ad: ClassAd, name: str) -> int:
    value = ad.eval(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(ad: ClassAd, name: str) -> float:
    value = ad.eval(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _string(ad: ClassAd, name: str) -> str:
    value = ad.eval(name)
    return value if isinstance(value, str) else ""
