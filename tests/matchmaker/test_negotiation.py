"""matchmaker.negotiation: one cycle, pure: requirements both ways, ranks, partitionable
slots, fair share by priority, ceilings, pie spins and the statistics for analyze."""

from __future__ import annotations

import collections
from collections import Counter

from classad import ClassAd, ExprTree
from matchmaker.negotiation import Offer, Policy, Request, Submitter, negotiate

WITHIN = ("MY.Cpus > 0 && TARGET.RequestCpus <= MY.Cpus && MY.Memory > 0 && "
          "TARGET.RequestMemory <= MY.Memory && MY.Disk > 0 && TARGET.RequestDisk <= MY.Disk")


def slot(name: str, cpus: int = 1, memory: int = 1024, *, start: str = "true",
         state: str = "Unclaimed", partitionable: bool = False, slot_id: int = 1,
         **attributes) -> Offer:
    ad = ClassAd({"Name": name, "Cpus": cpus, "Memory": memory, "Disk": 10**6,
                  "State": state, "SlotID": slot_id, "OpSys": "LINUX", **attributes})
    ad["Start"] = ExprTree(start)
    ad["WithinResourceLimits"] = ExprTree(WITHIN)
    ad["Requirements"] = ExprTree("START && WithinResourceLimits")
    ad["SlotWeight"] = ExprTree("Cpus")
    if partitionable:
        ad["PartitionableSlot"] = True
    return Offer(ad, f"claim-{name}")


def job(owner: str = "alice", requirements: str = "true", rank: str | None = None,
        cpus: int = 1, memory: int = 128) -> ClassAd:
    ad = ClassAd({"Owner": owner, "RequestCpus": cpus, "RequestMemory": memory,
                  "RequestDisk": 1024})
    ad["Requirements"] = ExprTree(requirements)
    if rank is not None:
        ad["Rank"] = ExprTree(rank)
    return ad


def submitter(name: str, *requests: tuple[int, ClassAd], priority: float = 500.0,
              ceiling: float = 0.0) -> Submitter:
    return Submitter(f"{name}@submit", name, priority,
                     [Request(ac, count, ad) for ac, (count, ad) in enumerate(requests, 1)],
                     ceiling)


def names(outcome) -> list[str]:
    return [match.slot_name for match in outcome.matches]


def test_requirements_must_hold_both_ways():
    offers = [slot("small", memory=512), slot("big", memory=4096),
              slot("picky", memory=4096, start='TARGET.Owner == "bob"'),
              slot("windows", memory=4096, OpSys="WINDOWS")]
    wants = job(requirements='TARGET.OpSys == "LINUX" && TARGET.Memory >= 1024')
    outcome = negotiate(offers, [submitter("alice", (5, wants))])
    assert names(outcome) == ["big"]
    stats = outcome.stats["alice@submit", 1]
    assert (stats.considered, stats.rejected_by_job, stats.rejected_by_slot, stats.matched) == (
        4, 2, 1, 1)
    assert stats.reason == "no free slot matches"


def test_the_jobs_rank_picks_the_preferred_slot():
    offers = [slot(f"s{n}", memory=1024 * n, slot_id=n) for n in (1, 2, 3)]
    outcome = negotiate(offers, [submitter("alice", (1, job(rank="TARGET.Memory")))])
    assert names(outcome) == ["s3"]
    # Without a rank, the pre-job rank prefers the smallest slot that fits.
    assert names(negotiate(offers, [submitter("alice", (1, job()))])) == ["s1"]


def test_claimed_slots_are_not_matched_but_counted():
    offers = [slot("busy", state="Claimed", RemoteOwner="bob"), slot("free")]
    outcome = negotiate(offers, [submitter("alice", (2, job()))])
    assert names(outcome) == ["free"]
    stats = outcome.stats["alice@submit", 1]
    assert (stats.claimed, stats.matched, stats.reason) == (1, 1, "no free slot matches")


def test_slots_that_are_not_free_are_counted_by_their_state():
    offers = [slot("owner", state="Owner", start='TARGET.Project =?= "physics"'),
              slot("claimed", state="Claimed", RemoteOwner="bob", Activity="Idle"),
              slot("matched", state="Matched"), slot("drained", state="Drained"),
              slot("elsewhere", state="Owner", start="false")]
    wanted = job()
    wanted["Project"] = "physics"
    stats = negotiate(offers, [submitter("alice", (1, wanted))]).stats["alice@submit", 1]
    assert stats.unavailable == {"Owner": 1, "Claimed": 1, "Matched": 1, "Drained": 1}
    assert (stats.claimed, stats.rejected_by_slot, stats.matched) == (1, 1, 0)


def test_a_partitionable_slot_serves_several_jobs():
    offers = [slot("p", cpus=4, memory=4096, partitionable=True)]
    outcome = negotiate(offers, [submitter("alice", (10, job(cpus=1, memory=1024)))])
    assert names(outcome) == ["p"] * 4
    assert [m.slot_ad.eval("Cpus") for m in outcome.matches] == [4, 3, 2, 1]
    assert all(m.claim_id == "claim-p" and m.weight == 1.0 for m in outcome.matches)
    # Memory runs out first for bigger jobs.
    outcome = negotiate(offers, [submitter("alice", (10, job(cpus=1, memory=3000)))])
    assert len(outcome.matches) == 1


def test_equal_priorities_share_equally_and_priority_orders_shares():
    offers = [slot(f"s{n}", slot_id=n) for n in range(12)]
    many = (100, job())
    outcome = negotiate(offers, [submitter("alice", many), submitter("bob", many)])
    assert collections.Counter(m.submitter for m in outcome.matches) == {
        "alice@submit": 6, "bob@submit": 6}
    # bob's priority number is twice alice's: he gets half as much.
    outcome = negotiate(offers, [submitter("alice", many, priority=500),
                                 submitter("bob", many, priority=1000)])
    assert collections.Counter(m.submitter for m in outcome.matches) == {
        "alice@submit": 8, "bob@submit": 4}
    assert outcome.stats["bob@submit", 1].over_share


def test_what_one_cannot_use_is_spun_out_to_the_others():
    offers = [slot(f"s{n}", slot_id=n) for n in range(10)]
    outcome = negotiate(offers, [submitter("alice", (2, job())),
                                 submitter("bob", (100, job()))])
    assert collections.Counter(m.submitter for m in outcome.matches) == {
        "alice@submit": 2, "bob@submit": 8}


def test_usage_counts_against_the_share():
    offers = [slot(f"busy{n}", state="Claimed", RemoteOwner="alice", slot_id=n)
              for n in range(6)] + [slot(f"s{n}", slot_id=10 + n) for n in range(6)]
    outcome = negotiate(offers, [submitter("alice", (100, job())),
                                 submitter("bob", (100, job()))])
    # 12 in the pool, 6 each; alice already holds 6, so bob gets the free ones first.
    counts = collections.Counter(m.submitter for m in outcome.matches)
    assert counts["bob@submit"] == 6 and counts["alice@submit"] == 0


def test_a_ceiling_caps_a_submitter():
    offers = [slot(f"s{n}", slot_id=n) for n in range(10)]
    outcome = negotiate(offers, [submitter("alice", (100, job()), ceiling=3)])
    assert len(outcome.matches) == 3


def test_requests_are_served_in_the_schedds_order():
    offers = [slot("a"), slot("b")]
    first, second = job(memory=100), job(memory=200)
    outcome = negotiate(offers, [submitter("alice", (1, first), (5, second))])
    assert [m.autocluster_id for m in outcome.matches] == [1, 2]


def test_a_job_refering_to_slot_names_still_matches_only_its_slot():
    offers = [slot(f"s{n}", slot_id=n) for n in range(50)]
    outcome = negotiate(offers, [submitter("alice", (3, job(
        requirements='TARGET.Name == "s17"')))])
    assert names(outcome) == ["s17"]


def test_nothing_to_do():
    assert negotiate([], [submitter("alice", (5, job()))]).matches == []
    assert negotiate([slot("a")], []).matches == []
    assert negotiate([slot("a", state="Owner")], [submitter("alice", (5, job()))]).matches == []


def test_concurrency_limits_cap_matches_counting_running_jobs():
    from matchmaker.limits import Limits

    offers = [slot(f"s{n}", slot_id=n) for n in range(10)]
    licensed = job()
    licensed["ConcurrencyLimits"] = "XSW"
    outcome = negotiate(offers, [submitter("alice", (10, licensed))],
                        limits=Limits({"xsw": 3}, in_use={"xsw": 1}))
    assert len(outcome.matches) == 2
    assert all(m.slot_ad.eval("MatchedConcurrencyLimits") == "xsw" for m in outcome.matches)
    stats = outcome.stats["alice@submit", 1]
    assert "concurrency limit xsw reached" in stats.reason
    # Without the limits, or for jobs naming none, all the slots are used.
    assert len(negotiate(offers, [submitter("alice", (10, licensed))]).matches) == 10


def test_a_group_quota_caps_its_jobs_and_others_use_the_rest():
    from matchmaker.groups import GroupConfig

    groups = GroupConfig.from_mapping({"group_names": "physics, chem",
                                       "group_quota_physics": 3, "group_quota_chem": 7})
    offers = [slot(f"s{n}", slot_id=n) for n in range(10)]
    physics, chem = job(), job(memory=200)
    physics["AcctGroup"], chem["AcctGroup"] = "physics", "chem"
    outcome = negotiate(offers, [submitter("alice", (100, physics)),
                                 submitter("bob", (2, chem))], groups=groups)
    by_group = Counter(m.slot_ad.eval("RemoteGroup") for m in outcome.matches)
    assert by_group == {"physics": 3, "chem": 2}
    assert "accounting group physics is at its quota" in \
        outcome.stats["alice@submit", 1].reason
    # Slots claimed by the group's running jobs count against its quota.
    busy = [slot(f"b{n}", state="Claimed", RemoteOwner="alice", RemoteGroup="physics",
                 slot_id=20 + n) for n in range(2)]
    outcome = negotiate(busy + offers, [submitter("alice", (100, physics))], groups=groups)
    assert len(outcome.matches) == 1


def test_groups_negotiate_in_starvation_order():
    from matchmaker.groups import GroupConfig

    groups = GroupConfig.from_mapping({"group_names": "physics, chem",
                                       "group_quota_physics": 5, "group_quota_chem": 5})
    held = [slot(f"b{n}", state="Claimed", Activity="Busy", RemoteOwner="alice",
                 RemoteGroup="physics", slot_id=20 + n) for n in range(4)]
    offers = held + [slot(f"s{n}", slot_id=n) for n in range(4)]
    physics, chem = job("alice"), job("bob", memory=200)
    physics["AcctGroup"], chem["AcctGroup"] = "physics", "chem"
    # alice's priority is far better, but chem uses less of its quota: it goes first.
    outcome = negotiate(offers, [submitter("alice", (100, physics), priority=1.0),
                                 submitter("bob", (100, chem), priority=1000.0)],
                        groups=groups)
    assert [m.slot_ad.eval("RemoteGroup") for m in outcome.matches] == ["chem"] * 4


def test_a_groups_submitters_share_the_groups_quota_by_the_pie():
    from matchmaker.groups import GroupConfig

    groups = GroupConfig.from_mapping({"group_names": "physics, chem",
                                       "group_quota_physics": 4, "group_quota_chem": 6})
    offers = [slot(f"s{n}", slot_id=n) for n in range(10)]
    physics, chem = job(), job(memory=200)
    physics["AcctGroup"], chem["AcctGroup"] = "physics", "chem"
    outcome = negotiate(offers, [submitter("alice", (100, physics)),
                                 submitter("carol", (100, physics)),
                                 submitter("bob", (100, chem))], groups=groups)
    got = Counter(m.submitter for m in outcome.matches)
    assert got == {"alice@submit": 2, "carol@submit": 2, "bob@submit": 6}
    assert outcome.shares["alice@submit"] == outcome.shares["carol@submit"] == 2.0


# -- preemption -------------------------------------------------------------------------------


def busy(name: str, owner: str = "alice", current_rank: float = 0.0, *,
         activity: str = "Busy", rank: str = "0", **attributes) -> Offer:
    offer = slot(name, state="Claimed", RemoteOwner=owner, Activity=activity,
                 CurrentRank=current_rank, **attributes)
    offer.ad["Rank"] = ExprTree(rank)
    return Offer(offer.ad, f"preempting-{name}")


PRIORITY = Policy(preemption_requirements="True")


def test_a_slot_that_ranks_the_new_job_higher_is_preempted_for_rank():
    offers = [busy("s1", rank='TARGET.Owner == "bob"')]
    outcome = negotiate(offers, [submitter("bob", (1, job("bob")))])
    [match] = outcome.matches
    assert (match.slot_name, match.claim_id, match.preempting) == ("s1", "preempting-s1", "rank")
    assert outcome.stats["bob@submit", 1].preempting == 1
    # Another job of the same rank as the running one does not preempt it.
    assert negotiate(offers, [submitter("carol", (1, job("carol")))]).matches == []


def test_an_idle_slot_is_preferred_to_preempting_one():
    offers = [busy("s1", rank='TARGET.Owner == "bob"', slot_id=1),
              slot("s2", slot_id=2)]
    offers[1].ad["Rank"] = ExprTree('TARGET.Owner == "bob"')
    outcome = negotiate(offers, [submitter("bob", (2, job("bob")))])
    assert [(m.slot_name, m.preempting) for m in outcome.matches] == [("s2", ""), ("s1", "rank")]


def test_priority_preemption_needs_preemption_requirements_and_a_worse_owner():
    offers = [busy("s1", owner="alice")]
    bob = submitter("bob", (1, job("bob")), priority=10.0)
    priorities = {"alice": 1000.0}
    assert negotiate(offers, [bob], priorities=priorities).matches == []  # False by default
    [match] = negotiate(offers, [bob], PRIORITY, priorities=priorities).matches
    assert match.preempting == "priority"
    # alice (worse) may not take bob's slot; nor may bob take a slot that ranks him lower.
    worse = submitter("carol", (1, job("carol")), priority=5000.0)
    assert negotiate(offers, [worse], PRIORITY, priorities=priorities).matches == []
    ranked = [busy("s1", owner="alice", current_rank=1.0, rank='TARGET.Owner == "alice"')]
    assert negotiate(ranked, [bob], PRIORITY, priorities=priorities).matches == []


def test_preemption_requirements_see_both_priorities():
    offers = [busy("s1", owner="alice")]
    policy = Policy(preemption_requirements="MY.RemoteUserPrio > TARGET.SubmitterUserPrio * 1.2")
    near = submitter("bob", (1, job("bob")), priority=900.0)
    far = submitter("bob", (1, job("bob")), priority=500.0)
    assert negotiate(offers, [near], policy, priorities={"alice": 1000.0}).matches == []
    assert len(negotiate(offers, [far], policy, priorities={"alice": 1000.0}).matches) == 1


def test_preemption_rank_picks_the_worst_priority_owner_first():
    offers = [busy("s1", owner="alice", slot_id=1), busy("s2", owner="carol", slot_id=2)]
    bob = submitter("bob", (1, job("bob")), priority=10.0)
    outcome = negotiate(offers, [bob], PRIORITY, priorities={"alice": 100.0, "carol": 900.0})
    assert names(outcome) == ["s2"]


def test_slots_that_are_not_running_a_job_or_are_leaving_are_not_preempted():
    offers = [busy("idle", activity="Idle", rank='TARGET.Owner == "bob"'),
              busy("retiring", activity="Retiring", rank='TARGET.Owner == "bob"'),
              busy("suspended", activity="Suspended", rank='TARGET.Owner == "bob"')]
    outcome = negotiate(offers, [submitter("bob", (3, job("bob")))])
    assert names(outcome) == ["suspended"]
    off = Policy(consider_preemption=False)
    assert negotiate(offers, [submitter("bob", (3, job("bob")))], off).matches == []


def test_a_job_goes_only_to_glideins_with_time_enough_for_its_max_runtime():
    from startd.policy import glidein

    offers = []
    for name, time_to_live in (("short", 900), ("long", 7200)):
        offer = slot(name)
        glidein().install(offer.ad)
        offer.ad["TimeToLive"] = time_to_live  # as the startd measures it
        offers.append(offer)
    hour = job()
    hour["MaxRuntime"] = 3600
    outcome = negotiate(offers, [submitter("alice", (2, hour))])
    assert names(outcome) == ["long"]
    assert outcome.stats["alice@submit", 1].rejected_by_slot == 1
