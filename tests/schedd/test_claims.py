"""Claims run the queue's jobs (``schedd.claims``) on startds simulated in memory, with no
pool around them: a job never runs on two claims, whatever order the claims' threads
pick in and wherever a schedd restart finds them."""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable

import pytest

from classad import ClassAd
from roost.client import ClaimResult, StartdJobEvent
from roost.errors import RoostError
from schedd.claims import NEVER_RAN, ClaimRunner
from schedd.job_queue import Caller, JobQueue
from schedd.job_status import JobStatus
from schedd.lifecycle import JobStarted

ALICE = Caller("alice", admin=False)
WAIT = 60.0  # seconds a wait of these tests gives up after


class Killed(Exception):
    """Ends the parked threads of a schedd the test killed, once the test is over."""


def slot_ad(name: str, address: str = "127.0.0.1:1") -> ClassAd:
    return ClassAd({"Name": name, "MyAddress": address, "Requirements": True})


def event(kind: str, job_id: str) -> StartdJobEvent:
    attrs = ClassAd({"JobId": job_id})
    if kind == "exited":
        attrs.update({"Failure": "exit", "ExitCode": 0})
    return StartdJobEvent(kind, 1_700_000_000, attrs)


class Startds:
    """The pool's startds: static slots whose claims run a job at once (its start and its
    exit are the run's events, which a reconnection replays).  They outlive the schedds
    the test kills: a killed schedd's calls do not return (its threads park), as if the
    process were gone, until the test is over.  ``hooks[(call, claim_id)]`` runs at the
    start of a call (``request``, ``run``, ``reconnect``, ``release``)."""

    def __init__(self, slots: int = 0) -> None:
        self.changed = threading.Condition()
        self.generation = 0  # the live schedd's: calls of earlier ones park
        self.over = False
        self.parked: set[threading.Thread] = set()
        self._ids = itertools.count(1)
        # Slot name -> the claim id it offers the negotiator (None while claimed).
        self.offers: dict[str, str | None] = {
            f"slot{n}@fake": self._new_id() for n in range(1, slots + 1)}
        self.claims: dict[str, dict] = {}  # claim id -> {"slot": name, "events": [...]}
        self.starts: list[tuple[str, str]] = []  # (job id, claim id) of every run
        self.environments: dict[str, dict] = {}  # job id -> what its last run was given
        self.hooks: dict[tuple[str, str], Callable[[], None]] = {}
        self.on_free: Callable[[], None] = lambda: None

    def _new_id(self) -> str:
        return f"claim{next(self._ids)}"

    def client(self) -> Callable[[str], _Client]:
        """The client factory of the live schedd."""
        generation = self.generation
        return lambda address: _Client(self, generation)

    def claimed(self, claim_id: str, slot: str, last_run: str = "") -> None:
        """A claim the startd granted earlier, its last run ``last_run``'s."""
        with self.changed:
            self.offers[slot] = None
            self.claims[claim_id] = {"slot": slot, "events": [
                event("started", last_run), event("exited", last_run)] if last_run else []}

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        with self.changed:
            while not condition():
                assert time.monotonic() < deadline, f"no {what} within {WAIT:g} s"
                self.changed.wait(0.05)  # also re-checks what no call notifies

    def kill(self, spared: set[threading.Thread]) -> None:
        """Kill the live schedd: once each of its claims' threads is parked in a call (or
        done), none of them does anything more.  (Its keep-alive thread calls no more than
        keep-alives, and parks at its next one.)"""
        with self.changed:
            self.generation += 1

        def all_parked() -> bool:
            return all(thread in self.parked for thread in threading.enumerate()
                       if thread not in spared and thread.name == "schedd:claim")

        self.wait(all_parked, "quiet schedd")

    def expire(self, known: set[str]) -> None:
        """The claims no schedd knows run out their leases (a killed schedd asked for
        them but had not recorded them yet)."""
        with self.changed:
            for claim_id in set(self.claims) - known:
                self.offers[self.claims.pop(claim_id)["slot"]] = self._new_id()

    def end(self) -> None:
        with self.changed:
            self.over = True
            self.changed.notify_all()


class _Client:
    """What ``schedd.claims`` uses of ``roost.client.Startd``."""

    def __init__(self, startds: Startds, generation: int) -> None:
        self.startds = startds
        self.generation = generation

    def _alive(self) -> bool:
        startds = self.startds
        with startds.changed:
            if self.generation == startds.generation:
                return True
            startds.parked.add(threading.current_thread())
            startds.changed.notify_all()
            startds.changed.wait_for(lambda: startds.over)
            return False

    def _enter(self, call: str, claim_id: str) -> None:
        if not self._alive():
            raise Killed(f"the schedd of the {call} of {claim_id} was killed")
        hook = self.startds.hooks.get((call, claim_id))
        if hook is not None:
            hook()

    def request_claim(self, claim_id: str, job: ClassAd, *, lease: int = 0,
                      schedd_address: str = "") -> ClaimResult:
        self._enter("request", claim_id)
        startds = self.startds
        with startds.changed:
            slot = next((name for name, offer in startds.offers.items() if offer == claim_id),
                        None)
            if slot is None:
                return ClaimResult(False, "no slot has this claim id", None, "")
            startds.claimed(claim_id, slot)
            return ClaimResult(True, "", slot_ad(slot), claim_id)

    def activate(self, claim_id: str, job: ClassAd | None = None, *,
                 reconnect: bool = False, environment: dict[str, str] | None = None):
        self._enter("reconnect" if reconnect else "run", claim_id)
        startds = self.startds
        with startds.changed:
            claim = startds.claims.get(claim_id)
            if claim is None:
                raise RoostError("the startd failed the call (failed_precondition): no "
                                 "claimed slot has this claim id")
            if reconnect and not claim["events"]:
                raise RoostError(f"the startd failed the call (failed_precondition): "
                                 f"{NEVER_RAN}")
            if not reconnect:
                job_id = f"{job.eval('ClusterId')}.{job.eval('ProcId')}"
                startds.starts.append((job_id, claim_id))
                startds.environments[job_id] = environment
                startds.changed.notify_all()
                claim["events"] = [event("started", job_id), event("exited", job_id)]
            events = list(claim["events"])
        for each in events:
            if not self._alive():
                raise Killed(f"the schedd following {claim_id} was killed")
            yield each

    def release(self, claim_id: str, reason: str = "") -> bool:
        self._enter("release", claim_id)
        startds = self.startds
        with startds.changed:
            claim = startds.claims.pop(claim_id, None)
            if claim is not None:
                startds.offers[claim["slot"]] = startds._new_id()
            startds.changed.notify_all()
        startds.on_free()
        return claim is not None

    def keep_alive(self, claim_id: str) -> str:
        if not self._alive():
            return ""
        with self.startds.changed:
            return "Claimed/Busy" if claim_id in self.startds.claims else ""

    def close(self) -> None:
        pass


def submit(jobs: JobQueue, count: int) -> int:
    cluster, _ = jobs.submit(ALICE, ClassAd({"Cmd": "/bin/true", "Requirements": True}), [],
                             count)
    return cluster


def record(slot: str) -> dict:
    return {"startd_address": "127.0.0.1:1", "slot_name": slot, "owner": "alice",
            "slot_ad": slot_ad(slot).print_old(), "lease": 60}


def left(jobs: JobQueue) -> int:
    return sum(sum(by_status.values()) for by_status in jobs.status_counts().values())


@pytest.mark.parametrize("last_run", ["another job", "none"])
def test_a_recovered_claim_that_never_ran_its_job_keeps_it_from_other_claims(pool, last_run):
    """The schedd recorded J as claim A's and stopped before starting it; after the
    restart the startd says A never ran J, and A starts it.  Claim B, whose job ends
    meanwhile, must not take J in between: it is A's still."""
    submit(pool.jobs, 2)
    everything = lambda ad: True  # noqa: E731
    assert pool.jobs.idle_job_for("alice", everything, "B", record("slot2@fake")) is not None
    pool.jobs.job_started("1.0", JobStarted("slot2@fake", pool.jobs.now()))
    assert pool.jobs.idle_job_for("alice", everything, "A", record("slot1@fake")) is not None
    startds = Startds()
    startds.claimed("A", "slot1@fake", last_run="7.0" if last_run == "another job" else "")
    startds.claimed("B", "slot2@fake", last_run="1.0")
    a_runs, b_decided = threading.Event(), threading.Event()

    def a_waits_for_b() -> None:
        a_runs.set()
        assert b_decided.wait(WAIT)

    startds.hooks = {("run", "A"): a_waits_for_b,
                     ("reconnect", "B"): lambda: a_runs.wait(WAIT),
                     ("run", "B"): b_decided.set, ("release", "B"): b_decided.set}
    spared = set(threading.enumerate())
    runner = ClaimRunner(pool.jobs, startds.client())
    try:
        runner.recover()
        startds.wait(lambda: "A" not in startds.claims or ("1.1", "B") in startds.starts,
                     "end of A (or a run of its job on B)")
        startds.kill(spared)  # and so wait until the claims' threads are done
    finally:
        runner.stop()
        startds.end()
    assert startds.starts == [("1.1", "A")]
    assert left(pool.jobs) == 0 and pool.jobs.claims() == []
    assert sorted(ad.eval("NumJobStarts") for ad in pool.jobs.history()) == [1, 1]


class Matched(JobQueue):
    """A queue on which, just after the schedd's recovery has read the claims, a match
    that came in meanwhile takes a job and starts it (``then``)."""

    def __init__(self, engine, clock, then: Callable[[JobQueue], None]) -> None:
        super().__init__(engine, clock=clock)
        self.then = then

    def claims(self) -> list:
        records = super().claims()
        then, self.then = self.then, lambda jobs: None
        then(self)
        return records


def test_a_job_started_by_a_match_during_recovery_is_not_requeued(pool):
    submit(pool.jobs, 1)

    def match(jobs: JobQueue) -> None:
        assert jobs.idle_job_for("alice", lambda ad: True, "M", record("slot1@fake"))
        jobs.job_started("1.0", JobStarted("slot1@fake", jobs.now()))

    jobs = Matched(pool.engine, pool.clock, match)
    runner = ClaimRunner(jobs, Startds().client())
    try:
        runner.recover()
    finally:
        runner.stop()
        jobs.close()
    (job,) = pool.jobs.query()
    assert job.eval("JobStatus") == int(JobStatus.RUNNING)
    assert "NumMachineLosses" not in job


def test_each_run_is_activated_with_the_environment_made_for_it(pool):
    submit(pool.jobs, 3)
    startds = Startds(slots=1)
    runner = ClaimRunner(pool.jobs, startds.client(), job_environment=lambda job: {
        "ROOST_JOB_TOKEN": f"for {job.eval('ClusterId')}.{job.eval('ProcId')}"})
    try:
        runner.matched("alice", slot_ad("slot1@fake"), startds.offers["slot1@fake"])
        startds.wait(lambda: len(startds.starts) == 3, "three runs on the claim")
    finally:
        runner.stop()
        startds.end()
    assert startds.environments == {f"1.{n}": {"ROOST_JOB_TOKEN": f"for 1.{n}"}
                                    for n in range(3)}


def test_no_job_runs_twice_through_concurrent_claims_and_schedd_restarts(pool):
    """Slots claimed and given back all the time (claims live 50 ms), a schedd killed four
    times at random points of its claims and restarted: every job runs once."""
    total, kills = 600, 4
    submit(pool.jobs, total)
    startds = Startds(slots=8)
    spared = set(threading.enumerate())
    runners: list[ClaimRunner] = []
    queues = [pool.jobs]

    def negotiate(runner: ClaimRunner) -> None:
        with startds.changed:
            offers = [(name, offer) for name, offer in startds.offers.items() if offer]
        for name, offer in offers:
            runner.matched("alice", slot_ad(name), offer)

    def start_schedd(jobs: JobQueue) -> None:
        runner = ClaimRunner(jobs, startds.client(), worklife=0.05)
        runners.append(runner)
        runner.recover()
        startds.on_free = lambda: negotiate(runner)
        negotiate(runner)

    try:
        start_schedd(pool.jobs)
        for kill in range(1, kills + 1):
            startds.wait(lambda k=kill: len(startds.starts) >= k * total // (kills + 1),
                         "runs")
            startds.kill(spared)
            queues.append(JobQueue(pool.engine, clock=pool.clock))  # the new schedd's
            startds.expire({record.claim_id for record in queues[-1].claims()})
            start_schedd(queues[-1])
        deadline = time.monotonic() + WAIT
        while left(queues[-1]):
            assert time.monotonic() < deadline, f"{left(queues[-1])} jobs left"
            time.sleep(0.05)
        startds.kill(spared)  # the last schedd too: nothing runs on past the test
    finally:
        for runner in runners:
            runner.stop()
        startds.end()
        for jobs in queues[1:]:
            jobs.close()
    runs = collections.Counter(job_id for job_id, _ in startds.starts)
    assert [job for job, n in runs.items() if n > 1] == []
    assert len(runs) == total
    done = list(queues[-1].history())
    assert len(done) == total and {ad.eval("JobStatus") for ad in done} == {
        int(JobStatus.COMPLETED)}


class Partition:
    """Two slots' startds, A's at address ``a:1`` and B's at ``b:1``: on claim A, job J
    runs until the network cuts A's startd off from the schedd (``cut``), when every call
    to it fails as to an unreachable startd; that startd stops J once A's lease runs out,
    counted from when it last heard from the schedd.  On claim B a job runs at once."""

    def __init__(self, lease: float) -> None:
        self.lease = lease
        self.changed = threading.Condition()
        self.cut_off = False
        self.heard = 0.0  # when A's startd last heard from the schedd (monotonic)
        self.keep_alives = 0
        self.starts: dict[str, float] = {}  # claim id -> when it started the job

    def client(self, address: str) -> _PartitionClient:
        return _PartitionClient(self, address.partition(":")[0].upper())

    def cut(self) -> None:
        with self.changed:
            self.cut_off = True
            self.changed.notify_all()


class _PartitionClient:
    def __init__(self, partition: Partition, startd: str) -> None:
        self.partition = partition
        self.startd = startd  # "A" or "B"

    def _reach(self, claim_id: str) -> None:
        """A call to this client's startd about ``claim_id`` ("": renewing nothing)."""
        partition = self.partition
        with partition.changed:
            if self.startd == "A" and partition.cut_off:
                raise RoostError("cannot reach the startd at a:1 (is the pool up?)")
            if self.startd == "A" and claim_id:
                partition.heard = time.monotonic()

    def request_claim(self, claim_id: str, job: ClassAd, *, lease: int = 0,
                      schedd_address: str = "") -> ClaimResult:
        self._reach(claim_id)
        return ClaimResult(True, "", slot_ad(f"slot-{claim_id}@fake", f"{claim_id}:1"),
                           claim_id)

    def activate(self, claim_id: str, job: ClassAd | None = None, *,
                 reconnect: bool = False, environment: dict[str, str] | None = None):
        self._reach(claim_id)
        partition = self.partition
        job_id = f"{job.eval('ClusterId')}.{job.eval('ProcId')}"
        with partition.changed:
            partition.starts[claim_id] = time.monotonic()
        yield event("started", job_id)
        if claim_id == "A":
            with partition.changed:
                partition.changed.wait_for(lambda: partition.cut_off, WAIT)
            self._reach(claim_id)
        yield event("exited", job_id)

    def release(self, claim_id: str, reason: str = "") -> bool:
        self._reach(claim_id)
        return True

    def keep_alive(self, claim_id: str) -> str:
        self._reach(claim_id)
        partition = self.partition
        with partition.changed:
            partition.keep_alives += claim_id == "A"
            partition.changed.notify_all()
        return "Claimed/Busy"

    def close(self) -> None:
        pass


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_job_cut_off_with_its_startd_runs_again_only_once_the_startd_stopped_it(pool):
    """The run's last event is older than a lease when the network fails, but the
    startd heard a keep-alive since: the schedd waits a lease from that keep-alive before
    it puts the job back in the queue, when the startd has stopped the job."""
    submit(pool.jobs, 1)
    startds = Partition(lease=2)
    runner = ClaimRunner(pool.jobs, startds.client, lease=2)
    try:
        runner.matched("alice", slot_ad("slot-A@fake", "a:1"), "A")
        with startds.changed:
            # Keep-alives every second: the last one comes a lease after the start.
            assert startds.changed.wait_for(lambda: startds.keep_alives >= 3, WAIT)
        startds.cut()
        deadline = time.monotonic() + WAIT
        while pool.jobs.claims():  # A is given up: its job is back in the queue
            assert time.monotonic() < deadline, "claim A still held"
            time.sleep(0.05)
        runner.matched("alice", slot_ad("slot-B@fake", "b:1"), "B")
        while left(pool.jobs):
            assert time.monotonic() < deadline, "the job has not run again"
            time.sleep(0.05)
    finally:
        runner.stop()
        startds.cut()
    assert startds.starts["B"] >= startds.heard + startds.lease  # not while A still ran it
    (done,) = pool.jobs.history()
    assert (done.eval("NumJobStarts"), done.eval("NumMachineLosses")) == (2, 1)
