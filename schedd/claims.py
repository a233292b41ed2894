"""Running jobs on claimed slots: what HTCondor's schedd and its shadows do.

The negotiator hands the schedd matches (a slot ad and its claim id).  For each, a thread
of ``ClaimRunner``:

1. looks at the owner's next idle job that the slot takes (both Requirements);
2. claims the slot for it (RequestClaim, with the claim's lease); a partitionable slot
   answers with a dynamic slot and its own claim id.  The claim is written to the
   ``claims`` table with the job it takes (the first idle job the claimed slot takes that
   no other claim holds: the one looked at, unless another claim took it meanwhile) in
   one transaction, before the job starts, so a schedd that restarts knows where its jobs
   run, and no two claims ever hold one job (``ClaimRecord``);
3. runs the job (ActivateClaim, with the run's credential for its environment:
   ``schedd.job_tokens``) and follows its events: ``started`` makes it Running,
   ``exited``/``evicted`` hand the run's end to the queue (``JobQueue.job_exited``), which
   completes, requeues or holds it as the job's policy says;
4. reuses the claim for the owner's next idle job the slot takes (no new negotiation: a
   job follows another within milliseconds), and releases it when there is none, or when
   the claim has taken jobs for ``worklife`` seconds (HTCondor's ``CLAIM_WORKLIFE``): the
   slot then goes back to the negotiator, which shares it out by priority again.

**Suspend, continue, vacate.**  A job the queue suspends, continues or vacates
(``roost suspend``, ``continue``, ``vacate``) is so on its machine: the startd is asked
(ControlJob) to stop its processes, continue them, or vacate it.  A vacated job stays
Running in the queue until the startd reports the run evicted (its processes gone), which
requeues it; the claim ends with it, and the slot goes back to the negotiator.

**Leases.**  When each claim is renewed, and when a claim whose startd has gone silent
is over, is decided by a pure core, ``schedd.claim_leases.Leases``; this shell feeds it
what its calls found and carries out what it says.  Every claim is renewed on its own, in
threads of its own, each call with a deadline under the lease, so startds that do not
answer delay no other claim.  A claim cut off from its startd (a keep-alive fails, or its
run's stream breaks) is renewed and reconnected to while its startd may still hold it on
account of the last renewal it answered, then only probed (a keep-alive of no claim), and
reconnected to as soon as the startd answers; if it does not, the claim is given up once
the startd's lease is surely over (counted from the last call that may have reached it),
when the startd has stopped the job too: the job goes back to Idle
(``Failure.MACHINE_LOST``, which does not use up a retry), never while the startd may
still run it.

**Restart.**  ``recover`` runs at start: each claim in the table is reconnected to
(ActivateClaim with ``reconnect``: the startd replays the run's events, including an exit
that happened while the schedd was down), and a job the queue says is Running without a
claim goes back to Idle.  A claim's job stays the claim's until it takes another or is
dropped, through a restart too: the table, not the schedd's memory, says which claim may
start a job.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import classad
from classad import ClassAd
from roost.errors import RoostError
from schedd import claim_leases as leases
from schedd import lifecycle
from schedd.job_queue import JobQueue, QueueError
from schedd.job_status import JobStatus
from schedd.retries import Failure, Usage

log = logging.getLogger("roost.schedd.claims")

# What the startd answers a reconnection to a claim that has run no job (startd.startd).
NEVER_RAN = "the claim has run no job"
DEFAULT_LEASE = 60  # seconds a claim lives at the startd without a keep-alive
DEFAULT_WORKLIFE = 1200  # seconds a claim takes new jobs (HTCondor's CLAIM_WORKLIFE)
_FAILURES = {failure.value: failure for failure in Failure}  # the startd's words are these
# The queue's actions that a running job's machine carries out (their JobChange.kind),
# by the names of the startd's controls (roost.client.Startd.control_job).
SUSPEND, CONTINUE, VACATE = "suspend", "continue", "vacate"
_CONTROLLED = frozenset({SUSPEND, CONTINUE, VACATE})
# A probe is a keep-alive of no claim: the startd answers it ("" for no such claim) and
# renews nothing, so it tells whether the startd is there without moving any lease.
NO_CLAIM = ""
# What a follower waiting on a broken stream is told (``_Held.permits``).
RECONNECT, GIVE_UP, STOP = "reconnect", "give-up", "stop"
STOPPED = "stopped"  # _follow's outcome when the schedd stops: the claim stays recorded
KEEPER_WAIT = 5.0  # the longest the keeper sleeps between looks at the leases


@dataclass
class _Held:
    """A claim the schedd holds: its startd's client for runs, releases and controls,
    another for its keep-alives and probes (with their short deadline), and what the
    follower of its runs is told while it waits to reconnect."""
    address: str
    client: object
    keeper: object
    permits: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)

    def close(self) -> None:
        for client in (self.client, self.keeper) if self.keeper is not self.client \
                else (self.client,):
            with contextlib.suppress(Exception):  # closing twice, or a broken channel
                client.close()


class ClaimRunner:
    """Claims matched slots and runs the queue's jobs on them (see the module's
    docstring).  ``startd(address)`` makes a ``roost.client.Startd``; ``clock`` is the
    leases' (monotonic) clock."""

    def __init__(self, jobs: JobQueue, startd: Callable[[str], object], *,
                 address: str = "", lease: int = DEFAULT_LEASE,
                 worklife: float = DEFAULT_WORKLIFE,
                 clock: Callable[[], float] = time.monotonic,
                 job_environment: Callable[[ClassAd], dict[str, str]] = lambda job: {},
                 ) -> None:
        self.jobs = jobs
        self.startd = startd
        # What a run gets in its environment beyond its ad, made as it starts: its
        # credential (schedd.job_tokens), which goes with the activation, never the ad.
        self.job_environment = job_environment
        self.address = address
        self.lease = lease
        self.worklife = worklife
        self.clock = clock
        self._lock = threading.Lock()
        self._due = threading.Condition(self._lock)  # the leases changed: look again
        self._leases = leases.Leases()
        self._held: dict[str, _Held] = {}  # claim id -> its clients
        self._controls: dict[str, threading.Lock] = {}  # job id -> one control at a time
        self._stopping = threading.Event()
        jobs.listen(self._changed)
        self._keeper = threading.Thread(target=self._keep, name="schedd:keepalive",
                                        daemon=True)
        self._keeper.start()

    # -- from the negotiator -------------------------------------------------------------

    def matched(self, owner: str, slot_ad: ClassAd, claim_id: str) -> None:
        """Start running ``owner``'s jobs on a matched slot (in a thread of its own)."""
        self._spawn(self._run_match, owner, slot_ad, claim_id)

    def recover(self) -> None:
        """Reconnect to the claims of an earlier run of the schedd; requeue the Running
        (or Suspended) jobs no claim accounts for."""
        records = self.jobs.claims()
        on_machines = " || ".join(f"JobStatus == {int(state)}"
                                  for state in sorted(lifecycle.ON_A_MACHINE))
        running = list(self.jobs.query(on_machines))  # Running or Suspended
        # Read after the jobs on machines: a match may come in while the schedd recovers,
        # and its claim's record names a job before the job runs.
        claimed = {record.job_id for record in self.jobs.claims() if record.job_id}
        for job in running:
            job_id = f"{job.eval('ClusterId')}.{job.eval('ProcId')}"
            if job_id not in claimed:
                self._lost(job_id, "the schedd restarted and no claim runs the job")
        for record in records:
            self._spawn(self._run_recovered, record)

    def stop(self) -> None:
        """Stop starting jobs; running jobs go on (their claims stay in the table, and the
        next start of the schedd reconnects to them)."""
        self._stopping.set()
        with self._due:
            self._due.notify_all()
            waiting = list(self._held.values())
        for held in waiting:
            held.permits.put(STOP)

    def _changed(self, changes) -> None:
        """A job removed or held while it runs is stopped: its claim is released (the
        startd vacates the job) and not reused.  One suspended, continued or vacated is
        so on its machine (``_control``)."""
        for change in changes:
            if change.kind in _CONTROLLED:
                with self._lock:
                    here = self._leases.claim_of(change.job_id) is not None
                if here:
                    self._spawn(self._control, change.job_id)
                continue
            if change.status not in (JobStatus.REMOVED, JobStatus.HELD):
                continue
            with self._lock:
                claim_id = self._leases.claim_of(change.job_id)
                held = self._held.get(claim_id) if claim_id else None
            if held is not None:
                log.info("job %s left Running (%s): releasing its claim", change.job_id,
                         JobStatus(change.status).name)
                self._spawn(self._release, claim_id, held.client)

    def _release(self, claim_id: str, client) -> None:
        with contextlib.suppress(RoostError):
            client.release(claim_id, "the job was removed or held")

    def _control(self, job_id: str) -> None:
        """Ask the startd to make the job what the queue says: vacated when a vacate was
        asked for, else stopped while Suspended, running while Running.  The queue is read
        here, not the change, and one call goes at a time for a job: changes may come in
        out of order, and the last call still sends what the queue holds last."""
        with self._lock:
            lock = self._controls.setdefault(job_id, threading.Lock())
        with lock:
            found = list(self.jobs.query(_constraint(job_id)))
            control = _control_for(found[0]) if found else None
            with self._lock:
                claim_id = self._leases.claim_of(job_id)
                held = self._held.get(claim_id) if claim_id else None
            if control is None or held is None:
                return  # the run is over, or the job needs nothing
            try:
                refused = held.client.control_job(claim_id, control)
            except RoostError as error:
                refused = str(error)
            if refused:
                log.warning("cannot %s job %s on its machine: %s", control, job_id, refused)
            else:
                log.info("job %s: %s asked of its machine", job_id, control)

    # -- one claim -------------------------------------------------------------------------

    def _spawn(self, target, *args, name: str = "schedd:claim") -> None:
        thread = threading.Thread(target=self._guarded, args=(target, *args),
                                  name=name, daemon=True)
        thread.start()

    @staticmethod
    def _guarded(target, *args) -> None:
        try:
            target(*args)
        except Exception:
            log.exception("a claim's thread failed")

    def _run_match(self, owner: str, slot_ad: ClassAd, claim_id: str) -> None:
        job = self._next_job(owner, slot_ad)
        if job is None:
            return  # the jobs ran elsewhere meanwhile: the match is not needed
        address = slot_ad.eval("MyAddress")
        if not isinstance(address, str):
            log.warning("the match for %s has no MyAddress", slot_ad.eval("Name"))
            return
        client = self.startd(address)
        sent = self.clock()
        try:
            reply = client.request_claim(claim_id, job, lease=self.lease,
                                         schedd_address=self.address)
        except RoostError as error:
            log.warning("cannot claim %s: %s", slot_ad.eval("Name"), error)
            client.close()
            return
        if not reply.accepted:
            log.info("%s refused the claim: %s", slot_ad.eval("Name"), reply.reason)
            client.close()
            return
        claimed = reply.slot_ad.copy() if reply.slot_ad is not None else slot_ad.copy()
        for granted in ("MatchedConcurrencyLimits", "RemoteGroup"):
            if granted in slot_ad:
                claimed[granted] = slot_ad.lookup(granted)
        record = {"startd_address": address, "slot_name": str(reply.slot_ad.eval("Name")),
                  "owner": owner, "slot_ad": claimed.print_old(), "lease": self.lease}
        job = self._next_job(owner, claimed, reply.claim_id, record)
        if job is None:  # taken by other claims meanwhile
            with contextlib.suppress(RoostError):
                client.release(reply.claim_id, "no more jobs for the claim")
            client.close()
            return
        held = self._hold(reply.claim_id, address, client, self.lease, sent)
        self._serve(held, reply.claim_id, owner, claimed, job)

    def _run_recovered(self, record) -> None:
        client = self.startd(record.startd_address)
        slot_ad = classad.parse_one(record.slot_ad) if record.slot_ad else ClassAd()
        held = self._hold(record.claim_id, record.startd_address, client,
                          record.lease or self.lease, None)
        found = list(self.jobs.query(_constraint(record.job_id))) if record.job_id else []
        if found:
            job = found[0]
            running = job.eval("JobStatus") in lifecycle.ON_A_MACHINE  # or Suspended
            outcome = self._follow(held, record.claim_id, slot_ad, job, reconnect=True,
                                   started=running)
            if outcome is STOPPED:
                return
            if outcome is NEVER_RAN:
                # Claimed, but the schedd stopped before it could start the job there; the
                # record still names it, so no other claim has taken it since.
                self._serve(held, record.claim_id, record.owner, slot_ad,
                            None if running else job)
                return
            if not outcome:
                self._drop(record.claim_id)
                return
        self._serve(held, record.claim_id, record.owner, slot_ad, None)

    def _serve(self, held: _Held, claim_id: str, owner: str, slot_ad: ClassAd,
               job: ClassAd | None) -> None:
        """Run ``job`` and then the owner's next jobs on the claim, until none is left or
        the claim's work life is over (then the negotiator shares the slot out again)."""
        claimed = time.monotonic()
        while True:
            if job is not None:
                outcome = self._follow(held, claim_id, slot_ad, job, reconnect=False)
                if outcome is STOPPED:
                    return
                if not outcome:
                    self._drop(claim_id)  # lost, or released under a removed job
                    return
            if self._stopping.is_set():
                return
            spent = 0 <= self.worklife < time.monotonic() - claimed
            # The claim's record names the job before it starts: see recover().
            job = None if spent else self._next_job(owner, slot_ad, claim_id)
            if job is None:
                with contextlib.suppress(RoostError):
                    held.client.release(claim_id, "no more jobs for the claim")
                self._drop(claim_id)
                return

    def _follow(self, held: _Held, claim_id: str, slot_ad: ClassAd, job: ClassAd, *,
                reconnect: bool, started: bool = False):
        """Run (or reconnect to) ``job`` on the claim and record its events; False when
        the claim is over: lost (the job is then back in the queue) or ended with an
        evicted run; ``NEVER_RAN`` when a reconnection finds that the claim never ran it;
        ``STOPPED`` when the schedd stops.  ``started``: the queue has the job Running
        (or Suspended) already."""
        job_id = _job_id(job)
        host = str(slot_ad.eval("Name"))
        with self._lock:
            if claim_id not in self._leases:
                return False  # given up meanwhile: the job stays where the queue has it
            self._leases.handle(leases.JobAssigned(claim_id, job_id), self.clock())
        if reconnect and _control_for(job) in (SUSPEND, VACATE):
            self._spawn(self._control, job_id)  # asked just before the schedd restarted
        broke = None  # why the stream broke, once it has
        try:
            while True:
                sent = self._renewal(claim_id, held, broke)
                if sent is None:
                    return STOPPED if self._stopping.is_set() else False
                answered = False
                environment = {} if reconnect else self.job_environment(job)
                try:
                    for event in held.client.activate(claim_id, None if reconnect else job,
                                                      reconnect=reconnect,
                                                      environment=environment):
                        if not answered:
                            answered = True
                            self._handle(leases.StreamAnswered(claim_id, sent))
                        if (event.kind == "started" and reconnect
                                and event.attrs.eval("JobId") != job_id):
                            return NEVER_RAN  # the claim's last run was another job's
                        if event.kind == "started" and not started:
                            started = True
                            self.jobs.job_started(job_id, lifecycle.JobStarted(
                                host=host, time=event.time, slot=host))
                        elif event.kind in ("exited", "evicted"):
                            with self._lock:  # the end is the run's, not a removal's
                                if claim_id in self._leases:
                                    self._leases.handle(leases.JobAssigned(claim_id, None),
                                                        self.clock())
                            ended = self._ended(job_id, _exit(event, host))
                            if event.kind == "evicted":
                                # The startd stopped the run (vacated, preempted...), and
                                # its claim ended with it: whatever is left goes back.
                                with contextlib.suppress(RoostError):
                                    held.client.release(claim_id, "the run was evicted")
                                return False
                            return ended
                    reconnect, broke = True, None  # ended without an exit: read it again
                except (RoostError, ValueError) as error:  # ValueError: a closed channel
                    if NEVER_RAN in str(error):
                        return NEVER_RAN
                    if "failed_precondition" in str(error).lower():
                        self._lost(job_id, f"the startd no longer has the claim: {error}")
                        return False
                    with self._lock:
                        over = claim_id not in self._leases
                    if over or self._stopping.is_set():
                        return STOPPED if self._stopping.is_set() and not over else False
                    log.info("lost touch with %s running %s (%s)", host, job_id, error)
                    reconnect, broke = True, str(error)
        finally:
            with self._lock:
                if self._leases.job_of(claim_id) == job_id:
                    self._leases.handle(leases.JobAssigned(claim_id, None), self.clock())
                self._controls.pop(job_id, None)

    def _renewal(self, claim_id: str, held: _Held, broke: str | None) -> float | None:
        """Wait until a request of the claim's run stream may go to the startd, and note
        that it goes; its send time, or None when the claim is over (or the schedd stops).
        ``broke``: why the stream broke.  A stream that broke, or a claim adrift (its
        keep-alives fail), waits for the core's word that the startd answers again."""
        with self._lock:
            if self._stopping.is_set() or claim_id not in self._leases:
                return None
            if broke is None and not self._leases.adrift(claim_id):
                now = self.clock()
                self._leases.handle(leases.RenewalSent(claim_id), now)
                return now
        self._handle(leases.StreamBroke(claim_id, broke or "its keep-alives fail"))
        while True:
            if held.permits.get() != RECONNECT:
                return None
            with self._lock:
                if self._stopping.is_set() or claim_id not in self._leases:
                    return None
                now = self.clock()
                self._leases.handle(leases.RenewalSent(claim_id), now)
                return now

    def _ended(self, job_id: str, event: lifecycle.JobExited) -> bool:
        """Record a run's end; False when the job had left Running meanwhile (removed or
        held: its claim was released, so it is not reused)."""
        try:
            self.jobs.job_exited(job_id, event)
        except (QueueError, lifecycle.IllegalTransition):
            return False
        return True

    # -- the leases ------------------------------------------------------------------------

    def _keep(self) -> None:
        """The keeper: hands the core the clock, and carries out what it says."""
        while True:
            with self._due:
                if self._stopping.is_set():
                    return
                now = self.clock()
                out = self._leases.handle(leases.Tick(), now)
                if not out:
                    wait = min(KEEPER_WAIT, self._leases.next_due() - now)
                    self._due.wait(max(0.01, wait))
                    continue
            self._carry_out(out)

    def _handle(self, event) -> None:
        with self._due:
            out = self._leases.handle(event, self.clock())
            self._due.notify_all()  # the keeper's next look may be sooner
        self._carry_out(out)

    def _carry_out(self, out: list) -> None:
        for instruction in out:
            with self._lock:
                held = self._held.get(instruction.claim_id)
            if isinstance(instruction, leases.GiveUp):
                self._spawn(self._give_up, instruction, held, name="schedd:giveup")
            elif held is None:
                continue  # dropped meanwhile
            elif isinstance(instruction, leases.SendKeepAlive):
                self._spawn(self._send_keep_alive, instruction.claim_id, held,
                            name="schedd:keepalive")
            elif isinstance(instruction, leases.Probe):
                self._spawn(self._probe, instruction.claim_id, held, name="schedd:keepalive")
            elif isinstance(instruction, leases.Reconnect):
                held.permits.put(RECONNECT)

    def _send_keep_alive(self, claim_id: str, held: _Held) -> None:
        sent = self.clock()
        try:
            held.keeper.keep_alive(claim_id)
        except (RoostError, ValueError) as error:  # ValueError: its channel was closed
            log.info("keep-alive of a claim at %s failed: %s", held.address, error)
            self._handle(leases.KeepAliveFailed(claim_id, sent, str(error)))
        else:
            self._handle(leases.KeepAliveAnswered(claim_id, sent))

    def _probe(self, claim_id: str, held: _Held) -> None:
        try:
            held.keeper.keep_alive(NO_CLAIM)
        except (RoostError, ValueError) as error:
            self._handle(leases.ProbeFailed(claim_id, str(error)))
        else:
            self._handle(leases.ProbeAnswered(claim_id))

    def _give_up(self, instruction: leases.GiveUp, held: _Held | None) -> None:
        """The claim's lease is over at its startd: requeue its job, forget the claim, and
        wake its follower (closing its clients ends a stream stuck on a dead connection)."""
        log.warning("claim at %s given up: %s", held.address if held else "?",
                    instruction.reason)
        if instruction.job_id is not None:
            self._lost(instruction.job_id, instruction.reason)
        with self._lock:
            self._held.pop(instruction.claim_id, None)
        self.jobs.drop_claim(instruction.claim_id)
        if held is not None:
            held.permits.put(GIVE_UP)
            held.close()

    # -- helpers ---------------------------------------------------------------------------

    def _next_job(self, owner: str, slot_ad: ClassAd, claim_id: str = "",
                  new_claim: dict | None = None) -> ClassAd | None:
        """The owner's next idle job the slot takes and that needs the concurrency limits
        the match was made with, in the match's accounting group (as HTCondor's schedd, a
        claim is not reused for a job the negotiator did not grant it for).  With
        ``claim_id``, the job becomes the claim's (``JobQueue.idle_job_for``; with
        ``new_claim``, the claim's record is added with it)."""
        granted = _limits_text(slot_ad.eval("MatchedConcurrencyLimits"))
        group = slot_ad.eval("RemoteGroup")  # set when the pool has accounting groups

        def runs_here(ad: ClassAd) -> bool:
            if isinstance(group, str):
                own = ad.eval("AcctGroup")
                if (own if isinstance(own, str) else "<none>").lower() != group.lower():
                    return False
            return (_limits_text(ad.eval("ConcurrencyLimits")) == granted
                    and classad.symmetric_match(ad, slot_ad))

        return self.jobs.idle_job_for(owner, runs_here, claim_id, new_claim)

    def _hold(self, claim_id: str, address: str, client, lease: float,
              sent: float | None) -> _Held:
        """Hold the claim: its leases begin (``sent``: when its request went; None for a
        recovered claim)."""
        keeper = self.startd(address)
        held = _Held(address, client, keeper)
        with self._due:
            self._leases.handle(leases.ClaimHeld(claim_id, lease, sent), self.clock())
            # The keep-alives' own deadline: well under the lease (Leases.timing).
            keeper.timeout = self._leases.timing(claim_id).deadline
            self._held[claim_id] = held
            self._due.notify_all()
        return held

    def _drop(self, claim_id: str) -> None:
        with self._lock:
            held = self._held.pop(claim_id, None)
            self._leases.handle(leases.ClaimDropped(claim_id), self.clock())
        self.jobs.drop_claim(claim_id)
        if held is not None:
            held.close()

    def _lost(self, job_id: str, reason: str) -> None:
        log.warning("job %s: %s", job_id, reason)
        with contextlib.suppress(QueueError, lifecycle.IllegalTransition):
            self.jobs.job_exited(job_id, lifecycle.JobExited(
                time=self.jobs.now(), host="", failure=Failure.MACHINE_LOST, reason=reason))


def _control_for(job: ClassAd) -> str | None:
    """What the job's machine must do to it, as the queue has it."""
    if lifecycle.VACATE_REQUESTED in job:
        return VACATE
    status = job.eval("JobStatus")
    return SUSPEND if status == JobStatus.SUSPENDED else (
        CONTINUE if status == JobStatus.RUNNING else None)


def _limits_text(value) -> str:
    return "".join(value.lower().split()) if isinstance(value, str) else ""


def _job_id(job: ClassAd) -> str:
    return f"{job.eval('ClusterId')}.{job.eval('ProcId')}"


def _constraint(job_id: str) -> str:
    cluster, _, proc = job_id.partition(".")
    return f"ClusterId == {int(cluster)} && ProcId == {int(proc)}"


def _exit(event, host: str) -> lifecycle.JobExited:
    attrs = event.attrs
    failure = _FAILURES.get(str(attrs.eval("Failure")), Failure.MACHINE_LOST)

    def number(name: str, default=None):
        value = attrs.eval(name)
        return value if isinstance(value, int | float) and not isinstance(value, bool) \
            else default

    usage = Usage(cpu_seconds=number("RemoteUserCpu", 0.0) + number("RemoteSysCpu", 0.0),
                  peak_memory_mb=int(number("MemoryUsage", 0)),
                  wall_seconds=number("RemoteWallClockTime", 0.0),
                  transfer_input_seconds=number("TransferInputSeconds", 0.0),
                  transfer_output_seconds=number("TransferOutputSeconds", 0.0))
    hold_code = number("HoldReasonCode")
    reason = attrs.eval("HoldReason") if hold_code is not None else attrs.eval("Reason")
    return lifecycle.JobExited(
        time=event.time, host=host, failure=failure, exit_code=number("ExitCode"),
        exit_signal=number("ExitSignal"), usage=usage,
        reason=reason if isinstance(reason, str) and failure in (Failure.START,
                                                                 Failure.TRANSFER) else "",
        hold_code=hold_code, hold_subcode=int(number("HoldReasonSubCode", 0)))
