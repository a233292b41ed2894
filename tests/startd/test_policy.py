"""The owner's policy (startd.policy): defaults, macro expansion, local evaluation, the
effect of each expression on a slot, and the ready-made always/desktop/glidein policies."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys

import pytest

from classad import ClassAd, ExprTree, Value
from startd import policy as p
from startd.policy import Policy, evaluate, expand, policy_by_name
from startd.states import (
    BUSY,
    CLAIMED,
    IDLE,
    KILLING,
    OWNER,
    PREEMPTING,
    RETIRING,
    SUSPENDED,
    UNCLAIMED,
    VACATING,
    ClaimActivated,
    ClaimRequested,
    KillJob,
    RefuseClaim,
    Slot,
    Tick,
    VacateJob,
    VacateRequested,
)

T0 = 1_700_000_000
VANILLA = {"ClusterId": 1, "ProcId": 0, "Owner": "bob", "JobUniverse": 5}


def make_slot(policy: Policy, **values) -> Slot:
    counter = itertools.count(1)
    slot = Slot("slot1@host", policy, T0, claim_ids=lambda: f"claim-{next(counter)}",
                ad={"WithinResourceLimits": True})  # resources are tests/startd/test_slots.py's
    slot.handle(Tick(values), T0)
    slot.validate()
    return slot


def run_job(slot: Slot, job: ClassAd, now: int = T0) -> list:
    out = slot.handle(ClaimRequested(slot.claim_id, job), now)
    assert (slot.state, slot.activity) == (CLAIMED, IDLE), out
    out = slot.handle(ClaimActivated(job), now)
    assert (slot.state, slot.activity) == (CLAIMED, BUSY), out
    slot.validate()
    return out


def tick(slot: Slot, now: int, **values) -> list:
    out = slot.handle(Tick(values), now)
    slot.validate()
    return out


# -- the Policy and its expressions -------------------------------------------------------


def test_defaults_are_htcondors():
    assert Policy().expressions() == {
        "Start": "true", "Rank": "0", "SUSPEND": "false", "CONTINUE": "true",
        "PREEMPT": "false", "KILL": "false", "WANT_SUSPEND": "false", "WANT_VACATE": "true",
        "IS_OWNER": "(START =?= False)", "MaxJobRetirementTime": "0",
        "MachineMaxVacateTime": "600",
    }
    assert policy_by_name("always") == Policy(name="always")


def test_install_writes_the_expressions_and_requirements():
    ad = ClassAd()
    Policy(start="KeyboardIdle > 60").install(ad)
    assert str(ad.lookup("START")) == "KeyboardIdle > 60"
    assert str(ad.lookup("Requirements")) == "START && WithinResourceLimits"


def test_local_evaluation_leaves_the_job_undefined():
    ad = ClassAd({"Memory": 4096, "WithinResourceLimits": ExprTree("TARGET.RequestMemory > 0")})
    Policy(start="TARGET.RequestMemory <= Memory").install(ad)
    assert evaluate(ad, "START") is Value.Undefined
    assert evaluate(ad, "IS_OWNER") is False  # undefined =?= False
    assert evaluate(ad, "START", ClassAd({"RequestMemory": 1024})) is True
    assert evaluate(ad, "START", ClassAd({"RequestMemory": 8192})) is False
    assert evaluate(ad, "Requirements", ClassAd({"RequestMemory": 1024})) is True


def test_truth_and_numbers():
    assert [p.is_true(v) for v in (True, False, 1, 0, 0.5, "yes", Value.Undefined,
                                   Value.Error)] == [True, False, True, False, True, False,
                                                     False, False]
    assert p.number(30) == 30 and p.number(Value.Undefined, 7) == 7 and p.number(True) == 0


def test_macros_expand_textually():
    macros = {"a": "1 + $(B)", "b": "2"}
    assert expand("$(A) * 3", macros) == "1 + 2 * 3"  # as HTCondor: no parentheses added
    with pytest.raises(ValueError, match="undefined macro"):
        expand("$(C)", macros)
    with pytest.raises(ValueError, match="refers to itself: x -> y -> x"):
        expand("$(X)", {"x": "$(Y)", "y": "$(X)"})
    with pytest.raises(ValueError, match="not a macro"):
        Policy(latches=("Nope",))


def test_policy_expressions_may_use_each_other_as_macros():
    policy = Policy(suspend="KeyboardIdle < 60", want_suspend="$(SUSPEND) && true")
    assert policy.expressions()["WANT_SUSPEND"] == "KeyboardIdle < 60 && true"


def test_a_syntax_error_is_caught_early():
    with pytest.raises(ValueError, match="policy custom: Start = KeyboardIdle >"):
        Policy(start="KeyboardIdle >")


# -- each expression's effect on a slot -----------------------------------------------------


def test_start_false_locally_keeps_the_slot_the_owners():
    slot = make_slot(Policy(start="KeyboardIdle > 600"), KeyboardIdle=10)
    assert slot.state is OWNER
    tick(slot, T0 + 5, KeyboardIdle=601)
    assert slot.state is UNCLAIMED
    tick(slot, T0 + 10, KeyboardIdle=0)
    assert slot.state is OWNER


def test_is_owner_decides_owner_and_start_decides_the_claim():
    slot = make_slot(Policy(start="false", is_owner="false"))
    assert slot.state is UNCLAIMED  # advertised, yet no job will match
    out = slot.handle(ClaimRequested(slot.claim_id, ClassAd(VANILLA)), T0)
    assert out == [RefuseClaim("Start is FALSE for this job", slot.claim_id)]


def test_rank_is_evaluated_against_the_job():
    slot = make_slot(Policy(rank='ifThenElse(TARGET.Owner == "bob", 10, 0)'))
    assert slot.evaluate("Rank", ClassAd(VANILLA)) == 10
    assert slot.evaluate("Rank", ClassAd({"Owner": "eve"})) == 0


@pytest.mark.parametrize("want_suspend,expected", [("true", SUSPENDED), ("false", BUSY)])
def test_suspend_needs_want_suspend(want_suspend, expected):
    slot = make_slot(Policy(suspend="KeyboardIdle < 60", want_suspend=want_suspend),
                     KeyboardIdle=1000)
    run_job(slot, ClassAd(VANILLA))
    tick(slot, T0 + 5, KeyboardIdle=0)
    assert slot.activity is expected


def test_continue():
    slot = make_slot(Policy(suspend="KeyboardIdle < 60", want_suspend="true",
                            continue_="KeyboardIdle > 300"), KeyboardIdle=1000)
    run_job(slot, ClassAd(VANILLA))
    tick(slot, T0 + 5, KeyboardIdle=0)
    tick(slot, T0 + 200, KeyboardIdle=200)
    assert slot.activity is SUSPENDED
    tick(slot, T0 + 400, KeyboardIdle=400)
    assert slot.activity is BUSY


def test_preempt_and_want_vacate():
    slot = make_slot(Policy(preempt="KeyboardIdle < 60"), KeyboardIdle=1000)
    run_job(slot, ClassAd(VANILLA))
    out = tick(slot, T0 + 5, KeyboardIdle=0)
    assert (slot.state, slot.activity) == (PREEMPTING, VACATING)
    assert out[0] == VacateJob("PREEMPT is true", 600)

    slot = make_slot(Policy(preempt="KeyboardIdle < 60", want_vacate="false"), KeyboardIdle=1000)
    run_job(slot, ClassAd(VANILLA))
    out = tick(slot, T0 + 5, KeyboardIdle=0)
    assert (slot.state, slot.activity) == (PREEMPTING, KILLING)
    assert out[0] == KillJob("PREEMPT is true; WANT_VACATE is not true")


def test_kill_ends_vacating_early():
    slot = make_slot(Policy(preempt="KeyboardIdle < 60", kill="KeyboardIdle < 10"),
                     KeyboardIdle=1000)
    run_job(slot, ClassAd(VANILLA))
    tick(slot, T0 + 5, KeyboardIdle=30)
    assert slot.activity is VACATING
    out = tick(slot, T0 + 10, KeyboardIdle=5)
    assert slot.activity is KILLING and out[0] == KillJob("KILL is true")


def test_machine_max_vacate_time():
    slot = make_slot(Policy(preempt="KeyboardIdle < 60", machine_max_vacate_time="45"),
                     KeyboardIdle=1000)
    run_job(slot, ClassAd(VANILLA))
    assert tick(slot, T0 + 5, KeyboardIdle=0)[0] == VacateJob("PREEMPT is true", 45)
    tick(slot, T0 + 49)
    assert slot.activity is VACATING
    tick(slot, T0 + 50)
    assert slot.activity is KILLING


def test_max_job_retirement_time_is_evaluated_against_the_job():
    slot = make_slot(Policy(preempt="KeyboardIdle < 60",
                            max_job_retirement_time='ifThenElse(TARGET.Owner == "bob", 600, 0)'),
                     KeyboardIdle=1000)
    run_job(slot, ClassAd(VANILLA))
    tick(slot, T0 + 100, KeyboardIdle=0)
    assert slot.activity is RETIRING
    tick(slot, T0 + 599)
    assert slot.activity is RETIRING
    tick(slot, T0 + 600)
    assert slot.activity is VACATING


# -- desktop ----------------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("htcondor2") is None,
                    reason="HTCondor's wheel is not installed")
def test_desktop_is_htcondors_uwcs_policy(tmp_path):
    """The expansion HTCondor 25 itself makes of ``use POLICY : UWCS_DESKTOP``."""
    config = tmp_path / "condor_config"
    config.write_text("use POLICY : UWCS_DESKTOP\n")
    names = ["START", "SUSPEND", "CONTINUE", "PREEMPT", "KILL", "WANT_SUSPEND", "WANT_VACATE",
             "IS_OWNER", "MaxJobRetirementTime", "MachineMaxVacateTime", "StateTimer",
             "ActivityTimer", "ActivationTimer", "NonCondorLoadAvg", "BackgroundLoad",
             "HighLoad", "StartIdleTime", "ContinueIdleTime", "MaxSuspendTime",
             "KeyboardBusy", "CPUIdle", "CpuBusy", "CpuBusyTimer"]
    code = ("import json, htcondor2 as h; "
            f"print(json.dumps({{n: str(h.param[n]) for n in {names!r}}}))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"CONDOR_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
                         timeout=120, check=True)
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    policy = policy_by_name("desktop")
    ours = {name.lower(): text for name, text in policy.expressions().items()}
    table = {name.lower(): text for name, text in policy.macros.items()}
    for name in names:
        mine = ours.get(name.lower()) or expand(f"$({name})", table)
        reference = theirs[name].replace("time()", "CurrentTime")
        if name in ("MaxJobRetirementTime", "MachineMaxVacateTime"):
            assert ExprTree(mine).eval() == ExprTree(reference).eval(), name
        else:
            assert ExprTree(mine) == ExprTree(reference), (name, mine, reference)
    assert policy.latches == ("CpuBusy",)


def test_desktop_start_as_in_the_reference():
    start = ExprTree(policy_by_name("desktop").expressions()["Start"])
    assert start == ExprTree('( (KeyboardIdle > 15 * 60) && ( ((LoadAvg - CondorLoadAvg) '
                             '<= 0.3) || (State != "Unclaimed" && State != "Owner")) )')


def test_desktop_start_ignores_the_cpu_once_claimed():
    slot = make_slot(policy_by_name("desktop"), KeyboardIdle=1000, LoadAvg=0.9,
                     CondorLoadAvg=0.0)
    assert slot.state is OWNER  # the owner's programs keep the CPU busy
    tick(slot, T0 + 5, LoadAvg=0.1)
    assert slot.state is UNCLAIMED
    run_job(slot, ClassAd(VANILLA), T0 + 5)
    assert slot.evaluate("START", ClassAd(VANILLA)) is True
    tick(slot, T0 + 10, LoadAvg=1.1, CondorLoadAvg=1.0)  # our own load does not count
    assert slot.activity is BUSY


def test_desktop_suspends_when_the_cpu_stays_busy():
    """The CpuBusy latch: SUSPEND once the owner's load has been high for 2 minutes and
    the job has run 90 s."""
    slot = make_slot(policy_by_name("desktop"), KeyboardIdle=1000, LoadAvg=0.0,
                     CondorLoadAvg=0.0)
    run_job(slot, ClassAd(VANILLA))
    tick(slot, T0 + 30, KeyboardIdle=1030, LoadAvg=1.6, CondorLoadAvg=1.0)
    ad = slot.public_ad()
    assert (ad["CpuBusyValue"], ad["CpuBusyTime"]) == (1, T0 + 30)
    tick(slot, T0 + 150, KeyboardIdle=1150)
    assert slot.activity is BUSY and slot.public_ad()["CpuBusyTime"] == T0 + 30
    tick(slot, T0 + 151, KeyboardIdle=1151)
    assert slot.activity is SUSPENDED  # busy for 121 s, job running 151 s
    tick(slot, T0 + 160, KeyboardIdle=1160, LoadAvg=0.0, CondorLoadAvg=0.0)
    assert slot.public_ad()["CpuBusyValue"] == 0


def test_desktop_evicts_a_job_it_does_not_want_to_suspend():
    """A large non-vanilla job: WANT_SUSPEND is false, so SUSPEND makes PREEMPT true, and
    WANT_VACATE is false for a job that started less than 10 minutes ago."""
    job = ClassAd({"JobUniverse": 7, "ImageSize": 100 * 1024})
    slot = make_slot(policy_by_name("desktop"), KeyboardIdle=1000, LoadAvg=0.0,
                     CondorLoadAvg=0.0)
    run_job(slot, job)
    out = tick(slot, T0 + 60, KeyboardIdle=0)
    assert (slot.state, slot.activity) == (PREEMPTING, KILLING)
    assert isinstance(out[0], KillJob)


def test_desktop_overrides():
    policy = policy_by_name("desktop", StartIdleTime=300, max_job_retirement_time=3600)
    assert "(KeyboardIdle > 300)" in policy.expressions()["Start"]
    assert policy.expressions()["MaxJobRetirementTime"] == "3600"
    assert "15 * 60" in policy_by_name("desktop").expressions()["Start"]  # untouched


# -- glidein ----------------------------------------------------------------------------------


def glidein_slot(time_to_live: int | None, **overrides) -> Slot:
    values = {} if time_to_live is None else {"GLIDEIN_ToDie": T0 + time_to_live}
    return make_slot(policy_by_name("glidein", **overrides), **values)


@pytest.mark.parametrize("max_runtime,accepted", [
    (None, True), (3000, True), (7200, True), (7201, False)])
def test_glidein_starts_only_jobs_that_fit(max_runtime, accepted):
    slot = glidein_slot(7200)
    assert slot.state is UNCLAIMED and slot.evaluate("TimeToLive") == 7200
    job = ClassAd(VANILLA if max_runtime is None else {**VANILLA, "MaxRuntime": max_runtime})
    out = slot.handle(ClaimRequested(slot.claim_id, job), T0)
    assert (slot.state is CLAIMED) == accepted, out
    if not accepted:
        assert out == [RefuseClaim("Start is FALSE for this job", slot.claim_id)]


def test_glidein_time_to_live_shrinks_with_the_clock():
    slot = glidein_slot(7200)
    job = ClassAd({**VANILLA, "MaxRuntime": 5000})
    assert slot.evaluate("START", job, now=T0 + 2000) is True
    assert slot.evaluate("START", job, now=T0 + 2201) is False


def test_glidein_retires_near_the_end():
    slot = glidein_slot(3600)
    tick(slot, T0 + 3000 - 1)
    assert slot.state is UNCLAIMED
    tick(slot, T0 + 3000)  # 600 s left: the retire margin
    assert slot.state is OWNER
    assert glidein_slot(1000, RetireMargin=300).state is UNCLAIMED


def test_glidein_stops_at_its_retire_time():
    slot = glidein_slot(7200)
    tick(slot, T0 + 5, GLIDEIN_ToRetire=T0 + 100)
    assert slot.state is UNCLAIMED
    tick(slot, T0 + 100)
    assert slot.state is OWNER


def test_glidein_time_to_live_is_a_slot_attribute():
    policy = policy_by_name("glidein")
    assert policy.slot_attributes() == {"TimeToLive": "(GLIDEIN_ToDie - CurrentTime)"}
    assert "TimeToLive" not in policy.expressions()
    ad = ClassAd()
    policy.install(ad)
    assert str(ad.lookup("TimeToLive")) == "(GLIDEIN_ToDie - CurrentTime)"


def test_glidein_without_a_known_lifetime_takes_any_job():
    slot = glidein_slot(None)
    assert slot.state is UNCLAIMED
    assert slot.evaluate("START", ClassAd({"MaxRuntime": 10**9})) is True


def test_glidein_time_to_live_may_be_measured_by_the_shell():
    slot = glidein_slot(None)
    tick(slot, T0 + 5, TimeToLive=100)
    assert slot.state is OWNER


def test_glidein_kills_a_vacating_job_after_five_minutes():
    slot = glidein_slot(7200)
    run_job(slot, ClassAd(VANILLA))
    slot.handle(VacateRequested(), T0 + 10)
    assert slot.activity is VACATING
    tick(slot, T0 + 310)
    assert slot.activity is VACATING
    tick(slot, T0 + 311)
    assert slot.activity is KILLING


# -- by name --------------------------------------------------------------------------------


def test_unknown_policy_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown startd policy 'laptop' "
                                         r"\(known: always, desktop, glidein\)"):
        policy_by_name("laptop")


def test_names_are_case_insensitive():
    assert policy_by_name("Desktop").name == "desktop"


def test_overrides():
    policy = policy_by_name("always", start="KeyboardIdle > 60", want_vacate=False,
                            machine_max_vacate_time=30)
    expressions = policy.expressions()
    assert (expressions["Start"], expressions["WANT_VACATE"],
            expressions["MachineMaxVacateTime"]) == ("KeyboardIdle > 60", "false", "30")
    assert policy_by_name("glidein", retiremargin=60).macros["RetireMargin"] == "60"
    with pytest.raises(ValueError, match="has no expression or macro 'StartIdleTime'"):
        policy_by_name("always", StartIdleTime=60)
    with pytest.raises(ValueError, match="Start = KeyboardIdle >"):
        policy_by_name("always", start="KeyboardIdle >")
    with pytest.raises(TypeError, match="expression text or a number"):
        policy_by_name("always", start=None)
