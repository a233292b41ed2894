"""A running job suspended, continued or vacated in the queue is so on its machine: the
claims (schedd.claims) ask the startd, and a vacated job goes back to Idle only when the
startd reports its run evicted.  The startd here is a fake that records what it is asked
and ends runs when the test says."""

from __future__ import annotations

import queue
import time

import pytest

from classad import ClassAd
from roost.client import ClaimResult, StartdJobEvent
from schedd.claims import ClaimRunner
from schedd.job_queue import Caller
from schedd.job_status import JobStatus
from schedd.lifecycle import Action, JobStarted

ALICE = Caller("alice", admin=False)
SLOT = ClassAd({"Name": "slot1@fake", "MyAddress": "fake:1", "Requirements": True})


class FakeStartd:
    """A startd as the claims use it (``roost.client.Startd``): it accepts the claim,
    starts each job at once and ends its run with the event the test puts in ``ends``."""

    def __init__(self) -> None:
        self.runner: ClaimRunner | None = None
        self.controls: queue.Queue[str] = queue.Queue()
        self.ends: queue.Queue[StartdJobEvent] = queue.Queue()
        self.activations: list[str] = []
        self.released: queue.Queue[str] = queue.Queue()

    def request_claim(self, claim_id, job_ad, *, lease=0, schedd_address=""):
        return ClaimResult(True, "", SLOT.copy(), claim_id)

    def activate(self, claim_id, job_ad=None, *, reconnect=False, environment=None):
        self.activations.append("reconnect" if reconnect else job_ad.eval("ProcId"))
        yield StartdJobEvent("started", int(time.time()), ClassAd({"JobId": "1.0"}))
        yield self.ends.get(timeout=30)

    def control_job(self, claim_id, control):
        self.controls.put(control)
        return ""

    def release(self, claim_id, reason=""):
        self.released.put(reason)
        return True

    def keep_alive(self, claim_id):
        return "Claimed/Busy"

    def close(self):
        pass


@pytest.fixture
def startd(pool):
    fake = FakeStartd()
    fake.runner = ClaimRunner(pool.jobs, lambda address: fake, lease=60)
    yield fake
    fake.runner.stop()
    on_machine = "JobStatus == 2 || JobStatus == 7"
    if list(pool.jobs.query(on_machine)):  # the run ends before the queue closes
        fake.ends.put(exited())
        until(lambda: not list(pool.jobs.query(on_machine)))


def until(test, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := test()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return value


def job(pool) -> ClassAd:
    (ad,) = pool.jobs.query("ClusterId == 1 && ProcId == 0")
    return ad


def wait_for(pool, test) -> ClassAd:
    """The job's ad once ``test`` holds of it."""
    return until(lambda: ad if test(ad := job(pool)) else None)


def running(pool, startd) -> None:
    pool.jobs.submit(ALICE, ClassAd({"Cmd": "/bin/true", "Requirements": True}), [], 1)
    startd.runner.matched("alice", SLOT, "claim-1")
    wait_for(pool, lambda ad: ad.eval("JobStatus") == JobStatus.RUNNING)


def exited() -> StartdJobEvent:
    return StartdJobEvent("exited", int(time.time()), ClassAd(
        {"Failure": "exit", "ExitCode": 0, "ExitBySignal": False}))


def evicted() -> StartdJobEvent:
    return StartdJobEvent("evicted", int(time.time()), ClassAd(
        {"Failure": "evicted", "ExitSignal": 15, "ExitBySignal": True,
         "RemoteWallClockTime": 2.0}))


def test_a_vacated_job_stays_running_until_its_run_is_evicted_then_is_idle(pool, startd):
    running(pool, startd)
    pool.jobs.act(ALICE, Action.VACATE, ["1.0"], "", "off that machine")
    assert startd.controls.get(timeout=10) == "vacate"
    asked = job(pool)
    assert asked.eval("JobStatus") == JobStatus.RUNNING  # its processes may still live
    assert asked.eval("VacateReason") == "off that machine"
    startd.ends.put(evicted())
    idle = wait_for(pool, lambda ad: ad.eval("JobStatus") == JobStatus.IDLE)
    assert (idle.eval("NumJobStarts"), idle.eval("NumJobEvictions")) == (1, 1)
    assert "NumJobCompletions" not in idle and "VacateRequested" not in idle
    (attempt,) = idle.eval("Attempts")
    assert (attempt.eval("Failure"), attempt.eval("Reason")) == ("evicted", "off that machine")
    # The claim ended with the run: given back, not reused for the job.
    assert startd.released.get(timeout=10) == "the run was evicted"
    until(lambda: not pool.jobs.claims())
    assert startd.activations == [0]


def test_suspend_and_continue_reach_the_machine_in_the_queues_order(pool, startd):
    running(pool, startd)
    pool.jobs.act(ALICE, Action.SUSPEND, ["1.0"], "", "")
    assert startd.controls.get(timeout=10) == "suspend"
    assert job(pool).eval("JobStatus") == JobStatus.SUSPENDED
    pool.jobs.act(ALICE, Action.CONTINUE, ["1.0"], "", "")
    assert startd.controls.get(timeout=10) == "continue"
    assert job(pool).eval("JobStatus") == JobStatus.RUNNING
    # Back to back: whatever order the changes are told in, the last call is the last state.
    pool.jobs.act(ALICE, Action.SUSPEND, ["1.0"], "", "")
    pool.jobs.act(ALICE, Action.CONTINUE, ["1.0"], "", "")
    calls = [startd.controls.get(timeout=10) for _ in range(2)]
    assert calls[-1] == "continue", calls
    assert startd.controls.empty()


def test_a_suspended_job_that_is_vacated_is_evicted_and_idle(pool, startd):
    running(pool, startd)
    pool.jobs.act(ALICE, Action.SUSPEND, ["1.0"], "", "")
    assert startd.controls.get(timeout=10) == "suspend"
    pool.jobs.act(ALICE, Action.VACATE, ["1.0"], "", "")
    assert startd.controls.get(timeout=10) == "vacate"
    startd.ends.put(evicted())
    idle = wait_for(pool, lambda ad: ad.eval("JobStatus") == JobStatus.IDLE)
    assert isinstance(idle.eval("CumulativeSuspensionTime"), int)
    assert idle.eval("NumJobEvictions") == 1


def test_a_restarted_schedd_follows_a_suspended_job_and_keeps_it_suspended(pool, startd):
    pool.jobs.submit(ALICE, ClassAd({"Cmd": "/bin/true", "Requirements": True}), [], 1)
    pool.jobs.idle_job_for("alice", lambda ad: True, "claim-1", {
        "startd_address": "fake:1", "slot_name": "slot1@fake", "owner": "alice",
        "slot_ad": SLOT.print_old(), "lease": 60})  # the claim takes job 1.0
    pool.jobs.job_started("1.0", JobStarted("slot1@fake", pool.jobs.now()))
    pool.jobs.act(ALICE, Action.SUSPEND, ["1.0"], "", "")  # then the schedd stopped
    startd.runner.recover()
    assert startd.controls.get(timeout=10) == "suspend"  # asked again, to be sure
    assert until(lambda: startd.activations) == ["reconnect"]
    assert job(pool).eval("JobStatus") == JobStatus.SUSPENDED
    startd.ends.put(exited())
    (done,) = until(lambda: list(pool.jobs.history("ClusterId == 1")))
    assert done.eval("JobStatus") == JobStatus.COMPLETED
