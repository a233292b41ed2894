"""Elastic provisioning, pure: idle jobs and pilots in, pilots to submit and cancel out.

The shell (``startd.glidein.factory_cli``) reads the schedd's idle jobs, the batch system's
pilots (Slurm jobs named ``roost-glidein``) and the pool's glide-in slots, builds the
template of a new pilot (``startd.glidein.template.pilot_ad``), and hands them to
``Factory.cycle(now, ...)``, which answers with a ``Decision``: how many pilots to submit and
which to cancel, with what it saw.  The shell tells the factory what came of its
submissions (``submitted``, ``submit_failed``).  The factory keeps what it must remember
between cycles (when each pilot was submitted or first seen, whether it ever advertised or
ran a job, how long it has been idle, the failures in a row and the back-off); it reads no
clock and does no I/O.

**Decisions.**

1. *Demand.*  Only idle jobs count (``JobStatus == 1``; running, held and finished jobs do
   not) for which the configured constraint holds (evaluated against the job alone; no
   constraint: every idle job).  Jobs are grouped as the schedd groups them into
   autoclusters (equal Requirements, requests, MaxRuntime, universe, and equal values of
   the job's own attributes its Requirements refers to) and each group is matched once.
2. *Matchmaking against the template.*  A group is served only if it matches the template
   ad both ways, as the negotiator matches (``classad.requirements_hold`` with each ad as
   TARGET of the other, ``CurrentTime = now``): the job's Requirements against the pilot,
   and the pilot's Requirements (the glidein START: ``MaxRuntime`` must fit in the pilot's
   lifetime; and ``WithinResourceLimits``) against the job.  Jobs that do not match are
   never provisioned for; they are reported with the reason (the first clause of the job's
   Requirements that fails, too few resources, or START with the job's MaxRuntime).
3. *Jobs per node.*  A job takes what the pilot's partitionable slot would carve for it
   (``startd.slots.SlotTable.carve`` on the template's resources: the requests rounded as
   the startd rounds them), so one node holds ``k = min(Cpus/cpus, Memory/memory,
   Disk/disk)`` such jobs, and a job needs ``1/k`` of a node.  A pilot has ``nodes`` nodes.
4. *Capacity already there.*  Free room on running pilots is used first: each servable job
   group is placed, in order, on the Unclaimed glide-in slots of live pilots that match it
   (their real ads, so a retiring pilot, whose START refuses, offers nothing), as many jobs
   as what the slot has left holds (one on a static slot).  The jobs left over need
   ``ceil(sum 1/k)`` nodes.  Coming capacity counts in full: pilots queued (PENDING,
   CONFIGURING, REQUEUED), pilots submitted but not listed yet (for ``listing_grace``), and
   the nodes of running pilots that have not advertised yet (until they are lost, see 7).
5. *Submit* ``ceil((nodes needed - nodes coming) / nodes)`` pilots, but never more than
   ``max_pilots`` in the batch system (queued or running, including those being cancelled
   and those of the user submitted by hand: the factory takes every pilot the batch
   system lists as its own), and at least enough to keep ``min_pilots`` live.
6. *Cancel* queued (PENDING) pilots when the capacity coming exceeds what the jobs need by
   at least a whole pilot (its nodes as the batch system lists them), youngest first (the
   oldest have waited longest and start soonest), never below ``min_pilots``.  Running
   pilots are never cancelled for lack of demand: a pilot with no claim leaves by itself
   after its idle timeout (``startd.lifetime``, ``PilotSpec.idle_timeout``), which also
   lets a burst that comes back find it still there.
7. *Failures* (each is a strike): a pilot that ends FAILED, NODE_FAIL, BOOT_FAIL or
   OUT_OF_MEMORY; a pilot that ends in any other way without ever advertising a slot
   (except CANCELLED, which someone decided); a pilot that leaves the listing unseen
   within ``listing_grace`` of its submission; a submission the batch system refuses; a
   pilot queued for a reason that will not go away (``HOPELESS``: its walltime or size is
   over the partition's limits, a bad account...), which is cancelled; and a running pilot
   that has not advertised within ``lost_after`` (it cannot reach the pool), which is
   cancelled rather than left to burn its allocation.
8. *Idle pilots* are a strike too: a running pilot that has advertised and stayed free
   (no claim, nothing carved) for ``idle_grace`` while jobs that the template matched are
   waiting means that the template promised what the pilots do not deliver (once per idle
   spell of a pilot).
9. *Back-off.*  After ``n`` strikes in a row no pilot is submitted until ``backoff *
   2**(n-1)`` seconds (at most ``backoff_max``) after the last strike; then one pilot at
   a time probes, and only when no pilot is on its way.  A pilot seen running a job ends
   the streak.  Cancelling is never held back.

Left out: idle jobs that other slots of the pool (ordinary startds) could run count as
demand too, so a pool with both should say which jobs are for glide-ins with the
constraint (``WantGlidein =?= true``); and jobs of different shapes share nodes by
fractions, without bin packing, so a mix may need a node more than the sum says.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from classad import ClassAd, ClassAdSyntaxError, ExprTree, conjuncts, requirements_hold
from startd.glidein.slurm import BatchJob
from startd.policy import is_true
from startd.slots import Amounts, Refusal, SlotTable, partitionable_slot

IDLE = 1  # JobStatus

QUEUED = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD"})
RUNNING = "RUNNING"
# Not ended, and counted against max_pilots, but offering nothing new.
BUSY_ELSEWHERE = frozenset({"COMPLETING", "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT",
                            "STOPPED"})
LIVE = QUEUED | {RUNNING} | BUSY_ELSEWHERE
FAILURES = frozenset({"FAILED", "NODE_FAIL", "BOOT_FAIL", "OUT_OF_MEMORY"})
CANCELLED = "CANCELLED"
# Reasons (squeue's %r) for which a queued job will never start unless it is changed.
HOPELESS = frozenset({
    "PartitionTimeLimit", "PartitionNodeLimit", "BadConstraints", "InvalidAccount",
    "InvalidQOS", "AccountNotAllowed", "QOSMaxWallDurationPerJobLimit", "PartitionDown",
    "QOSMaxNodePerJobLimit", "QOSMaxCpuPerJobLimit",
})
GONE = "GONE"  # the state of a pilot the batch system no longer lists

# Attributes that decide whether and how a job runs in a pilot: the schedd's autocluster
# attributes (schedd.autocluster.DEFAULT_SIGNIFICANT) without Rank and concurrency limits.
SIGNIFICANT = ("Requirements", "RequestCpus", "RequestMemory", "RequestDisk", "MaxRuntime",
               "JobUniverse")


@dataclass(frozen=True)
class FactoryConfig:
    max_pilots: int
    min_pilots: int = 0
    nodes: int = 1  # nodes per pilot
    constraint: str = ""  # which idle jobs glide-ins may run; empty: all
    backoff: float = 60.0  # seconds of back-off after the first strike
    backoff_max: float = 1800.0
    idle_grace: float = 180.0
    lost_after: float = 300.0
    listing_grace: float = 60.0

    def __post_init__(self) -> None:
        if self.max_pilots < 0 or self.min_pilots < 0:
            raise ValueError("max_pilots and min_pilots must not be negative")
        if self.min_pilots > self.max_pilots:
            raise ValueError(f"min_pilots ({self.min_pilots}) is more than max_pilots "
                             f"({self.max_pilots})")
        if self.nodes < 1:
            raise ValueError(f"a pilot has at least one node, not {self.nodes}")
        for name in ("backoff", "backoff_max", "idle_grace", "lost_after", "listing_grace"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.constraint.strip():
            try:
                ExprTree(self.constraint)
            except ClassAdSyntaxError as error:
                raise ValueError(f"constraint {self.constraint!r}: {error}") from None


@dataclass(frozen=True)
class Unservable:
    """Idle jobs that no pilot of this template could run, and why."""

    count: int
    example: str  # a job id, CLUSTER.PROC
    reason: str


@dataclass(frozen=True)
class Demand:
    idle: int  # idle jobs that satisfy the constraint
    servable: int  # of which a pilot could run
    unservable: tuple[Unservable, ...]
    on_free_slots: int  # servable jobs the free room of running pilots takes
    nodes_needed: int  # nodes for the rest
    nodes_coming: int  # nodes of pilots queued or starting


@dataclass(frozen=True)
class Cancel:
    job_id: str
    reason: str


@dataclass(frozen=True)
class Decision:
    submit: int
    cancel: tuple[Cancel, ...]
    demand: Demand
    live: int  # pilots queued or running, before this decision
    backoff_until: float | None
    notes: tuple[str, ...]  # what the factory noticed: pilots ending, failures, idle ones

    def lines(self) -> list[str]:
        """The decision as log lines, one each."""
        d = self.demand
        lines = list(self.notes)
        lines.append(
            f"demand: {d.idle} idle job(s), {d.servable} a pilot can run, "
            f"{d.on_free_slots} fit on free glide-in slots, {d.nodes_needed} node(s) needed, "
            f"{d.nodes_coming} coming; {self.live} pilot(s) live")
        for group in d.unservable:
            lines.append(f"{group.count} idle job(s) (e.g. {group.example}) cannot run in a "
                         f"pilot: {group.reason}")
        if self.submit:
            lines.append(f"submit {self.submit} pilot(s)")
        lines.extend(f"cancel pilot {c.job_id}: {c.reason}" for c in self.cancel)
        return lines


@dataclass
class _Pilot:
    """What the factory remembers of one pilot."""

    job_id: str
    first_seen: float
    submitted: float | None = None  # None: adopted, not submitted by this factory
    listed: bool = False  # the batch system has listed it
    seen_live: bool = False  # submitted, or listed queued or running: judged when it ends
    state: str = "PENDING"
    nodes: int = 0  # as the batch system lists it (0: not listed yet)
    running_since: float | None = None
    advertised: bool = False
    ran_jobs: bool = False
    idle_since: float | None = None  # free since, while running and advertised
    idle_struck: bool = False
    cancelled: bool = False  # by this factory
    ended: bool = False


@dataclass
class _Group:
    job: ClassAd  # the first job of the group, with CurrentTime
    count: int
    size: Amounts | None = None  # what a node carves for one job
    per_node: int = 0


class Factory:
    """The factory's state; ``cycle`` decides (see the module's docstring)."""

    def __init__(self, config: FactoryConfig) -> None:
        self.config = config
        self._constraint = ExprTree(config.constraint) if config.constraint.strip() else None
        self._pilots: dict[str, _Pilot] = {}
        self._strikes = 0
        self._backoff_until: float | None = None
        self._notes: list[str] = []

    # -- events from the shell ------------------------------------------------------------

    def submitted(self, now: float, job_id: str) -> None:
        """A pilot was submitted; the batch system knows it as ``job_id``."""
        self._pilots[job_id] = _Pilot(job_id, first_seen=now, submitted=now, seen_live=True)

    def submit_failed(self, now: float, reason: str) -> None:
        """The batch system refused a submission."""
        self._strike(now, f"the batch system refused a pilot: {reason}")

    # -- reading ---------------------------------------------------------------------------

    @property
    def strikes(self) -> int:
        return self._strikes

    @property
    def backoff_until(self) -> float | None:
        return self._backoff_until

    def known(self) -> list[str]:
        """The job ids of the pilots the factory remembers."""
        return sorted(self._pilots)

    # -- the decision ----------------------------------------------------------------------

    def cycle(self, now: float, *, jobs: Iterable[ClassAd], template: ClassAd,
              pilots: Sequence[BatchJob], slots: Sequence[ClassAd]) -> Decision:
        """Decide at ``now``: ``jobs`` from the schedd(s), ``template`` the ad of one node
        of a new pilot, ``pilots`` what the batch system lists, ``slots`` the pool's
        glide-in slot ads (those with a ``GLIDEIN_BatchJobId``)."""
        config = self.config
        notes, self._notes = self._notes, []
        by_pilot = _slots_by_pilot(slots)
        cancel: list[Cancel] = []
        self._follow(now, pilots, by_pilot, cancel)

        template = template.copy()
        template["CurrentTime"] = int(now)
        groups, unservable, idle = self._demand(now, jobs, template)
        servable = sum(group.count for group in groups)
        free = [ad for batch_id, ads in by_pilot.items() if self._offers(batch_id)
                for ad in ads]
        placed = _place(groups, free, now)
        needed = math.ceil(sum((Fraction(g.count, g.per_node) for g in groups if g.count),
                               Fraction(0)))

        for pilot in self._pilots.values():
            if (pilot.idle_since is not None and not pilot.idle_struck and servable
                    and self._offers(pilot.job_id) and pilot.job_id in by_pilot
                    and now - pilot.idle_since >= config.idle_grace):
                pilot.idle_struck = True
                self._strike(now, f"pilot {pilot.job_id} has been free for "
                                  f"{now - pilot.idle_since:.0f} s while {servable} job(s) "
                                  f"it should run wait")

        live = [p for p in self._pilots.values() if self._live(p, now)]
        # Pilots being cancelled hold their allocation until they are gone.
        held = len(live) + sum(1 for p in self._pilots.values()
                               if p.cancelled and not p.ended and p.state in LIVE)
        coming = sum(self._coming_nodes(p, by_pilot) for p in live)
        submit = 0
        shortfall = needed - coming
        if shortfall > 0:
            submit = math.ceil(shortfall / config.nodes)
        submit = max(submit, config.min_pilots - len(live))
        submit = max(0, min(submit, config.max_pilots - held))
        waiting = ""
        if submit and self._strikes:
            if self._backoff_until is not None and now < self._backoff_until:
                waiting = (f"backing off after {self._strikes} strike(s): no new pilot "
                           f"before {self._backoff_until:.0f}")
                submit = 0
            elif coming:
                submit = 0  # a probe is on its way
            else:
                submit = 1

        surplus = coming - needed
        count = len(live)
        queued = sorted((p for p in live if p.state in QUEUED and p.listed),
                        key=lambda p: (p.submitted or p.first_seen, p.job_id), reverse=True)
        for pilot in queued:
            nodes = pilot.nodes or config.nodes
            if surplus < nodes or count - 1 < config.min_pilots:
                continue
            surplus -= nodes
            count -= 1
            pilot.cancelled = True
            cancel.append(Cancel(pilot.job_id, "queued, and no job waits for it"))

        notes.extend(self._notes)
        self._notes = []
        if waiting:
            notes.append(waiting)
        demand = Demand(idle, servable, tuple(unservable), placed, needed, coming)
        return Decision(submit, tuple(cancel), demand, len(live), self._backoff_until,
                        tuple(notes))

    # -- following the pilots --------------------------------------------------------------

    def _follow(self, now: float, pilots: Sequence[BatchJob],
                by_pilot: dict[str, list[ClassAd]], cancel: list[Cancel]) -> None:
        listed = {job.job_id: job for job in pilots}
        for job in pilots:
            pilot = self._pilots.get(job.job_id)
            if pilot is None:
                pilot = self._pilots[job.job_id] = _Pilot(job.job_id, first_seen=now)
            pilot.listed = True
            pilot.state = _state_word(job.state)
            pilot.nodes = job.nodes
            if pilot.state in LIVE:
                pilot.seen_live = True

        for pilot in self._pilots.values():
            ads = by_pilot.get(pilot.job_id, [])
            if ads:
                pilot.advertised = True
            if ads and any(_running_jobs(ad) for ad in ads):
                pilot.ran_jobs = True
                pilot.idle_since = None
                pilot.idle_struck = False
                if self._strikes:
                    self._notes.append(f"pilot {pilot.job_id} runs jobs: the back-off ends")
                self._strikes, self._backoff_until = 0, None
            elif ads and pilot.state == RUNNING and pilot.idle_since is None:
                pilot.idle_since = now
            if pilot.state == RUNNING and pilot.running_since is None:
                pilot.running_since = now

        for pilot in list(self._pilots.values()):
            job = listed.get(pilot.job_id)
            if job is None:
                if pilot.listed or now - pilot.first_seen >= self.config.listing_grace:
                    if not pilot.ended:
                        self._ended(now, pilot, GONE)
                    del self._pilots[pilot.job_id]
                continue
            if pilot.ended:
                continue
            if pilot.state in QUEUED:
                reason = job.reason.strip("()")
                if not pilot.cancelled and reason in HOPELESS:
                    pilot.cancelled = True
                    cancel.append(Cancel(pilot.job_id, f"it will never start ({reason})"))
                    self._strike(now, f"pilot {pilot.job_id} cannot start: {reason}")
            elif pilot.state == RUNNING:
                if (not pilot.cancelled and not pilot.advertised
                        and pilot.running_since is not None
                        and now - pilot.running_since >= self.config.lost_after):
                    pilot.cancelled = True
                    cancel.append(Cancel(pilot.job_id, "running but never joined the pool"))
                    self._strike(now, f"pilot {pilot.job_id} has run "
                                      f"{now - pilot.running_since:.0f} s without advertising")
            elif pilot.state not in BUSY_ELSEWHERE:
                self._ended(now, pilot, pilot.state)

    def _ended(self, now: float, pilot: _Pilot, state: str) -> None:
        pilot.ended = True
        if not pilot.seen_live:
            return  # it ended before the factory knew it (sacct remembers the day's pilots)
        if pilot.cancelled:
            self._notes.append(f"pilot {pilot.job_id} ended ({state}) after the factory "
                               "cancelled it")
        elif state in FAILURES:
            self._strike(now, f"pilot {pilot.job_id} ended {state}")
        elif state == CANCELLED:
            self._notes.append(f"pilot {pilot.job_id} was cancelled by someone else")
        elif not pilot.advertised:
            self._strike(now, f"pilot {pilot.job_id} ended ({state}) without ever "
                              "advertising a slot")
        else:
            self._notes.append(f"pilot {pilot.job_id} ended ({state})")

    def _strike(self, now: float, why: str) -> None:
        self._strikes += 1
        delay = min(self.config.backoff_max, self.config.backoff * 2 ** (self._strikes - 1))
        self._backoff_until = max(self._backoff_until or now, now + delay)
        self._notes.append(f"{why}: strike {self._strikes}, no new pilot for {delay:.0f} s")

    def _live(self, pilot: _Pilot, now: float) -> bool:
        """Queued or running (or submitted and not listed yet), and not cancelled."""
        if pilot.cancelled or pilot.ended:
            return False
        if not pilot.listed:
            return now - pilot.first_seen < self.config.listing_grace
        return pilot.state in LIVE

    def _offers(self, batch_id: str) -> bool:
        """Whether the slots of this batch job are capacity: a running pilot of ours."""
        pilot = self._pilots.get(batch_id)
        return (pilot is not None and pilot.state == RUNNING and not pilot.cancelled
                and not pilot.ended)

    def _coming_nodes(self, pilot: _Pilot, by_pilot: dict[str, list[ClassAd]]) -> int:
        """Nodes of ``pilot`` (live) that will offer their whole room and are not
        advertised yet."""
        nodes = pilot.nodes or self.config.nodes
        if not pilot.listed or pilot.state in QUEUED:
            return nodes
        if pilot.state == RUNNING:
            advertised = {ad.eval("Machine") for ad in by_pilot.get(pilot.job_id, [])}
            return max(0, nodes - len(advertised))
        return 0

    # -- demand ------------------------------------------------------------------------------

    def _demand(self, now: float, jobs: Iterable[ClassAd], template: ClassAd
                ) -> tuple[list[_Group], list[Unservable], int]:
        groups: dict[tuple, _Group] = {}
        refs: dict[str, tuple[str, ...]] = {}
        idle = 0
        for job in jobs:
            if job.eval("JobStatus") != IDLE:
                continue
            if self._constraint is not None and not is_true(self._constraint.eval(my=job)):
                continue
            idle += 1
            key = _signature(job, refs)
            group = groups.get(key)
            if group is None:
                first = job.copy()
                first["CurrentTime"] = int(now)
                groups[key] = _Group(first, 1)
            else:
                group.count += 1

        servable: list[_Group] = []
        unservable: list[Unservable] = []
        for group in groups.values():
            reason = _refusal(group.job, template)
            if reason is None:
                size = _carve(group.job, template)
                if isinstance(size, Refusal):
                    reason = size.reason
                else:
                    group.size = size
                    group.per_node = _how_many(_amounts(template, total=True), size)
            if reason is None and group.per_node < 1:
                reason = "a pilot's node is too small for it"
            if reason is None:
                servable.append(group)
            else:
                unservable.append(Unservable(group.count, _job_id(group.job), reason))
        return servable, unservable, idle

    def validate(self) -> None:
        """Assert the invariants."""
        assert self._strikes >= 0
        assert (self._strikes == 0) == (self._backoff_until is None), (
            self._strikes, self._backoff_until)
        for job_id, pilot in self._pilots.items():
            assert job_id == pilot.job_id
            assert not (pilot.idle_struck and pilot.idle_since is None), pilot
            assert pilot.running_since is None or pilot.running_since >= pilot.first_seen
            assert pilot.advertised or not (pilot.ran_jobs or pilot.idle_since is not None), pilot


def _state_word(state: str) -> str:
    """Slurm's state without decorations (``CANCELLED by 1000``, ``COMPLETING+``)."""
    words = state.split()
    return words[0].rstrip("+").upper() if words else "UNKNOWN"


def _slots_by_pilot(slots: Sequence[ClassAd]) -> dict[str, list[ClassAd]]:
    found: dict[str, list[ClassAd]] = {}
    for ad in slots:
        batch_id = ad.eval("GLIDEIN_BatchJobId")
        if isinstance(batch_id, int | str) and not isinstance(batch_id, bool):
            found.setdefault(str(batch_id), []).append(ad)
    return found


def _running_jobs(ad: ClassAd) -> bool:
    """Whether a slot shows work: claimed, a dynamic slot, a partitionable slot that has
    given some of its room away, or jobs started."""
    if ad.eval("State") == "Claimed" or ad.eval("DynamicSlot") is True:
        return True
    starts = ad.eval("JobStarts")
    if isinstance(starts, int) and not isinstance(starts, bool) and starts > 0:
        return True
    cpus, total = ad.eval("Cpus"), ad.eval("TotalSlotCpus")
    return (ad.eval("PartitionableSlot") is True and isinstance(cpus, int)
            and isinstance(total, int) and cpus < total)


def _signature(job: ClassAd, refs: dict[str, tuple[str, ...]]) -> tuple:
    """The job's autocluster key: the significant attributes and the job's own attributes
    its Requirements refers to (found once per Requirements text)."""
    values = [str(job.lookup(name)) if name in job else "" for name in SIGNIFICANT]
    requirements = values[0]
    names = refs.get(requirements)
    if names is None:
        names = refs[requirements] = tuple(sorted(
            name for name in (job.internal_refs(job.lookup("Requirements"))
                              if "Requirements" in job else ())
            if "." not in name and name.lower() not in {s.lower() for s in SIGNIFICANT}))
    values.extend(str(job.lookup(name)) if name in job else "" for name in names)
    return tuple(values)


def _job_id(job: ClassAd) -> str:
    return f"{job.eval('ClusterId')}.{job.eval('ProcId')}"


def _refusal(job: ClassAd, slot: ClassAd) -> str | None:
    """Why ``job`` and ``slot`` do not match (None: they do), as the negotiator matches."""
    if not requirements_hold(job, slot):
        if "Requirements" not in job:
            return "the job has no Requirements"
        for clause in conjuncts(job.lookup("Requirements")):
            if not is_true(clause.eval(my=job, target=slot)):
                return f"the job's Requirements clause {clause} is not true for a pilot"
        return "the job's Requirements are not true for a pilot"
    if requirements_hold(slot, job):
        return None
    within = ExprTree("WithinResourceLimits").eval(my=slot, target=job)
    if not is_true(within):
        return (f"a pilot's node is too small for it (it offers {slot.eval('Cpus')} CPUs, "
                f"{slot.eval('Memory')} MiB, {slot.eval('Disk')} KiB)")
    runtime, ttl = job.eval("MaxRuntime"), slot.eval("TimeToLive")
    if isinstance(runtime, int | float) and isinstance(ttl, int | float) and runtime > ttl:
        return (f"its MaxRuntime ({runtime} s) is longer than a new pilot's lifetime "
                f"({ttl} s)")
    return "a pilot's START refuses it"


def _amounts(ad: ClassAd, *, total: bool) -> Amounts:
    """A slot's room: what it has left, or its whole size."""
    names = (("TotalSlotCpus", "TotalSlotMemory", "TotalSlotDisk") if total
             else ("Cpus", "Memory", "Disk"))
    values = [ad.eval(name) for name in names]
    return Amounts(*(int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0
                     for v in values))


def _carve(job: ClassAd, template: ClassAd) -> Amounts | Refusal:
    """What a new pilot's partitionable slot carves for ``job``."""
    table = SlotTable("template", _amounts(template, total=True), partitionable_slot())
    (pslot,) = table
    carved = table.carve(pslot.name, job, machine_ad=template)
    return carved if isinstance(carved, Refusal) else carved.size


def _how_many(room: Amounts, size: Amounts) -> int:
    """How many jobs of ``size`` fit in ``room``."""
    counts = [have // want for have, want in ((room.cpus, size.cpus),
                                              (room.memory_mb, size.memory_mb),
                                              (room.disk_kb, size.disk_kb)) if want > 0]
    return min(counts) if counts else 0


def _place(groups: list[_Group], free: list[ClassAd], now: float) -> int:
    """Put as many servable jobs as fit on the free glide-in slots (their counts go down);
    how many were placed."""
    slots = []
    for ad in free:
        if ad.eval("State") != "Unclaimed" or ad.eval("DynamicSlot") is True:
            continue
        ad = ad.copy()
        ad["CurrentTime"] = int(now)
        partitionable = ad.eval("PartitionableSlot") is True
        slots.append([ad, _amounts(ad, total=False), partitionable])
    placed = 0
    for group in groups:
        for slot in slots:
            if not group.count:
                break
            ad, room, partitionable = slot
            if group.size is None or not (requirements_hold(group.job, ad)
                                          and requirements_hold(ad, group.job)):
                continue
            fits = _how_many(room, group.size) if partitionable else min(1, _how_many(
                room, group.size))
            taken = min(fits, group.count)
            if not taken:
                continue
            group.count -= taken
            placed += taken
            used = Amounts(group.size.cpus * taken, group.size.memory_mb * taken,
                           group.size.disk_kb * taken)
            slot[1] = room - used if partitionable else Amounts(0, 0, 0)
    return placed

