"""One negotiation cycle, pure: slots, submitters and their requests in, matches out.

The shell (``matchmaker.negotiator``) fetches the slot ads (with their private claim ids),
the submitters' priorities and each submitter's resource requests (one per autocluster,
from its schedd), hands them to ``negotiate``, and delivers the matches.  The cycle follows
HTCondor's (reference section 3.2, cm-configuration.rst "The Negotiation Cycle"):

- **The pie.**  The pool's weight is the sum of ``SlotWeight`` (default ``Cpus``) over all
  slots.  Each submitter with idle jobs gets a share inversely proportional to its effective
  priority (EUP: lower is better), less what it already has in use (the weight of the slots
  whose ``RemoteOwner`` it is), and never more than its ceiling.  Submitters are served in
  EUP order; what a submitter cannot use is spun out again to those who still want more
  ("pie spins") until a spin makes no match.  When the slices left are each too small for
  a job, a last spin serves the submitters in EUP order while slots last, so that no slot
  stays idle while jobs wait.
- **Requests** are served in the order the schedd sends them (job priority, then queue
  date).  For each job of a request: the candidates are the idle slots where both
  Requirements hold (the job's with TARGET = slot, the slot's with TARGET = job), sorted by
  ``NEGOTIATOR_PRE_JOB_RANK``, then the job's ``Rank``, then ``NEGOTIATOR_POST_JOB_RANK``
  (HTCondor's defaults; the pool-wide ranks with MY = slot and TARGET = job, a value that is
  not a number counting as the lowest).  The best slot goes to the job.  A request that
  finds no slot is rejected for the rest of the cycle, with the reason.
- **Partitionable slots** match on what they have left; a match takes the job's request
  out of the slot's Cpus, Memory and Disk for the rest of the cycle, so one partitionable
  slot can serve several jobs, and the submitter is charged the job's ``RequestCpus``.
- **Preemption** (reference section 3.6; HTCondor's matchmaker.cpp): a slot that is
  Claimed and running a job (Busy or Suspended) is a candidate too, for a reason:
  *rank* when the slot's Rank of the new job is above its ``CurrentRank`` (the Rank of the
  job it runs), *priority* when the slot's owner (``RemoteOwner``) has a worse effective
  priority than the submitter, the slot's Rank of the new job is not below
  ``CurrentRank``, and ``PREEMPTION_REQUIREMENTS`` (MY = slot, TARGET = job; False by
  default, as in HTCondor) is true.  Candidates sort by the ranks above, then by the reason
  (an idle slot before a rank preemption before a priority preemption), then by
  ``PREEMPTION_RANK``.  The negotiator sets ``RemoteUserPrio`` in claimed slots' ads and
  ``SubmitterUserPrio`` in the jobs' for these expressions.  A Claimed/Idle slot, or one
  retiring or vacating, is not a candidate.  The match carries the slot's preempting claim
  id (``startd.states``), and the startd preempts its job; the preempted job goes back to
  Idle at its schedd.  Claimed slots count in the pie and in the statistics.
- **Concurrency limits** (``matchmaker.limits``): a job whose ``ConcurrencyLimits`` would
  exceed a limit, counting what running jobs hold and what this cycle matched, is not
  matched; the match carries ``MatchedConcurrencyLimits``.

**Speed.**  Slots that agree on every attribute the match and the ranks can look at
(the closure of what their own Requirements and Rank refer to, what the jobs' Requirements
and Rank refer to as TARGET, and what the pre-job rank refers to) form a *class*; a request
is evaluated once per class, not once per slot.  ``NEGOTIATOR_POST_JOB_RANK`` orders slots
within a class; when it does not refer to the job (the default does not) it is computed
once per slot per cycle.

**Statistics** per autocluster, for ``roost analyze``: the slots considered, those the
job's Requirements reject, those that reject the job (their Requirements: START or
resources), those that would match but are not Unclaimed (by their State: Owner, Matched,
Claimed, Preempting, Drained), the matches, and whether the submitter's share ran out
first.

- **Accounting groups** (``matchmaker.groups``): each group's quota and allocation for
  the cycle come from HTCondor's hierarchical quotas (static and dynamic quotas, surplus
  to groups that accept it).  Groups negotiate one after another in starvation order
  (least usage for their quota first, ``<none>`` last); within a group, its submitters
  share what the group may hold by the pie as above, each less what it holds in the
  group.  A job of a group that has reached its allocation is not matched, and the match
  carries the group as ``RemoteGroup``.

Left out: floors, and NEGOTIATOR_CONSIDER_EARLY_PREEMPTION (a retiring slot is never a
candidate).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from classad import ClassAd, ExprTree, Value, requirements_hold
from classad import rank as job_rank
from matchmaker.groups import (
    ROOT,
    GroupConfig,
    assign_quotas,
    negotiation_limit,
    negotiation_order,
)
from matchmaker.limits import Limits, matched_text

PRE_JOB_RANK = ("(10000000 * My.Rank) + (1000000 * (RemoteOwner =?= UNDEFINED)) "
                "- (100000 * Cpus) - Memory")
POST_JOB_RANK = ("(RemoteOwner =?= UNDEFINED) * (ifthenElse(isUndefined(KFlops), 1000, Kflops) "
                 "- SlotID - 1.0e10*(Offline=?=True))")
PREEMPTION_RANK = ("(RemoteUserPrio * 1000000) - ifThenElse(isUndefined(TotalJobRuntime), 0, "
                   "TotalJobRuntime)")
LOWEST = -math.inf
# Why a slot is a candidate, in the order candidates are preferred.
NO_PREEMPTION, RANK_PREEMPTION, PRIORITY_PREEMPTION = 0, 1, 2
_REASONS = {NO_PREEMPTION: "", RANK_PREEMPTION: "rank", PRIORITY_PREEMPTION: "priority"}
# What a claimed slot's ad says of its claim, which decides whether it can be preempted.
_CLAIM_STATE = ("Activity", "CurrentRank", "RemoteOwner", "RemoteUserPrio")

# Attributes that name a slot rather than describe it; a class looks at them only when
# an expression refers to them.
_RESOURCES = ("Cpus", "Memory", "Disk")


@dataclass(frozen=True)
class Offer:
    """A slot as the negotiator has it: its public ad and its claim id (private)."""

    ad: ClassAd
    claim_id: str


@dataclass(frozen=True)
class Request:
    """One autocluster of a submitter's idle jobs."""

    autocluster_id: int
    count: int
    job_ad: ClassAd


@dataclass(frozen=True)
class Submitter:
    name: str  # the submitter ad's Name, which the schedd knows its jobs by
    account: str  # whom the accountant charges (the owner)
    priority: float  # effective priority: lower is better
    requests: Sequence[Request]
    ceiling: float = 0.0  # the most weight it may hold (0: no ceiling)


@dataclass(frozen=True)
class Match:
    submitter: str
    autocluster_id: int
    slot_name: str
    claim_id: str
    slot_ad: ClassAd  # as matched (a partitionable slot with what it had left)
    weight: float
    preempting: str = ""  # "rank" or "priority" when the slot's job is to be preempted


@dataclass
class RequestStats:
    """What happened to one autocluster in the cycle."""

    submitter: str
    autocluster_id: int
    wanted: int
    considered: int = 0  # slots in the pool
    rejected_by_job: int = 0  # the job's Requirements are false for them
    rejected_by_slot: int = 0  # their Requirements (START, resources) are false for the job
    # Would match, but are not Unclaimed: how many in each State (Owner, Matched, Claimed,
    # Preempting, Drained), as their ads say.
    unavailable: dict[str, int] = field(default_factory=dict)
    matched: int = 0
    preempting: int = 0  # of the matches, those that preempt a running job
    over_share: bool = False  # the submitter's share ran out before the request's jobs
    reason: str = ""

    @property
    def claimed(self) -> int:
        """Those that would match but are Claimed."""
        return self.unavailable.get("Claimed", 0)


@dataclass
class Outcome:
    matches: list[Match] = field(default_factory=list)
    stats: dict[tuple[str, int], RequestStats] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)  # submitter -> its pie slice
    pool_weight: float = 0.0

    def matches_for(self, submitter: str) -> list[Match]:
        return [match for match in self.matches if match.submitter == submitter]


@dataclass(frozen=True)
class Policy:
    pre_job_rank: str = PRE_JOB_RANK
    post_job_rank: str = POST_JOB_RANK
    preemption_requirements: str = "False"
    preemption_rank: str = PREEMPTION_RANK
    consider_preemption: bool = True  # NEGOTIATOR_CONSIDER_PREEMPTION


def negotiate(offers: Iterable[Offer], submitters: Sequence[Submitter],
              policy: Policy = Policy(), limits: Limits | None = None,
              groups: GroupConfig | None = None,
              priorities: Mapping[str, float] | None = None) -> Outcome:
    """One cycle (see the module's docstring); ``limits``: the pool's concurrency limits,
    with what the running jobs hold; ``groups``: the accounting groups and their quotas;
    ``priorities``: the effective priorities of the accounts that hold slots (for priority
    preemption; the submitters' own are known)."""
    if policy.consider_preemption:
        submitters = [_with_priority(s) for s in submitters]
    known = {s.account: s.priority for s in submitters}
    pool = _Pool(list(offers), submitters, policy, {**known, **(priorities or {})})
    pool.limits = limits
    if groups is not None:
        pool.quotas = _GroupBudget(groups, pool, submitters)
    outcome = Outcome(pool_weight=pool.weight)
    in_use = pool.in_use()
    wanting = [s for s in sorted(submitters, key=lambda s: (s.priority, s.name)) if s.requests]
    for submitter in wanting:
        for request in submitter.requests:
            outcome.stats[submitter.name, request.autocluster_id] = pool.census(
                submitter.name, request)
    queues: list[_Queue] = []
    if pool.quotas is None:
        queues = [_Queue(s) for s in wanting]
        _spin(pool, outcome, queues, pool.weight, pool.free_weight, in_use, in_use)
    else:
        quotas = pool.quotas
        for group in quotas.order():
            members = [_Queue(m) for s in wanting if (m := quotas.members(s, group)).requests]
            if not members or quotas.left.get(group, 0.0) <= 0:
                continue
            queues += members
            # The group's pie is what it may hold; each submitter's slice, less what it
            # holds in the group.
            _spin(pool, outcome, members, quotas.limit[group],
                  lambda group=group: min(pool.free_weight(), quotas.left[group]),
                  in_use, pool.in_use(quotas, group))
            if quotas.left[group] < 1e-9:
                for queue in members:
                    queue.close(f"accounting group {group} is at its quota")
    for queue in queues:
        queue.finish(outcome)
    return outcome


def _spin(pool: _Pool, outcome: Outcome, queues: list[_Queue], weight: float,
          available, in_use: dict[str, float], held_here: dict[str, float]) -> None:
    """Share out ``weight`` among the queues' submitters (in priority order) by the pie.

    The first spin shares out ``weight`` less what each already holds (``held_here``:
    in the pool, or in the group); later spins share out what is still ``available()``
    among those who still want more.  ``in_use`` (per account, the whole pool) is for the
    ceilings."""
    wanting = list(queues)
    shares = _pie(weight, [q.submitter for q in wanting])
    for name, share in shares.items():
        outcome.shares[name] = outcome.shares.get(name, 0.0) + share
    first, greedy = True, False
    while wanting and available() > 0:
        if not first:
            shares = _pie(available(), [q.submitter for q in wanting])
        made = 0
        for queue in wanting:
            submitter = queue.submitter
            held = held_here.get(submitter.account, 0.0)
            limit = math.inf if greedy else shares[submitter.name] - (held if first else 0.0)
            if submitter.ceiling > 0:
                limit = min(limit, submitter.ceiling - in_use.get(submitter.account, 0.0))
            got = 0.0
            while got < limit and (match := queue.next_match(pool, outcome, limit - got)):
                outcome.matches.append(match)
                got += match.weight
                in_use[submitter.account] = in_use.get(submitter.account, 0.0) + match.weight
                if held_here is not in_use:
                    held_here[submitter.account] = (held_here.get(submitter.account, 0.0)
                                                    + match.weight)
                made += 1
            if queue.pending() and got >= limit:
                queue.mark_over_share(outcome)
        wanting = [q for q in wanting if q.pending()]
        if greedy:
            break
        if not made and not first:
            # The shares left are each smaller than a job: rather than leave slots idle,
            # a last spin serves the submitters in priority order, as far as slots last.
            greedy = True
        first = False


def _with_priority(submitter: Submitter) -> Submitter:
    """The submitter with ``SubmitterUserPrio`` in its jobs' ads, for PREEMPTION_*."""
    requests = []
    for request in submitter.requests:
        job = request.job_ad.copy()
        job["SubmitterUserPrio"] = submitter.priority
        requests.append(Request(request.autocluster_id, request.count, job))
    return Submitter(submitter.name, submitter.account, submitter.priority, requests,
                     submitter.ceiling)


def _pie(weight: float, submitters: Sequence[Submitter]) -> dict[str, float]:
    """Shares of ``weight`` inversely proportional to the submitters' priorities."""
    inverse = {s.name: 1.0 / max(s.priority, 1e-9) for s in submitters}
    total = sum(inverse.values())
    return {name: weight * value / total for name, value in inverse.items()}


# -- the slots --------------------------------------------------------------------------------


class _Slot:
    __slots__ = ("offer", "ad", "name", "partitionable", "post", "key", "free", "busy")

    def __init__(self, offer: Offer) -> None:
        self.offer = offer
        self.ad = offer.ad
        self.name = _text(offer.ad, "Name")
        self.partitionable = offer.ad.eval("PartitionableSlot") is True
        self.free = offer.ad.eval("State") == "Unclaimed"
        # Running a job on a claim: a candidate for preemption.
        self.busy = (not self.free and offer.ad.eval("State") == "Claimed"
                     and offer.ad.eval("Activity") in ("Busy", "Suspended"))
        self.post = LOWEST
        self.key: tuple = ()


class _Class:
    """Slots that no expression of this cycle can tell apart."""

    __slots__ = ("key", "rep", "members", "free", "sorted")

    def __init__(self, key: tuple, rep: _Slot) -> None:
        self.key = key
        self.rep = rep
        self.members: list[_Slot] = []
        # Members that may be matched (unclaimed, or running a job that may be preempted),
        # best post-job rank last.
        self.free: list[_Slot] = []
        self.sorted = True


class _Pool:
    def __init__(self, offers: list[Offer], submitters: Sequence[Submitter],
                 policy: Policy, priorities: Mapping[str, float]) -> None:
        self.pre = ExprTree(policy.pre_job_rank)
        self.post = ExprTree(policy.post_job_rank)
        self.preemption_requirements = ExprTree(policy.preemption_requirements)
        self.preemption_rank = ExprTree(policy.preemption_rank)
        self.consider_preemption = policy.consider_preemption
        self.slots = [_Slot(offer) for offer in offers]
        for slot in self.slots:
            owner = slot.ad.eval("RemoteOwner")
            if slot.busy and isinstance(owner, str) and owner in priorities:
                slot.ad = slot.ad.copy()
                slot.ad["RemoteUserPrio"] = priorities[owner]
        jobs = [r.job_ad for s in submitters for r in s.requests]
        pool_exprs = [self.pre]
        if self.consider_preemption:
            pool_exprs += [self.preemption_requirements, self.preemption_rank]
        self.attributes = _significant(self.slots, jobs, pool_exprs,
                                       _CLAIM_STATE if self.consider_preemption else ())
        self.post_refers_to_job = _refers_to_target(self.post)
        self.classes: dict[tuple, _Class] = {}
        self.class_list: list[_Class] = []  # in the order they were made
        self.limits: Limits | None = None
        self.quotas: _GroupBudget | None = None
        self.weight = 0.0
        for slot in self.slots:
            self.weight += _weight(slot.ad)
            if not self.post_refers_to_job:
                slot.post = _number(self.post.eval(my=slot.ad))
            self._place(slot)

    def _place(self, slot: _Slot) -> None:
        slot.key = tuple(_text_of(slot.ad, name) for name in self.attributes)
        cls = self.classes.get(slot.key)
        if cls is None:
            cls = self.classes[slot.key] = _Class(slot.key, slot)
            self.class_list.append(cls)
        cls.members.append(slot)
        if slot.free or (slot.busy and self.consider_preemption):
            cls.free.append(slot)
            cls.sorted = False

    def free_weight(self) -> float:
        return sum(_weight(slot.ad) for cls in self.classes.values() for slot in cls.free)

    def in_use(self, quotas: _GroupBudget | None = None,
               group: str | None = None) -> dict[str, float]:
        """Weight held per account: the claimed slots' RemoteOwner (only the slots held
        in ``group``, when given)."""
        held: dict[str, float] = {}
        for slot in self.slots:
            owner = slot.ad.eval("RemoteOwner")
            if not isinstance(owner, str):
                continue
            if group is not None and quotas.group_of_slot(slot.ad) != group:
                continue
            held[owner] = held.get(owner, 0.0) + _weight(slot.ad)
        return held

    def census(self, submitter: str, request: Request) -> RequestStats:
        """How the pool's slots stand towards the request's job."""
        stats = RequestStats(submitter, request.autocluster_id, request.count)
        job = request.job_ad
        for cls in self.classes.values():
            n = len(cls.members)
            stats.considered += n
            if not requirements_hold(job, cls.rep.ad):
                stats.rejected_by_job += n
            elif not requirements_hold(cls.rep.ad, job):
                stats.rejected_by_slot += n
            elif not cls.rep.free:
                # A class's slots agree on State, which every class looks at.
                state = _text(cls.rep.ad, "State") or "Unknown"
                stats.unavailable[state] = stats.unavailable.get(state, 0) + n
        return stats

    def preemption(self, cls: _Class, job: ClassAd, priority: float) -> int | None:
        """Why the request's job may have a slot of ``cls`` (both Requirements hold):
        NO_PREEMPTION for an unclaimed slot; for a busy one, RANK_PREEMPTION or
        PRIORITY_PREEMPTION, or None when it may not be preempted."""
        slot = cls.rep.ad
        if cls.rep.free:
            return NO_PREEMPTION
        new_rank = job_rank(slot, job)
        current = _number(slot.eval("CurrentRank"))
        current = 0.0 if current == LOWEST else current
        if new_rank > current:
            return RANK_PREEMPTION
        owner_priority = slot.eval("RemoteUserPrio")
        if (new_rank == current and isinstance(owner_priority, int | float)
                and owner_priority > priority
                and self.preemption_requirements.eval(my=slot, target=job) is True):
            return PRIORITY_PREEMPTION
        return None

    def take(self, cls: _Class, slot: _Slot, job: ClassAd) -> tuple[ClassAd, float]:
        """Give ``slot`` to ``job``: the ad as matched and the weight charged."""
        cls.free.remove(slot)
        matched = slot.ad
        if not slot.partitionable or not slot.free:
            return matched, _weight(slot.ad)
        requested = {name: _request(job, slot.ad, name) for name in _RESOURCES}
        left = slot.ad.copy()
        for name in _RESOURCES:
            have = slot.ad.eval(name)
            left[name] = (have if isinstance(have, int | float) else 0) - requested[name]
        cls.members.remove(slot)
        slot.ad = left
        if all(left.eval(name) > 0 for name in _RESOURCES):
            self._place(slot)
        return matched, float(requested["Cpus"])


# -- one submitter's requests -----------------------------------------------------------------


class _Queue:
    """A submitter's requests, served in order, each job to the best slot."""

    def __init__(self, submitter: Submitter) -> None:
        self.submitter = submitter
        self.left = [[request, request.count] for request in submitter.requests]
        self.done: dict[int, str] = {}  # autocluster -> why it got no more slots
        # Per autocluster: a heap of matching classes by rank, and how many of the pool's
        # classes (in the order they were made) have been looked at.
        self._heaps: dict[int, list] = {}
        self._scanned: dict[int, int] = {}
        self._order = itertools.count()

    def pending(self) -> bool:
        return any(count > 0 and request.autocluster_id not in self.done
                   for request, count in self.left)

    def next_match(self, pool: _Pool, outcome: Outcome, budget: float) -> Match | None:
        for entry in self.left:
            request, count = entry
            if count <= 0 or request.autocluster_id in self.done:
                continue
            wanted = request.job_ad.eval("ConcurrencyLimits")
            wanted = wanted if isinstance(wanted, str) and wanted.strip() else None
            if wanted is not None and pool.limits is not None:
                try:
                    verdict = pool.limits.allows(wanted)
                except ValueError as error:
                    self.done[request.autocluster_id] = f"bad ConcurrencyLimits: {error}"
                    continue
                if not verdict:
                    self.done[request.autocluster_id] = verdict.reason
                    continue
            group = pool.quotas.group(request.job_ad) if pool.quotas is not None else None
            if group is not None and not pool.quotas.allows(group, _job_cpus(request)):
                self.done[request.autocluster_id] = (
                    f"accounting group {group} is at its quota")
                continue
            found = self._best(pool, request)
            if found is None:
                self.done[request.autocluster_id] = "no free slot matches"
                continue
            cls, slot, reason = found
            if slot.partitionable and slot.free:
                weight = float(_request(request.job_ad, slot.ad, "Cpus"))
            else:
                weight = _weight(slot.ad)
            if weight > budget + 1e-9:
                return None  # the rest of the share is too small for this job
            matched, weight = pool.take(cls, slot, request.job_ad)
            if group is not None:
                pool.quotas.take(group, weight)
                matched = matched.copy()
                matched["RemoteGroup"] = group
            if wanted is not None and pool.limits is not None:
                pool.limits.take(wanted)
                matched = matched.copy()
                matched["MatchedConcurrencyLimits"] = matched_text(wanted)
            entry[1] -= 1
            stats = outcome.stats[self.submitter.name, request.autocluster_id]
            stats.matched += 1
            stats.preempting += reason != NO_PREEMPTION
            return Match(self.submitter.name, request.autocluster_id, slot.name,
                         slot.offer.claim_id, matched, weight, _REASONS[reason])
        return None

    def _best(self, pool: _Pool, request: Request) -> tuple[_Class, _Slot, int] | None:
        """The best candidate slot for the request's job, by the ranks, then the reason
        (no preemption first), then PREEMPTION_RANK; and the reason."""
        ac = request.autocluster_id
        heap = self._heaps.setdefault(ac, [])
        job = request.job_ad
        for cls in pool.class_list[self._scanned.get(ac, 0):]:
            if requirements_hold(job, cls.rep.ad) and requirements_hold(cls.rep.ad, job):
                reason = pool.preemption(cls, job, self.submitter.priority)
                if reason is None:
                    continue
                pre = _number(pool.pre.eval(my=cls.rep.ad, target=job))
                rank = job_rank(job, cls.rep.ad)
                preemption_rank = 0.0 if reason == NO_PREEMPTION else _number(
                    pool.preemption_rank.eval(my=cls.rep.ad, target=job))
                heapq.heappush(heap, (-pre, -rank, reason, -preemption_rank,
                                      next(self._order), cls.key))
        self._scanned[ac] = len(pool.class_list)
        while heap:
            reason, key = heap[0][2], heap[0][-1]
            cls = pool.classes.get(key)
            if cls is None or not cls.free:
                heapq.heappop(heap)
                continue
            return cls, self._pick(pool, cls, job), reason
        return None

    @staticmethod
    def _pick(pool: _Pool, cls: _Class, job: ClassAd) -> _Slot:
        if pool.post_refers_to_job:
            return max(cls.free, key=lambda s: _number(pool.post.eval(my=s.ad, target=job)))
        if not cls.sorted:
            cls.free.sort(key=lambda s: s.post)
            cls.sorted = True
        return cls.free[-1]

    def close(self, reason: str) -> None:
        """No more slots for the requests still pending, for ``reason``."""
        for request, count in self.left:
            if count > 0:
                self.done.setdefault(request.autocluster_id, reason)

    def mark_over_share(self, outcome: Outcome) -> None:
        for request, count in self.left:
            if count > 0 and request.autocluster_id not in self.done:
                outcome.stats[self.submitter.name, request.autocluster_id].over_share = True

    def finish(self, outcome: Outcome) -> None:
        for request, count in self.left:
            stats = outcome.stats[self.submitter.name, request.autocluster_id]
            if count > 0:
                stats.reason = self.done.get(request.autocluster_id) or (
                    "the submitter's fair share is used up" if stats.over_share
                    else "no free slot is left")


# -- accounting groups ----------------------------------------------------------------------


class _GroupBudget:
    """What each accounting group may still be given in this cycle (``matchmaker.groups``:
    HTCondor's hierarchical quotas).  A job's group is its ``AcctGroup``; the demand of a
    group is the CPUs its idle jobs ask for, its usage the weight of the claimed slots
    whose ``RemoteGroup`` it is."""

    def __init__(self, config: GroupConfig, pool: _Pool, submitters: Sequence[Submitter]):
        self.config = config
        demand: dict[str, float] = {}
        for submitter in submitters:
            for request in submitter.requests:
                group = self.group(request.job_ad)
                demand[group] = demand.get(group, 0.0) + request.count * _job_cpus(request)
        usage: dict[str, float] = {}
        for slot in pool.slots:
            group = slot.ad.eval("RemoteGroup")
            if isinstance(group, str):
                known = config.group_of(group)
                usage[known] = usage.get(known, 0.0) + _weight(slot.ad)
        self.allocations = assign_quotas(config, pool.weight, demand, usage)
        # What each group may hold in this cycle, and what it may still be given.
        self.limit = {name: negotiation_limit(config, self.allocations, usage, name)
                      for name in self.allocations}
        self.left = {name: limit - usage.get(name, 0.0) for name, limit in self.limit.items()}

    def order(self) -> list[str]:
        """The groups in starvation order (``<none>`` last)."""
        return negotiation_order(self.allocations)

    def members(self, submitter: Submitter, group: str) -> Submitter:
        """``submitter`` with only its requests of ``group``."""
        return Submitter(submitter.name, submitter.account, submitter.priority,
                         [r for r in submitter.requests if self.group(r.job_ad) == group],
                         submitter.ceiling)

    def group(self, job: ClassAd) -> str:
        group = job.eval("AcctGroup")
        return self.config.group_of(group) if isinstance(group, str) else ROOT

    def group_of_slot(self, slot: ClassAd) -> str:
        group = slot.eval("RemoteGroup")
        return self.config.group_of(group) if isinstance(group, str) else ROOT

    def allows(self, group: str, weight: float) -> bool:
        return self.left.get(group, 0.0) + 1e-9 >= weight

    def take(self, group: str, weight: float) -> None:
        self.left[group] = self.left.get(group, 0.0) - weight


def _job_cpus(request: Request) -> float:
    cpus = request.job_ad.eval("RequestCpus")
    return float(cpus) if isinstance(cpus, int | float) and cpus > 0 else 1.0


# -- helpers ----------------------------------------------------------------------------------


def _significant(slots: list[_Slot], jobs: list[ClassAd], pool_exprs: list[ExprTree],
                 also: Iterable[str] = ()) -> tuple[str, ...]:
    """The slot attributes any expression of the cycle can look at (see the docstring)."""
    wanted: set[str] = {"State", "Requirements", "Rank", "SlotWeight", *_RESOURCES, *also}
    for job in jobs:
        for name in ("Requirements", "Rank"):
            if name in job:
                wanted.update(_target_names(job.external_refs(job.lookup(name))))
    seeds = set(wanted)
    seen_texts: dict[str, set[str]] = {}
    names: set[str] = set(wanted)
    for slot in slots:
        exprs = [(name, slot.ad.lookup(name)) for name in seeds if name in slot.ad]
        for name, expr in [*exprs, *(("", pool_expr) for pool_expr in pool_exprs)]:
            text = f"{name}={expr}"
            refs = seen_texts.get(text)
            if refs is None:
                refs = seen_texts[text] = _closure(slot.ad, expr)
            names |= refs
    return tuple(sorted(names, key=str.lower))


def _closure(ad: ClassAd, expr) -> set[str]:
    """The ad's attributes ``expr`` refers to, directly or through other attributes."""
    found: set[str] = set()
    todo = [expr]
    while todo:
        current = todo.pop()
        for name in ad.internal_refs(current):
            bare = name.rpartition(".")[2]
            if bare.lower() not in {n.lower() for n in found}:
                found.add(bare)
                if bare in ad:
                    todo.append(ad.lookup(bare))
    return found


def _target_names(refs: Iterable[str]) -> set[str]:
    return {name.partition(".")[2] for name in refs if name.lower().startswith("target.")}


def _refers_to_target(expr: ExprTree) -> bool:
    return bool(_target_names(ClassAd().external_refs(expr)))


def _text_of(ad: ClassAd, name: str) -> str | None:
    return str(ad.lookup(name)) if name in ad else None


def _text(ad: ClassAd, name: str) -> str:
    value = ad.eval(name)
    return value if isinstance(value, str) else ""


def _number(value) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return LOWEST


def _weight(ad: ClassAd) -> float:
    value = ad.eval("SlotWeight") if "SlotWeight" in ad else ad.eval("Cpus")
    return float(value) if isinstance(value, int | float) and value > 0 else 1.0


_REQUESTS = {name: ExprTree(f"MY.Request{name}") for name in _RESOURCES}


def _request(job: ClassAd, slot: ClassAd, resource: str) -> int:
    """The job's request for a slot resource (RequestCpus...), evaluated against the slot."""
    value = _REQUESTS[resource].eval(my=job, target=slot)
    if value is Value.Undefined and resource == "Cpus":
        return 1
    return math.ceil(value) if isinstance(value, int | float) else 0

