"""The factory's core with a fake batch system, fake slots and a fake clock."""

from __future__ import annotations

import itertools

import pytest

from classad import ClassAd, ExprTree
from startd.glidein.factory import Decision, Factory, FactoryConfig
from startd.glidein.pilot import PilotSpec
from startd.glidein.slurm import BatchJob
from startd.glidein.template import NodeGuess, node_amounts, pilot_ad
from startd.machine_ad import Platform

T0 = 1_800_000_000
PLATFORM = Platform("X86_64", "LINUX", "Debian", 12)
SPEC = PilotSpec("127.0.0.1:9618", walltime=3600, cpus_per_node=4, memory_mib=4096)


def template(spec: PilotSpec = SPEC, now: float = T0) -> ClassAd:
    return pilot_ad(spec, now, platform=PLATFORM)


def job(cluster: int, proc: int = 0, *, status: int = 1, cpus: int = 1, memory: int = 128,
        **more: object) -> ClassAd:
    ad = ClassAd({"ClusterId": cluster, "ProcId": proc, "JobStatus": status,
                  "RequestCpus": cpus, "RequestMemory": memory,
                  "RequestDisk": ExprTree("MAX({1024, (TransferInputSizeMB + 1) * 1.25}) * 1024"),
                  "TransferInputSizeMB": 0, "JobUniverse": 5, "Owner": "alice",
                  "Requirements": ExprTree(
                      '(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && '
                      "(TARGET.Disk >= RequestDisk) && (TARGET.Memory >= RequestMemory) && "
                      "(TARGET.Cpus >= RequestCpus)")})
    for name, value in more.items():
        ad[name] = ExprTree(value) if isinstance(value, str) and name == "Requirements" else value
    return ad


def jobs(count: int, cluster: int = 1, **kwargs) -> list[ClassAd]:
    return [job(cluster, proc, **kwargs) for proc in range(count)]


class FakeSlurm:
    """Pilots as squeue lists them, changed by the test; and the slots they advertise."""

    def __init__(self, nodes: int = 1) -> None:
        self.nodes = nodes
        self._ids = itertools.count(100)
        self.pilots: dict[str, BatchJob] = {}
        self.slots: dict[str, list[ClassAd]] = {}

    def submit(self) -> str:
        job_id = str(next(self._ids))
        self.pilots[job_id] = BatchJob(job_id, "PENDING", self.nodes, None, "Priority")
        return job_id

    def set(self, job_id: str, state: str, reason: str = "None") -> None:
        self.pilots[job_id] = BatchJob(job_id, state, self.pilots[job_id].nodes, None, reason)
        if state != "RUNNING":
            self.slots.pop(job_id, None)

    def advertise(self, job_id: str, *, cpus_left: int = 4, claimed: bool = False,
                  now: float = T0, ttl: int = 3000, **more: object) -> None:
        ad = template(now=now)
        ad["Name"] = f"slot1@glidein-{job_id}"
        ad["Machine"] = f"node-{job_id}"
        ad["GLIDEIN_BatchJobId"] = job_id
        ad["Cpus"] = cpus_left
        ad["Memory"] = 4096 * cpus_left // 4
        ad["TimeToLive"] = ttl
        ad["GLIDEIN_ToDie"] = int(now) + ttl
        ad["GLIDEIN_ToRetire"] = int(now) + ttl
        for name, value in more.items():
            ad[name] = value
        ads = [ad]
        if claimed:
            dslot = ad.copy()
            dslot["Name"] = f"slot1_1@glidein-{job_id}"
            dslot["State"] = "Claimed"
            dslot["DynamicSlot"] = True
            dslot["PartitionableSlot"] = False
            ads.append(dslot)
        self.slots[job_id] = ads

    def end(self, job_id: str, state: str) -> None:
        self.set(job_id, state)

    def forget(self, job_id: str) -> None:
        del self.pilots[job_id]
        self.slots.pop(job_id, None)

    def listing(self) -> list[BatchJob]:
        return list(self.pilots.values())

    def all_slots(self) -> list[ClassAd]:
        return [ad for ads in self.slots.values() for ad in ads]


class Driver:
    """Runs factory cycles against the fake and acts on them as the shell would."""

    def __init__(self, **config) -> None:
        config.setdefault("max_pilots", 10)
        self.factory = Factory(FactoryConfig(**config))
        self.slurm = FakeSlurm(config.get("nodes", 1))
        self.submitted: list[str] = []
        self.cancelled: list[str] = []

    def cycle(self, now: float, idle: list[ClassAd], spec: PilotSpec = SPEC) -> Decision:
        decision = self.factory.cycle(now, jobs=idle, template=template(spec, now),
                                      pilots=self.slurm.listing(), slots=self.slurm.all_slots())
        for _ in range(decision.submit):
            job_id = self.slurm.submit()
            self.submitted.append(job_id)
            self.factory.submitted(now, job_id)
        for cancel in decision.cancel:
            self.cancelled.append(cancel.job_id)
            self.slurm.set(cancel.job_id, "CANCELLED")
        self.factory.validate()
        return decision


# -- the template --------------------------------------------------------------------------


def test_the_template_is_a_fresh_glidein_slot_with_the_pilots_resources_and_lifetime():
    ad = template()
    assert [ad.eval(name) for name in ("Cpus", "Memory", "TotalSlotCpus", "PartitionableSlot",
                                       "State", "Activity", "IsGlidein", "IS_GLIDEIN",
                                       "TimeToLive", "OpSys")] == [
        4, 4096, 4, True, "Unclaimed", "Idle", True, True, 3600 - 60, "LINUX"]
    assert ad.eval("GLIDEIN_ToDie") == T0 + 3600 - 60
    assert str(ad.lookup("Requirements")) == "START && WithinResourceLimits"
    assert "MaxRuntime" in str(ad.lookup("Start"))
    fits, too_long = job(1, MaxRuntime=3000), job(2, MaxRuntime=3590)
    assert fits.symmetric_match(ad) and not too_long.symmetric_match(ad)


def test_the_template_documents_what_it_assumes_for_what_the_spec_leaves_unset():
    bare = PilotSpec("h:1", walltime=600)
    assert node_amounts(bare) == node_amounts(bare, NodeGuess())
    amounts = node_amounts(bare)
    assert (amounts.cpus, amounts.memory_mb) == (1, 1024)
    assert node_amounts(PilotSpec("h:1", 600, cpus_per_node=8)).memory_mb == 8 * 1024
    ad = template(bare)
    # A 10-minute pilot stops taking jobs without MaxRuntime in its last tenth.
    assert "TimeToLive > 60" in str(ad.lookup("Start"))


# -- scaling up ----------------------------------------------------------------------------


def test_zero_to_n_pilots_by_cpus_limited_by_max_pilots():
    driver = Driver(max_pilots=3)
    decision = driver.cycle(T0, jobs(8))  # 8 one-CPU jobs on 4-CPU pilots: 2 pilots
    assert decision.submit == 2
    assert (decision.demand.idle, decision.demand.servable, decision.demand.nodes_needed) == (
        8, 8, 2)
    driver = Driver(max_pilots=3)
    assert driver.cycle(T0, jobs(100)).submit == 3


def test_queued_pilots_count_and_are_not_submitted_again():
    driver = Driver(max_pilots=5)
    assert driver.cycle(T0, jobs(8)).submit == 2
    decision = driver.cycle(T0 + 30, jobs(8))
    assert decision.submit == 0 and decision.demand.nodes_coming == 2
    # More jobs come: only the difference is asked for.
    assert driver.cycle(T0 + 60, jobs(12)).submit == 1


def test_a_submitted_pilot_not_yet_listed_counts_as_coming():
    driver = Driver(max_pilots=5)
    driver.factory.submitted(T0, "77")
    decision = driver.cycle(T0 + 5, jobs(4))
    assert (decision.submit, decision.demand.nodes_coming, decision.live) == (0, 1, 1)


def test_jobs_per_pilot_follow_request_cpus_and_memory():
    driver = Driver(max_pilots=20)
    assert driver.cycle(T0, jobs(4, cpus=2)).submit == 2  # two 2-CPU jobs per 4-CPU node
    driver = Driver(max_pilots=20)
    assert driver.cycle(T0, jobs(4, memory=3000)).submit == 4  # memory binds: one per node
    driver = Driver(max_pilots=20)
    # Mixed: 2 four-CPU jobs (2 nodes) and 4 one-CPU jobs (1 node).
    assert driver.cycle(T0, jobs(2, 1, cpus=4) + jobs(4, 2)).submit == 3


def test_a_multi_node_pilot_brings_all_its_nodes():
    driver = Driver(max_pilots=10, nodes=2)
    decision = driver.cycle(T0, jobs(12))  # 3 nodes: 2 two-node pilots
    assert (decision.demand.nodes_needed, decision.submit) == (3, 2)
    decision = driver.cycle(T0 + 30, jobs(12))
    assert (decision.demand.nodes_coming, decision.submit, decision.cancel) == (4, 0, ())
    # One pilot's node advertises: the other node of that pilot is still coming.
    first, second = driver.submitted
    driver.slurm.set(first, "RUNNING")
    driver.slurm.advertise(first, cpus_left=0, claimed=True)
    decision = driver.cycle(T0 + 60, jobs(8))
    assert (decision.demand.nodes_needed, decision.demand.nodes_coming) == (2, 3)
    assert decision.cancel == ()  # one spare node is less than a pilot
    decision = driver.cycle(T0 + 90, jobs(4))
    assert [c.job_id for c in decision.cancel] == [second]


def test_jobs_already_running_held_or_done_are_not_counted():
    driver = Driver()
    others = [job(5, status=2), job(6, status=5), job(7, status=4), job(8, status=3)]
    decision = driver.cycle(T0, jobs(2) + others)
    assert (decision.demand.idle, decision.submit) == (2, 1)
    assert Driver().cycle(T0, others).submit == 0


def test_only_jobs_that_satisfy_the_constraint_count():
    driver = Driver(constraint='Owner == "bob"')
    decision = driver.cycle(T0, jobs(8) + [job(9, Owner="bob")])
    assert (decision.demand.idle, decision.submit) == (1, 1)


# -- jobs no pilot can run ---------------------------------------------------------------


def test_no_pilots_for_jobs_that_need_more_memory_than_a_pilot_has():
    driver = Driver()
    decision = driver.cycle(T0, jobs(5, memory=64_000))
    assert decision.submit == 0
    (group,) = decision.demand.unservable
    assert (group.count, group.example) == (5, "1.0")
    assert "TARGET.Memory >= RequestMemory" in group.reason  # the job's own clause says no


def test_no_pilots_for_jobs_longer_than_the_walltime_and_the_reason_says_so():
    driver = Driver()
    decision = driver.cycle(T0, jobs(3, MaxRuntime=7200) + jobs(4, 2, MaxRuntime=600))
    assert decision.submit == 1  # the 4 short ones
    (group,) = decision.demand.unservable
    assert group.count == 3
    assert "MaxRuntime (7200 s) is longer than a new pilot's lifetime (3540 s)" in group.reason


def test_a_job_whose_requirements_refuse_the_pilot_is_reported_by_its_clause():
    driver = Driver()
    picky = jobs(2, Requirements='TARGET.HasGPU == true && TARGET.Cpus >= RequestCpus')
    decision = driver.cycle(T0, picky)
    assert decision.submit == 0
    assert decision.demand.unservable[0].reason == (
        "the job's Requirements clause TARGET.HasGPU == true is not true for a pilot")


def test_a_job_that_asks_for_no_requirements_check_still_needs_the_resources():
    # Without the job's own clauses, the pilot's WithinResourceLimits refuses it.
    driver = Driver()
    decision = driver.cycle(T0, jobs(1, cpus=16, Requirements="true"))
    assert decision.submit == 0
    assert decision.demand.unservable[0].reason.startswith("a pilot's node is too small")


def test_jobs_that_require_a_glidein_match_the_template():
    driver = Driver()
    assert driver.cycle(T0, jobs(1, Requirements="TARGET.IS_GLIDEIN =?= true")).submit == 1


def test_jobs_are_grouped_by_what_decides_the_match():
    driver = Driver()
    mixed = [job(1, proc, Site="A" if proc % 2 else "B",
                 Requirements='MY.Site == "A" && TARGET.Cpus >= RequestCpus')
             for proc in range(6)]
    decision = driver.cycle(T0, mixed)
    assert decision.demand.servable == 3  # the jobs' own Site decides: only the odd procs
    assert decision.demand.unservable[0].count == 3


# -- capacity already running --------------------------------------------------------------


def test_free_room_on_running_pilots_is_used_before_asking_for_more():
    driver = Driver()
    assert driver.cycle(T0, jobs(4)).submit == 1
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "RUNNING")
    driver.slurm.advertise(pilot, cpus_left=4)
    decision = driver.cycle(T0 + 30, jobs(4))
    assert (decision.submit, decision.demand.on_free_slots, decision.demand.nodes_coming) == (
        0, 4, 0)
    # Two more jobs than the running pilot has room for: one more pilot.
    driver.slurm.advertise(pilot, cpus_left=2, claimed=True)
    decision = driver.cycle(T0 + 60, jobs(4))
    assert (decision.demand.on_free_slots, decision.submit) == (2, 1)


def test_a_running_pilot_that_has_not_advertised_yet_counts_in_full():
    driver = Driver()
    driver.cycle(T0, jobs(4))
    driver.slurm.set(driver.submitted[0], "RUNNING")
    decision = driver.cycle(T0 + 10, jobs(4))
    assert (decision.submit, decision.demand.nodes_coming) == (0, 1)


def test_a_retiring_pilot_offers_no_room():
    driver = Driver()
    driver.cycle(T0, jobs(1))
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "RUNNING")
    driver.slurm.advertise(pilot, ttl=200, now=T0 + 30)  # under the retire margin
    decision = driver.cycle(T0 + 30, jobs(1))
    assert (decision.demand.on_free_slots, decision.submit) == (0, 1)


def test_slots_of_pilots_that_are_not_live_are_not_capacity():
    driver = Driver()
    driver.slurm.advertise("999")  # a stale ad of a pilot the batch system no longer has
    assert driver.cycle(T0, jobs(1)).submit == 1


def test_min_pilots_are_kept_without_demand():
    driver = Driver(min_pilots=2, max_pilots=4)
    assert driver.cycle(T0, []).submit == 2
    first = driver.submitted[0]
    driver.slurm.set(first, "RUNNING")
    driver.slurm.advertise(first)
    assert driver.cycle(T0 + 30, []).submit == 0
    driver.slurm.end(first, "COMPLETED")  # it left after its idle timeout
    assert driver.cycle(T0 + 400, []).submit == 1
    assert driver.factory.strikes == 0


def test_max_pilots_counts_pilots_submitted_by_hand():
    driver = Driver(max_pilots=2)
    driver.slurm.pilots["5"] = BatchJob("5", "PENDING", 1, None, "Priority")
    assert driver.cycle(T0, jobs(40)).submit == 1


def test_max_pilots_counts_pilots_still_ending_after_a_cancel():
    driver = Driver(max_pilots=1, lost_after=60, backoff=10)
    driver.cycle(T0, jobs(4))
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "RUNNING")
    driver.cycle(T0 + 10, jobs(4))
    decision = driver.factory.cycle(T0 + 70, jobs=jobs(4), template=template(now=T0 + 70),
                                    pilots=driver.slurm.listing(), slots=[])
    assert [c.job_id for c in decision.cancel] == [pilot]
    # scancel takes a while with a running job: it still holds its allocation.
    decision = driver.cycle(T0 + 100, jobs(4))
    assert (decision.submit, decision.live) == (0, 0)
    driver.slurm.end(pilot, "CANCELLED")
    assert driver.cycle(T0 + 110, jobs(4)).submit == 1


# -- scaling down --------------------------------------------------------------------------


def test_queued_pilots_are_cancelled_youngest_first_when_demand_goes():
    driver = Driver(max_pilots=5)
    driver.cycle(T0, jobs(4))
    driver.cycle(T0 + 30, jobs(12))
    first, second, third = driver.submitted
    decision = driver.cycle(T0 + 60, jobs(4))  # 1 node needed, 3 coming
    assert [c.job_id for c in decision.cancel] == [third, second]
    assert decision.submit == 0
    decision = driver.cycle(T0 + 90, [])
    assert [c.job_id for c in decision.cancel] == [first]


def test_running_pilots_are_never_cancelled_for_lack_of_demand():
    driver = Driver()
    driver.cycle(T0, jobs(4))
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "RUNNING")
    driver.slurm.advertise(pilot)
    decision = driver.cycle(T0 + 30, [])
    assert decision.cancel == () and decision.submit == 0


def test_cancelling_keeps_min_pilots():
    driver = Driver(min_pilots=1, max_pilots=5)
    driver.cycle(T0, jobs(12))
    assert len(driver.submitted) == 3
    decision = driver.cycle(T0 + 30, [])
    assert len(decision.cancel) == 2 and decision.submit == 0


def test_a_pilot_cancelled_by_the_factory_is_no_failure():
    driver = Driver()
    driver.cycle(T0, jobs(4))
    driver.cycle(T0 + 30, [])
    driver.slurm.forget(driver.submitted[0])
    decision = driver.cycle(T0 + 60, jobs(4))
    assert driver.factory.strikes == 0 and decision.submit == 1


# -- failures and back-off -----------------------------------------------------------------


def fail(driver: Driver, job_id: str, state: str = "FAILED") -> None:
    driver.slurm.set(job_id, "RUNNING")
    driver.slurm.end(job_id, state)


def test_a_failed_pilot_backs_off_exponentially_and_then_probes_with_one_pilot():
    driver = Driver(max_pilots=5, backoff=60, backoff_max=200)
    driver.cycle(T0, jobs(8))
    a, b = driver.submitted
    fail(driver, a)
    decision = driver.cycle(T0 + 10, jobs(8))
    assert driver.factory.strikes == 1 and decision.backoff_until == T0 + 70
    assert decision.submit == 0  # b is still coming; a's room is not asked again yet
    assert any("ended FAILED" in line for line in decision.lines())
    fail(driver, b, "NODE_FAIL")
    decision = driver.cycle(T0 + 20, jobs(8))
    assert (driver.factory.strikes, decision.backoff_until, decision.submit) == (
        2, T0 + 140, 0)
    assert driver.cycle(T0 + 139, jobs(8)).submit == 0
    # The back-off is over: one probe, and no more while it is on its way.
    assert driver.cycle(T0 + 140, jobs(8)).submit == 1
    assert driver.cycle(T0 + 170, jobs(8)).submit == 0
    probe = driver.submitted[-1]
    fail(driver, probe)
    decision = driver.cycle(T0 + 180, jobs(8))
    assert decision.backoff_until == T0 + 180 + 200  # capped at backoff_max


def test_a_pilot_that_runs_jobs_ends_the_back_off():
    driver = Driver(max_pilots=5, backoff=60)
    driver.cycle(T0, jobs(8))
    a, b = driver.submitted
    fail(driver, a)
    driver.cycle(T0 + 10, jobs(8))
    assert driver.factory.strikes == 1
    driver.slurm.set(b, "RUNNING")
    driver.slurm.advertise(b, cpus_left=0, claimed=True)
    decision = driver.cycle(T0 + 20, jobs(4))
    assert driver.factory.strikes == 0 and decision.backoff_until is None
    assert decision.submit == 1


def test_a_pilot_that_ends_without_ever_advertising_is_a_failure():
    driver = Driver()
    driver.cycle(T0, jobs(1))
    driver.slurm.set(driver.submitted[0], "RUNNING")
    driver.cycle(T0 + 10, jobs(1))
    driver.slurm.end(driver.submitted[0], "COMPLETED")
    decision = driver.cycle(T0 + 20, jobs(1))
    assert driver.factory.strikes == 1 and decision.submit == 0
    assert any("without ever advertising" in line for line in decision.lines())


def test_a_pilot_that_vanishes_before_it_is_listed_is_a_failure():
    driver = Driver(listing_grace=60)
    driver.factory.submitted(T0, "42")
    driver.cycle(T0 + 30, [])
    assert driver.factory.strikes == 0
    driver.cycle(T0 + 61, [])
    assert driver.factory.strikes == 1 and "42" not in driver.factory.known()


def test_pilots_that_ended_before_the_factory_started_are_not_judged():
    driver = Driver()
    driver.slurm.pilots["3"] = BatchJob("3", "FAILED", 1, None, "NonZeroExitCode")
    driver.slurm.pilots["4"] = BatchJob("4", "CANCELLED by 1000", 1, None, "None")
    decision = driver.cycle(T0, jobs(1))
    assert driver.factory.strikes == 0 and decision.submit == 1 and decision.live == 0


def test_a_pilot_cancelled_by_someone_else_is_no_failure():
    driver = Driver()
    driver.cycle(T0, jobs(1))
    driver.slurm.set(driver.submitted[0], "CANCELLED")
    decision = driver.cycle(T0 + 10, jobs(1))
    assert driver.factory.strikes == 0 and decision.submit == 1


def test_a_pilot_that_ended_normally_after_advertising_is_no_failure():
    driver = Driver()
    driver.cycle(T0, jobs(1))
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "RUNNING")
    driver.slurm.advertise(pilot)
    driver.cycle(T0 + 10, [])
    driver.slurm.end(pilot, "COMPLETED")
    decision = driver.cycle(T0 + 20, [])
    assert driver.factory.strikes == 0 and decision.submit == 0
    assert f"pilot {pilot} ended (COMPLETED)" in decision.lines()


def test_a_refused_submission_backs_off():
    driver = Driver(backoff=30)
    driver.factory.submit_failed(T0, "sbatch: error: invalid partition")
    decision = driver.cycle(T0 + 1, jobs(4))
    assert decision.submit == 0 and decision.backoff_until == T0 + 30
    assert driver.cycle(T0 + 30, jobs(4)).submit == 1


def test_a_pilot_queued_for_a_hopeless_reason_is_cancelled_and_counts_as_failure():
    driver = Driver()
    driver.cycle(T0, jobs(1))
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "PENDING", "PartitionTimeLimit")
    decision = driver.cycle(T0 + 10, jobs(1))
    assert [c.job_id for c in decision.cancel] == [pilot]
    assert "PartitionTimeLimit" in decision.cancel[0].reason
    assert driver.factory.strikes == 1 and decision.submit == 0


def test_a_running_pilot_that_never_joins_the_pool_is_cancelled_as_lost():
    driver = Driver(lost_after=300)
    driver.cycle(T0, jobs(1))
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "RUNNING")
    assert driver.cycle(T0 + 10, jobs(1)).cancel == ()
    assert driver.cycle(T0 + 309, jobs(1)).cancel == ()
    decision = driver.cycle(T0 + 310, jobs(1))
    assert [c.job_id for c in decision.cancel] == [pilot] and driver.factory.strikes == 1


def test_a_pilot_that_stays_free_while_matching_jobs_wait_is_a_strike_once():
    driver = Driver(idle_grace=120)
    driver.cycle(T0, jobs(1))
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "RUNNING")
    driver.slurm.advertise(pilot)
    driver.cycle(T0 + 10, jobs(1))
    assert driver.cycle(T0 + 129, jobs(1)).submit == 0 and driver.factory.strikes == 0
    decision = driver.cycle(T0 + 130, jobs(1))
    assert driver.factory.strikes == 1
    assert any(f"pilot {pilot} has been free for 120 s" in line for line in decision.lines())
    driver.cycle(T0 + 300, jobs(1))
    assert driver.factory.strikes == 1  # once per idle spell


def test_a_free_pilot_without_waiting_jobs_is_no_strike():
    driver = Driver(idle_grace=120)
    driver.cycle(T0, jobs(1))
    (pilot,) = driver.submitted
    driver.slurm.set(pilot, "RUNNING")
    driver.slurm.advertise(pilot)
    driver.cycle(T0 + 10, [])
    driver.cycle(T0 + 1000, [])
    assert driver.factory.strikes == 0


# -- scaling down to nothing, as the end-to-end test sees it ----------------------------------


def test_a_burst_scales_up_to_max_and_back_to_zero():
    driver = Driver(max_pilots=2)
    assert driver.cycle(T0, jobs(20)).submit == 2
    a, b = driver.submitted
    for pilot in (a, b):
        driver.slurm.set(pilot, "RUNNING")
        driver.slurm.advertise(pilot, cpus_left=0, claimed=True)
    assert driver.cycle(T0 + 30, jobs(12)).submit == 0  # at max
    for pilot in (a, b):
        driver.slurm.advertise(pilot, cpus_left=4)
    assert driver.cycle(T0 + 60, []).submit == 0
    for pilot in (a, b):
        driver.slurm.end(pilot, "COMPLETED")  # their idle timeout
    decision = driver.cycle(T0 + 400, [])
    assert (decision.submit, decision.cancel, decision.live) == (0, (), 0)
    assert driver.factory.strikes == 0


def test_the_configuration_is_checked():
    with pytest.raises(ValueError, match="more than max_pilots"):
        FactoryConfig(max_pilots=1, min_pilots=2)
    with pytest.raises(ValueError, match="at least one node"):
        FactoryConfig(max_pilots=1, nodes=0)
    with pytest.raises(ValueError):
        FactoryConfig(max_pilots=1, constraint="Owner ==")
