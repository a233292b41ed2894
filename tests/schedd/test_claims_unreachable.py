"""Claims on real startds over gRPC (``schedd.claims`` with ``roost.client.Startd``, the
startds' own shells and services in this process): two startds stop answering, as a
paused process or a network that drops everything would; the claim on the third keeps
its lease and its job, and the two jobs cut off go back to Idle once their startds have
killed them, not before."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from classad import ClassAd
from roost.client import Startd as StartdClient
from roost.rpc import startd_pb2_grpc
from schedd.claims import ClaimRunner
from schedd.job_queue import Caller
from schedd.job_status import JobStatus
from startd import starter
from startd.machine_ad import MachineInfo, Measurements, local_platform_info
from startd.policy import always
from startd.service import StartdService
from startd.slots import Amounts, SlotTable, static_slots
from startd.startd import Startd
from startd.states import Activity, State

LEASE = 4  # seconds: keep-alives every 1.3 s, each call with a 2 s deadline
WAIT = 30.0
ME = pwd.getpwuid(os.geteuid()).pw_name
GIB_KB = 2**20

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True, scope="module")
def subreaper():
    starter.become_subreaper()
    yield
    starter.stop_being_subreaper()


class Gate:
    """Whether a startd answers.  Closed, every call to it (and every event of a stream
    already open) waits, unanswered, until its caller gives up: what a schedd sees of a
    startd whose process is paused or whose network drops everything."""

    def __init__(self) -> None:
        self.open = True

    def wait(self, context) -> None:
        while not self.open:
            if not context.is_active():
                raise ConnectionAbortedError("the caller gave up")  # ends it, unanswered
            time.sleep(0.05)


class Gated(startd_pb2_grpc.StartdServicer):
    """A startd's service behind a ``Gate``."""

    def __init__(self, service: StartdService, gate: Gate) -> None:
        self.service = service
        self.gate = gate

    def _unary(name):
        def call(self, request, context):
            self.gate.wait(context)
            return getattr(self.service, name)(request, context)
        return call

    def _stream(name):
        def call(self, request, context):
            self.gate.wait(context)
            for reply in getattr(self.service, name)(request, context):
                self.gate.wait(context)
                yield reply
        return call

    RequestClaim = _unary("RequestClaim")
    ReleaseClaim = _unary("ReleaseClaim")
    ControlJob = _unary("ControlJob")
    Drain = _unary("Drain")
    ActivateClaim = _stream("ActivateClaim")
    RunJobs = _stream("RunJobs")
    KeepAlive = _stream("KeepAlive")


class Machine:
    """One startd of one static slot, served on loopback, its leases checked every 0.1 s."""

    def __init__(self, name: str, execute_dir: Path) -> None:
        machine = MachineInfo(fqdn=name, address="127.0.0.1:1", platform=local_platform_info(),
                              total_cpus=1, total_memory_mb=1024, total_disk_kb=GIB_KB,
                              detected_cpus=1, detected_memory_mb=1024)
        table = SlotTable(name, Amounts(1, 1024, GIB_KB), static_slots(1))
        directory = execute_dir / name
        directory.mkdir()
        self.startd = Startd(machine, table, always(), execute_dir=directory,
                             measure=lambda now: Measurements())
        self.gate = Gate()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
        startd_pb2_grpc.add_StartdServicer_to_server(
            Gated(StartdService(self.startd), self.gate), self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()
        self._over = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._over.wait(0.1):
            self.startd.tick()

    def slot_ad(self) -> tuple[ClassAd, str]:
        """The slot's ad as the negotiator hands it to the schedd, and its claim id."""
        (slot,) = self.startd.slots()
        ad = slot.public_ad()
        ad["MyAddress"] = self.address
        return ad, slot.claim_id

    def state(self) -> tuple[State, Activity]:
        (slot,) = self.startd.slots()
        return slot.state, slot.activity

    def close(self) -> None:
        self._over.set()
        self.gate.open = True
        self.server.stop(None)
        self.startd.shutdown(grace=1)
        self.startd.close()


@pytest.fixture
def machines():
    directory = Path(tempfile.mkdtemp(prefix="roost-execute-"))
    directory.chmod(0o755)
    made = {name: Machine(name, directory) for name in ("a.test", "b.test", "c.test")}
    yield made
    for machine in made.values():
        machine.close()
    shutil.rmtree(directory, ignore_errors=True)


def until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {WAIT:g} s"
        time.sleep(0.05)


def test_two_startds_that_stop_answering_cost_no_other_claim_its_lease(pool, machines,
                                                                       tmp_path):
    release = tmp_path / "release"
    cluster, _ = pool.jobs.submit(Caller(ME, admin=False), ClassAd({
        "Cmd": "/bin/sh", "Arguments": f"-c 'while [ ! -e {release} ]; do sleep 0.1; done'",
        "Requirements": True, "RequestCpus": 1, "RequestMemory": 128,
        "RequestDisk": 1024}), [], 3)
    idle_at: dict[str, float] = {}  # job id -> when the queue put it back to Idle

    def changed(changes) -> None:
        for change in changes:
            if change.status == JobStatus.IDLE and change.job_id not in idle_at:
                idle_at[change.job_id] = time.monotonic()

    pool.jobs.listen(changed)
    runner = ClaimRunner(pool.jobs, lambda address: StartdClient(address, "a token",
                                                                 config=pool.config),
                         lease=LEASE)
    try:
        for machine in machines.values():
            runner.matched(ME, *machine.slot_ad())
        until(lambda: all(machine.state() == (State.CLAIMED, Activity.BUSY)
                          for machine in machines.values()), "three jobs running")
        until(lambda: {ad.eval("JobStatus") for ad in pool.jobs.query()} == {2},
              "three jobs Running in the queue")
        on = {ad.eval("RemoteHost"): f"{ad.eval('ClusterId')}.{ad.eval('ProcId')}"
              for ad in pool.jobs.query()}
        a_job = on["slot1@a.test"]
        cut_jobs = {on["slot1@b.test"]: machines["b.test"],
                    on["slot1@c.test"]: machines["c.test"]}
        killed_at: dict[str, float] = {}
        machines["b.test"].gate.open = machines["c.test"].gate.open = False
        cut = time.monotonic()

        def cut_jobs_requeued() -> bool:
            for job_id, machine in cut_jobs.items():
                if job_id not in killed_at and machine.startd.running_jobs == 0:
                    killed_at[job_id] = time.monotonic()
            return set(idle_at) >= set(cut_jobs)

        until(cut_jobs_requeued, "requeue of the two jobs cut off")
        # Two leases later, a's claim is still renewed and its job still runs there.
        time.sleep(2 * LEASE)
        assert machines["a.test"].state() == (State.CLAIMED, Activity.BUSY)
        assert a_job not in idle_at
        release.touch()
        # a's claim, reused, then runs the two jobs cut off: elsewhere.
        until(lambda: len(list(pool.jobs.history())) == 3, "every job done")
    finally:
        runner.stop()
    for job_id in cut_jobs:
        # Each startd cut off killed its job when its lease ran out; the schedd put the
        # job back only after that, and not much later than the lease and its grace.
        assert killed_at[job_id] <= idle_at[job_id], (killed_at, idle_at)
        assert idle_at[job_id] - cut <= LEASE * 2 + 6, idle_at[job_id] - cut
    done = {f"{ad.eval('ClusterId')}.{ad.eval('ProcId')}": ad for ad in pool.jobs.history()}
    assert (done[a_job].eval("ExitCode"), done[a_job].eval("NumJobStarts")) == (0, 1)
    assert "NumMachineLosses" not in done[a_job]
    for job_id in cut_jobs:
        ad = done[job_id]
        assert (ad.eval("ExitCode"), ad.eval("NumJobStarts"), ad.eval("NumMachineLosses"),
                ad.eval("NumJobCompletions")) == (0, 2, 1, 1)  # the loss used no retry
        assert ad.eval("LastRemoteHost") == "slot1@a.test"
        attempts = [(attempt.eval("Host"), attempt.eval("Failure"), attempt.eval("Outcome"))
                    for attempt in ad.eval("Attempts")]
        assert attempts[0][1:] == ("machine-lost", "requeued")
        assert attempts[1] == ("slot1@a.test", "exit", "completed")
