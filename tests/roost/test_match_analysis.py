"""roost.match_analysis: the report of ``roost analyze``, slots by their real state, and
why a slot in the Owner state takes no job."""

from __future__ import annotations

import pytest

from classad import ClassAd, ExprTree
from roost.match_analysis import Record, analyze, count, owner_reason, owner_warnings

PHYSICS = 'TARGET.Project =?= "physics"'


def slot(name: str, state: str = "Unclaimed", start: str = "true",
         is_owner: str = "(START =?= False)") -> ClassAd:
    ad = ClassAd({"Name": name, "State": state, "Activity": "Idle", "Cpus": 1,
                  "Memory": 1024, "Disk": 10**6})
    ad["START"] = ExprTree(start)
    ad["IS_OWNER"] = ExprTree(is_owner)
    ad["Requirements"] = ExprTree("START && TARGET.RequestCpus <= MY.Cpus")
    return ad


def job(**attributes) -> ClassAd:
    ad = ClassAd({"ClusterId": 4, "ProcId": 0, "JobStatus": 1, "Owner": "alice",
                  "RequestCpus": 1, "Project": "physics", **attributes})
    ad["Requirements"] = ExprTree("TARGET.Cpus >= 1")
    return ad


def test_slots_in_the_owner_state_are_not_called_claimed_and_the_fix_is_named():
    slots = [slot("slot1@a", "Owner", PHYSICS), slot("slot2@a", "Owner", PHYSICS)]
    report = analyze(job(), slots, now=0)
    assert "  2 would run it but are in the Owner state (they take no job)" in report
    assert "  0 would run it but are claimed" in report
    assert "  0 would run it and are free" in report
    assert ("slot1@a, slot2@a would run it but are in the Owner state, taking no job: "
            'START is False without a job (START = TARGET.Project =?= "physics"), so '
            "IS_OWNER is true (IS_OWNER = (START =?= false)).") in report
    assert ('  Write TARGET.Project == "physics" rather than TARGET.Project =?= "physics": '
            "without a job it is UNDEFINED rather than False, so the slot leaves the Owner "
            "state, and a job lacking the attribute still does not match.") in report
    assert not any("busy" in line for line in report)


def test_each_state_is_counted_and_reported_as_itself():
    slots = [slot("s1", "Owner", PHYSICS), slot("s2", "Claimed"), slot("s3", "Claimed"),
             slot("s4", "Matched"), slot("s5", "Preempting"), slot("s6", "Drained"),
             slot("s7", "Unclaimed")]
    counts = count(job(), slots)
    assert counts.unavailable == {"Owner": 1, "Claimed": 2, "Matched": 1, "Preempting": 1,
                                  "Drained": 1}
    assert counts.free == 1
    report = analyze(job(), slots, now=0)
    states = [line for line in report if line.startswith("  ") and "would run it" in line]
    assert states == [
        "  1 would run it but are in the Owner state (they take no job)",
        "  1 would run it but are matched to another job (Matched)",
        "  2 would run it but are claimed",
        "  1 would run it but are preempting their job (Preempting)",
        "  1 would run it but are drained (Drained)",
        "  1 would run it and are free"]
    assert report[-1] == ("Slots are free that would run it: it should start at the next "
                          "negotiation cycle.")


def test_without_a_free_slot_the_owner_drained_and_busy_slots_each_get_their_word():
    slots = [slot("s1", "Owner", PHYSICS), slot("s2", "Claimed"), slot("s3", "Drained")]
    advice = analyze(job(), slots, now=0)[-4:]
    assert advice[0].startswith("s1 would run it but is in the Owner state")
    assert advice[1].startswith('  Write TARGET.Project == "physics" rather than')
    assert advice[2:] == ["Drained slots take no job until their drain is cancelled.",
                          "The other slots that would run it are busy: it waits for one to "
                          "free up."]
    only_busy = analyze(job(), [slot("s2", "Claimed")], now=0)
    assert only_busy[-1] == "Every slot that would run it is busy: it waits for one to free up."


@pytest.mark.parametrize(("start", "is_owner", "why", "advice"), [
    # =?= on the job's attributes: the advice rewrites each, but not a test for UNDEFINED
    ('(TARGET.MaxRuntime =?= UNDEFINED) && Project =?= "physics" && Cpus =?= 1',
     "(START =?= False)",
     'START is False without a job (START = (TARGET.MaxRuntime =?= undefined) && '
     'Project =?= "physics" && Cpus =?= 1), so IS_OWNER is true (IS_OWNER = (START =?= '
     'false))',
     ('write Project == "physics" rather than Project =?= "physics"',)),
    # False for the machine's own reasons: nothing to rewrite
    ("Cpus > 4", "(START =?= False)",
     "START is False without a job (START = Cpus > 4), so IS_OWNER is true (IS_OWNER = "
     "(START =?= false))", ()),
    # an IS_OWNER of the owner's own
    ("true", "Cpus == 1", "IS_OWNER is true without a job (IS_OWNER = Cpus == 1)", ()),
])
def test_the_owner_reason_says_what_holds_and_what_to_write(start, is_owner, why, advice):
    reason = owner_reason(slot("s", "Owner", start, is_owner))
    assert (reason.why, reason.advice) == (why, advice)


def test_a_start_undefined_without_a_job_gives_no_owner_reason():
    assert owner_reason(slot("s", "Unclaimed", 'TARGET.Project == "physics"')) is None
    assert owner_reason(slot("s", "Unclaimed", "true")) is None


def test_the_startd_warns_of_its_owner_slots_once_per_reason():
    slots = [slot("slot1@a", "Owner", PHYSICS), slot("slot2@a", "Owner", PHYSICS),
             slot("slot3@a", "Unclaimed", 'TARGET.Project == "physics"')]
    assert owner_warnings(slots) == [
        'slot1@a, slot2@a: START is False without a job (START = TARGET.Project =?= '
        '"physics"), so IS_OWNER is true (IS_OWNER = (START =?= false)); they stay in the '
        'Owner state and run no job. Write TARGET.Project == "physics" rather than '
        'TARGET.Project =?= "physics": without a job it is UNDEFINED rather than False, so '
        "the slot leaves the Owner state, and a job lacking the attribute still does not "
        "match."]
    assert owner_warnings(slots[2:]) == []


def test_the_negotiators_record_names_the_states_too():
    record = Record(time=90, considered=3, rejected_by_job=0, rejected_by_slot=1,
                    unavailable={"Owner": 2}, matched=0, over_share=False,
                    reason="no free slot matches", user_priority=500.0)
    report = analyze(job(), [slot("s1", "Owner", PHYSICS)], record, now=100)
    assert ("The negotiator's last cycle for this job (10 s ago): 3 slots considered, 0 "
            "rejected by the job, 1 rejected it, 2 in the Owner state, 0 claimed, 0 "
            "matched.") in report
