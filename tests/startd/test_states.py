"""The slot state machine (startd.states): every legal transition, illegal ones, claims,
leases, retirement, drains, shutdown, and a day on a desktop under the UWCS policy."""

from __future__ import annotations

import itertools

import pytest

from classad import ClassAd, ExprTree
from startd import states
from startd.policy import Policy, policy_by_name
from startd.states import (
    BUSY,
    CLAIMED,
    DRAINED,
    IDLE,
    KILLING,
    LEGAL,
    MATCHED,
    OWNER,
    PREEMPTING,
    RETIRING,
    SUSPENDED,
    TRANSITIONS,
    UNCLAIMED,
    VACATING,
    AcceptClaim,
    ClaimActivated,
    ClaimReleased,
    ClaimRequested,
    ClaimWithdrawn,
    ContinueJob,
    DrainCancelled,
    DrainRequested,
    IllegalTransition,
    JobExited,
    KillJob,
    LeaseExpired,
    MatchInfoArrived,
    RefuseClaim,
    RefuseJob,
    SendUpdate,
    ShutdownRequested,
    Slot,
    StartJob,
    SuspendJob,
    Tick,
    VacateJob,
    VacateRequested,
)

T0 = 1_700_000_000

# A policy whose every expression is a knob in the slot ad, set by Ticks.
KNOBS = Policy(
    start="Go =!= false",
    rank="ifThenElse(TARGET.Better =?= true, 10, 0)",
    suspend="Sus =?= true",
    continue_="Cont =?= true",
    preempt="Pre =?= true",
    kill="Kil =?= true",
    want_suspend="WantSus =?= true",
    want_vacate="WantVac =!= false",
    max_job_retirement_time="ifThenElse(Retire =?= undefined, 0, Retire)",
    machine_max_vacate_time="ifThenElse(VacateTime =?= undefined, 600, VacateTime)",
)


def job_ad(**attrs) -> ClassAd:
    return ClassAd({"ClusterId": 7, "ProcId": 0, "Owner": "alice", "User": "alice@pool",
                    "JobUniverse": 5, **attrs})


def ids():
    counter = itertools.count(1)
    return lambda: f"claim-{next(counter)}"


# The slot's resources are not these tests' concern (tests/startd/test_slots.py): every job fits.
FITS = {"WithinResourceLimits": True}


class Driver:
    """A slot, a fake clock, and what the last event did."""

    def __init__(self, policy: Policy = KNOBS, **slot_args) -> None:
        self.now = T0
        slot_args.setdefault("ad", FITS)
        self.slot = Slot("slot1@host", policy, self.now, claim_ids=ids(), **slot_args)
        self.job = job_ad()
        self.out: list = []
        self.steps: list = []

    def send(self, event, after: int = 0) -> list:
        self.now += after
        before = len(self.slot.story)
        self.out = self.slot.handle(event, self.now)
        self.steps = [(step.old, step.new) for step in list(self.slot.story)[before:]]
        self.slot.validate()
        return self.out

    def tick(self, after: int = 0, **values) -> list:
        return self.send(Tick(values), after)

    @property
    def pair(self):
        return (self.slot.state, self.slot.activity)

    def kinds(self) -> list[str]:
        return [type(i).__name__ for i in self.out]

    # ways into each state
    def unclaimed(self) -> Driver:
        self.tick()
        assert self.pair == (UNCLAIMED, IDLE)
        return self

    def matched(self) -> Driver:
        self.unclaimed().send(MatchInfoArrived())
        assert self.pair == (MATCHED, IDLE)
        return self

    def claimed(self) -> Driver:
        self.unclaimed().send(ClaimRequested(self.slot.claim_id, self.job))
        assert self.pair == (CLAIMED, IDLE), self.out
        return self

    def busy(self) -> Driver:
        self.claimed().send(ClaimActivated(self.job), after=10)
        assert self.pair == (CLAIMED, BUSY), self.out
        return self

    def suspended(self) -> Driver:
        self.busy().tick(after=10, WantSus=True, Sus=True)
        assert self.pair == (CLAIMED, SUSPENDED)
        return self

    def retiring(self) -> Driver:
        self.busy().tick(after=10, Retire=3600, Pre=True)
        assert self.pair == (CLAIMED, RETIRING)
        return self

    def drained_retiring(self) -> Driver:
        self.busy().send(DrainRequested(graceful=True))
        assert self.pair == (DRAINED, RETIRING)
        return self

    def vacating(self) -> Driver:
        self.busy().tick(Pre=True)
        assert self.pair == (PREEMPTING, VACATING)
        return self

    def preempt(self, **job_attrs) -> list:
        """A schedd presents the preempting claim id with a job the slot ranks higher."""
        self.better = job_ad(ClusterId=8, Owner="bob", User="bob@pool", Better=True,
                             **job_attrs)
        return self.send(ClaimRequested(self.slot.offered_claim_id, self.better))

    def killing(self) -> Driver:
        self.busy().send(LeaseExpired())
        assert self.pair == (PREEMPTING, KILLING)
        return self


def _unclaimed_to_owner(d: Driver) -> None:
    d.unclaimed().tick(Go=False)


def _matched_to_owner(d: Driver) -> None:
    d.matched().tick(after=states.MATCH_TIMEOUT)


# One way to make each legal transition; the last event must make it.
SCENARIOS = {
    ((OWNER, IDLE), (UNCLAIMED, IDLE)): lambda d: d.tick(),
    ((UNCLAIMED, IDLE), (OWNER, IDLE)): _unclaimed_to_owner,
    ((UNCLAIMED, IDLE), (MATCHED, IDLE)): lambda d: d.matched(),
    ((MATCHED, IDLE), (OWNER, IDLE)): _matched_to_owner,
    ((UNCLAIMED, IDLE), (CLAIMED, IDLE)): lambda d: d.claimed(),
    ((MATCHED, IDLE), (CLAIMED, IDLE)):
        lambda d: d.matched().send(ClaimRequested(d.slot.claim_id, d.job)),
    ((CLAIMED, IDLE), (CLAIMED, BUSY)): lambda d: d.busy(),
    ((CLAIMED, BUSY), (CLAIMED, IDLE)): lambda d: d.busy().send(JobExited()),
    ((CLAIMED, SUSPENDED), (CLAIMED, IDLE)): lambda d: d.suspended().send(JobExited()),
    ((CLAIMED, BUSY), (CLAIMED, SUSPENDED)): lambda d: d.suspended(),
    ((CLAIMED, SUSPENDED), (CLAIMED, BUSY)): lambda d: d.suspended().tick(Sus=False, Cont=True),
    ((CLAIMED, BUSY), (CLAIMED, RETIRING)): lambda d: d.retiring(),
    ((CLAIMED, SUSPENDED), (CLAIMED, RETIRING)):
        lambda d: d.suspended().tick(Retire=3600, Pre=True),
    ((CLAIMED, BUSY), (PREEMPTING, VACATING)): lambda d: d.vacating(),
    ((CLAIMED, SUSPENDED), (PREEMPTING, VACATING)): lambda d: d.suspended().tick(Pre=True),
    ((CLAIMED, RETIRING), (PREEMPTING, VACATING)): lambda d: d.retiring().tick(after=3600),
    ((DRAINED, RETIRING), (PREEMPTING, VACATING)):
        lambda d: d.drained_retiring().send(DrainRequested(graceful=False)),
    ((CLAIMED, BUSY), (PREEMPTING, KILLING)): lambda d: d.killing(),
    ((CLAIMED, SUSPENDED), (PREEMPTING, KILLING)): lambda d: d.suspended().send(LeaseExpired()),
    ((CLAIMED, RETIRING), (PREEMPTING, KILLING)):
        lambda d: d.retiring().send(VacateRequested(fast=True)),
    ((DRAINED, RETIRING), (PREEMPTING, KILLING)):
        lambda d: d.drained_retiring().send(ShutdownRequested(graceful=False)),
    ((PREEMPTING, VACATING), (PREEMPTING, KILLING)): lambda d: d.vacating().tick(Kil=True),
    ((CLAIMED, IDLE), (OWNER, IDLE)): lambda d: d.claimed().send(ClaimReleased()),
    ((CLAIMED, RETIRING), (OWNER, IDLE)): lambda d: d.retiring().send(JobExited()),
    ((CLAIMED, RETIRING), (CLAIMED, IDLE)):
        lambda d: (d.busy().tick(Retire=3600), d.preempt(), d.send(JobExited())),
    ((PREEMPTING, VACATING), (CLAIMED, IDLE)):
        lambda d: (d.busy().preempt(), d.send(JobExited())),
    ((PREEMPTING, KILLING), (CLAIMED, IDLE)):
        lambda d: (d.busy().tick(WantVac=False), d.preempt(), d.send(JobExited())),
    ((PREEMPTING, VACATING), (OWNER, IDLE)): lambda d: d.vacating().send(JobExited()),
    ((PREEMPTING, KILLING), (OWNER, IDLE)): lambda d: d.killing().send(JobExited()),
    ((OWNER, IDLE), (DRAINED, IDLE)): lambda d: d.send(DrainRequested()),
    ((UNCLAIMED, IDLE), (DRAINED, IDLE)): lambda d: d.unclaimed().send(DrainRequested()),
    ((MATCHED, IDLE), (DRAINED, IDLE)): lambda d: d.matched().send(DrainRequested()),
    ((CLAIMED, IDLE), (DRAINED, IDLE)): lambda d: d.claimed().send(DrainRequested()),
    ((CLAIMED, BUSY), (DRAINED, RETIRING)): lambda d: d.drained_retiring(),
    ((CLAIMED, SUSPENDED), (DRAINED, RETIRING)):
        lambda d: d.suspended().send(DrainRequested(graceful=True)),
    ((DRAINED, RETIRING), (DRAINED, IDLE)): lambda d: d.drained_retiring().send(JobExited()),
    ((CLAIMED, RETIRING), (DRAINED, IDLE)):
        lambda d: (d.retiring().send(DrainRequested()), d.send(JobExited())),
    ((PREEMPTING, VACATING), (DRAINED, IDLE)):
        lambda d: (d.vacating().send(DrainRequested()), d.send(JobExited())),
    ((PREEMPTING, KILLING), (DRAINED, IDLE)):
        lambda d: (d.killing().send(DrainRequested()), d.send(JobExited())),
    ((DRAINED, IDLE), (OWNER, IDLE)):
        lambda d: (d.send(DrainRequested()), d.send(DrainCancelled())),
    ((DRAINED, RETIRING), (CLAIMED, BUSY)):
        lambda d: d.drained_retiring().send(DrainCancelled()),
    ((DRAINED, RETIRING), (OWNER, IDLE)):
        lambda d: (d.drained_retiring().send(ShutdownRequested()), d.send(JobExited())),
}


def test_every_transition_has_a_scenario():
    assert set(SCENARIOS) == set(TRANSITIONS)


@pytest.mark.parametrize("move", list(SCENARIOS), ids=lambda m: f"{m[0][0].value}/"
                         f"{m[0][1].value}->{m[1][0].value}/{m[1][1].value}")
def test_each_legal_transition(move):
    driver = Driver()
    SCENARIOS[move](driver)
    assert move in driver.steps
    assert driver.kinds()[-1] == "SendUpdate"  # every change is advertised at once
    ad = driver.out[-1].ad
    assert (ad["State"], ad["Activity"]) == (driver.slot.state.value,
                                             driver.slot.activity.value)
    assert ad["EnteredCurrentActivity"] == driver.now
    assert "CurrentTime" not in ad


def test_transition_table_uses_legal_pairs_only():
    for old, new in TRANSITIONS:
        assert old in LEGAL and new in LEGAL and old != new


@pytest.mark.parametrize("old,new", [
    (old, new) for old in sorted(LEGAL, key=str) for new in sorted(LEGAL, key=str)
    if (old, new) not in TRANSITIONS
])
def test_illegal_pairs_raise(old, new):
    with pytest.raises(IllegalTransition, match="not a legal transition"):
        states.transition(old, new, "slot1@host")


def test_the_slot_refuses_a_move_missing_from_the_table(monkeypatch):
    driver = Driver().unclaimed()
    monkeypatch.delitem(TRANSITIONS, ((UNCLAIMED, IDLE), (MATCHED, IDLE)))
    with pytest.raises(IllegalTransition, match="Unclaimed/Idle -> Matched/Idle"):
        driver.send(MatchInfoArrived())
    assert driver.pair == (UNCLAIMED, IDLE)  # unchanged
    driver.slot.validate()


def test_entered_times_track_state_and_activity():
    driver = Driver()
    assert driver.slot.entered_current_state == T0
    driver.claimed()
    driver.send(ClaimActivated(driver.job), after=30)
    assert driver.slot.entered_current_state == T0  # still Claimed: only the activity moved
    assert driver.slot.entered_current_activity == T0 + 30
    assert driver.slot.public_ad()["EnteredCurrentActivity"] == T0 + 30


# -- claims --------------------------------------------------------------------------------


def test_claim_accepted_and_reused():
    driver = Driver().unclaimed()
    claim = driver.slot.claim_id
    driver.send(ClaimRequested(claim, driver.job))
    assert driver.kinds() == ["AcceptClaim", "SendUpdate"]
    assert driver.out[0].claim_id == claim
    ad = driver.slot.public_ad()
    assert (ad["RemoteOwner"], ad["RemoteUser"]) == ("alice", "alice@pool")
    driver.send(ClaimActivated(driver.job, claim_id=claim))
    assert driver.out[0] == StartJob(driver.job)
    assert driver.slot.public_ad()["JobId"] == "7.0"
    driver.send(JobExited(), after=50)
    assert driver.pair == (CLAIMED, IDLE)  # the claim is kept for the next job
    assert "JobStart" not in driver.slot.public_ad()
    second = job_ad(ProcId=1)
    driver.send(ClaimActivated(second, claim_id=claim))
    assert driver.pair == (CLAIMED, BUSY) and driver.slot.job is second


def test_claim_id_mismatch_is_refused_in_constant_time(monkeypatch):
    calls = []
    real = states.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(states.hmac, "compare_digest", spy)
    driver = Driver().unclaimed()
    out = driver.send(ClaimRequested("claim-999", driver.job))
    assert out == [RefuseClaim("claim id mismatch", "claim-999")]
    assert driver.pair == (UNCLAIMED, IDLE)
    assert calls == [(b"claim-999", b"claim-1")]
    assert driver.send(ClaimRequested(None, driver.job)) == [RefuseClaim("claim id mismatch", None)]


def test_claim_refused_when_start_is_false_for_the_job():
    driver = Driver(Policy(start="TARGET.RequestCpus <= 2")).unclaimed()
    claim = driver.slot.claim_id
    out = driver.send(ClaimRequested(claim, job_ad(RequestCpus=4)))
    assert out == [RefuseClaim("Start is FALSE for this job", claim)]
    out = driver.send(ClaimRequested(driver.slot.claim_id, job_ad()))
    assert out == [RefuseClaim("Start is UNDEFINED for this job", claim)]
    driver.send(ClaimRequested(driver.slot.claim_id, job_ad(RequestCpus=1)))
    assert driver.pair == (CLAIMED, IDLE)


@pytest.mark.parametrize("setup,reason", [
    (lambda d: None, "the slot is Owner/Idle"),
    (lambda d: d.claimed(), "the slot is Claimed/Idle"),
    (lambda d: d.send(DrainRequested()), "the slot is draining"),
    (lambda d: d.send(ShutdownRequested()), "the startd is shutting down"),
])
def test_claim_refused_outside_unclaimed_and_matched(setup, reason):
    driver = Driver()
    setup(driver)
    pair = driver.pair
    claim = driver.slot.claim_id
    assert driver.send(ClaimRequested(claim, driver.job)) == [RefuseClaim(reason, claim)]
    assert driver.pair == pair


def test_activation_refused():
    driver = Driver(Policy(start="TARGET.Ok =!= false"))
    driver.send(Tick())
    out = driver.send(ClaimActivated(driver.job))
    assert out == [RefuseJob("the slot is Unclaimed/Idle, not Claimed/Idle")]
    driver.send(ClaimRequested(driver.slot.claim_id, driver.job))
    assert driver.send(ClaimActivated(driver.job, claim_id="wrong")) == [
        RefuseJob("claim id mismatch")]
    assert driver.send(ClaimActivated(job_ad(Ok=False))) == [
        RefuseJob("START is FALSE for this job")]
    assert driver.pair == (CLAIMED, IDLE)


def test_claim_id_is_renewed_when_the_claim_ends():
    driver = Driver().claimed()
    first = driver.slot.claim_id
    driver.send(ClaimReleased(claim_id="not-it"))
    assert driver.pair == (CLAIMED, IDLE)  # a release must name the claim
    driver.send(ClaimReleased(claim_id=first))
    assert driver.pair == (UNCLAIMED, IDLE)  # via Owner
    assert driver.steps == [((CLAIMED, IDLE), (OWNER, IDLE)), ((OWNER, IDLE), (UNCLAIMED, IDLE))]
    assert driver.slot.claim_id != first
    assert driver.kinds() == ["ReleaseResources", "SendUpdate"]
    assert driver.out[-1].private_ad["ClaimId"] == driver.slot.claim_id
    assert "RemoteOwner" not in driver.slot.public_ad()
    assert driver.send(ClaimRequested(first, driver.job)) == [
        RefuseClaim("claim id mismatch", first)]


def test_claimed_idle_gives_the_claim_up_when_start_turns_false():
    driver = Driver().claimed()
    driver.tick(Go=False)
    assert driver.steps[0] == ((CLAIMED, IDLE), (OWNER, IDLE))
    assert driver.pair == (OWNER, IDLE)


def test_match_times_out():
    driver = Driver().matched()
    driver.tick(after=states.MATCH_TIMEOUT - 1)
    assert driver.pair == (MATCHED, IDLE)
    driver.tick(after=1)
    assert driver.steps == [((MATCHED, IDLE), (OWNER, IDLE)), ((OWNER, IDLE), (UNCLAIMED, IDLE))]
    assert driver.slot.story[-2].cause.startswith("no claim within MATCH_TIMEOUT")


def test_match_info_is_ignored_unless_unclaimed():
    driver = Driver()
    assert driver.send(MatchInfoArrived()) == []
    assert driver.pair == (OWNER, IDLE)


# -- leases, vacating, killing ------------------------------------------------------------


def test_lease_expiry_kills_the_job_then_frees_the_slot():
    driver = Driver().busy()
    driver.send(LeaseExpired())
    assert driver.pair == (PREEMPTING, KILLING)
    assert driver.out[0] == KillJob("the claim's lease expired")
    driver.send(JobExited(), after=2)
    assert driver.pair == (UNCLAIMED, IDLE)
    assert driver.kinds() == ["ReleaseResources", "SendUpdate"]


def test_lease_expiry_of_an_idle_claim_frees_the_slot():
    driver = Driver().claimed()
    driver.send(LeaseExpired())
    assert driver.pair == (UNCLAIMED, IDLE)
    assert driver.kinds() == ["ReleaseResources", "SendUpdate"]


def test_vacating_turns_to_killing_after_the_vacate_time():
    driver = Driver().busy()
    driver.tick(Pre=True, VacateTime=30)
    assert driver.out[0] == VacateJob("PREEMPT is true", 30)
    driver.tick(after=29)
    assert driver.pair == (PREEMPTING, VACATING)
    driver.tick(after=1)
    assert driver.pair == (PREEMPTING, KILLING)
    assert driver.out[0] == KillJob("vacate time used up")


def test_the_jobs_own_vacate_time_may_be_shorter():
    driver = Driver()
    driver.job = job_ad(JobMaxVacateTime=5)
    driver.busy().tick(Pre=True)
    assert driver.out[0] == VacateJob("PREEMPT is true", 5)


def test_no_want_vacate_kills_at_once():
    driver = Driver().busy()
    driver.tick(Pre=True, WantVac=False)
    assert driver.pair == (PREEMPTING, KILLING)
    assert isinstance(driver.out[0], KillJob)


def test_vacate_request_retires_first_and_fast_vacate_kills():
    driver = Driver().busy()
    driver.tick(Retire=100)
    driver.send(VacateRequested(), after=10)
    assert driver.pair == (CLAIMED, RETIRING)
    driver.send(VacateRequested())  # already leaving
    assert driver.pair == (CLAIMED, RETIRING)
    driver.send(VacateRequested(fast=True))
    assert driver.pair == (PREEMPTING, KILLING)


def test_release_of_a_busy_claim_preempts_the_job():
    driver = Driver().busy()
    driver.send(ClaimReleased())
    assert driver.pair == (PREEMPTING, VACATING)
    driver.send(JobExited())
    assert driver.pair == (UNCLAIMED, IDLE)


# -- suspension and retirement ------------------------------------------------------------


def test_suspend_needs_want_suspend_and_preempt_is_checked_only_without_it():
    driver = Driver().busy()
    driver.tick(Sus=True)
    assert driver.pair == (CLAIMED, BUSY)  # WANT_SUSPEND is false
    driver.tick(WantSus=True, Pre=True, Sus=False)
    assert driver.pair == (CLAIMED, BUSY)  # wants suspension: PREEMPT is not looked at
    driver.tick(Sus=True)
    assert driver.pair == (CLAIMED, SUSPENDED)
    assert driver.out[0] == SuspendJob()


def test_preempt_is_checked_before_continue_while_suspended():
    driver = Driver().suspended()
    driver.tick(Cont=True, Pre=True)
    assert driver.pair == (PREEMPTING, VACATING)


def test_retirement_excludes_time_suspended():
    driver = Driver().busy()  # job started at T0 + 10
    driver.tick(after=90, WantSus=True, Sus=True, Retire=300)  # ran 90 s, then suspended
    driver.tick(after=1000, Sus=False, Cont=True)  # 1000 s suspended: not run time
    assert driver.pair == (CLAIMED, BUSY)
    driver.tick(after=100, Cont=False, WantSus=False, Pre=True)  # ran 190 s: 110 s left
    assert driver.pair == (CLAIMED, RETIRING)
    driver.tick(after=109)
    assert driver.pair == (CLAIMED, RETIRING)
    driver.tick(after=1)
    assert driver.pair == (PREEMPTING, VACATING)


def test_retiring_a_suspended_job_continues_it():
    driver = Driver().suspended()
    driver.tick(Retire=3600, Pre=True)
    assert driver.pair == (CLAIMED, RETIRING)
    assert driver.kinds() == ["ContinueJob", "SendUpdate"]


def test_the_job_may_ask_for_less_retirement():
    driver = Driver()
    driver.job = job_ad(MaxJobRetirementTime=0)
    driver.busy().tick(Retire=3600, Pre=True)
    assert driver.pair == (PREEMPTING, VACATING)


def test_a_job_that_exits_while_retiring_ends_the_claim():
    driver = Driver().retiring()
    driver.send(JobExited())
    assert driver.pair == (UNCLAIMED, IDLE)
    assert driver.kinds() == ["ReleaseResources", "SendUpdate"]


# -- drain and shutdown -------------------------------------------------------------------


def test_graceful_drain_lets_the_job_finish():
    driver = Driver().suspended()
    driver.send(DrainRequested(graceful=True))
    assert driver.pair == (DRAINED, RETIRING)
    assert driver.kinds() == ["ContinueJob", "SendUpdate"]
    assert driver.slot.public_ad()["Draining"] is True
    driver.tick(after=100_000)
    assert driver.pair == (DRAINED, RETIRING)  # no time limit without PREEMPT
    driver.send(JobExited())
    assert driver.pair == (DRAINED, IDLE)
    driver.tick(after=100)
    assert driver.pair == (DRAINED, IDLE)
    driver.send(DrainCancelled())
    assert driver.pair == (UNCLAIMED, IDLE)
    assert "Draining" not in driver.slot.public_ad()


def test_preempt_still_evicts_a_drained_job_after_its_retirement():
    driver = Driver().drained_retiring()
    driver.tick(Pre=True, Retire=100)
    assert driver.pair == (DRAINED, RETIRING)
    driver.tick(after=100)
    assert driver.pair == (PREEMPTING, VACATING)
    driver.send(JobExited())
    assert driver.pair == (DRAINED, IDLE)


def test_quick_drain_vacates():
    driver = Driver().busy()
    driver.send(DrainRequested(graceful=False))
    assert driver.pair == (PREEMPTING, VACATING)
    driver.send(JobExited())
    assert driver.pair == (DRAINED, IDLE)


def test_drain_of_a_retiring_claim_waits_for_the_job():
    driver = Driver().retiring()
    driver.send(DrainRequested())
    assert driver.pair == (CLAIMED, RETIRING)
    driver.send(JobExited())
    assert driver.pair == (DRAINED, IDLE)


def test_graceful_shutdown():
    driver = Driver().busy()
    driver.send(ShutdownRequested())
    assert driver.pair == (PREEMPTING, VACATING)
    assert not driver.slot.finished
    driver.send(JobExited())
    assert driver.pair == (OWNER, IDLE) and driver.slot.finished
    driver.tick(after=1000)
    assert driver.pair == (OWNER, IDLE)  # stays out of the pool


def test_fast_shutdown_kills():
    driver = Driver().suspended()
    driver.send(ShutdownRequested(graceful=False))
    assert driver.pair == (PREEMPTING, KILLING)
    assert isinstance(driver.out[0], KillJob)


def test_shutdown_of_a_free_slot():
    driver = Driver().matched()
    driver.send(ShutdownRequested())
    assert driver.pair == (OWNER, IDLE) and driver.slot.finished
    assert driver.send(DrainRequested()) == []


# -- the rest -------------------------------------------------------------------------------


def test_stimulus_ids_thread_through():
    driver = Driver()
    out = driver.send(Tick(stimulus_id="tick-1"))
    assert [i.stimulus_id for i in out] == ["tick-1"]
    assert driver.slot.story[-1].stimulus_id == "tick-1"
    assert "Owner/Idle -> Unclaimed/Idle" in str(driver.slot.story[-1])


def test_a_tick_may_not_set_what_the_core_owns():
    driver = Driver()
    for name in ("State", "activity", "START", "Requirements", "CurrentTime"):
        with pytest.raises(ValueError, match="may not set"):
            driver.send(Tick({name: 1}))


def test_start_changes_are_advertised_without_a_state_change():
    driver = Driver(Policy(start="KeyboardIdle > 60 || TARGET.Any"))
    driver.tick(KeyboardIdle=0)
    assert driver.pair == (UNCLAIMED, IDLE)  # START is undefined locally: not Owner
    assert driver.tick(KeyboardIdle=10) == []
    driver.tick(KeyboardIdle=100)
    assert driver.kinds() == ["SendUpdate"] and driver.steps == []
    assert driver.tick(KeyboardIdle=200) == []


def test_not_an_event():
    with pytest.raises(TypeError, match="not an event"):
        Driver().send(object())


def test_partitionable_slot_accepts_claims_for_dynamic_slots():
    ad = {"SlotType": "Partitionable", "PartitionableSlot": True, "Cpus": 4,
          "WithinResourceLimits": ExprTree("TARGET.RequestCpus <= Cpus")}
    driver = Driver(Policy(), ad=ad)
    assert str(driver.slot.public_ad().lookup("Requirements")) == "START && WithinResourceLimits"
    driver.unclaimed()
    first = driver.slot.claim_id
    assert driver.send(ClaimRequested(first, job_ad(RequestCpus=8))) == [
        RefuseClaim("WithinResourceLimits is FALSE for this job", first)]
    out = driver.send(ClaimRequested(first, job_ad(RequestCpus=2)))
    assert isinstance(out[0], AcceptClaim) and out[0].claim_id == first
    assert driver.pair == (UNCLAIMED, IDLE) and driver.slot.claim_id == first
    assert len(out) == 1  # the shell carves and advertises what is left
    assert driver.send(MatchInfoArrived()) == [] and driver.pair == (UNCLAIMED, IDLE)
    assert driver.send(ClaimActivated(driver.job)) == [
        RefuseJob("a partitionable slot runs no job itself")]
    # the dynamic slot the shell carves takes the accepted claim
    dynamic = Slot("slot1_1@host", Policy(), T0, claim_id=first, claim_ids=ids(),
                   ad={"SlotType": "Dynamic", **FITS})
    assert str(dynamic.public_ad().lookup("Requirements")) == "START && WithinResourceLimits"
    dynamic.handle(Tick(), T0)
    assert isinstance(dynamic.handle(ClaimRequested(first, driver.job), T0)[0], AcceptClaim)
    dynamic.validate()


def test_validate_catches_a_broken_slot():
    driver = Driver().busy()
    driver.slot._job = None
    with pytest.raises(AssertionError, match="a job is in the slot exactly when"):
        driver.slot.validate()


# -- a day at a desktop -------------------------------------------------------------------

MINUTE, HOUR, DAY = 60, 3600, 86400
MIDNIGHT = 1_700_006_400  # a midnight (UTC); only differences matter
POLL = 5  # HTCondor's POLLING_INTERVAL
AT_KEYBOARD = [(8 * HOUR, 8 * HOUR + 2 * MINUTE),  # looks in for two minutes
               (9 * HOUR, 12 * HOUR), (13 * HOUR, 17 * HOUR + 30 * MINUTE)]
OWNER_LOAD = 0.8  # the owner's own programs while at the keyboard


def _clock(t: int) -> str:
    t -= MIDNIGHT
    return f"{t // HOUR:02d}:{t % HOUR // MINUTE:02d}:{t % MINUTE:02d}"


def _keyboard_idle(t: int) -> int:
    t -= MIDNIGHT
    if any(begin <= t < end for begin, end in AT_KEYBOARD):
        return 0
    last = max((end for _begin, end in AT_KEYBOARD if end <= t), default=AT_KEYBOARD[-1][1] - DAY)
    return t - last


class FakeStarter:
    """Runs the slot's job: it needs ``runtime`` seconds of unsuspended time, and leaves
    as soon as it is vacated or killed."""

    def __init__(self) -> None:
        self.job: ClassAd | None = None
        self.suspended = False
        self.ran = 0

    def load(self) -> float:
        return 1.0 if self.job is not None and not self.suspended else 0.0

    def advance(self, seconds: int) -> bool:
        """Time passes; whether the job finished."""
        if self.job is None or self.suspended:
            return False
        self.ran += seconds
        return self.ran >= self.job["Runtime"]

    def carry_out(self, instruction) -> bool:
        """Whether the job is now gone."""
        if isinstance(instruction, StartJob):
            self.job, self.suspended, self.ran = instruction.job_ad, False, 0
        elif isinstance(instruction, SuspendJob):
            self.suspended = True
        elif isinstance(instruction, ContinueJob):
            self.suspended = False
        elif isinstance(instruction, VacateJob | KillJob):
            self.job = None
            return True
        return False


def test_a_day_at_a_desktop():
    queue = [job_ad(ProcId=n, Runtime=runtime)
             for n, runtime in enumerate([DAY, DAY, 2 * HOUR])]
    slot = Slot("slot1@desktop", policy_by_name("desktop"), MIDNIGHT, claim_ids=ids(),
                ad=FITS)
    starter = FakeStarter()
    advertised = slot.private_ad()
    seen = []  # (time, state, activity) after each transition
    done = []  # (time, instruction) other than SendUpdate

    def send(event, t):
        nonlocal advertised
        before = len(slot.story)
        out = slot.handle(event, t)
        slot.validate()
        steps = list(slot.story)[before:]
        seen.extend((_clock(t), s.new[0].value, s.new[1].value) for s in steps)
        assert not steps or isinstance(out[-1], SendUpdate)
        gone = False
        for instruction in out:
            if isinstance(instruction, SendUpdate):
                advertised = instruction.private_ad
                assert instruction.ad["State"] == slot.state.value
                continue
            done.append((_clock(t), type(instruction).__name__))
            gone |= starter.carry_out(instruction)
        if gone:
            send(JobExited(), t)

    for t in range(MIDNIGHT, MIDNIGHT + DAY, POLL):
        if starter.advance(POLL if t > MIDNIGHT else 0):
            starter.job = None
            send(JobExited(), t)
        idle = _keyboard_idle(t)
        owner = OWNER_LOAD if idle == 0 else 0.0
        send(Tick({"KeyboardIdle": idle, "CondorLoadAvg": starter.load(),
                   "LoadAvg": starter.load() + owner}), t)
        # the pool: a free slot is matched to the next job; a claim is reused or released
        if slot.state is UNCLAIMED and queue:
            job = queue.pop(0)
            send(MatchInfoArrived(), t)
            send(ClaimRequested(advertised["ClaimId"], job), t)
            send(ClaimActivated(job), t)
        elif (slot.state, slot.activity) == (CLAIMED, IDLE) and not queue:
            send(ClaimReleased(), t)

    assert seen == [
        ("00:00:00", "Unclaimed", "Idle"),  # the keyboard has been idle since last night
        ("00:00:00", "Matched", "Idle"),
        ("00:00:00", "Claimed", "Idle"),
        ("00:00:00", "Claimed", "Busy"),
        ("08:00:00", "Claimed", "Suspended"),  # the owner looks in
        ("08:07:05", "Claimed", "Busy"),  # gone for more than 5 minutes
        ("09:00:00", "Claimed", "Suspended"),  # back to work
        ("09:10:05", "Preempting", "Vacating"),  # suspended more than 10 minutes
        ("09:10:05", "Owner", "Idle"),
        ("12:15:05", "Unclaimed", "Idle"),  # 15 minutes into lunch
        ("12:15:05", "Matched", "Idle"),
        ("12:15:05", "Claimed", "Idle"),
        ("12:15:05", "Claimed", "Busy"),
        ("13:00:00", "Claimed", "Suspended"),
        ("13:10:05", "Preempting", "Vacating"),
        ("13:10:05", "Owner", "Idle"),
        ("17:45:05", "Unclaimed", "Idle"),  # the evening
        ("17:45:05", "Matched", "Idle"),
        ("17:45:05", "Claimed", "Idle"),
        ("17:45:05", "Claimed", "Busy"),
        ("19:45:05", "Claimed", "Idle"),  # the two-hour job is done
        ("19:45:05", "Owner", "Idle"),  # no more work: the claim is released
        ("19:45:05", "Unclaimed", "Idle"),
    ]
    assert done == [
        ("00:00:00", "AcceptClaim"), ("00:00:00", "StartJob"),
        ("08:00:00", "SuspendJob"),
        ("08:07:05", "ContinueJob"),
        ("09:00:00", "SuspendJob"),
        ("09:10:05", "VacateJob"), ("09:10:05", "ReleaseResources"),
        ("12:15:05", "AcceptClaim"), ("12:15:05", "StartJob"),
        ("13:00:00", "SuspendJob"),
        ("13:10:05", "VacateJob"), ("13:10:05", "ReleaseResources"),
        ("17:45:05", "AcceptClaim"), ("17:45:05", "StartJob"),
        ("19:45:05", "ReleaseResources"),
    ]
    causes = [step.cause for step in slot.story if step.new == (PREEMPTING, VACATING)]
    assert causes == ["PREEMPT is true", "PREEMPT is true"]


# -- preemption by a better match -------------------------------------------------------------


def test_a_claimed_slot_offers_a_preempting_claim_id_not_its_own():
    d = Driver().busy()
    offered = d.slot.private_ad()["ClaimId"]
    assert offered == d.slot.offered_claim_id != d.slot.claim_id
    assert d.slot.public_ad()["CurrentRank"] == 0.0
    d.send(JobExited())
    d.send(ClaimReleased())
    assert d.slot.private_ad()["ClaimId"] == d.slot.claim_id  # unclaimed: its own again


def test_a_better_ranked_claim_waits_for_the_job_to_vacate_then_takes_the_slot():
    d = Driver().busy()
    old_claim = d.slot.claim_id
    d.preempt()
    assert d.pair == (PREEMPTING, VACATING)
    assert "VacateJob" in d.kinds() and "AcceptClaim" not in d.kinds()
    assert "preempted for rank" in d.slot.story[-1].cause
    waiting = d.slot.waiting_claim_id
    d.send(JobExited())
    assert d.pair == (CLAIMED, IDLE)
    accepted = [i for i in d.out if isinstance(i, AcceptClaim)]
    assert [a.claim_id for a in accepted] == [waiting]
    assert accepted[0].job_ad is d.better
    assert d.slot.claim_id == waiting != old_claim
    ad = d.slot.public_ad()
    assert (ad["RemoteOwner"], ad["CurrentRank"]) == ("bob", 10.0)
    assert "ReleaseResources" not in d.kinds()  # the slot is not given up on the way
    # The old claim is gone; the new one runs its job.
    d.send(ClaimActivated(d.better, claim_id=old_claim))
    assert d.kinds()[0] == "RefuseJob"
    d.send(ClaimActivated(d.better, claim_id=waiting))
    assert d.pair == (CLAIMED, BUSY)


def test_an_equal_rank_claim_preempts_for_user_priority_and_a_lower_one_is_refused():
    d = Driver().busy()
    d.send(ClaimRequested(d.slot.offered_claim_id, job_ad(ClusterId=9)))
    assert d.pair == (PREEMPTING, VACATING)
    assert "preempted for user priority" in d.slot.story[-1].cause
    d.send(JobExited())
    assert d.pair == (CLAIMED, IDLE)

    high = Driver()
    high.job = job_ad(Better=True)
    high.busy()
    high.send(ClaimRequested(high.slot.offered_claim_id, job_ad(ClusterId=9)))
    assert high.kinds() == ["RefuseClaim"]
    assert "below the current claim's (10)" in high.out[0].reason
    assert high.pair == (CLAIMED, BUSY)


def test_a_claimed_idle_slot_is_taken_over_at_once():
    d = Driver().claimed()
    d.preempt()
    assert d.pair == (CLAIMED, IDLE)
    assert [type(i).__name__ for i in d.out][:1] == ["AcceptClaim"]
    assert d.slot.public_ad()["RemoteOwner"] == "bob"


def test_a_retiring_job_finishes_before_the_preempting_claim_takes_the_slot():
    d = Driver().busy()
    d.tick(Retire=3600)
    d.preempt()
    assert d.pair == (CLAIMED, RETIRING)
    d.tick(after=600)
    assert d.pair == (CLAIMED, RETIRING)
    d.send(JobExited(), after=60)  # it finished within its retirement time
    assert d.pair == (CLAIMED, IDLE)
    assert "AcceptClaim" in d.kinds()


def test_a_still_better_claim_replaces_the_waiting_one():
    d = Driver().busy()
    d.tick(Retire=3600)
    d.preempt()
    first = d.slot.waiting_claim_id
    lower = job_ad(ClusterId=11)  # Rank 0, below the waiting claim's 10
    d.send(ClaimRequested(d.slot.offered_claim_id, lower))
    assert d.kinds() == ["RefuseClaim"] and d.slot.waiting_claim_id == first
    second_id = d.slot.offered_claim_id
    d.send(ClaimRequested(second_id, job_ad(ClusterId=12, Better=True)))
    refused = [i for i in d.out if isinstance(i, RefuseClaim)]
    assert [r.claim_id for r in refused] == [first]
    assert d.slot.waiting_claim_id == second_id
    d.send(JobExited())
    assert [i.claim_id for i in d.out if isinstance(i, AcceptClaim)] == [second_id]


def test_a_withdrawn_preempting_claim_leaves_the_slot_free_when_the_job_is_gone():
    d = Driver().busy()
    d.preempt()
    d.send(ClaimWithdrawn(d.slot.waiting_claim_id))
    assert d.slot.waiting_claim_id is None
    d.send(JobExited())
    assert d.pair == (UNCLAIMED, IDLE)
    assert "AcceptClaim" not in d.kinds()


def test_a_drain_refuses_the_waiting_preempting_claim():
    d = Driver().busy()
    d.tick(Retire=3600)
    d.preempt()
    waiting = d.slot.waiting_claim_id
    d.send(DrainRequested(graceful=False))
    d.send(JobExited())
    assert d.pair == (DRAINED, IDLE)
    assert [i.claim_id for i in d.out if isinstance(i, RefuseClaim)] == [waiting]


def test_preempting_claims_are_refused_while_draining_or_without_a_claim():
    d = Driver().busy()
    d.send(DrainRequested(graceful=True))
    d.preempt()
    assert d.kinds() == ["RefuseClaim"] and "draining" in d.out[0].reason
    u = Driver().unclaimed()
    u.send(ClaimRequested("claim-99", job_ad()))
    assert u.kinds() == ["RefuseClaim"] and u.out[0].reason == "claim id mismatch"
