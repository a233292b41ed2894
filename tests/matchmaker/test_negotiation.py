"""matchmaker.negotiation: one cycle, pure: requirements both ways, ranks, partitionable
slots, fair share by priority, ceilings, pie spins and the statistics for analyze."""

from __future__ import annotations

import collections
from collections import Counter

from classad import ClassAd, ExprTree
from matchmaker.negotiation import Offer, Request, Submitter, negotiate

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
