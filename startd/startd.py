"""The startd's shell: slots, claims, leases and jobs behind one lock.

Each slot is a ``startd.states.Slot`` (the pure core); this shell hands it events (claims
and activations from schedds, job exits, the clock) and carries out what it answers:

- **StartJob**: ``startd.starter.start_job`` in the execute directory; the job's events
  (``started``, ``suspended``, ``continued``, ``usage``, then ``exited`` or ``evicted``)
  go to a ``JobEvents`` log that ActivateClaim streams follow.  The log outlives the
  stream: a schedd that restarted reconnects to the claim and reads it again from the
  start, so results are not lost when nobody was listening.
- **SuspendJob/ContinueJob/VacateJob/KillJob**: signals to the job's whole process family
  (a vacate's soft kill is the job's KillSig).  The claim's schedd asks for them too
  (``control``: condor_suspend, condor_continue, condor_vacate_job).
- **AcceptClaim** on a partitionable slot: a dynamic slot is carved out of it
  (``startd.slots.SlotTable.carve``), made a ``Slot`` of its own with the accepted claim id,
  and claimed; the schedd gets the dynamic slot's ad.
- **A preempting claim** (a schedd presents a claimed slot's preempting claim id): the
  slot preempts its job, and the RequestClaim call waits, up to ``preempt_wait`` seconds,
  for the slot's AcceptClaim or RefuseClaim, as HTCondor's startd keeps the schedd's
  socket.  A wait that runs out withdraws the claim (``ClaimWithdrawn``): the job being
  preempted still leaves, and the slot is free for the next match.
- **ReleaseResources**: a dynamic slot goes back into its partitionable slot and its ad is
  withdrawn.
- **SendUpdate**: the ad (and the private ad with the claim id) is queued for the collector;
  ``take_updates`` hands the queue to the advertiser (``startd.advertise``).

Every ``poll_interval`` ``tick`` measures the machine (load, keyboard and console idle),
ticks every slot (the owner's policy), expires claims whose schedd has not been heard from
within the lease, stops jobs over their memory, records usage, and asks the glide-in's
``Lifetime`` whether to go on.  A reaper thread waits for jobs to end (``ExitWaiter``); a
glide-in's job dead of SIGTERM or SIGKILL is reported when its ``BATCH_SIGNAL_WINDOW``
closes (or the startd's stop overtakes it), while the reaper goes on with other jobs.

A job that ends is reported with HTCondor's attributes: ``ExitCode`` or ``ExitSignal`` and
``ExitBySignal``, ``RemoteUserCpu``, ``RemoteSysCpu``, ``RemoteWallClockTime``,
``MemoryUsage`` (peak MiB) and ``ResidentSetSize`` (peak KiB), ``JobCoreDumped``, and
roost's ``Failure`` in the schedd's words (``schedd.retries.Failure``: ``exit``,
``signal``, ``memory``, ``evicted``, ``machine-lost``, ``walltime``; ``start-failed`` for a
job that could not start), with ``HoldReason``/``HoldReasonCode``/``HoldReasonSubCode``
where HTCondor would hold the job (memory overrun: 34; cannot start: 6 or 14).

CondorLoadAvg, per slot, is the CPU its job used over the last poll interval (CPUs' worth);
LoadAvg is the machine's one-minute load average, shared out over the slots with what the
jobs do subtracted, so ``LoadAvg - CondorLoadAvg`` is the owner's load on every slot, which
is what the desktop policy looks at.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from classad import ClassAd
from startd import starter, transfer
from startd.lifetime import Lifetime, Verdict
from startd.machine_ad import MachineInfo, Measurements, SlotState, slot_ad
from startd.policy import Policy
from startd.slots import DYNAMIC, Refusal, SlotTable
from startd.states import (
    AcceptClaim,
    ClaimActivated,
    ClaimReleased,
    ClaimRequested,
    ClaimWithdrawn,
    ContinueJob,
    ContinueRequested,
    DrainRequested,
    JobExited,
    JobVacateRequested,
    KillJob,
    LeaseExpired,
    RefuseClaim,
    RefuseJob,
    RefuseRequest,
    ReleaseResources,
    SendUpdate,
    ShutdownRequested,
    Slot,
    StartJob,
    State,
    SuspendJob,
    SuspendRequested,
    Tick,
    VacateJob,
)

log = logging.getLogger("roost.startd")

DEFAULT_LEASE = 300  # seconds a claim lives without news from its schedd (when it names none)
POLL_INTERVAL = 5.0  # seconds between ticks (HTCondor's POLLING_INTERVAL)
# Seconds a preempting RequestClaim waits for the slot's job to leave: within the schedd's
# call timeout (roost.client, 30 s).
PREEMPT_WAIT = 25.0

# What a claim's schedd may ask of its job (startd.proto's JobControl).
SUSPEND, CONTINUE, VACATE = "suspend", "continue", "vacate"
_CONTROLS = {SUSPEND: SuspendRequested, CONTINUE: ContinueRequested,
             VACATE: JobVacateRequested}
# Why the startd stopped a job, as the schedd's Failure spells it (schedd.retries).
EVICTED, MACHINE_LOST, WALLTIME = "evicted", "machine-lost", "walltime"
# A batch system that ends a glide-in's allocation (scancel, the walltime) signals all its
# processes at once, the jobs with the startd, so a job may die of SIGTERM (or SIGKILL)
# before the startd has begun to vacate it.  Such a death is the vacate it is when the
# startd's own stop follows within this many seconds: the job goes back to Idle.
# The tls.ca setting, as a job's roost.client reads it from its environment.
TLS_CA_VARIABLE = "ROOST_TLS_CA"
BATCH_SIGNAL_WINDOW = 2.0
_BATCH_SIGNALS = frozenset({signal.SIGTERM, signal.SIGKILL})
_FAILURES = {starter.FAILURE_NONE: "exit", starter.FAILURE_SIGNAL: "signal",
             starter.FAILURE_MEMORY: "memory", starter.FAILURE_START: "start-failed",
             transfer.FAILURE_TRANSFER: "transfer-failed"}


@dataclass(frozen=True)
class ClaimReply:
    """RequestClaim's answer: the claimed slot's ad and the claim id to use from now on
    (a dynamic slot's, for a claim on a partitionable slot)."""

    accepted: bool
    reason: str = ""
    slot_ad: ClassAd | None = None
    claim_id: str = ""


@dataclass(frozen=True)
class JobEvent:
    kind: str
    time: int
    attrs: dict[str, object]


class JobEvents:
    """One run's events, in order; readers wait for more until the run has ended."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._events: list[JobEvent] = []
        self._ended = False
        self._changed = threading.Condition()

    def add(self, event: JobEvent, *, last: bool = False) -> None:
        with self._changed:
            if self._ended:
                return
            self._events.append(event)
            self._ended = last
            self._changed.notify_all()

    @property
    def ended(self) -> bool:
        return self._ended

    def after(self, index: int, timeout: float) -> tuple[list[JobEvent], bool]:
        """The events from ``index`` on (waiting up to ``timeout`` seconds for one), and
        whether the run has ended."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._events) > index or self._ended,
                                   timeout)
            return self._events[index:], self._ended


@dataclass
class _Claim:
    lease: float
    heard: float  # when the schedd was last heard from (the startd's clock)
    events: JobEvents | None = None  # the claim's current or last run
    schedd: str = ""  # the schedd's address, for file transfer
    claim_id: str = ""  # the id the claim's runs are activated with
    # What the schedd adds to the environment of the run it activates (its credential):
    # secret, so kept here and never in the job's ad or a log.
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class _Run:
    job: starter.RunningJob
    events: JobEvents
    sampled: float  # when the CPU time was last read, for CondorLoadAvg
    cpu_seconds: float = 0.0
    cpu_rate: float = 0.0  # CPUs' worth, over the last tick
    last_usage: float = 0.0  # when the last usage event was sent
    stopped_as: str = EVICTED  # the Failure if the startd stops it
    # The run's file transfer (startd.transfer), and the sandbox as its input left it.
    transfer: transfer.Transfer | None = None
    before: transfer.Snapshot | None = None
    job_ad: ClassAd | None = None  # as the schedd sent it (a transfer's run only)
    environment: dict[str, str] = field(default_factory=dict)  # the claim's, at its start


class Startd:
    """The machine's slots and what runs in them (see the module's docstring)."""

    def __init__(self, machine: MachineInfo, table: SlotTable, policy: Policy, *,
                 execute_dir: Path, measure: Callable[[float], Measurements],
                 clock: Callable[[], float] = time.time, run_as: str | None = None,
                 memory_policy: str = "hard", lifetime: Lifetime | None = None,
                 usage_interval: float = 60.0, preempt_wait: float = PREEMPT_WAIT,
                 on_end: Callable[[Verdict], None] = lambda verdict: None,
                 schedd_channel: Callable[[str], object] = transfer.insecure_channel,
                 tls_ca: str = "") -> None:
        self.machine = machine
        self.table = table
        self.policy = policy
        self.execute_dir = Path(execute_dir)
        self.measure = measure
        self.clock = clock
        self.run_as = run_as
        self.memory_policy = memory_policy
        self.lifetime = lifetime
        self.usage_interval = usage_interval
        self.preempt_wait = preempt_wait
        self.on_end = on_end
        self.schedd_channel = schedd_channel  # a gRPC channel to a schedd, for transfers
        # The CA certificate the pool's daemons are checked with (tls.ca): a job given a
        # credential by its schedd finds it in ROOST_TLS_CA, to reach the schedd over TLS.
        self.tls_ca = tls_ca
        self._lock = threading.RLock()
        self._measured = Measurements()
        now = clock()
        self._slots: dict[str, Slot] = {
            slot.name: Slot(slot.name, policy, int(now), ad=self._base_ad(slot.name, now))
            for slot in table}
        self._claims: dict[str, _Claim] = {}
        self._runs: dict[str, _Run] = {}
        self._updates: dict[str, tuple[ClassAd, ClassAd] | None] = {}
        self._updated = threading.Condition(self._lock)
        self._last_claim_end: float | None = None
        self._ended: Verdict | None = None
        self._closed = False
        self._stopping = threading.Event()  # set when shutdown() begins
        self._drain_deadline: float | None = None
        self._carved: Slot | None = None  # the dynamic slot the last claim carved
        # RequestClaim calls waiting for their answer: claim id -> lease, and the answers.
        self._waiting: dict[str, float] = {}
        self._answers: dict[str, ClaimReply] = {}
        self._answered = threading.Condition(self._lock)
        self._waiter = starter.ExitWaiter()
        # Jobs dead of a batch system's signal, waiting out BATCH_SIGNAL_WINDOW: job ->
        # (its result, when the window closes on the monotonic clock).  The reaper's own.
        self._unsettled: dict[starter.RunningJob, tuple[starter.JobResult, float]] = {}
        self._reaper = threading.Thread(target=self._reap, name="startd:reaper", daemon=True)
        self._reaper.start()
        self.tick()

    # -- reading -------------------------------------------------------------------------

    def slots(self) -> list[Slot]:
        with self._lock:
            return list(self._slots.values())

    def ads(self) -> list[tuple[ClassAd, ClassAd]]:
        """Every slot's public and private ad, as they are now."""
        with self._lock:
            return [(slot.public_ad(), slot.private_ad()) for slot in self._slots.values()]

    def take_updates(self, timeout: float) -> tuple[list[tuple[ClassAd, ClassAd]], list[str]]:
        """The ads changed since the last call and the names of slots gone, waiting up to
        ``timeout`` seconds for a change."""
        with self._updated:
            self._updated.wait_for(lambda: bool(self._updates), timeout)
            updates, self._updates = self._updates, {}
        changed = [pair for pair in updates.values() if pair is not None]
        gone = [name for name, pair in updates.items() if pair is None]
        return changed, gone

    @property
    def running_jobs(self) -> int:
        with self._lock:
            return len(self._runs)

    # -- what schedds ask ------------------------------------------------------------------

    def request_claim(self, claim_id: str, job_ad: ClassAd, lease: float = 0,
                      schedd_address: str = "") -> ClaimReply:
        """Claim the slot whose claim id (or preempting claim id) is ``claim_id`` for
        ``job_ad``; a preempting claim waits for the slot's job to leave.  The claim's
        jobs fetch and return their files from ``schedd_address``."""
        with self._lock:
            slot = self._slot_of(claim_id, Slot.offers)
            if slot is None:
                return ClaimReply(False, "no slot has this claim id")
            if slot.partitionable:
                # A partitionable slot carves a dynamic slot, which is claimed.
                self._carved = None
                out = self._handle(slot, ClaimRequested(claim_id, job_ad))
                for instruction in out:
                    if isinstance(instruction, RefuseClaim):
                        return ClaimReply(False, instruction.reason)
                claimed = self._carved
                if claimed is None:
                    return ClaimReply(False, f"{slot.name} has not enough left for this job")
                self._claims[claimed.name] = _Claim(lease or DEFAULT_LEASE, self.clock(),
                                                    schedd=schedd_address)
                return ClaimReply(True, "", claimed.public_ad(), claimed.claim_id)
            self._waiting[claim_id] = (lease or DEFAULT_LEASE, schedd_address)
            try:
                self._handle(slot, ClaimRequested(claim_id, job_ad))
                if not self._answered.wait_for(lambda: claim_id in self._answers,
                                               self.preempt_wait):
                    self._handle(slot, ClaimWithdrawn(claim_id))
                    return ClaimReply(False, f"{slot.name}: the job it runs did not leave "
                                             f"within {self.preempt_wait:g} s")
                return self._answers.pop(claim_id)
            finally:
                self._waiting.pop(claim_id, None)
                self._answers.pop(claim_id, None)

    def activate(self, claim_id: str, job_ad: ClassAd | None, *,
                 reconnect: bool = False, environment: dict[str, str] | None = None,
                 ) -> JobEvents | str:
        """Run ``job_ad`` on the claim (or, with ``reconnect``, follow its current or last
        run again); the run's events, or why not.  ``environment``: what the schedd adds
        to the job's environment that is not in its ad (its credential)."""
        with self._lock:
            slot = self._claimed(claim_id)
            if slot is None:
                return "no claimed slot has this claim id"
            claim = self._claims[slot.name]
            claim.heard = self.clock()
            if reconnect:
                return claim.events or "the claim has run no job"
            if job_ad is None:
                return "no job ad"
            claim.claim_id = claim_id
            claim.environment = dict(environment or {})
            if claim.environment and self.tls_ca:
                claim.environment[TLS_CA_VARIABLE] = self.tls_ca
            out = self._handle(slot, ClaimActivated(job_ad))
            for instruction in out:
                if isinstance(instruction, RefuseJob):
                    return instruction.reason
            return self._runs[slot.name].events

    def release(self, claim_id: str) -> bool:
        """The schedd gives the claim up (a running job is preempted first)."""
        with self._lock:
            slot = self._claimed(claim_id)
            if slot is None:
                return False
            self._handle(slot, ClaimReleased(claim_id))
            return True

    def control(self, claim_id: str, what: str) -> str:
        """Suspend, continue or vacate (``what``) the claim's job, as its schedd asks;
        "" when done (or under way), else why not."""
        with self._lock:
            slot = self._claimed(claim_id)
            if slot is None:
                return "no claimed slot has this claim id"
            self._claims[slot.name].heard = self.clock()
            for instruction in self._handle(slot, _CONTROLS[what](claim_id)):
                if isinstance(instruction, RefuseRequest):
                    return instruction.reason
            return ""

    def keep_alive(self, claim_id: str) -> str:
        """Renew the claim's lease; the slot's state, or "" for no such claim."""
        with self._lock:
            slot = self._claimed(claim_id)
            if slot is None:
                return ""
            self._claims[slot.name].heard = self.clock()
            return f"{slot.state.value}/{slot.activity.value}"

    def drain(self, graceful: bool = True, deadline: float = 0) -> int:
        """Take no new claims; running jobs finish (graceful) or are vacated, at the latest
        ``deadline`` seconds from now (0: no deadline).  Returns how many jobs are
        running."""
        with self._lock:
            if graceful and deadline > 0:
                self._drain_deadline = self.clock() + deadline
            self._drain_all(graceful)
            return len(self._runs)

    def _drain_all(self, graceful: bool) -> None:
        for slot in list(self._slots.values()):
            if slot.name in self._slots:
                self._handle(slot, DrainRequested(graceful))

    # -- the clock ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Measure, apply the owner's policy, expire leases, police memory, record usage,
        and check the glide-in's lifetime."""
        now = self.clock()
        measured = self.measure(now)
        running = []
        with self._lock:
            runs = list(self._runs.values())
        # Read outside the lock (psutil, per job: slow with many), which the claims'
        # keep-alives wait on: a startd of many jobs would otherwise answer them late.
        usages = [(run, run.job.usage()) for run in runs]
        with self._lock:
            self._measured = measured
            for run, usage in usages:
                elapsed = now - run.sampled
                if elapsed > 0:
                    run.cpu_rate = max(0.0, usage.cpu_seconds - run.cpu_seconds) / elapsed
                run.cpu_seconds, run.sampled = usage.cpu_seconds, now
                if now - run.last_usage >= self.usage_interval:
                    run.last_usage = now
                    run.events.add(JobEvent("usage", int(now), _usage_attrs(usage)))
                running.append(run.job)
            condor_load = sum(run.cpu_rate for run in self._runs.values())
            share = max(0.0, measured.load_avg - condor_load) / max(1, len(self._slots))
            for name, slot in list(self._slots.items()):
                if name not in self._slots:
                    continue
                run = self._runs.get(name)
                rate = run.cpu_rate if run else 0.0
                self._handle(slot, Tick(self._measured_values(measured, share + rate, rate, now)))
            for name, claim in list(self._claims.items()):
                slot = self._slots.get(name)
                if slot is not None and now - claim.heard > claim.lease:
                    log.warning("%s: no word from the claim's schedd for %d s; the lease "
                                "has expired", name, now - claim.heard)
                    self._handle(slot, LeaseExpired(), stopped_as=MACHINE_LOST)
            if self._drain_deadline is not None and now >= self._drain_deadline:
                self._drain_deadline = None
                self._drain_all(graceful=False)
            verdict = Verdict.RUN
            if self.lifetime is not None and self._ended is None:
                verdict = self.lifetime.verdict(now, claimed=bool(self._claims),
                                                last_claim_end=self._last_claim_end)
                if verdict is not Verdict.RUN:
                    self._ended = verdict
        for job in running:  # a job over its memory is stopped, and reported as such
            job.check_memory(policy=self.memory_policy)
        if verdict is not Verdict.RUN:
            log.info("leaving: %s", verdict.value)
            self.on_end(verdict)

    # -- stopping ----------------------------------------------------------------------------

    def shutdown(self, grace: float) -> None:
        """Stop: jobs are vacated (soft kill) and killed if still there after ``grace``
        seconds; returns when they are gone (or after a few more seconds for a kill)."""
        self._stopping.set()
        self._waiter.wake()  # the jobs that died of a batch system's signal are its vacates
        stopped_as = WALLTIME if self.lifetime is not None else EVICTED
        with self._lock:
            for slot in list(self._slots.values()):
                if slot.name in self._slots:
                    self._handle(slot, ShutdownRequested(graceful=True), stopped_as=stopped_as)
        if not self._wait_for_jobs(grace):
            with self._lock:
                for slot in list(self._slots.values()):
                    if slot.name in self._slots:
                        self._handle(slot, ShutdownRequested(graceful=False),
                                     stopped_as=stopped_as)
            self._wait_for_jobs(starter.KILL_TIMEOUT + 2)

    def _wait_for_jobs(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._runs:
                    return True
            time.sleep(0.02)
        with self._lock:
            return not self._runs

    def close(self) -> None:
        """Stop the reaper (after ``shutdown``)."""
        self._closed = True
        self._waiter.wake()
        self._reaper.join(5)
        if not self._reaper.is_alive():
            self._waiter.close()

    # -- carrying out what the slots say -----------------------------------------------------

    def _handle(self, slot: Slot, event, *, stopped_as: str = EVICTED) -> list:
        out = slot.handle(event, int(self.clock()))
        for instruction in out:
            self._carry_out(slot, instruction, stopped_as)
        return out

    def _carry_out(self, slot: Slot, instruction, stopped_as: str) -> None:
        name = slot.name
        run = self._runs.get(name)
        if isinstance(instruction, StartJob):
            self._start(slot, instruction.job_ad)
        elif isinstance(instruction, SuspendJob) and run:
            run.job.suspend()
            run.events.add(JobEvent("suspended", int(self.clock()), {}))
        elif isinstance(instruction, ContinueJob) and run:
            run.job.resume()
            run.events.add(JobEvent("continued", int(self.clock()), {}))
        elif isinstance(instruction, VacateJob) and run:
            run.stopped_as = stopped_as
            run.job.vacate(instruction.timeout, instruction.reason, instruction.signal)
            self._waiter.wake()
        elif isinstance(instruction, KillJob) and run:
            run.stopped_as = stopped_as
            run.job.kill(instruction.reason)
        elif isinstance(instruction, AcceptClaim) and slot.partitionable:
            self._carve(slot, instruction)
        elif isinstance(instruction, AcceptClaim) and instruction.claim_id in self._waiting:
            # A new claim on this slot (it may replace a preempted one).
            lease, schedd = self._waiting[instruction.claim_id]
            self._claims[name] = _Claim(lease, self.clock(), schedd=schedd)
            self._answer(instruction.claim_id,
                         ClaimReply(True, "", slot.public_ad(), instruction.claim_id))
        elif isinstance(instruction, RefuseClaim) and instruction.claim_id in self._waiting:
            self._answer(instruction.claim_id, ClaimReply(False, instruction.reason))
        elif isinstance(instruction, ReleaseResources):
            self._release(slot)
        elif isinstance(instruction, SendUpdate) and name in self._slots:
            self._updates[name] = (instruction.ad, instruction.private_ad)
            self._updated.notify_all()

    def _answer(self, claim_id: str, reply: ClaimReply) -> None:
        self._answers[claim_id] = reply
        self._answered.notify_all()

    def _start(self, slot: Slot, job_ad: ClassAd) -> None:
        cluster, proc = job_ad.eval("ClusterId"), job_ad.eval("ProcId")
        events = JobEvents(f"{cluster}.{proc}")
        claim = self._claims[slot.name]
        moving = None
        if transfer.wanted(job_ad, slot.public_ad()):
            moving = transfer.Transfer(claim.schedd, claim.claim_id, events.job_id,
                                       channel=self.schedd_channel)
            job = transfer.Stage(slot.name, moving)
        else:
            job = starter.start_job(job_ad, execute_dir=self.execute_dir, slot_name=slot.name,
                                    slot_ad=slot.public_ad(), run_as=self.run_as,
                                    environment=claim.environment)
        now = self.clock()
        run = _Run(job, events, sampled=now, last_usage=now, transfer=moving,
                   job_ad=job_ad if moving else None, environment=claim.environment)
        self._runs[slot.name] = run
        claim.events = events
        events.add(JobEvent("started", int(now), {
            "JobId": events.job_id, "RemoteHost": slot.name, "StartdIpAddr": self.machine.address,
            "JobStartDate": int(now), "RemoteUser": job.user or ""}))
        if moving is None:
            self._waiter.add(job)
        else:
            self._spawn(self._stage_in, run, job_ad, slot.public_ad())

    def _spawn(self, target, *args) -> None:
        threading.Thread(target=target, args=args, name="startd:transfer", daemon=True).start()

    def _stage_in(self, run: _Run, job_ad: ClassAd, slot_ad: ClassAd) -> None:
        """A run's input comes into its sandbox (in a thread of its own); then the job
        starts there, unless the run was stopped meanwhile."""
        stage = run.job
        try:
            ready, result = transfer.stage_in(stage, job_ad, execute_dir=self.execute_dir,
                                              run_as=self.run_as)
        except Exception as error:  # never leave the run hanging
            log.exception("fetching the input of job %s failed", run.events.job_id)
            ready, result = None, transfer.result_of(starter.FAILURE_KILLED, str(error))
        with self._lock:
            if ready is not None and self._runs.get(stage.slot_name) is run \
                    and not stage.transfer.cancelled:
                run.before = transfer.snapshot(stage.sandbox)
                job = starter.start_job(ready, execute_dir=self.execute_dir,
                                        slot_name=stage.slot_name, slot_ad=slot_ad,
                                        run_as=self.run_as, sandbox=stage.sandbox,
                                        environment=run.environment)
                run.job = job
                self._waiter.add(job)
                return
            if result is None:
                result = transfer.result_of(starter.FAILURE_KILLED, "stopped before it started")
            if result.failure == starter.FAILURE_KILLED and not stage.transfer.cancelled:
                run.stopped_as = MACHINE_LOST  # the way to the schedd failed, not the job
        self._job_ended(stage, result, batch_stop=False)

    def _stage_out(self, run: _Run, stage: transfer.Stage, job_ad: ClassAd,
                   result: starter.JobResult, batch_stop: bool) -> None:
        """A run's output goes back to its schedd (in a thread of its own); then its end
        is reported."""
        try:
            result, lost = transfer.stage_out(stage, job_ad, result, stopped_as=run.stopped_as,
                                              before=run.before or {})
        except Exception as error:
            log.exception("sending the output of job %s failed", run.events.job_id)
            result, lost = transfer.result_of(starter.FAILURE_KILLED, str(error)), True
        if lost:
            run.stopped_as = MACHINE_LOST
        self._job_ended(stage, result, batch_stop=batch_stop)

    def _carve(self, pslot: Slot, accepted: AcceptClaim) -> None:
        carved = self.table.carve(pslot.name, accepted.job_ad, pslot.public_ad())
        if isinstance(carved, Refusal):
            log.info("%s: no dynamic slot for the claim: %s", pslot.name, carved.reason)
            return
        now = self.clock()
        dslot = Slot(carved.name, self.policy, int(now), ad=self._base_ad(carved.name, now))
        self._slots[carved.name] = dslot
        self._handle(dslot, Tick(self._measured_values(self._measured, 0.0, 0.0, now)))
        self._handle(dslot, ClaimRequested(dslot.claim_id, accepted.job_ad))
        self._carved = dslot if dslot.state is State.CLAIMED else None
        self._resize(pslot.name)


    def _release(self, slot: Slot) -> None:
        if self._claims.pop(slot.name, None) is not None:
            self._last_claim_end = self.clock()
        if self.table.slot(slot.name).kind == DYNAMIC:
            parent = self.table.release(slot.name)
            del self._slots[slot.name]
            self._updates[slot.name] = None
            self._updated.notify_all()
            self._resize(parent.name)

    def _resize(self, pslot_name: str) -> None:
        """Tell a partitionable slot what it has left (advertised at once)."""
        pslot = self._slots[pslot_name]
        values = {key: value for key, value in self.table.advertise(pslot_name).items()
                  if key in ("Cpus", "Memory", "Disk", "NumDynamicSlots", "TotalSlots")}
        self._handle(pslot, Tick(values))
        self._updates[pslot_name] = (pslot.public_ad(), pslot.private_ad())
        self._updated.notify_all()

    # -- jobs ending -------------------------------------------------------------------------

    def _reap(self) -> None:
        while not self._closed:
            try:
                for job, result in self._waiter.wait(timeout=self._reap_pause()):
                    stopping = self._stopping.is_set()
                    if self._batch_signal(result) and not stopping:
                        # Perhaps the batch system's: decided when the window closes, or
                        # when the startd's stop comes first.  Other jobs meanwhile go on
                        # being reaped, and every such job's window runs at once.
                        self._unsettled[job] = (result, time.monotonic() + BATCH_SIGNAL_WINDOW)
                    else:
                        self._job_ended(job, result,
                                        batch_stop=stopping and self._batch_signal(result))
                self._settle()
            except Exception:
                log.exception("reaping jobs failed")
                time.sleep(0.1)

    def _reap_pause(self) -> float:
        """How long the reaper may wait for an exit: at most until the first window of an
        unsettled job closes."""
        if not self._unsettled:
            return 1.0
        closes = min(deadline for _, deadline in self._unsettled.values())
        return min(1.0, max(0.0, closes - time.monotonic()))

    def _settle(self) -> None:
        """Report the unsettled jobs whose window has closed (a death by a signal) or that
        the startd's stop has overtaken (a walltime eviction)."""
        stopping, now = self._stopping.is_set(), time.monotonic()
        for job, (result, deadline) in list(self._unsettled.items()):
            if stopping or now >= deadline:
                del self._unsettled[job]
                self._job_ended(job, result, batch_stop=stopping)

    def _batch_signal(self, result: starter.JobResult) -> bool:
        """Whether a glide-in's job died of a signal a batch system ends allocations with."""
        return (self.lifetime is not None and result.failure == starter.FAILURE_SIGNAL
                and result.exit_signal in _BATCH_SIGNALS)

    def _job_ended(self, job: starter.RunningJob, result: starter.JobResult, *,
                   batch_stop: bool) -> None:
        """Report a job's end; ``batch_stop``: its death was the batch system's vacate."""
        with self._lock:
            name = job.slot_name
            run = self._runs.get(name)
            if run is None or run.job is not job:
                return
            if (run.transfer is not None and isinstance(job, starter.RunningJob)
                    and transfer.sends_output(run.job_ad, result, run.stopped_as)):
                stage = transfer.Stage(name, run.transfer, job=job, user=job.user)
                run.job = stage
                self._spawn(self._stage_out, run, stage, run.job_ad, result, batch_stop)
                return
            failure = _FAILURES.get(result.failure, run.stopped_as)
            kind = "evicted" if result.failure == starter.FAILURE_KILLED else "exited"
            if batch_stop:
                failure, kind = WALLTIME, "evicted"
            attrs = {**_usage_attrs(result.usage), **_exit_attrs(result), "Failure": failure}
            if run.transfer is not None:
                attrs.update(run.transfer.attrs())
            del self._runs[name]
            run.events.add(JobEvent(kind, int(self.clock()), attrs), last=True)
            slot = self._slots.get(name)
            if slot is not None:
                self._handle(slot, JobExited())
        job.cleanup()

    # -- ads -----------------------------------------------------------------------------------

    def _base_ad(self, name: str, now: float) -> ClassAd:
        # The state is the slot core's to write.
        return slot_ad(self.machine, self.table.advertise(name), SlotState(), self._measured,
                       now=int(now))

    def _measured_values(self, measured: Measurements, load: float, condor_load: float,
                         now: float) -> dict[str, object]:
        local = time.localtime(now)
        values: dict[str, object] = {
            "LoadAvg": round(load, 3), "CondorLoadAvg": round(condor_load, 3),
            "KeyboardIdle": measured.keyboard_idle, "ConsoleIdle": measured.console_idle,
            "MyCurrentTime": int(now), "ClockMin": local.tm_hour * 60 + local.tm_min,
            "ClockDay": (local.tm_wday + 1) % 7}
        if self.machine.to_die is not None:
            values["TimeToLive"] = max(0, self.machine.to_die - int(now))
        return values

    # -- finding slots by claim id -------------------------------------------------------------

    def _slot_of(self, claim_id: str, matches=Slot.claim_matches) -> Slot | None:
        # Every slot is compared (in constant time), so the time taken tells nothing.
        found = None
        for slot in self._slots.values():
            if matches(slot, claim_id) and found is None:
                found = slot
        return found

    def _claimed(self, claim_id: str) -> Slot | None:
        slot = self._slot_of(claim_id)
        if slot is None or slot.name not in self._claims:
            return None
        return slot


def _usage_attrs(usage: starter.Usage) -> dict[str, object]:
    return {"RemoteUserCpu": round(usage.cpu_user, 3),
            "RemoteSysCpu": round(usage.cpu_system, 3),
            "RemoteWallClockTime": round(usage.wall_seconds, 3),
            "MemoryUsage": usage.peak_memory_mb, "ResidentSetSize": usage.peak_rss_kb}


def _exit_attrs(result: starter.JobResult) -> dict[str, object]:
    attrs: dict[str, object] = {"ExitBySignal": result.exit_by_signal,
                                "JobCoreDumped": result.core_dumped, "Reason": result.reason}
    if result.exit_code is not None:
        attrs["ExitCode"] = result.exit_code
    if result.exit_signal is not None:
        attrs["ExitSignal"] = result.exit_signal
    if result.hold_code is not None:
        attrs.update(HoldReason=result.reason, HoldReasonCode=result.hold_code,
                     HoldReasonSubCode=result.hold_subcode)
    return attrs


def measure_host() -> Callable[[float], Measurements]:
    """The machine's load and desktop idle times, measured at each call."""
    from startd.resources import idle_times, load_avg

    def measure(now: float) -> Measurements:
        idle = idle_times(now)
        return Measurements(load_avg=load_avg(), keyboard_idle=idle.keyboard_idle,
                            console_idle=idle.console_idle)

    return measure

