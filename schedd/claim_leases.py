"""The schedd's claims and their leases, pure: when to renew each claim, when a claim
whose startd has gone silent is over, and its job back in the queue.

One ``Leases`` for all the schedd's claims, changed only through ``handle(event, now)``,
which returns instructions for the shell (``schedd.claims``): send a keep-alive, probe a
silent startd, let a broken run stream reconnect, give a claim up.  No I/O, no clock, no
threads: every claim is judged on its own, so a startd that does not answer delays no
other claim's renewal (the shell sends each call in a thread of its own).

**What the startd knows.**  A startd keeps a claim's job while it has heard from the
claim's schedd within the lease (a keep-alive, an activation or reconnection of a run;
``startd.startd``); after that it kills the job and frees the slot.  The schedd cannot see
when the startd last heard from it, only bound it:

- ``confirmed``: the send time of the latest renewing call the startd answered.  The
  startd heard from the claim at that time or later.
- ``exposed``: the latest time the startd *may* have heard from the claim.  A call that
  failed may still have reached it (only its answer was lost), so it counts too: a
  keep-alive until the call ended, a run stream's request until ``deadline`` seconds after
  it was sent (the message reaches the startd within that or not at all).

The job is requeued (``GiveUp``: Failure.MACHINE_LOST, which does not use up a retry)
only once ``exposed + lease + grace`` has passed with no keep-alive in flight: by then the
startd's own lease is over, and ``grace`` more seconds cover the startd's polling of its
leases and the kill of the job.  So a job never runs on two hosts at once.

**Renewal.**  A healthy claim is renewed every third of its lease (``SendKeepAlive``,
each call with a deadline of ``deadline`` seconds, under the lease).  When a renewing call
fails or a run's stream breaks, the claim is *adrift*.  A startd that is only slow (a
machine busy starting many jobs) looks the same as one cut off, and it still holds the
claim on account of the last renewal it answered: so renewals go on, answered or not,
every ``probe`` seconds, while they land within that lease (``confirmed + lease``, less a
call's deadline), and a broken stream is reconnected to (``Reconnect``) as often.  After
that, each renewal that may reach the startd would only push ``exposed`` (and the
requeue) further out, so the startd is *probed* instead, every ``probe`` seconds, with a
call that renews nothing; a probe answered makes one renewing call (a keep-alive, or the
stream's reconnection).  An answered renewal ends the drift.  So a partition that heals
within the lease costs nothing, a slow startd keeps its claims, and a startd cut off for
good costs its job at most two leases (the one its last answered renewal gave, and the
one an unanswered renewal may have given since) and the grace.

Claims are known from ``ClaimHeld`` (granted, or recovered from the claims table after a
restart) until the shell drops them (``ClaimDropped``) or the core gives them up.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

__all__ = [
    "ClaimDropped", "ClaimHeld", "GiveUp", "JobAssigned", "KeepAliveAnswered",
    "KeepAliveFailed", "Leases", "Probe", "ProbeAnswered", "ProbeFailed", "Reconnect",
    "RenewalSent", "SendKeepAlive", "StreamAnswered", "StreamBroke", "Tick", "Timing",
    "timing",
]


@dataclass(frozen=True, slots=True)
class Timing:
    """A claim's intervals, in seconds, from its lease (``timing``)."""

    lease: float
    keep_alive: float  # between keep-alives of a healthy claim
    deadline: float  # of a renewing call
    probe: float  # between probes of a claim adrift
    grace: float  # after the startd's lease is surely over, before the job is requeued


def timing(lease: float) -> Timing:
    """HTCondor renews a claim every third of its lease.  A call gets half of it (at
    most 30 s, at least 1 s): a startd busy starting many jobs answers late, and a call
    given up before the startd reads it renews nothing there.  Probes go every tenth of
    the lease (0.5 to 2 s), and the startd gets half (3 to 30 s, beyond its default
    polling of 5 s) to kill a job whose lease is over: a startd busy with many jobs polls
    its leases late (seen: 6 s late, 64 jobs starting on 2 cores)."""
    if not lease > 0:
        raise ValueError(f"a lease is a positive number of seconds, not {lease!r}")
    return Timing(lease=lease, keep_alive=lease / 3, deadline=_clamp(lease / 2, 1.0, 30.0),
                  probe=_clamp(lease / 10, 0.5, 2.0), grace=_clamp(lease / 2, 3.0, 30.0))


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


# -- events (past tense) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimHeld:
    """The schedd holds the claim: the startd granted it to a request sent at ``sent``,
    or (``sent`` None) it was recovered from the claims table and is to be reconnected."""
    claim_id: str
    lease: float
    sent: float | None = None
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class JobAssigned:
    """The claim runs (or is about to run) ``job_id``; None: no job is on it now."""
    claim_id: str
    job_id: str | None
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class KeepAliveAnswered:
    """The keep-alive sent at ``sent`` was answered (whatever the answer: the startd was
    reached)."""
    claim_id: str
    sent: float
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class KeepAliveFailed:
    """The keep-alive sent at ``sent`` ended without an answer."""
    claim_id: str
    sent: float
    reason: str = ""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ProbeAnswered:
    claim_id: str
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ProbeFailed:
    claim_id: str
    reason: str = ""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class RenewalSent:
    """The shell sent a request of the claim's run stream (an activation, or a
    reconnection): it renews the claim at the startd if it gets there."""
    claim_id: str
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class StreamAnswered:
    """The run stream's request sent at ``sent`` was answered (its first event)."""
    claim_id: str
    sent: float
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class StreamBroke:
    """The claim's run stream failed; the shell waits for a ``Reconnect`` (or a
    ``GiveUp``) before it reads the run again."""
    claim_id: str
    reason: str = ""
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class ClaimDropped:
    """The shell is done with the claim (released, or its run ended it)."""
    claim_id: str
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has passed: renew, probe or give up what is due."""
    stimulus_id: str = ""


Event = (ClaimHeld | JobAssigned | KeepAliveAnswered | KeepAliveFailed | ProbeAnswered
         | ProbeFailed | RenewalSent | StreamAnswered | StreamBroke | ClaimDropped | Tick)


# -- instructions (imperative) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendKeepAlive:
    """Renew the claim: a keep-alive with a deadline of ``deadline`` seconds; report
    ``KeepAliveAnswered`` or ``KeepAliveFailed`` with the time it was sent."""
    claim_id: str
    deadline: float
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class Probe:
    """Ask the claim's startd whether it answers, with a call that renews nothing;
    report ``ProbeAnswered`` or ``ProbeFailed``."""
    claim_id: str
    deadline: float
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The claim's broken run stream may read the run again now."""
    claim_id: str
    stimulus_id: str = ""


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The claim is over: the startd's lease ran out without word from the schedd, and
    its job (``job_id``, if any) is off that machine; requeue it as lost.  The core has
    forgotten the claim."""
    claim_id: str
    job_id: str | None
    reason: str
    stimulus_id: str = ""


Instruction = SendKeepAlive | Probe | Reconnect | GiveUp


# -- the core -----------------------------------------------------------------------------


@dataclass
class _Claim:
    timing: Timing
    confirmed: float  # the send time of the latest renewing call answered (-inf: none)
    exposed: float  # the latest time the startd may have heard from the claim
    next_keep_alive: float
    job_id: str | None = None
    keep_alives: int = 0  # keep-alives in flight (0 or 1)
    probing: bool = False  # a probe in flight
    adrift: bool = False  # a renewing call failed or the stream broke: renew after a probe
    broken: bool = False  # the run stream waits for a Reconnect
    next_probe: float = 0.0
    why: str = ""  # what set it adrift, for the give-up's reason

    def lease_over(self) -> float:
        """When the startd's lease is surely over and its job killed."""
        return self.exposed + self.timing.lease + self.timing.grace

    def renewals_end(self) -> float:
        """Until when a claim adrift is renewed, answered or not: the last renewal must
        land within the lease its startd holds from the last one it answered."""
        return self.confirmed + self.timing.lease - self.timing.deadline

    def may_renew(self, now: float) -> bool:
        return not self.adrift or now <= self.renewals_end()


class Leases:
    """The schedd's claims and their leases (see the module's docstring)."""

    def __init__(self) -> None:
        self._claims: dict[str, _Claim] = {}
        self._jobs: dict[str, str] = {}  # job id -> the claim it runs on
        self._out: list[Instruction] = []
        self._now = 0.0
        self._stimulus = ""

    # -- reading ---------------------------------------------------------------------------

    def __contains__(self, claim_id: object) -> bool:
        return claim_id in self._claims

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._claims))

    def claim_of(self, job_id: str) -> str | None:
        """The claim that runs ``job_id``, if any."""
        return self._jobs.get(job_id)

    def job_of(self, claim_id: str) -> str | None:
        claim = self._claims.get(claim_id)
        return claim.job_id if claim is not None else None

    def adrift(self, claim_id: str) -> bool:
        claim = self._claims.get(claim_id)
        return claim is not None and claim.adrift

    def timing(self, claim_id: str) -> Timing:
        return self._claims[claim_id].timing

    def next_due(self) -> float:
        """When the next ``Tick`` has something to do (inf: nothing is due ever, until an
        event comes)."""
        due = math.inf
        for claim in self._claims.values():
            if claim.keep_alives:
                continue  # nothing is decided before its call ends
            due = min(due, claim.lease_over())
            if claim.may_renew(self._now):
                due = min(due, claim.next_keep_alive)
                if claim.broken:
                    due = min(due, claim.next_probe)
                if claim.adrift:  # renewals stop then, and probes begin
                    due = min(due, claim.renewals_end())
            elif not claim.probing:
                due = min(due, claim.next_probe)
        return due

    # -- events ----------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Instruction]:
        """Apply ``event`` at time ``now``; the instructions for the shell."""
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"not an event of the schedd's claims: {event!r}")
        self._now = now
        self._stimulus = event.stimulus_id
        self._out = []
        claim_id = getattr(event, "claim_id", None)
        if claim_id is None or isinstance(event, ClaimHeld) or claim_id in self._claims:
            handler(self, event)
        # else: a late report on a claim already dropped or given up: nothing to do
        out, self._out = self._out, []
        return out

    def _claim_held(self, event: ClaimHeld) -> None:
        if event.claim_id in self._claims:
            raise ValueError(f"claim {event.claim_id} is held already")
        times = timing(event.lease)
        now = self._now
        # Granted: the startd heard the request at its send time or later, and at the
        # latest when the answer came, now.  Recovered: the earlier schedd's calls ended
        # before this one started, so now bounds them too; nothing is confirmed, and the
        # reconnection that follows renews it.
        confirmed = event.sent if event.sent is not None else -math.inf
        self._claims[event.claim_id] = _Claim(times, confirmed=confirmed, exposed=now,
                                              next_keep_alive=now + times.keep_alive)

    def _job_assigned(self, event: JobAssigned) -> None:
        claim = self._claims[event.claim_id]
        if claim.job_id is not None and self._jobs.get(claim.job_id) == event.claim_id:
            del self._jobs[claim.job_id]
        claim.job_id = event.job_id
        if event.job_id is not None:
            self._jobs[event.job_id] = event.claim_id

    def _keep_alive_answered(self, event: KeepAliveAnswered) -> None:
        claim = self._claims[event.claim_id]
        claim.keep_alives -= 1
        self._answered(event.claim_id, claim, event.sent)

    def _keep_alive_failed(self, event: KeepAliveFailed) -> None:
        claim = self._claims[event.claim_id]
        claim.keep_alives -= 1
        claim.exposed = max(claim.exposed, self._now)  # it may have got there
        # It has just failed (or timed out): the next try (a renewal while they may
        # still land within the lease, else a probe) a probe's interval later.
        claim.next_probe = claim.next_keep_alive = self._now + claim.timing.probe
        self._drift(claim, f"a keep-alive failed: {event.reason}" if event.reason
                    else "a keep-alive failed")

    def _probe_answered(self, event: ProbeAnswered) -> None:
        claim = self._claims[event.claim_id]
        claim.probing = False
        if not claim.adrift:
            return
        if claim.broken:  # the stream's reconnection is the renewing call
            claim.broken = False
            self._emit(Reconnect(event.claim_id))
        elif claim.keep_alives == 0:
            self._send_keep_alive(event.claim_id, claim)

    def _probe_failed(self, event: ProbeFailed) -> None:
        claim = self._claims[event.claim_id]
        claim.probing = False
        claim.next_probe = self._now + claim.timing.probe

    def _renewal_sent(self, event: RenewalSent) -> None:
        claim = self._claims[event.claim_id]
        claim.exposed = max(claim.exposed, self._now + claim.timing.deadline)

    def _stream_answered(self, event: StreamAnswered) -> None:
        claim = self._claims[event.claim_id]
        self._answered(event.claim_id, claim, event.sent)

    def _stream_broke(self, event: StreamBroke) -> None:
        claim = self._claims[event.claim_id]
        claim.broken = True
        # The first break is probed at once (the startd may well be there); a stream that
        # breaks again after a probe said the startd answers is tried no faster than probes.
        claim.next_probe = self._now + (claim.timing.probe if claim.adrift else 0.0)
        self._drift(claim, f"its run's stream broke: {event.reason}" if event.reason
                    else "its run's stream broke")

    def _claim_dropped(self, event: ClaimDropped) -> None:
        self._forget(event.claim_id)

    def _tick(self, _event: Tick) -> None:
        now = self._now
        for claim_id, claim in list(self._claims.items()):
            if claim.keep_alives:
                continue  # its call ends before anything more is decided
            if now >= claim.lease_over():
                self._forget(claim_id)
                self._emit(GiveUp(claim_id, claim.job_id,
                                  f"the startd cannot be reached ({claim.why or 'silent'}); "
                                  f"its lease of {claim.timing.lease:g} s is over"))
            elif claim.may_renew(now):
                if claim.broken and now >= claim.next_probe:
                    claim.broken = False
                    claim.next_probe = now + claim.timing.probe
                    self._emit(Reconnect(claim_id))
                elif now >= claim.next_keep_alive:
                    self._send_keep_alive(claim_id, claim)
            elif not claim.probing and now >= claim.next_probe:
                claim.probing = True
                claim.next_probe = now + claim.timing.probe
                self._emit(Probe(claim_id, claim.timing.deadline))

    # -- helpers ---------------------------------------------------------------------------

    def _send_keep_alive(self, claim_id: str, claim: _Claim) -> None:
        claim.keep_alives += 1
        claim.next_keep_alive = self._now + claim.timing.keep_alive
        self._emit(SendKeepAlive(claim_id, claim.timing.deadline))

    def _answered(self, claim_id: str, claim: _Claim, sent: float) -> None:
        claim.confirmed = max(claim.confirmed, sent)
        claim.exposed = max(claim.exposed, self._now)
        if claim.adrift:
            claim.adrift = False
            claim.why = ""
            claim.next_keep_alive = min(claim.next_keep_alive,
                                        self._now + claim.timing.keep_alive)
        if claim.broken:  # reached: the stream may be read again
            claim.broken = False
            self._emit(Reconnect(claim_id))

    def _drift(self, claim: _Claim, why: str) -> None:
        if not claim.adrift:
            claim.adrift = True
            claim.why = why

    def _forget(self, claim_id: str) -> None:
        claim = self._claims.pop(claim_id)
        if claim.job_id is not None and self._jobs.get(claim.job_id) == claim_id:
            del self._jobs[claim.job_id]

    def _emit(self, instruction: Instruction) -> None:
        if self._stimulus:
            instruction = replace(instruction, stimulus_id=self._stimulus)
        self._out.append(instruction)

    # -- invariants ------------------------------------------------------------------------

    def validate(self) -> None:
        """Assert the invariants (AssertionError naming the claim and the rule)."""
        for claim_id, claim in self._claims.items():
            def check(ok: bool, rule: str, claim_id=claim_id) -> None:
                if not ok:
                    raise AssertionError(f"claim {claim_id}: {rule}")

            check(claim.keep_alives in (0, 1), "at most one keep-alive in flight")
            check(claim.confirmed <= claim.exposed, "confirmed no later than exposed")
            check(not claim.broken or claim.adrift, "a broken stream only adrift")
            check(claim.adrift == bool(claim.why), "a reason exactly while adrift")
            check(claim.job_id is None or self._jobs.get(claim.job_id) == claim_id,
                  "its job is known as its")
        for job_id, claim_id in self._jobs.items():
            assert claim_id in self._claims and self._claims[claim_id].job_id == job_id, \
                f"job {job_id}: runs on claim {claim_id}, which does not know it"


_HANDLERS = {
    ClaimHeld: Leases._claim_held,
    JobAssigned: Leases._job_assigned,
    KeepAliveAnswered: Leases._keep_alive_answered,
    KeepAliveFailed: Leases._keep_alive_failed,
    ProbeAnswered: Leases._probe_answered,
    ProbeFailed: Leases._probe_failed,
    RenewalSent: Leases._renewal_sent,
    StreamAnswered: Leases._stream_answered,
    StreamBroke: Leases._stream_broke,
    ClaimDropped: Leases._claim_dropped,
    Tick: Leases._tick,
}
