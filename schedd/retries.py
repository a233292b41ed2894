"""What happens when a job's run ends: retried, finished, held, or back in the queue.

HTCondor retries by policy alone: ``max_retries`` becomes ``OnExitRemove =
NumJobCompletions > JobMaxRetries || ExitCode =?= JobSuccessExitCode`` and a job that loses its
machine simply goes back to Idle.  Roost keeps that, and adds what users of pilots and
opportunistic pools need:

- **Whose fault.**  Only a run the job ended itself (an exit, a signal of its own, going
  over its memory) uses up a retry.  A lost machine, a pilot at the end of its walltime or
  an eviction sends the job back to Idle at once, counted in its own counter instead.
- **Back-off.**  A job requeued after failing waits ``RetryBackoffBase * 2**(n-1)``
  seconds (n its completions so far, 10 s by default) up to ``RetryBackoffMax`` (3600 s):
  ``RetryAfter`` is the time before which the negotiator will not match it.
- **Memory growth.**  A job stopped for going over its memory is, when it has retries left
  and asks for it with ``RetryRequestMemory`` (true, or a factor), requeued with a larger
  ``RequestMemory``, up to ``RetryRequestMemoryMax``: like HTCondor's
  ``retry_request_memory``.  Otherwise it is held with code 34 (JobOutOfResources).
- **A safety valve.**  A job that loses ``MaxLosses`` (20) machines in a row is held with
  code 26 (SystemPolicy): a job that kills its machines must not loop forever.

Attributes roost adds to the job ad (HTCondor has none of these):

- ``RetryAfter``: epoch seconds; not matched before (an indexed column of the queue).
- ``RetryBackoffBase``, ``RetryBackoffMax``: the user's back-off, in seconds.
- ``RetryRequestMemory``, ``RetryRequestMemoryMax``: the user's memory growth.
- ``MaxLosses``: the safety valve (a positive integer; anything else means 20).
- ``NumMachineLosses``, ``NumWalltimeEnds``, ``NumJobEvictions``: runs ended by a lost
  machine, by a pilot's walltime, by an eviction.
- ``NumConsecutiveLosses``: such runs since the job last ended a run itself (or was
  released or retried); the valve's count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from classad import ClassAd
from schedd import job_policy
from schedd.job_policy import HOLD, REQUEUE, Decision
from schedd.job_status import HoldCode

# A changes mapping, as lifecycle returns it: attribute -> new value, None deletes.
Changes = dict[str, object]

NUM_JOB_COMPLETIONS = "NumJobCompletions"
NUM_CONSECUTIVE_LOSSES = "NumConsecutiveLosses"
RETRY_AFTER = "RetryAfter"
REQUEST_MEMORY = "RequestMemory"

DEFAULT_BACKOFF_BASE = 10
DEFAULT_BACKOFF_MAX = 3600
DEFAULT_MEMORY_FACTOR = 2.0
# Grown memory is at least this much above the peak the run reached.
PEAK_HEADROOM = 1.25
DEFAULT_MAX_LOSSES = 20


class Failure(Enum):
    """Why a run ended; the value is how the attempt history spells it."""

    NONE = "exit"  # the job exited on its own; its exit code decides
    SIGNAL = "signal"  # killed by a signal of its own
    MEMORY = "memory"  # stopped by the startd for using more memory than it asked for
    MACHINE_LOST = "machine-lost"  # the startd or pilot vanished, or the lease expired
    WALLTIME = "walltime"  # a glide-in pilot reached the end of its allocation
    EVICTED = "evicted"  # preempted, or vacated by the machine's owner or policy
    START = "start-failed"  # the startd could not start it (missing executable, bad Iwd...)
    TRANSFER = "transfer-failed"  # its files could not move (missing input or output...)

    @property
    def is_jobs_fault(self) -> bool:
        """Whether the run's end is the job's own doing, and so uses up a retry."""
        return self in _JOBS_FAULT


_JOBS_FAULT = frozenset({Failure.NONE, Failure.SIGNAL, Failure.MEMORY})

# The counter each kind of loss goes to.
LOSS_COUNTERS = {
    Failure.MACHINE_LOST: "NumMachineLosses",
    Failure.WALLTIME: "NumWalltimeEnds",
    Failure.EVICTED: "NumJobEvictions",
}


@dataclass(frozen=True, slots=True)
class Usage:
    """What a run used, as the startd measured it."""

    cpu_seconds: float
    peak_memory_mb: int
    wall_seconds: float
    # Seconds its files took to move, before the job started and after it ended: kept
    # apart from the wall time, which is the job's own.
    transfer_input_seconds: float = 0.0
    transfer_output_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ExitResult:
    """The decision about a run that ended, and the attributes it changes besides the
    status and the hold or remove reason (which ``schedd.lifecycle`` writes)."""

    decision: Decision
    changes: Changes


def decide_exit(ad: ClassAd, failure: Failure, *, exit_code: int | None = None,
                exit_signal: int | None = None, peak_memory_mb: int | None = None,
                now: int, reason: str = "", hold_code: int | None = None,
                hold_subcode: int = 0) -> ExitResult:
    """Whether the job whose run just ended completes, goes back to Idle, or is held (or
    removed, by its PeriodicRemove).  ``ad`` is the job as it ran; ``reason`` and the hold
    codes are the startd's, for a job it could not start."""
    if failure in (Failure.NONE, Failure.SIGNAL):
        return _own_exit(ad, failure, exit_code, exit_signal, now)
    if failure is Failure.MEMORY:
        return _over_memory(ad, peak_memory_mb)
    if failure is Failure.START:
        # As HTCondor: the job is held (FailedToCreateProcess, or IwdError) with the
        # errno as the subcode; running it again elsewhere would fail the same way.
        code = hold_code if hold_code is not None else HoldCode.FAILED_TO_CREATE_PROCESS
        return ExitResult(Decision(HOLD, reason or "the job could not be started", code,
                                   hold_subcode), losses_reset(ad))
    if failure is Failure.TRANSFER:
        # As HTCondor: held (TransferInputError before the job starts, TransferOutputError
        # after, or a size limit's code); the user fixes the files, then releases it.
        code = hold_code if hold_code is not None else HoldCode.TRANSFER_OUTPUT_ERROR
        return ExitResult(Decision(HOLD, reason or "the job's files could not be transferred",
                                   code, hold_subcode), losses_reset(ad))
    return _lost(ad, failure)


def _own_exit(ad: ClassAd, failure: Failure, exit_code: int | None,
              exit_signal: int | None, now: int) -> ExitResult:
    completions = _int(ad, NUM_JOB_COMPLETIONS, 0) + 1
    changes: Changes = {NUM_JOB_COMPLETIONS: completions}
    if failure is Failure.NONE:
        if exit_code is None:
            raise ValueError("a job that exited on its own has an exit code")
        changes.update(ExitCode=exit_code, ExitBySignal=False, ExitSignal=None)
    else:
        if exit_signal is None:
            raise ValueError("a job killed by a signal has the signal's number")
        # As HTCondor: a signalled job has no ExitCode, so OnExitRemove's ExitCode =?= 0
        # is false and the job is retried.
        changes.update(ExitCode=None, ExitBySignal=True, ExitSignal=exit_signal)
    changes.update(losses_reset(ad))
    decision = job_policy.exit_decision(_with(ad, changes))
    if decision.action == REQUEUE:
        changes[RETRY_AFTER] = now + backoff_seconds(ad, completions)
    return ExitResult(decision, changes)


def _over_memory(ad: ClassAd, peak_memory_mb: int | None) -> ExitResult:
    completions = _int(ad, NUM_JOB_COMPLETIONS, 0) + 1
    changes: Changes = {NUM_JOB_COMPLETIONS: completions, **losses_reset(ad)}
    request = _number(ad, REQUEST_MEMORY)
    used = f"Job used {peak_memory_mb} MiB," if peak_memory_mb is not None else "Job used"
    reason = (f"{used} more than its RequestMemory of {_mib(request)} MiB"
              if request is not None else f"{used} more memory than it requested")
    max_retries = ad.eval("JobMaxRetries")
    retries_left = (isinstance(max_retries, int) and not isinstance(max_retries, bool)
                    and completions <= max_retries)
    factor = _growth_factor(ad)
    if factor is None:
        return ExitResult(_out_of_resources(reason), changes)
    if not retries_left:
        return ExitResult(_out_of_resources(f"{reason}; no retries left"), changes)
    grown = grown_memory(ad, peak_memory_mb or 0, factor)
    if grown is None:
        cap = _number(ad, "RetryRequestMemoryMax")
        at_cap = f"; RequestMemory is already at RetryRequestMemoryMax ({_mib(cap)} MiB)"
        return ExitResult(_out_of_resources(reason + at_cap), changes)
    changes[REQUEST_MEMORY] = grown
    # No back-off: the larger request is the remedy, waiting would not help.
    return ExitResult(Decision(REQUEUE, f"{reason}; retrying with RequestMemory {grown} MiB"),
                      changes)


def _lost(ad: ClassAd, failure: Failure) -> ExitResult:
    counter = LOSS_COUNTERS[failure]
    in_a_row = _int(ad, NUM_CONSECUTIVE_LOSSES, 0) + 1
    changes: Changes = {counter: _int(ad, counter, 0) + 1, NUM_CONSECUTIVE_LOSSES: in_a_row,
                        RETRY_AFTER: None}
    limit = max_losses(ad)
    if in_a_row >= limit:
        reason = (f"The job lost its run {in_a_row} times in a row without finishing one "
                  f"(last: {failure.value}); held so it cannot loop forever "
                  f"(MaxLosses = {limit})")
        return ExitResult(Decision(HOLD, reason, HoldCode.SYSTEM_POLICY, 0), changes)
    return ExitResult(Decision(REQUEUE, _LOST_WORDS[failure]), changes)


_LOST_WORDS = {
    Failure.MACHINE_LOST: "The machine running the job was lost",
    Failure.WALLTIME: "The pilot running the job reached the end of its walltime",
    Failure.EVICTED: "The job was evicted from its machine",
}


# -- the pieces, public for the shell and the tests -----------------------------------------


def backoff_seconds(ad: ClassAd, completions: int) -> int:
    """How long a job requeued after its ``completions``-th run waits before it may run
    again: ``min(RetryBackoffMax, RetryBackoffBase * 2**(completions-1))``."""
    base = _number(ad, "RetryBackoffBase")
    ceiling = _number(ad, "RetryBackoffMax")
    base = DEFAULT_BACKOFF_BASE if base is None or base < 0 else base
    ceiling = DEFAULT_BACKOFF_MAX if ceiling is None or ceiling < 0 else ceiling
    # Past 2**40 every delay is capped anyway; the bound keeps the arithmetic finite.
    exponent = min(max(completions - 1, 0), 40)
    return math.ceil(min(ceiling, base * 2**exponent))


def grown_memory(ad: ClassAd, peak_memory_mb: int, factor: float = DEFAULT_MEMORY_FACTOR
                 ) -> int | None:
    """The next RequestMemory of a job that went over its memory: its request times
    ``factor``, or the peak it reached plus a quarter, whichever is more, within
    ``RetryRequestMemoryMax``.  None when it cannot grow (at the cap, or no request)."""
    request = _number(ad, REQUEST_MEMORY)
    if request is None:
        return None
    grown = math.ceil(max(request * factor, peak_memory_mb * PEAK_HEADROOM))
    cap = _number(ad, "RetryRequestMemoryMax")
    if cap is not None:
        grown = min(grown, math.floor(cap))
    return grown if grown > request else None


def max_losses(ad: ClassAd) -> int:
    limit = ad.eval("MaxLosses")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit
    return DEFAULT_MAX_LOSSES


def losses_reset(ad: ClassAd) -> Changes:
    """The change that restarts the valve's count: when the job ends a run itself, or is
    released or retried."""
    return {NUM_CONSECUTIVE_LOSSES: 0} if _int(ad, NUM_CONSECUTIVE_LOSSES, 0) else {}


def _growth_factor(ad: ClassAd) -> float | None:
    """``RetryRequestMemory``: true means the default factor, a number greater than zero is
    the factor; missing, false or anything else means no growth."""
    value = ad.eval("RetryRequestMemory")
    if value is True:
        return DEFAULT_MEMORY_FACTOR
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _out_of_resources(reason: str) -> Decision:
    return Decision(HOLD, reason, HoldCode.JOB_OUT_OF_RESOURCES, 0)


def _with(ad: ClassAd, changes: Changes) -> ClassAd:
    """A copy of ``ad`` with ``changes`` made, to evaluate policy on (``ad`` is untouched)."""
    copy = ad.copy()
    for name, value in changes.items():
        if value is None:
            copy.pop(name, None)
        else:
            copy[name] = value
    return copy


def _int(ad: ClassAd, name: str, default: int) -> int:
    value = ad.eval(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _number(ad: ClassAd, name: str) -> int | float | None:
    value = ad.eval(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if value == value else None  # NaN is no amount


def _mib(amount: int | float | None) -> str:
    if isinstance(amount, float) and amount.is_integer():
        return str(int(amount))
    return str(amount)
