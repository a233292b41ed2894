"""A slot's states and activities, and the core that moves it between them.

One ``Slot`` per slot, changed only through ``handle(event, now)``, which returns the
instructions for the shell (start, suspend, continue, vacate or kill the job; advertise
the ad; accept or refuse a claim; free the slot's resources).  Pure: no I/O, no clock
(``now`` is handed in, and the policy's ``CurrentTime`` is ``now``), no threads.

States, activities and the legal moves are HTCondor's (ep-policy-configuration.rst,
"Machine States" and "Machine Activities"; see ``TRANSITIONS``); anything else raises
``IllegalTransition``.  What drives them:

- **Owner <-> Unclaimed** on every ``Tick``: the slot is the owner's while IS_OWNER
  (``START =?= False``, evaluated locally) is true.
- **Unclaimed -> Matched** when the negotiator's match info arrives; **Matched -> Owner**
  after ``MATCH_TIMEOUT`` without a claim (or when IS_OWNER becomes true).
- **Unclaimed/Matched -> Claimed/Idle** when a schedd presents the slot's claim id (a
  secret, compared in constant time) with a job that the slot's Requirements (``START &&
  WithinResourceLimits``) accepts.
- **Claimed/Idle -> Busy** when the claim is activated with a job (START is checked again:
  a reused claim may bring another job); **Busy -> Idle** when the job exits: the claim is
  kept for the schedd's next job.  A Claimed/Idle slot whose START turns false for the
  claim's job, or whose PREEMPT turns true, gives the claim up.
- **Busy -> Suspended** when WANT_SUSPEND and SUSPEND; **Suspended -> Busy** when CONTINUE.
- **The claim's holder** (the schedd, for condor_suspend, condor_continue and
  condor_vacate_job) may suspend its Busy job (``SuspendRequested``: it then stays
  Suspended until the holder continues it, whatever CONTINUE says; PREEMPT still applies),
  continue it (``ContinueRequested``; unless WANT_SUSPEND holds and CONTINUE does not:
  then the owner's policy keeps it suspended, as if it had suspended it), or vacate it
  (``JobVacateRequested``): no retirement, since the job's own side asks, but
  Preempting/Vacating at once, with the job's ``KillSig`` (SIGTERM by default) and the
  vacate time below; the claim ends with the job.  What cannot be done in the slot's
  state is answered with ``RefuseRequest``.
- **Preemption** (PREEMPT, in Busy only when not WANT_SUSPEND, always in Suspended; or the
  claim released, a vacate, a shutdown): the job first *retires* (Claimed/Retiring: it runs
  on, and is continued if it was suspended) while its run time, time suspended not
  counted, is under MaxJobRetirementTime (the slot's, or the job's own if that is less);
  then Preempting/Vacating (soft kill) if WANT_VACATE, else Preempting/Killing (hard
  kill).  Vacating becomes Killing when KILL is true or after MachineMaxVacateTime (the
  job's JobMaxVacateTime if that is less).  A job that exits while retiring ends the claim.
- **The end of a claim** (released, expired, preempted, retired): the slot goes to Owner,
  and at once on to Unclaimed if IS_OWNER is false, as HTCondor's Preempting -> Owner.
- **Preemption by a better match** (HTCondor's preempting claim, ``r_pre``): while a slot
  is claimed, its private ad offers the negotiator a second secret, the *preempting claim
  id*, instead of the claim's own.  A schedd that presents it with a job is accepted only
  if the slot's Rank of that job is at least its ``CurrentRank`` (the Rank of the claim's
  job; greater: the negotiator preempted for rank, equal: for user priority, which only the
  negotiator can judge).  The request then waits (no AcceptClaim yet) while the current job
  is preempted as above (retirement first); when the job is gone the new claim takes the
  slot, Claimed/Idle, and AcceptClaim answers it.  A Claimed/Idle slot is taken over at
  once.  A later request with the next preempting id and a Rank at least the waiting one's
  replaces it (that one is refused); a request given up (``ClaimWithdrawn``), a drain or a
  shutdown refuses the waiting one, and the job being preempted still leaves.
- **Lease expiry** kills the job (Preempting/Killing) and then frees the slot.
- **Drain**: a graceful drain lets a running job finish in Drained/Retiring (continued if
  suspended; PREEMPT still evicts it once its retirement time is used up), a quick one
  vacates it; new claims are refused; then Drained/Idle until the drain is cancelled.
- **Shutdown**: a graceful one preempts jobs as above (retirement first), a fast one
  kills them; the slot then stays in Owner, refusing claims (``finished`` says when the
  shell may exit).

A partitionable slot never runs a job itself: a claim it accepts leaves it Unclaimed, and
the shell carves a dynamic slot (a ``Slot`` of its own, with a claim id of its own) for the
job.  The partitionable slot keeps its claim id, so that the negotiator can hand it to
several matches in one cycle, each carving from what is left (HTCondor's claiming of
partitionable leftovers); the resources, not the id, limit what it gives.

Left out: Backfill, Benchmarking, CLAIM_WORKLIFE and KILLING_TIMEOUT (the shell escalates
a kill).
"""

from __future__ import annotations

import hmac
import secrets
import signal
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache

from classad import ClassAd, ExprTree, Value
from startd import policy as p
from startd.policy import Policy

__all__ = [
    "LEGAL", "MATCH_TIMEOUT", "TRANSITIONS", "AcceptClaim", "Activity",
    "ClaimActivated", "ClaimReleased", "ClaimRequested", "ClaimWithdrawn", "ContinueJob",
    "ContinueRequested", "DrainCancelled",
    "DrainRequested", "IllegalTransition", "JobExited", "JobVacateRequested", "KillJob",
    "LeaseExpired", "MatchInfoArrived", "RefuseClaim", "RefuseJob", "RefuseRequest",
    "ReleaseResources", "SendUpdate", "ShutdownRequested", "Slot", "StartJob", "State",
    "Step", "SuspendJob", "SuspendRequested", "Tick", "VacateJob", "VacateRequested",
    "kill_signal", "transition",
]

MATCH_TIMEOUT = 120  # seconds in Matched without a claim (HTCondor's MATCH_TIMEOUT)
STORY_LENGTH = 1000  # transitions kept in Slot.story


class State(Enum):
    OWNER = "Owner"
    UNCLAIMED = "Unclaimed"
    MATCHED = "Matched"
    CLAIMED = "Claimed"
    PREEMPTING = "Preempting"
    DRAINED = "Drained"


class Activity(Enum):
    IDLE = "Idle"
    BUSY = "Busy"
    SUSPENDED = "Suspended"
    RETIRING = "Retiring"
    VACATING = "Vacating"
    KILLING = "Killing"


OWNER, UNCLAIMED, MATCHED = State.OWNER, State.UNCLAIMED, State.MATCHED
CLAIMED, PREEMPTING, DRAINED = State.CLAIMED, State.PREEMPTING, State.DRAINED
IDLE, BUSY, SUSPENDED = Activity.IDLE, Activity.BUSY, Activity.SUSPENDED
RETIRING, VACATING, KILLING = Activity.RETIRING, Activity.VACATING, Activity.KILLING

Pair = tuple[State, Activity]

# The (state, activity) pairs a slot can be in (HTCondor's table, less Backfill and
# Benchmarking).
LEGAL: frozenset[Pair] = frozenset({
    (OWNER, IDLE), (UNCLAIMED, IDLE), (MATCHED, IDLE),
    (CLAIMED, IDLE), (CLAIMED, BUSY), (CLAIMED, SUSPENDED), (CLAIMED, RETIRING),
    (PREEMPTING, VACATING), (PREEMPTING, KILLING),
    (DRAINED, IDLE), (DRAINED, RETIRING),
})

# Every legal move and its name.
TRANSITIONS: dict[tuple[Pair, Pair], str] = {
    ((OWNER, IDLE), (UNCLAIMED, IDLE)): "available",  # IS_OWNER false
    ((UNCLAIMED, IDLE), (OWNER, IDLE)): "owner",  # IS_OWNER true, or shutdown
    ((UNCLAIMED, IDLE), (MATCHED, IDLE)): "match",
    ((MATCHED, IDLE), (OWNER, IDLE)): "unmatch",  # MATCH_TIMEOUT, IS_OWNER, shutdown
    ((UNCLAIMED, IDLE), (CLAIMED, IDLE)): "claim",
    ((MATCHED, IDLE), (CLAIMED, IDLE)): "claim",
    ((CLAIMED, IDLE), (CLAIMED, BUSY)): "activate",
    ((CLAIMED, BUSY), (CLAIMED, IDLE)): "job-exit",
    ((CLAIMED, SUSPENDED), (CLAIMED, IDLE)): "job-exit",
    ((CLAIMED, BUSY), (CLAIMED, SUSPENDED)): "suspend",
    ((CLAIMED, SUSPENDED), (CLAIMED, BUSY)): "continue",
    ((CLAIMED, BUSY), (CLAIMED, RETIRING)): "retire",
    ((CLAIMED, SUSPENDED), (CLAIMED, RETIRING)): "retire",
    ((CLAIMED, BUSY), (PREEMPTING, VACATING)): "vacate",
    ((CLAIMED, SUSPENDED), (PREEMPTING, VACATING)): "vacate",
    ((CLAIMED, RETIRING), (PREEMPTING, VACATING)): "vacate",
    ((DRAINED, RETIRING), (PREEMPTING, VACATING)): "vacate",
    ((CLAIMED, BUSY), (PREEMPTING, KILLING)): "kill",
    ((CLAIMED, SUSPENDED), (PREEMPTING, KILLING)): "kill",
    ((CLAIMED, RETIRING), (PREEMPTING, KILLING)): "kill",
    ((DRAINED, RETIRING), (PREEMPTING, KILLING)): "kill",
    ((PREEMPTING, VACATING), (PREEMPTING, KILLING)): "kill",
    ((CLAIMED, IDLE), (OWNER, IDLE)): "release",  # the claim ends without a job
    ((CLAIMED, RETIRING), (OWNER, IDLE)): "retired",  # the retiring job exited
    ((PREEMPTING, VACATING), (OWNER, IDLE)): "preempted",  # the job is gone
    ((PREEMPTING, KILLING), (OWNER, IDLE)): "preempted",
    # The job is gone and a preempting claim takes the slot.
    ((CLAIMED, RETIRING), (CLAIMED, IDLE)): "retired",
    ((PREEMPTING, VACATING), (CLAIMED, IDLE)): "preempted",
    ((PREEMPTING, KILLING), (CLAIMED, IDLE)): "preempted",
    ((OWNER, IDLE), (DRAINED, IDLE)): "drain",
    ((UNCLAIMED, IDLE), (DRAINED, IDLE)): "drain",
    ((MATCHED, IDLE), (DRAINED, IDLE)): "drain",
    ((CLAIMED, IDLE), (DRAINED, IDLE)): "drain",
    ((CLAIMED, BUSY), (DRAINED, RETIRING)): "drain",
    ((CLAIMED, SUSPENDED), (DRAINED, RETIRING)): "drain",
    ((DRAINED, RETIRING), (DRAINED, IDLE)): "drained",  # the job exited
    ((CLAIMED, RETIRING), (DRAINED, IDLE)): "drained",
    ((PREEMPTING, VACATING), (DRAINED, IDLE)): "drained",
    ((PREEMPTING, KILLING), (DRAINED, IDLE)): "drained",
    ((DRAINED, IDLE), (OWNER, IDLE)): "undrain",  # drain cancelled, or shutdown
    ((DRAINED, RETIRING), (CLAIMED, BUSY)): "undrain",
    ((DRAINED, RETIRING), (OWNER, IDLE)): "retired",  # exited while shutting down
}

_RUNNING = frozenset({BUSY, SUSPENDED, RETIRING, VACATING, KILLING})  # a job is there


class IllegalTransition(ValueError):
    """A move between (state, activity) pairs that ``TRANSITIONS`` does not allow."""

    def __init__(self, slot: str, current: Pair, to: Pair) -> None:
        self.current = current
        self.to = to
        super().__init__(f"slot {slot}: {_show(current)} -> {_show(to)} "
                         "is not a legal transition")


def transition(current: Pair, to: Pair, slot: str = "?") -> str:
    """The name of the move from ``current`` to ``to``; IllegalTransition if there is none."""
    name = TRANSITIONS.get((current, to))
    if name is None:
        raise IllegalTransition(slot, current, to)
    return name


# -- events (past tense) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    """Periodic evaluation, with the slot ad's current measured values (``KeyboardIdle``,
    ``LoadAvg``, ``CondorLoadAvg``, ...) to merge into the ad first."""
    values: Mapping[str, object] = field(default_factory=dict)
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class MatchInfoArrived:
    """The negotiator matched the slot to a schedd."""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ClaimRequested:
    """A schedd asks to claim the slot with ``claim_id`` for ``job_ad``."""
    claim_id: str
    job_ad: ClassAd
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ClaimWithdrawn:
    """The schedd waiting on a preempting claim (``claim_id``) gave up."""
    claim_id: str
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ClaimActivated:
    """The claim's holder asks to run ``job_ad`` on it.  ``claim_id``, when given, must be
    the claim's (a shell that checked it itself, with ``Slot.claim_matches``, may omit it)."""
    job_ad: ClassAd
    claim_id: str | None = None
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class JobExited:
    """The job's processes are gone (it ended, or was vacated or killed)."""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ClaimReleased:
    """The claim's holder gave the claim up (``claim_id`` as in ClaimActivated)."""
    claim_id: str | None = None
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class LeaseExpired:
    """The claim's holder has not been heard from within the lease."""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class VacateRequested:
    """An administrator asks the job to leave (condor_vacate); ``fast``: a hard kill."""
    fast: bool = False
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class SuspendRequested:
    """The claim's holder asks to stop its job (condor_suspend); ``claim_id`` as in
    ClaimActivated."""
    claim_id: str | None = None
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ContinueRequested:
    """The claim's holder asks to continue the job it suspended (condor_continue)."""
    claim_id: str | None = None
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class JobVacateRequested:
    """The claim's holder asks its job to leave (condor_vacate_job): a soft kill now, a
    hard kill after the vacate time, and the claim ends with the job."""
    claim_id: str | None = None
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class DrainRequested:
    """Stop taking jobs (condor_drain); ``graceful``: let a running job finish, else
    vacate it now."""
    graceful: bool = True
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class DrainCancelled:
    """Take jobs again (condor_drain -cancel)."""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    """The startd is stopping; ``graceful``: preempt jobs as PREEMPT would (retirement,
    then a soft kill), else kill them."""
    graceful: bool = True
    stimulus_id: str = ""


Event = (Tick | MatchInfoArrived | ClaimRequested | ClaimWithdrawn | ClaimActivated
         | JobExited | ClaimReleased | LeaseExpired | VacateRequested | SuspendRequested
         | ContinueRequested | JobVacateRequested | DrainRequested | DrainCancelled
         | ShutdownRequested)


# -- instructions (imperative) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartJob:
    """Start ``job_ad``'s job in the slot."""
    job_ad: ClassAd
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class SuspendJob:
    """Stop the job's processes (SIGSTOP)."""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ContinueJob:
    """Continue the job's stopped processes (SIGCONT)."""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class VacateJob:
    """Soft kill: ``signal``, the job's KillSig (with SIGCONT, if the job is stopped); the
    slot sends KillJob itself if the job is not gone within ``timeout`` seconds or KILL
    becomes true."""
    reason: str
    timeout: int
    signal: int = signal.SIGTERM
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class KillJob:
    """Hard kill: SIGKILL the job's whole process family."""
    reason: str
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class SendUpdate:
    """Advertise the slot: its public ``ad`` and the ``private_ad`` holding the claim id
    (for the negotiator only)."""
    ad: ClassAd
    private_ad: ClassAd
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class AcceptClaim:
    """Tell the schedd its claim is accepted (for a partitionable slot: carve a dynamic
    slot for ``job_ad`` and give it ``claim_id``)."""
    claim_id: str
    job_ad: ClassAd
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class RefuseClaim:
    """Tell the schedd that presented ``claim_id`` its claim is refused, and why."""
    reason: str
    claim_id: str = ""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class RefuseJob:
    """Tell the claim's holder the job it activated the claim with will not run, and why."""
    reason: str
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class RefuseRequest:
    """Tell the claim's holder that what it asked of its job (suspend, continue, vacate)
    cannot be done in the slot's state, and why."""
    reason: str
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ReleaseResources:
    """The slot holds no job and no claim any more: clean the sandbox up, and give a
    dynamic slot's resources back to its partitionable slot."""
    stimulus_id: str = ""


Instruction = (StartJob | SuspendJob | ContinueJob | VacateJob | KillJob | SendUpdate
               | AcceptClaim | RefuseClaim | RefuseJob | RefuseRequest | ReleaseResources)


@dataclass(frozen=True, slots=True)
class Step:
    """One transition, as the StartLog would show it."""
    time: int
    name: str
    old: Pair
    new: Pair
    cause: str
    stimulus_id: str = ""

    def __str__(self) -> str:
        return f"{self.time} {_show(self.old)} -> {_show(self.new)} ({self.name}: {self.cause})"


# -- the slot --------------------------------------------------------------------------------

_CURRENT_TIME = "CurrentTime"
_CORE_ATTRIBUTES = frozenset(name.lower() for name in (
    "State", "Activity", "EnteredCurrentState", "EnteredCurrentActivity", _CURRENT_TIME,
    "JobStart", "JobId", "RemoteOwner", "RemoteUser", "Draining", "CurrentRank"))
# Job attributes copied into the slot ad while it is claimed (attribute of slot, of job).
_CLAIM_ATTRIBUTES = (("RemoteOwner", "Owner"), ("RemoteUser", "User"),
                     ("RemoteGroup", "AcctGroup"), ("ConcurrencyLimits", "ConcurrencyLimits"))


def _new_claim_id() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A preempting claim waiting for the slot's job to leave."""
    claim_id: str
    job: ClassAd
    rank: float


class Slot:
    """One slot's state machine: ``handle(event, now)`` -> instructions.

    ``ad`` holds the slot's static attributes (Name, Cpus, Memory, SlotType, ...); the
    policy's expressions, State, Activity and the Entered* times are added.  ``claim_ids``
    makes a fresh secret claim id whenever the last one has been used up (tests pass a
    deterministic one); ``claim_id`` is the first (a dynamic slot is made with the claim id
    its partitionable slot accepted).
    """

    def __init__(self, name: str, policy: Policy, now: int, *,
                 ad: ClassAd | Mapping[str, object] | None = None,
                 partitionable: bool | None = None,
                 claim_ids: Callable[[], str] = _new_claim_id,
                 claim_id: str | None = None,
                 match_timeout: int = MATCH_TIMEOUT) -> None:
        now = int(now)
        self.name = name
        self.policy = policy
        self.match_timeout = match_timeout
        self._claim_ids = claim_ids
        self._claim_id = claim_id if claim_id is not None else claim_ids()
        self._ad = ad.copy() if isinstance(ad, ClassAd) else ClassAd(dict(ad or {}))
        if "Name" not in self._ad:
            self._ad["Name"] = name
        if partitionable is None:
            partitionable = (self._ad.eval("PartitionableSlot") is True
                             or self._ad.eval("SlotType") == "Partitionable")
        self.partitionable = partitionable
        policy.install(self._ad)
        self._reserved = _CORE_ATTRIBUTES | policy.attribute_names()
        self._state, self._activity = OWNER, IDLE
        self._entered_state = self._entered_activity = now
        self._claim_job: ClassAd | None = None  # the job the claim was requested for
        self._preempting_id: str | None = None  # offered to the negotiator while claimed
        self._pending: _Pending | None = None  # a preempting claim waiting for the slot
        self._job: ClassAd | None = None  # the job running in the slot
        self._job_start = 0
        self._suspended_total = 0  # seconds the current job has spent suspended
        self._suspended_since: int | None = None
        self._held_suspended = False  # suspended by the claim's holder, not the owner
        self._vacate_deadline: int | None = None
        self._draining = False
        self._shutting_down = False
        self._publish_state()
        self._ad["CurrentRank"] = 0.0
        self._ad[_CURRENT_TIME] = now
        self._start_local = p.evaluate(self._ad, p.START)  # START's last advertised value
        del self._ad[_CURRENT_TIME]
        self.story: deque[Step] = deque(maxlen=STORY_LENGTH)
        # per-call scratch
        self._now = now
        self._out: list[Instruction] = []
        self._stimulus = ""
        self._dirty = False

    # -- reading -------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def activity(self) -> Activity:
        return self._activity

    @property
    def entered_current_state(self) -> int:
        return self._entered_state

    @property
    def entered_current_activity(self) -> int:
        return self._entered_activity

    @property
    def claim_id(self) -> str:
        """The secret a schedd must present to claim the slot (advertised privately)."""
        return self._claim_id

    @property
    def job(self) -> ClassAd | None:
        """The ad of the job in the slot, if any."""
        return self._job

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def finished(self) -> bool:
        """Shut down: no job and no claim left, so the shell may exit."""
        return self._shutting_down and self._state is OWNER

    def claim_matches(self, claim_id: str) -> bool:
        """Whether ``claim_id`` is the slot's claim id (compared in constant time)."""
        return _same_secret(claim_id, self._claim_id)

    def offers(self, claim_id: str) -> bool:
        """Whether ``claim_id`` is the slot's claim id or its preempting claim id (both
        compared, in constant time)."""
        own = _same_secret(claim_id, self._claim_id)
        preempting = _same_secret(claim_id, self._preempting_id or self._claim_id)
        return own or preempting

    def public_ad(self) -> ClassAd:
        """A copy of the slot ad as advertised."""
        return self._ad.copy()

    @property
    def offered_claim_id(self) -> str:
        """The claim id the negotiator may hand out: the slot's own, or while it is claimed
        the preempting claim id."""
        return self._preempting_id if self._preempting_id is not None else self._claim_id

    @property
    def waiting_claim_id(self) -> str | None:
        """The preempting claim waiting for the slot's job to leave, if any."""
        return self._pending.claim_id if self._pending is not None else None

    def private_ad(self) -> ClassAd:
        """The private ad: the slot's name and the claim id on offer (for the negotiator
        only)."""
        offered = self.offered_claim_id
        return ClassAd({"Name": self._ad.eval("Name"), "ClaimId": offered,
                        "Capability": offered})

    def evaluate(self, name: str, job: ClassAd | None = None, now: int | None = None):
        """The slot ad's attribute ``name`` against ``job`` (locally when None), at ``now``
        (the time of the last event when None)."""
        self._ad[_CURRENT_TIME] = self._now if now is None else int(now)
        try:
            return p.evaluate(self._ad, name, job)
        finally:
            del self._ad[_CURRENT_TIME]

    # -- the one way in ------------------------------------------------------------------

    def handle(self, event: Event, now: int) -> list[Instruction]:
        """Apply ``event`` at time ``now``; the instructions for the shell, in order."""
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"slot {self.name}: not an event: {event!r}")
        self._now = int(now)
        self._out = []
        self._stimulus = event.stimulus_id
        self._dirty = False
        self._ad[_CURRENT_TIME] = self._now
        try:
            handler(self, event)
            start = p.evaluate(self._ad, p.START)
            if start != self._start_local:
                self._start_local = start
                self._dirty = True
        finally:
            del self._ad[_CURRENT_TIME]
        if self._dirty:
            self._out.append(SendUpdate(self.public_ad(), self.private_ad(), self._stimulus))
        return self._out

    # -- event handlers ------------------------------------------------------------------

    def _tick(self, event: Tick) -> None:
        for name, value in event.values.items():
            if name.lower() in self._reserved:
                raise ValueError(f"slot {self.name}: a Tick may not set {name}")
            self._ad[name] = value
        self._latch()
        pair = (self._state, self._activity)
        if pair == (OWNER, IDLE):
            self._owner_policy()
        elif pair in ((UNCLAIMED, IDLE), (MATCHED, IDLE)):
            if self._is_owner():
                self._move(OWNER, IDLE, "IS_OWNER is true")
            elif self._state is MATCHED and self._now - self._entered_state >= self.match_timeout:
                self._move(OWNER, IDLE, f"no claim within MATCH_TIMEOUT ({self.match_timeout} s)")
                self._owner_policy()
        elif pair == (CLAIMED, IDLE):
            if self._eval(p.START, self._claim_job) is False:
                self._free("START is false for the claim's job")
            elif self._true(p.PREEMPT, self._claim_job):
                self._free("PREEMPT is true")
        elif pair == (CLAIMED, BUSY):
            if self._true(p.WANT_SUSPEND, self._job):
                if self._true(p.SUSPEND, self._job):
                    self._move(CLAIMED, SUSPENDED, "SUSPEND is true")
                    self._emit(SuspendJob())
            elif self._true(p.PREEMPT, self._job):
                self._preempt("PREEMPT is true")
        elif pair == (CLAIMED, SUSPENDED):
            if self._true(p.PREEMPT, self._job):
                self._preempt("PREEMPT is true")
            elif not self._held_suspended and self._true(p.CONTINUE, self._job):
                self._move(CLAIMED, BUSY, "CONTINUE is true")
                self._emit(ContinueJob())
        elif pair == (CLAIMED, RETIRING):
            if self._retirement_left() <= 0:
                self._vacate("retirement time used up")
        elif pair == (DRAINED, RETIRING):
            if self._true(p.PREEMPT, self._job) and self._retirement_left() <= 0:
                self._vacate("PREEMPT is true and retirement time used up")
        elif pair == (PREEMPTING, VACATING):
            if self._true(p.KILL, self._job):
                self._kill("KILL is true")
            elif self._vacate_deadline is not None and self._now >= self._vacate_deadline:
                self._kill("vacate time used up")

    def _match_info(self, _event: MatchInfoArrived) -> None:
        if (self._state, self._activity) == (UNCLAIMED, IDLE) and not self.partitionable:
            self._move(MATCHED, IDLE, "match info arrived")

    def _claim_requested(self, event: ClaimRequested) -> None:
        claim_id = event.claim_id
        own = _same_secret(claim_id, self._claim_id)
        preempting = (self._preempting_id is not None
                      and _same_secret(claim_id, self._preempting_id))
        if not own and not preempting:
            self._emit(RefuseClaim("claim id mismatch", claim_id))
            return
        if self._shutting_down:
            self._emit(RefuseClaim("the startd is shutting down", claim_id))
            return
        if self._draining:
            self._emit(RefuseClaim("the slot is draining", claim_id))
            return
        if own and self._state not in (UNCLAIMED, MATCHED):
            self._emit(RefuseClaim(f"the slot is {_show((self._state, self._activity))}",
                                   claim_id))
            return
        job = event.job_ad
        if not self._true(p.REQUIREMENTS, job):
            test = p.START if not self._true(p.START, job) else p.WITHIN_RESOURCE_LIMITS
            self._emit(RefuseClaim(f"{test} is {_value(self._eval(test, job))} for this job",
                                   claim_id))
            return
        if preempting:
            self._preempting_claim(claim_id, job)
            return
        if self.partitionable:
            # The claim goes to a dynamic slot the shell carves; this one keeps its id.
            self._emit(AcceptClaim(self._claim_id, job))
            return
        self._claim(job)
        self._move(CLAIMED, IDLE, "claim accepted")
        self._emit(AcceptClaim(self._claim_id, job))

    def _preempting_claim(self, claim_id: str, job: ClassAd) -> None:
        """A claim presented with the preempting claim id (see the module's docstring)."""
        rank = self._rank(job)
        current = self._rank(self._claim_job)
        if self._pending is not None:
            if rank < self._pending.rank:
                self._emit(RefuseClaim(f"its Rank {rank:g} is below that of the claim "
                                       f"already waiting ({self._pending.rank:g})", claim_id))
                return
            self._emit(RefuseClaim("a better preempting claim replaced it",
                                   self._pending.claim_id))
        elif rank < current:
            self._emit(RefuseClaim(f"its Rank {rank:g} is below the current claim's "
                                   f"({current:g})", claim_id))
            return
        self._pending = _Pending(claim_id, job, rank)
        self._preempting_id = self._claim_ids()  # for a still better claim
        self._dirty = True
        pair = (self._state, self._activity)
        if pair == (CLAIMED, IDLE):
            self._take_over()
        elif pair in ((CLAIMED, BUSY), (CLAIMED, SUSPENDED)):
            why = "rank" if rank > current else "user priority"
            self._preempt(f"preempted for {why} by a claim of Rank {rank:g}")
        # retiring or preempting already: the claim waits for the job to leave

    def _claim(self, job: ClassAd) -> None:
        """Take a claim for ``job``: its owner in the ad, and a preempting claim id."""
        self._claim_job = job
        for slot_attr, job_attr in _CLAIM_ATTRIBUTES:
            value = job.eval(job_attr)
            if value is not Value.Undefined:
                self._ad[slot_attr] = value
        self._ad["CurrentRank"] = self._rank(job)
        self._preempting_id = self._claim_ids()

    def _take_over(self) -> None:
        """The waiting preempting claim becomes the slot's claim (the job is gone)."""
        pending, self._pending = self._pending, None
        self._clear_claim()
        self._claim_id = pending.claim_id
        self._claim(pending.job)
        self._dirty = True
        if (self._state, self._activity) != (CLAIMED, IDLE):
            self._move(CLAIMED, IDLE, "a preempting claim takes the slot")
        self._emit(AcceptClaim(pending.claim_id, pending.job))

    def _claim_withdrawn(self, event: ClaimWithdrawn) -> None:
        if self._pending is not None and _same_secret(event.claim_id, self._pending.claim_id):
            self._pending = None

    def _claim_activated(self, event: ClaimActivated) -> None:
        if event.claim_id is not None and not _same_secret(event.claim_id, self._claim_id):
            self._emit(RefuseJob("claim id mismatch"))
            return
        if self.partitionable:
            self._emit(RefuseJob("a partitionable slot runs no job itself"))
            return
        if (self._state, self._activity) != (CLAIMED, IDLE):
            self._emit(RefuseJob(f"the slot is {_show((self._state, self._activity))}, "
                                 "not Claimed/Idle"))
            return
        job = event.job_ad
        if not self._true(p.START, job):
            self._emit(RefuseJob(f"START is {_value(self._eval(p.START, job))} for this job"))
            return
        self._job = job
        self._job_start = self._now
        self._suspended_total = 0
        self._ad["JobStart"] = self._now
        cluster, proc = job.eval("ClusterId"), job.eval("ProcId")
        if isinstance(cluster, int) and isinstance(proc, int):
            self._ad["JobId"] = f"{cluster}.{proc}"
        self._move(CLAIMED, BUSY, "claim activated")
        self._emit(StartJob(job))

    def _job_exited(self, _event: JobExited) -> None:
        pair = (self._state, self._activity)
        if pair in ((CLAIMED, BUSY), (CLAIMED, SUSPENDED)):
            self._clear_job()
            self._move(CLAIMED, IDLE, "the job exited")
        elif self._job is not None:  # retiring (claimed or drained), or preempted
            self._clear_job()
            if self._pending is not None and not self._draining and not self._shutting_down:
                self._take_over()
            else:
                self._free("the job is gone")
        # otherwise there is no job: a late or repeated report

    def _claim_released(self, event: ClaimReleased) -> None:
        if event.claim_id is not None and not _same_secret(event.claim_id, self._claim_id):
            return
        pair = (self._state, self._activity)
        if pair == (CLAIMED, IDLE):
            self._free("the claim was released")
        elif pair in ((CLAIMED, BUSY), (CLAIMED, SUSPENDED)):
            self._preempt("the claim was released")
        # retiring or preempting already: the claim ends when the job does

    def _lease_expired(self, _event: LeaseExpired) -> None:
        if (self._state, self._activity) == (CLAIMED, IDLE):
            self._free("the claim's lease expired")
        elif self._job is not None and self._activity is not KILLING:
            self._kill("the claim's lease expired")

    def _vacate_requested(self, event: VacateRequested) -> None:
        pair = (self._state, self._activity)
        if pair == (CLAIMED, IDLE):
            self._free("vacate requested")
        elif self._job is None or self._activity is KILLING:
            return
        elif event.fast:
            self._kill("fast vacate requested")
        elif self._activity in (BUSY, SUSPENDED):
            self._preempt("vacate requested")
        # retiring: it ends in time; vacating: it is leaving

    def _suspend_requested(self, event: SuspendRequested) -> None:
        if not self._holder_asks(event.claim_id, "suspend"):
            return
        if self._activity is BUSY:
            self._move(CLAIMED, SUSPENDED, "suspend requested by the claim's holder")
            self._emit(SuspendJob())
        self._held_suspended = True  # so the owner's CONTINUE does not undo it

    def _continue_requested(self, event: ContinueRequested) -> None:
        if not self._holder_asks(event.claim_id, "continue"):
            return
        if self._activity is not SUSPENDED:
            return  # Busy already
        self._held_suspended = False
        if self._true(p.WANT_SUSPEND, self._job) and not self._true(p.CONTINUE, self._job):
            # The owner's policy would keep it suspended: it continues when CONTINUE does.
            self._emit(RefuseRequest("the machine's owner keeps the job suspended "
                                     "(CONTINUE is not true)"))
            return
        self._move(CLAIMED, BUSY, "continue requested by the claim's holder")
        self._emit(ContinueJob())

    def _holder_asks(self, claim_id: str | None, what: str) -> bool:
        """Whether the holder of the claim may have its job suspended or continued now;
        if not, the refusal is emitted."""
        if claim_id is not None and not _same_secret(claim_id, self._claim_id):
            self._emit(RefuseRequest("claim id mismatch"))
            return False
        if (self._state, self._activity) not in ((CLAIMED, BUSY), (CLAIMED, SUSPENDED)):
            self._emit(RefuseRequest(f"cannot {what} the job: the slot is "
                                     f"{_show((self._state, self._activity))}"))
            return False
        return True

    def _job_vacate_requested(self, event: JobVacateRequested) -> None:
        if event.claim_id is not None and not _same_secret(event.claim_id, self._claim_id):
            self._emit(RefuseRequest("claim id mismatch"))
        elif self._job is None:
            self._emit(RefuseRequest("no job runs on the claim"))
        elif self._state is not PREEMPTING:
            # Retirement protects a job from others' claims, not from its own side.
            self._vacate("vacate requested by the claim's holder")
        # preempting already: it is leaving

    def _drain_requested(self, event: DrainRequested) -> None:
        if self._shutting_down:
            return  # a stopping startd has no use for a drain
        self._draining = True
        self._ad["Draining"] = True
        self._dirty = True
        pair = (self._state, self._activity)
        if self._state in (OWNER, UNCLAIMED, MATCHED):
            self._move(DRAINED, IDLE, "drain requested")
        elif pair == (CLAIMED, IDLE):
            self._free("drain requested")
        elif self._activity in (BUSY, SUSPENDED, RETIRING):
            if not event.graceful:
                self._vacate("quick drain requested")
            elif self._activity is not RETIRING:
                was_suspended = self._activity is SUSPENDED
                self._move(DRAINED, RETIRING, "graceful drain requested")
                if was_suspended:
                    self._emit(ContinueJob())
        # retiring or preempting already: the slot is drained when the job is gone

    def _drain_cancelled(self, _event: DrainCancelled) -> None:
        if not self._draining:
            return
        self._draining = False
        del self._ad["Draining"]
        self._dirty = True
        pair = (self._state, self._activity)
        if pair == (DRAINED, IDLE):
            self._move(OWNER, IDLE, "drain cancelled")
            self._owner_policy()
        elif pair == (DRAINED, RETIRING):
            self._move(CLAIMED, BUSY, "drain cancelled")

    def _shutdown_requested(self, event: ShutdownRequested) -> None:
        self._shutting_down = True
        if self._state in (UNCLAIMED, MATCHED) or (self._state, self._activity) == (DRAINED, IDLE):
            self._move(OWNER, IDLE, "shutting down")
        elif (self._state, self._activity) == (CLAIMED, IDLE):
            self._free("shutting down")
        elif self._job is None or self._activity is KILLING:
            return
        elif not event.graceful:
            self._kill("fast shutdown")
        elif self._activity in (BUSY, SUSPENDED):
            self._preempt("shutting down")

    # -- moves ---------------------------------------------------------------------------

    def _move(self, state: State, activity: Activity, cause: str) -> None:
        old = (self._state, self._activity)
        name = transition(old, (state, activity), self.name)
        if self._activity is SUSPENDED and self._suspended_since is not None:
            self._suspended_total += self._now - self._suspended_since
            self._suspended_since = None
            self._held_suspended = False
        if activity is SUSPENDED:
            self._suspended_since = self._now
        if self._activity is VACATING:
            self._vacate_deadline = None
        if state is not self._state:
            self._entered_state = self._now
        self._entered_activity = self._now
        self._state, self._activity = state, activity
        self._publish_state()
        self._dirty = True
        self.story.append(Step(self._now, name, old, (state, activity), cause, self._stimulus))

    def _publish_state(self) -> None:
        self._ad["State"] = self._state.value
        self._ad["Activity"] = self._activity.value
        self._ad["EnteredCurrentState"] = self._entered_state
        self._ad["EnteredCurrentActivity"] = self._entered_activity

    def _owner_policy(self) -> None:
        """Owner -> Unclaimed when IS_OWNER is false (never while shutting down)."""
        if self._state is OWNER and not self._shutting_down and not self._is_owner():
            self._move(UNCLAIMED, IDLE, "IS_OWNER is false")

    def _preempt(self, cause: str) -> None:
        """Evict the running (or suspended) job: retire first while retirement time is
        left, then vacate."""
        if self._retirement_left() > 0:
            was_suspended = self._activity is SUSPENDED
            self._move(CLAIMED, RETIRING, f"{cause}; retiring")
            if was_suspended:
                self._emit(ContinueJob())
        else:
            self._vacate(cause)

    def _vacate(self, cause: str) -> None:
        """Preempting: Vacating (soft kill) when WANT_VACATE, else Killing."""
        if not self._true(p.WANT_VACATE, self._job):
            self._kill(f"{cause}; WANT_VACATE is not true")
            return
        timeout = int(p.number(self._eval(p.MACHINE_MAX_VACATE_TIME, self._job)))
        own = p.number(self._job.eval("JobMaxVacateTime") if self._job else None, -1)
        if own >= 0:
            timeout = min(timeout, int(own))
        self._move(PREEMPTING, VACATING, cause)
        self._vacate_deadline = self._now + max(0, timeout)
        self._emit(VacateJob(cause, max(0, timeout), kill_signal(self._job)))

    def _kill(self, cause: str) -> None:
        self._move(PREEMPTING, KILLING, cause)
        self._emit(KillJob(cause))

    def _free(self, cause: str) -> None:
        """No job left and the claim is over: Drained/Idle when draining, else Owner (and
        on to Unclaimed if IS_OWNER is false).  A preempting claim still waiting is
        refused."""
        if self._pending is not None:
            self._emit(RefuseClaim(cause, self._pending.claim_id))
            self._pending = None
        self._clear_claim()
        self._new_claim_id()
        if self._draining and not self._shutting_down:
            self._move(DRAINED, IDLE, cause)
        else:
            self._move(OWNER, IDLE, cause)
            self._owner_policy()
        self._emit(ReleaseResources())

    def _clear_claim(self) -> None:
        self._claim_job = None
        self._preempting_id = None
        for slot_attr, _job_attr in _CLAIM_ATTRIBUTES:
            if slot_attr in self._ad:
                del self._ad[slot_attr]
        self._ad["CurrentRank"] = 0.0

    def _clear_job(self) -> None:
        self._job = None
        self._job_start = 0
        for name in ("JobStart", "JobId"):
            if name in self._ad:
                del self._ad[name]

    def _new_claim_id(self) -> None:
        self._claim_id = self._claim_ids()
        self._dirty = True

    # -- policy --------------------------------------------------------------------------

    def _eval(self, name: str, job: ClassAd | None):
        return p.evaluate(self._ad, name, job)

    def _true(self, name: str, job: ClassAd | None) -> bool:
        return p.is_true(self._eval(name, job))

    def _rank(self, job: ClassAd | None) -> float:
        """The slot's Rank of ``job`` (0 for a value that is not a number)."""
        return float(p.number(self._eval(p.RANK, job))) if job is not None else 0.0

    def _is_owner(self) -> bool:
        if self._shutting_down:
            return True
        return p.is_true(p.evaluate(self._ad, p.IS_OWNER))

    def _retirement_left(self) -> float:
        """Seconds of retirement the running job has left: MaxJobRetirementTime (or the
        job's own, if less) minus its run time, time suspended not counted."""
        if self._job is None:
            return 0
        limit = p.number(self._eval(p.MAX_JOB_RETIREMENT_TIME, self._job))
        own = p.number(self._job.eval("MaxJobRetirementTime"), -1)
        if own >= 0:
            limit = min(limit, own)
        suspended = self._suspended_total
        if self._suspended_since is not None:
            suspended += self._now - self._suspended_since
        return limit - (self._now - self._job_start - suspended)

    def _latch(self) -> None:
        """HTCondor's STARTD_LATCH_EXPRS: <Name>Value and the time it last changed."""
        for name, text in self.policy.latch_expressions().items():
            value = _expression(text).eval(my=self._ad)
            if isinstance(value, bool):
                value = int(value)
            if value is Value.Undefined or value is Value.Error:
                continue
            if f"{name}Value" not in self._ad or self._ad.eval(f"{name}Value") != value:
                self._ad[f"{name}Value"] = value
                self._ad[f"{name}Time"] = self._now

    def _emit(self, instruction: Instruction) -> None:
        if self._stimulus:
            instruction = replace(instruction, stimulus_id=self._stimulus)
        self._out.append(instruction)

    # -- invariants ----------------------------------------------------------------------

    def validate(self) -> None:
        """Assert the slot's invariants (AssertionError naming the slot and the rule)."""

        def check(ok: bool, rule: str) -> None:
            if not ok:
                raise AssertionError(f"slot {self.name} "
                                     f"({_show((self._state, self._activity))}): {rule}")

        pair = (self._state, self._activity)
        check(pair in LEGAL, "not a legal (state, activity)")
        check(self._ad.eval("State") == self._state.value, "State in the ad")
        check(self._ad.eval("Activity") == self._activity.value, "Activity in the ad")
        check(self._ad.eval("EnteredCurrentState") == self._entered_state,
              "EnteredCurrentState in the ad")
        check(self._ad.eval("EnteredCurrentActivity") == self._entered_activity,
              "EnteredCurrentActivity in the ad")
        check(self._entered_state <= self._entered_activity,
              "EnteredCurrentState <= EnteredCurrentActivity")
        check(_CURRENT_TIME not in self._ad, "no CurrentTime left in the ad")
        check((self._job is not None) == (self._activity in _RUNNING),
              "a job is in the slot exactly when the activity says one runs")
        check((self._ad.eval("JobStart") is not Value.Undefined) == (self._job is not None),
              "JobStart exactly while a job is in the slot")
        check((self._claim_job is not None) == (self._state is CLAIMED
                                                or self._job is not None),
              "a claim exactly while Claimed or a job is in the slot")
        check((self._suspended_since is not None) == (self._activity is SUSPENDED),
              "suspended_since exactly while Suspended")
        check(not self._held_suspended or self._activity is SUSPENDED,
              "suspended by the claim's holder only while Suspended")
        check((self._vacate_deadline is not None) == (self._activity is VACATING),
              "a vacate deadline exactly while Vacating")
        check(self._suspended_total >= 0, "time suspended is not negative")
        check(self._draining == (self._ad.eval("Draining") is True), "Draining in the ad")
        check(self._state is not DRAINED or self._draining, "Drained only while draining")
        check(not self._draining or self._state in (DRAINED, PREEMPTING)
              or pair == (CLAIMED, RETIRING) or (self._state is OWNER and self._shutting_down),
              "draining only in Drained, Preempting, Claimed/Retiring (or Owner, shut down)")
        check(not self._shutting_down or pair not in ((UNCLAIMED, IDLE), (MATCHED, IDLE),
                                                      (CLAIMED, IDLE), (DRAINED, IDLE)),
              "a slot shutting down takes no claims")
        check(not self.partitionable or pair in ((OWNER, IDLE), (UNCLAIMED, IDLE),
                                                 (DRAINED, IDLE)),
              "a partitionable slot is Owner, Unclaimed or Drained, and Idle")
        check(isinstance(self._claim_id, str) and self._claim_id != "", "a claim id")
        check((self._preempting_id is not None) == (self._claim_job is not None),
              "a preempting claim id exactly while there is a claim")
        check(self._pending is None or self._claim_job is not None,
              "a preempting claim waits only on a claim")
        check(self._pending is None or self._state in (CLAIMED, PREEMPTING),
              "a preempting claim waits only while Claimed or Preempting")


def kill_signal(job: ClassAd | None) -> int:
    """The job's soft-kill signal: its ``KillSig`` (HTCondor's ``kill_sig``), a name with
    or without ``SIG`` or a number; SIGTERM when it has none or names no signal."""
    value = job.eval("KillSig") if job is not None else None
    if isinstance(value, str):
        name = value.strip().upper()
        value = int(name) if name.isdigit() else getattr(
            signal.Signals, name if name.startswith("SIG") else f"SIG{name}", None)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return int(signal.Signals(value))
        except ValueError:
            pass
    return int(signal.SIGTERM)


@lru_cache(maxsize=64)
def _expression(text: str) -> ExprTree:
    return ExprTree(text)


def _same_secret(given: object, held: str) -> bool:
    """Constant-time comparison of a presented claim id with the one held."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), held.encode("utf-8"))


def _show(pair: Pair) -> str:
    return f"{pair[0].value}/{pair[1].value}"


def _value(value) -> str:
    if value is Value.Undefined:
        return "UNDEFINED"
    if value is Value.Error:
        return "ERROR"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return repr(value)


_HANDLERS: dict[type, Callable[[Slot, object], None]] = {
    Tick: Slot._tick,
    MatchInfoArrived: Slot._match_info,
    ClaimRequested: Slot._claim_requested,
    ClaimWithdrawn: Slot._claim_withdrawn,
    ClaimActivated: Slot._claim_activated,
    JobExited: Slot._job_exited,
    ClaimReleased: Slot._claim_released,
    LeaseExpired: Slot._lease_expired,
    VacateRequested: Slot._vacate_requested,
    SuspendRequested: Slot._suspend_requested,
    ContinueRequested: Slot._continue_requested,
    JobVacateRequested: Slot._job_vacate_requested,
    DrainRequested: Slot._drain_requested,
    DrainCancelled: Slot._drain_cancelled,
    ShutdownRequested: Slot._shutdown_requested,
}
