"""The negotiator: runs negotiation cycles in the matchmaker, beside the collector.

A cycle (``Negotiator.cycle``) reads the slot ads and their private claim ids and the
submitter ads from the collector's store, charges the accountant for what each submitter
holds, asks the schedd of every submitter with idle jobs for its resource requests (one
Negotiate conversation per submitter, all open at once), lets ``matchmaker.negotiation``
decide, and sends each schedd its matches.  Cycles run every ``negotiator_interval``
seconds (``RETRY_INTERVAL`` while jobs are left waiting), at once when a schedd asks
(Reschedule, after a submit), and at once when a new unclaimed slot appears while jobs
wait (a startd or a glide-in joins the pool), but never closer together than
``MIN_INTERVAL``, so a burst of submits costs one cycle.

A slot matched in a cycle is not matched again in the next cycles until its ad changes
(the startd advertises a claim at once) or ``MATCH_MEMORY`` seconds pass, so that a slot is
not handed to two schedds while the first one claims it (HTCondor's startd goes to Matched
for this); meanwhile it counts as held by the match's owner, group and concurrency
limits.  Partitionable slots are not remembered: the startd refuses a claim it has no room
for, and the schedd drops that match.

The last cycles' statistics (``CycleStats``) and, for each autocluster negotiated, what the
cycle found (``RequestStats``) are kept for ``roost analyze``.

What the cycle shares with the service (``roost userprio``, Analyze, CycleStats) has one
owner, ``NegotiatorState``: the accountant, those records and statistics, under one lock
that is held for each short read or change and never while a schedd is talked to, so that
``roost userprio -setfactor`` during a cycle neither waits for the cycle nor changes the
accountant under it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from classad import ClassAd
from matchmaker.accountant import Account, Accountant
from matchmaker.limits import Limits, tally
from matchmaker.negotiation import (
    Offer,
    Outcome,
    Policy,
    Request,
    RequestStats,
    Submitter,
    negotiate,
)

log = logging.getLogger("roost.negotiator")

# What decides a match whatever the slots say: the job's own expressions and requests.
SIGNIFICANT = ("Requirements", "Rank", "RequestCpus", "RequestMemory", "RequestDisk",
               "JobUniverse", "ConcurrencyLimits", "MaxRuntime", "Owner")
MIN_INTERVAL = 0.2  # seconds between the starts of two cycles, however many reschedules
RETRY_INTERVAL = 5.0  # seconds to the next cycle while jobs wait (NEGOTIATOR_MIN_INTERVAL)
MATCH_MEMORY = 30.0  # seconds a matched static slot is left out while it is being claimed
KEPT_CYCLES = 20


@dataclass(frozen=True)
class CycleStats:
    started: float
    duration: float
    submitters: int
    slots: int
    matches: int
    rejections: int
    autoclusters: int


@dataclass
class _Remembered:
    updates: int  # the slot ad's update count when it was matched
    until: float
    ad: ClassAd  # the slot as the match left it: Matched, with its owner, group and limits


@dataclass
class Record:
    """What the last cycle found for one autocluster: its stats and representative job."""

    stats: RequestStats
    job_ad: ClassAd
    schedd: str
    time: float = field(default=0.0)


class NegotiatorState:
    """The accountant (saved with ``save`` after every change), each autocluster's record
    of the last cycle that negotiated it, and the last cycles' statistics, behind one
    lock: every read and change of them goes through these methods."""

    def __init__(self, accountant: Accountant,
                 save: Callable[[Accountant], None] = lambda a: None) -> None:
        self._lock = threading.Lock()
        self._accountant = accountant
        self._save = save
        self._records: dict[tuple[str, int], Record] = {}
        self._cycles: deque[CycleStats] = deque(maxlen=KEPT_CYCLES)

    # -- for the cycle -----------------------------------------------------------------------

    def charge(self, in_use: dict[str, float], now: float) -> None:
        """Age the priorities to ``now`` with what each account holds."""
        with self._lock:
            self._accountant.update(in_use, now)

    def priorities(self, owners) -> tuple[dict[str, Account], dict[str, float]]:
        """The accounts of ``owners``, and every known account's effective priority."""
        with self._lock:
            return ({owner: self._accountant.account(owner) for owner in owners},
                    {a.name: a.effective_priority for a in self._accountant.accounts()})

    def end_cycle(self, in_use: dict[str, float], now: float,
                  records: dict[tuple[str, int], Record], stats: CycleStats) -> None:
        """Charge what the accounts hold once the cycle's matches are made, save, and keep
        the cycle's records and statistics."""
        with self._lock:
            self._accountant.update(in_use, now)
            try:
                self._save(self._accountant)
            except Exception:
                log.exception("cannot save the accountant")
            self._records.update(records)
            self._cycles.append(stats)

    # -- for the service ---------------------------------------------------------------------

    def change(self, change: Callable[[Accountant], None]) -> list[Account]:
        """``change(accountant)`` (``roost userprio -setfactor``...), saved; every account
        after it.  A ValueError from ``change`` leaves nothing to save."""
        with self._lock:
            change(self._accountant)
            self._save(self._accountant)
            return self._accountant.accounts()

    def accounts(self) -> list[Account]:
        with self._lock:
            return self._accountant.accounts()

    def records(self, owner: str = "") -> list[tuple[tuple[str, int], Record, float]]:
        """(submitter, autocluster), its record and the owner's effective priority, for
        every autocluster of ``owner`` (of everyone when empty), in order."""
        with self._lock:
            return [(key, record, self._accountant.effective_priority(key[0].partition("@")[0]))
                    for key, record in sorted(self._records.items())
                    if not owner or key[0].partition("@")[0] == owner]

    def cycles(self, last: int = 0) -> list[CycleStats]:
        """The last ``last`` cycles' statistics (all that are kept when 0), oldest first."""
        with self._lock:
            cycles = list(self._cycles)
        return cycles[-last:] if last > 0 else cycles


class Negotiator:
    """Cycles over the collector's ``store`` (guarded by ``lock``).

    ``talk(submitter_ad, negotiator_ad)`` opens a Negotiate conversation with the
    submitter's schedd and returns an object with ``requests() -> list[Request]``,
    ``send(matches)`` and ``close()``; the daemon gives one speaking gRPC, tests give
    fakes."""

    def __init__(self, store, lock: threading.Lock, accountant: Accountant, *,
                 name: str = "negotiator",
                 talk: Callable, save: Callable[[Accountant], None] = lambda a: None,
                 policy: Policy | None = None, clock: Callable[[], float] = time.time,
                 interval: float = 20.0, limits: dict[str, float] | None = None,
                 limit_default: float | None = None, groups=None) -> None:
        self.store = store
        self.lock = lock
        self.name = name
        self.state = NegotiatorState(accountant, save)
        self.talk = talk
        self.policy = policy or Policy()
        self.clock = clock
        self.interval = interval
        # Concurrency limits: name -> capacity, and the capacity of names not listed
        # (None: unlimited); no limits at all when neither is set.
        self.limits = limits if limits or limit_default is not None else None
        self.limit_default = limit_default
        self.groups = groups  # a matchmaker.groups.GroupConfig, or None: no groups
        # The cycle's own (under _cycle_lock): the slots recently matched.
        self._remembered: dict[str, _Remembered] = {}
        self._wake = threading.Event()
        self._waiting = False  # the last cycle left jobs without a slot
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="negotiator", daemon=True)
        self._cycle_lock = threading.Lock()

    # -- the loop ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(30)

    def reschedule(self) -> None:
        """Run a cycle soon (a schedd has new jobs)."""
        self._wake.set()

    def slot_appeared(self) -> None:
        """A new unclaimed slot: run a cycle soon if jobs are waiting for one."""
        if self._waiting:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            waiting = False
            try:
                waiting = self.cycle().rejections > 0
            except Exception:
                log.exception("the negotiation cycle failed")
            pause = max(MIN_INTERVAL - (time.monotonic() - began), 0.0)
            if self._stop.wait(pause):
                return
            # Jobs left waiting may find a slot that is being released right now: look
            # again soon rather than a whole interval later.
            self._wake.wait(min(self.interval, RETRY_INTERVAL) if waiting else self.interval)
            self._wake.clear()

    # -- one cycle ---------------------------------------------------------------------------

    def cycle(self) -> CycleStats:
        with self._cycle_lock:
            return self._cycle()

    def _cycle(self) -> CycleStats:
        started = self.clock()
        began = time.monotonic()
        with self.lock:
            machines = list(self.store.select("Machine"))
            submitter_ads = [stored.ad for stored in self.store.select("Submitter")]
        offers = self._offers(machines, started)
        in_use: dict[str, float] = {}
        for offer in offers:
            owner = offer.ad.eval("RemoteOwner")
            if isinstance(owner, str):
                weight = offer.ad.eval("SlotWeight")
                in_use[owner] = in_use.get(owner, 0.0) + (
                    float(weight) if isinstance(weight, int | float) else 1.0)
        self.state.charge(in_use, started)
        negotiator_ad = self.negotiator_ad(offers)
        talks, asked = {}, []
        for ad in submitter_ads:
            idle = ad.eval("IdleJobs")
            if not isinstance(idle, int) or idle <= 0:
                continue
            name, owner = ad.eval("Name"), ad.eval("Owner")
            if not isinstance(name, str) or not isinstance(owner, str):
                continue
            try:
                talk = self.talk(ad, negotiator_ad)
                requests = talk.requests()
            except Exception as error:
                log.warning("cannot negotiate with %s: %s", name, error)
                continue
            talks[name] = (talk, ad)
            asked.append((name, owner, requests))
        accounts, priorities = self.state.priorities({owner for _, owner, _ in asked})
        submitters = [Submitter(name, owner, accounts[owner].effective_priority, requests,
                                accounts[owner].ceiling)
                      for name, owner, requests in asked]
        limits = None
        if self.limits is not None:
            # What running jobs hold, and what recent matches will (see _offers).
            held = tally([text for offer in offers
                          if isinstance(text := offer.ad.eval("ConcurrencyLimits"), str)])
            limits = Limits(self.limits, self.limit_default, in_use=held)
        outcome = negotiate(offers, submitters, self.policy, limits, self.groups, priorities)
        # As HTCondor, a match is charged from when it is made: what the submitters hold
        # until the next cycle includes what they were just given.
        for match in outcome.matches:
            account = next(s.account for s in submitters if s.name == match.submitter)
            in_use[account] = in_use.get(account, 0.0) + match.weight
        for name, (talk, _ad) in talks.items():
            try:
                talk.send(outcome.matches_for(name))
            except Exception as error:
                log.warning("cannot send %s its matches: %s", name, error)
            finally:
                talk.close()
        self._remember(outcome, submitters, machines, started)
        rejections = sum(1 for stats in outcome.stats.values()
                         if stats.matched < stats.wanted)
        self._waiting = rejections > 0
        stats = CycleStats(started, time.monotonic() - began, len(submitters), len(offers),
                           len(outcome.matches), rejections, len(outcome.stats))
        self.state.end_cycle(in_use, started, self._records(outcome, submitters, talks,
                                                            started), stats)
        if outcome.matches:
            log.info("cycle: %d matches for %d submitters over %d slots in %.3f s",
                     len(outcome.matches), len(submitters), len(offers), stats.duration)
        for match in outcome.matches:
            if match.preempting:
                log.info("%s preempts the job on %s (%s)", match.submitter, match.slot_name,
                         match.preempting)
        return stats

    def negotiator_ad(self, offers: list[Offer]) -> ClassAd:
        """The ad a schedd sees: who negotiates, and the job attributes that decide a match
        (HTCondor's AutoClusterAttrs: the schedd's own list, and every job attribute the
        slots' Requirements and Rank look at), so that jobs equal in them are one
        request."""
        names = set(SIGNIFICANT)
        seen: set[str] = set()
        for offer in offers:
            for attribute in ("Requirements", "Rank"):
                if attribute not in offer.ad:
                    continue
                text = str(offer.ad.lookup(attribute))
                if text in seen:
                    continue
                seen.add(text)
                for ref in offer.ad.external_refs(offer.ad.lookup(attribute)):
                    scope, _, bare = ref.rpartition(".")
                    if scope.lower() in ("target", ""):
                        names.add(bare)
        return ClassAd({"MyType": "Negotiator", "Name": self.name,
                        "AutoClusterAttrs": ",".join(sorted(names, key=str.lower))})

    def _offers(self, machines, now: float) -> list[Offer]:
        offers = []
        for stored in machines:
            claim_id = stored.private.eval("ClaimId") if stored.private is not None else None
            remembered = self._remembered.get(stored.name)
            if remembered is not None:
                if stored.updates == remembered.updates and now < remembered.until:
                    # Counted as held (pie, groups, limits), but not matched again.
                    offers.append(Offer(remembered.ad, ""))
                    continue
                del self._remembered[stored.name]
            offers.append(Offer(stored.ad, claim_id if isinstance(claim_id, str) else ""))
        return offers

    def _remember(self, outcome: Outcome, submitters, machines, now: float) -> None:
        updates = {stored.name: stored.updates for stored in machines}
        accounts = {s.name: s.account for s in submitters}
        for match in outcome.matches:
            if match.slot_ad.eval("PartitionableSlot") is not True:
                ad = match.slot_ad.copy()
                ad["State"] = "Matched"
                ad["RemoteOwner"] = accounts[match.submitter]
                if "MatchedConcurrencyLimits" in ad:
                    ad["ConcurrencyLimits"] = ad.lookup("MatchedConcurrencyLimits")
                self._remembered[match.slot_name] = _Remembered(
                    updates.get(match.slot_name, 0), now + MATCH_MEMORY, ad)

    @staticmethod
    def _records(outcome: Outcome, submitters, talks,
                 now: float) -> dict[tuple[str, int], Record]:
        requests: dict[tuple[str, int], Request] = {
            (s.name, r.autocluster_id): r for s in submitters for r in s.requests}
        records = {}
        for key, stats in outcome.stats.items():
            schedd = talks[key[0]][1].eval("ScheddName") if key[0] in talks else ""
            records[key] = Record(stats, requests[key].job_ad,
                                  schedd if isinstance(schedd, str) else "", now)
        return records
