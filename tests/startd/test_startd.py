"""startd.startd: the shell around the slots, with real jobs: claims, dynamic slots, claim
reuse, leases, memory, reconnection, drain, shutdown and a glide-in's lifetime."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import classad
from startd import starter
from startd.lifetime import Lifetime, Verdict
from startd.machine_ad import MachineInfo, Measurements, local_platform_info
from startd.policy import Policy, always, policy_by_name
from startd.slots import Amounts, SlotTable, partitionable_slot, static_slots
from startd.startd import BATCH_SIGNAL_WINDOW, Startd
from startd.states import Activity, State

HOST = "node.test"
ME = pwd.getpwuid(os.geteuid()).pw_name
GIB_KB = 2**20


@pytest.fixture(autouse=True, scope="module")
def subreaper():
    starter.become_subreaper()
    yield
    starter.stop_being_subreaper()


class Clock:
    """The startd's clock, moved by hand (jobs' own times stay real)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make():
    made: list[Startd] = []
    directory = Path(tempfile.mkdtemp(prefix="roost-execute-"))
    directory.chmod(0o755)

    def make_startd(types=None, policy: Policy | None = None, **options) -> Startd:
        cpus = options.pop("cpus", 4)
        machine = MachineInfo(fqdn=HOST, address="127.0.0.1:1", platform=local_platform_info(),
                              total_cpus=cpus, total_memory_mb=4096, total_disk_kb=10 * GIB_KB,
                              detected_cpus=cpus, detected_memory_mb=4096,
                              to_die=options.pop("to_die", None))
        table = SlotTable(HOST, Amounts(cpus, 4096, 10 * GIB_KB),
                          static_slots(2) if types is None else types)
        options.setdefault("measure", lambda now: Measurements(keyboard_idle=10**6,
                                                               console_idle=10**6))
        startd = Startd(machine, table, policy or always(), execute_dir=directory, **options)
        made.append(startd)
        return startd

    yield make_startd
    for startd in made:
        startd.shutdown(grace=1)
        startd.close()
    shutil.rmtree(directory, ignore_errors=True)


def job(script: str = "exit 0", **attributes) -> classad.ClassAd:
    ad = classad.ClassAd({"Cmd": "/bin/sh", "Arguments": f"-c '{script}'", "Owner": ME,
                          "ClusterId": 1, "ProcId": 0, "RequestCpus": 1,
                          "RequestMemory": 128, "RequestDisk": 1024})
    for name, value in attributes.items():
        ad[name] = value
    return ad


def stubborn_script(trapped: Path) -> str:
    """A job that ignores SIGTERM (and makes ``trapped`` once it does) and runs on."""
    return f"trap \"\" TERM; : > {trapped}; sleep 300 & wait; sleep 300"


def slot_named(startd: Startd, name: str):
    return next(slot for slot in startd.slots() if slot.name == name)


def events_of(events, timeout: float = 10.0) -> list:
    """Every event of a run, once it has ended."""
    deadline = time.monotonic() + timeout
    seen: list = []
    while time.monotonic() < deadline:
        new, ended = events.after(len(seen), 0.5)
        seen += new
        if ended and not events.after(len(seen), 0)[0]:
            return seen
    raise AssertionError(f"the run did not end: {seen}")


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_claim_run_reuse_and_release_a_static_slot(make):
    startd = make()
    slot = slot_named(startd, f"slot1@{HOST}")
    assert (slot.state, slot.activity) == (State.UNCLAIMED, Activity.IDLE)
    claim_id = slot.claim_id
    reply = startd.request_claim(claim_id, job(), lease=60)
    assert reply.accepted and reply.claim_id == claim_id
    assert reply.slot_ad.eval("Name") == slot.name and reply.slot_ad.eval("State") == "Claimed"

    first = events_of(startd.activate(claim_id, job("exit 3")))
    assert [event.kind for event in first] == ["started", "exited"]
    ended = first[-1].attrs
    assert (ended["ExitCode"], ended["ExitBySignal"], ended["Failure"]) == (3, False, "exit")
    assert {"RemoteUserCpu", "RemoteSysCpu", "RemoteWallClockTime", "MemoryUsage"} <= set(ended)
    wait_until(lambda: slot.activity is Activity.IDLE)
    assert slot.state is State.CLAIMED  # the claim is kept for the schedd's next job

    second = events_of(startd.activate(claim_id, job("kill -9 $$", ProcId=1)))
    assert (second[-1].attrs["ExitSignal"], second[-1].attrs["Failure"]) == (9, "signal")
    wait_until(lambda: slot.activity is Activity.IDLE)

    assert startd.release(claim_id)
    assert slot.state is State.UNCLAIMED and slot.claim_id != claim_id
    assert not startd.release(claim_id)
    assert startd.activate(claim_id, job()) == "no claimed slot has this claim id"


def test_a_run_given_a_credential_gets_it_and_the_pools_ca_in_its_environment(make, tmp_path):
    startd = make(tls_ca="/etc/roost/ca.pem")
    slot = slot_named(startd, f"slot1@{HOST}")
    claim_id = slot.claim_id
    assert startd.request_claim(claim_id, job(), lease=60).accepted
    for n, granted in enumerate(({"ROOST_JOB_TOKEN": "secret"}, None)):
        events_of(startd.activate(claim_id, job(f"env > {tmp_path}/env{n}", ProcId=n),
                                  environment=granted))
        wait_until(lambda: slot.activity is Activity.IDLE)
    first, second = (dict(line.split("=", 1) for line in
                          (tmp_path / f"env{n}").read_text().splitlines()) for n in (0, 1))
    assert (first["ROOST_JOB_TOKEN"], first["ROOST_TLS_CA"]) == ("secret", "/etc/roost/ca.pem")
    # The next run of the claim was given nothing, and has nothing to reach a schedd with.
    assert "ROOST_JOB_TOKEN" not in second and "ROOST_TLS_CA" not in second


def test_a_wrong_claim_id_or_a_refusing_start_is_refused(make):
    startd = make(policy=Policy(start='TARGET.Owner != "mallory"'))
    slot = slot_named(startd, f"slot1@{HOST}")
    assert not startd.request_claim("guess", job()).accepted
    reply = startd.request_claim(slot.claim_id, job(Owner="mallory"))
    assert not reply.accepted and "Start is FALSE" in reply.reason
    assert not startd.request_claim(slot.claim_id, job(RequestMemory=10**6)).accepted
    assert startd.request_claim(slot.claim_id, job()).accepted


def test_a_partitionable_slot_carves_dynamic_slots(make):
    startd = make(types=partitionable_slot())
    pslot = slot_named(startd, f"slot1@{HOST}")
    startd.take_updates(0)
    first = startd.request_claim(pslot.claim_id, job(RequestCpus=3, RequestMemory=1000))
    assert first.accepted and first.slot_ad.eval("Name") == f"slot1_1@{HOST}"
    assert (first.slot_ad.eval("Cpus"), first.slot_ad.eval("Memory")) == (3, 1024)
    assert first.claim_id != pslot.claim_id
    assert pslot.public_ad().eval("Cpus") == 1
    second = startd.request_claim(pslot.claim_id, job(RequestCpus=2))
    assert not second.accepted and "WithinResourceLimits" in second.reason
    changed, gone = startd.take_updates(0)
    assert {ad.eval("Name") for ad, _ in changed} == {f"slot1@{HOST}", f"slot1_1@{HOST}"}
    assert gone == []

    run = events_of(startd.activate(first.claim_id, job("echo hi")))
    assert run[-1].attrs["ExitCode"] == 0
    assert startd.release(first.claim_id)
    assert [slot.name for slot in startd.slots()] == [f"slot1@{HOST}"]
    assert pslot.public_ad().eval("Cpus") == 4
    changed, gone = startd.take_updates(0)
    assert gone == [f"slot1_1@{HOST}"]
    startd.table.validate()


def test_an_expired_lease_kills_the_job_and_frees_the_slot(make):
    clock = Clock()
    startd = make(clock=clock)
    slot = slot_named(startd, f"slot1@{HOST}")
    claim_id = slot.claim_id
    assert startd.request_claim(claim_id, job(), lease=30).accepted
    events = startd.activate(claim_id, job("sleep 300"))
    clock.now += 20
    assert startd.keep_alive(claim_id) == "Claimed/Busy"
    clock.now += 20
    startd.tick()
    assert slot.state is State.CLAIMED  # heard from 20 s ago
    clock.now += 31
    startd.tick()
    run = events_of(events)
    assert (run[-1].kind, run[-1].attrs["Failure"]) == ("evicted", "machine-lost")
    wait_until(lambda: slot.state is State.UNCLAIMED)
    assert startd.keep_alive(claim_id) == ""


def test_a_job_over_its_memory_is_stopped_for_the_schedd_to_hold(make):
    startd = make()
    slot = slot_named(startd, f"slot1@{HOST}")
    assert startd.request_claim(slot.claim_id, job()).accepted
    hog = classad.ClassAd({"Cmd": sys.executable, "Owner": ME, "ClusterId": 1, "ProcId": 0,
                           "Arguments": "-c 'import time; b = bytearray(200 << 20); "
                                        "b[::4096] = b\"x\" * len(b[::4096]); time.sleep(60)'",
                           "RequestCpus": 1, "RequestMemory": 64, "RequestDisk": 1024})
    events = startd.activate(slot.claim_id, hog)

    def stopped():
        startd.tick()
        return events.ended

    wait_until(stopped, timeout=20)
    ended = events_of(events)[-1]
    assert (ended.kind, ended.attrs["Failure"], ended.attrs["HoldReasonCode"]) == (
        "exited", "memory", 34)
    assert "memory limit of 64 megabytes" in ended.attrs["HoldReason"]


def test_a_job_that_cannot_start_is_reported(make):
    startd = make()
    slot = slot_named(startd, f"slot1@{HOST}")
    assert startd.request_claim(slot.claim_id, job()).accepted
    run = events_of(startd.activate(slot.claim_id, job(Cmd="/no/such/program")))
    ended = run[-1].attrs
    assert (ended["Failure"], ended["HoldReasonCode"]) == ("start-failed", 6)


def test_a_restarted_schedd_reconnects_and_reads_the_run_again(make):
    startd = make()
    slot = slot_named(startd, f"slot1@{HOST}")
    assert startd.request_claim(slot.claim_id, job()).accepted
    assert startd.activate(slot.claim_id, None, reconnect=True) == "the claim has run no job"
    events_of(startd.activate(slot.claim_id, job("exit 7")))
    again = events_of(startd.activate(slot.claim_id, None, reconnect=True))
    assert [event.kind for event in again] == ["started", "exited"]
    assert again[-1].attrs["ExitCode"] == 7


def test_a_graceful_drain_lets_jobs_finish_and_takes_no_claims(make):
    startd = make()
    slot1, slot2 = (slot_named(startd, f"slot{n}@{HOST}") for n in (1, 2))
    assert startd.request_claim(slot1.claim_id, job()).accepted
    events = startd.activate(slot1.claim_id, job("sleep 0.5"))
    assert startd.drain(graceful=True) == 1
    assert (slot1.state, slot1.activity) == (State.DRAINED, Activity.RETIRING)
    assert not startd.request_claim(slot2.claim_id, job()).accepted
    assert events_of(events)[-1].attrs["ExitCode"] == 0
    wait_until(lambda: (slot1.state, slot1.activity) == (State.DRAINED, Activity.IDLE))


def test_shutdown_vacates_jobs_and_kills_what_stays(make, tmp_path):
    startd = make()
    slot1, slot2 = (slot_named(startd, f"slot{n}@{HOST}") for n in (1, 2))
    for slot in (slot1, slot2):
        assert startd.request_claim(slot.claim_id, job()).accepted
    polite = startd.activate(slot1.claim_id, job("sleep 300"))
    stubborn = startd.activate(slot2.claim_id, job(stubborn_script(tmp_path / "trapped")))
    wait_until((tmp_path / "trapped").exists)
    began = time.monotonic()
    startd.shutdown(grace=1)
    assert time.monotonic() - began < 8
    first, second = events_of(polite)[-1], events_of(stubborn)[-1]
    assert (first.kind, first.attrs["Failure"], first.attrs["ExitSignal"]) == (
        "evicted", "evicted", 15)
    assert (second.kind, second.attrs["ExitSignal"]) == ("evicted", 9)
    assert startd.running_jobs == 0


def test_a_glidein_leaves_when_idle_and_its_jobs_are_walltime_evictions(make):
    clock = Clock()
    ended: list[Verdict] = []
    startd = make(clock=clock, policy=policy_by_name("glidein"),
                  lifetime=Lifetime.of(clock.now, idle_timeout=60, lifetime=3600),
                  on_end=ended.append, to_die=int(clock.now) + 3540)
    slot = slot_named(startd, f"slot1@{HOST}")
    assert slot.public_ad().eval("GLIDEIN_ToDie") == int(clock.now) + 3540
    assert not startd.request_claim(slot.claim_id, job(MaxRuntime=7200)).accepted
    assert startd.request_claim(slot.claim_id, job(MaxRuntime=600)).accepted
    clock.now += 120
    startd.tick()
    assert ended == []  # claimed: not idle
    events = startd.activate(slot.claim_id, job("sleep 300"))
    threading.Thread(target=startd.shutdown, args=(2,)).start()
    run = events_of(events)
    assert (run[-1].kind, run[-1].attrs["Failure"]) == ("evicted", "walltime")

    idle = make(clock=clock, lifetime=Lifetime.of(clock.now, idle_timeout=60),
                on_end=ended.append)
    clock.now += 59
    idle.tick()
    assert ended == []
    clock.now += 1
    idle.tick()
    assert ended == [Verdict.IDLE_TIMEOUT]


@pytest.mark.parametrize("stopped", [False, True], ids=["signal", "batch-stop"])
def test_twenty_glidein_jobs_killed_at_once_are_all_reported_within_a_few_seconds(
        make, tmp_path, stopped):
    # Each death by SIGKILL waits BATCH_SIGNAL_WINDOW for the startd's stop, all at once:
    # one after the other, 20 would take 40 s.
    startd = make(static_slots(20), cpus=20, lifetime=Lifetime.of(time.time(), lifetime=3600))
    runs = []
    for n, slot in enumerate(startd.slots()):
        assert startd.request_claim(slot.claim_id, job(ProcId=n), lease=600).accepted
        runs.append(startd.activate(slot.claim_id, job(
            f"echo $$ > {tmp_path}/{n}.pid; exec sleep 300", ProcId=n)))
    pid_files = [tmp_path / f"{n}.pid" for n in range(20)]
    wait_until(lambda: all(path.exists() and path.read_text().strip().isdigit()
                           for path in pid_files))
    began = time.monotonic()
    for path in pid_files:
        os.kill(int(path.read_text()), signal.SIGKILL)
    if stopped:  # the batch system signals the startd too
        threading.Thread(target=startd.shutdown, args=(2,)).start()
    ends = [events_of(run, timeout=30)[-1] for run in runs]
    elapsed = time.monotonic() - began
    expected = ("evicted", "walltime") if stopped else ("exited", "signal")
    assert [(end.kind, end.attrs["Failure"], end.attrs["ExitSignal"]) for end in ends] == [
        (*expected, 9)] * 20
    assert elapsed < BATCH_SIGNAL_WINDOW + 4, elapsed
    assert startd.running_jobs == 0


RANKS_BETTER = Policy(rank="ifThenElse(TARGET.Better =?= true, 10, 0)")


def test_a_better_ranked_claim_preempts_the_running_job_and_takes_the_slot(make):
    startd = make(policy=RANKS_BETTER)
    slot = slot_named(startd, f"slot1@{HOST}")
    claim_id = slot.claim_id
    assert startd.request_claim(claim_id, job(), lease=60).accepted
    events = startd.activate(claim_id, job("sleep 300"))
    wait_until(lambda: slot.activity is Activity.BUSY)
    offered = slot.private_ad().eval("ClaimId")
    assert offered != claim_id
    reply = startd.request_claim(offered, job(ClusterId=3, Better=True), lease=60)
    assert reply.accepted and reply.claim_id == offered
    assert reply.slot_ad.eval("CurrentRank") == 10
    run = events_of(events)
    assert (run[-1].kind, run[-1].attrs["Failure"]) == ("evicted", "evicted")
    assert startd.keep_alive(claim_id) == ""  # the preempted claim is gone
    assert startd.keep_alive(offered) == "Claimed/Idle"
    again = events_of(startd.activate(offered, job("exit 0", ClusterId=3, Better=True)))
    assert again[-1].attrs["ExitCode"] == 0


def test_a_lower_ranked_preempting_claim_is_refused_at_once(make):
    startd = make(policy=RANKS_BETTER)
    slot = slot_named(startd, f"slot1@{HOST}")
    assert startd.request_claim(slot.claim_id, job(Better=True)).accepted
    startd.activate(slot.claim_id, job("sleep 300", Better=True))
    reply = startd.request_claim(slot.private_ad().eval("ClaimId"), job(ClusterId=2))
    assert not reply.accepted and "below the current claim's (10)" in reply.reason
    assert slot.activity is Activity.BUSY


def test_a_preempting_claim_that_waits_too_long_is_withdrawn(make, tmp_path):
    clock = Clock()
    startd = make(policy=RANKS_BETTER, clock=clock, preempt_wait=0.5)
    slot = slot_named(startd, f"slot1@{HOST}")
    assert startd.request_claim(slot.claim_id, job()).accepted
    events = startd.activate(slot.claim_id, job(stubborn_script(tmp_path / "trapped")))
    wait_until((tmp_path / "trapped").exists)
    reply = startd.request_claim(slot.private_ad().eval("ClaimId"), job(Better=True))
    assert not reply.accepted and "did not leave within 0.5 s" in reply.reason
    assert slot.waiting_claim_id is None
    clock.now += 601  # MachineMaxVacateTime: the job is killed, and the slot is free
    startd.tick()
    assert events_of(events)[-1].attrs["ExitSignal"] == 9
    wait_until(lambda: slot.state is State.UNCLAIMED)
