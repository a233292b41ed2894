"""The whole pool as separate processes on loopback: ``roost pool up``, jobs matched under
the slots' and the jobs' policies, fair share between owners, and daemons killed with
SIGKILL in the middle of a run.  Every job writes a side effect, so that a job run twice
or lost shows."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from roost import security
from roost.client import Collector, Schedd
from roost.config import load_config

from ..daemons import free_port, wait_gone

TIMEOUT = 90.0


class Pool:
    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.env = {**os.environ, "ROOST_HOME": str(home),
                    "ROOST_MATCHMAKER_ADDRESS": f"127.0.0.1:{free_port()}",
                    "ROOST_MATCHMAKER_NEGOTIATOR_INTERVAL": "2",
                    "ROOST_STARTD_POLL_INTERVAL": "1",
                    "ROOST_STARTD_UPDATE_INTERVAL": "5",
                    "ROOST_SCHEDD_CLAIM_LEASE": "6",
                    "ROOST_SCHEDD_UPDATE_INTERVAL": "5",
                    # The tests' owners (alice, bob) have no accounts here: as root, the
                    # startds run every job as root rather than refuse them.
                    **({"ROOST_STARTD_RUN_AS": "root"} if os.geteuid() == 0 else {})}
        self.config = load_config(env=self.env)

    def roost(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "roost", *args], env=self.env,
                              capture_output=True, text=True, timeout=120, cwd=self.home)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def pid(self, name: str) -> int:
        return int((self.home / "run" / f"{name}.pid").read_text())

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        pid = self.pid(name)
        os.kill(pid, signum)
        wait_gone(pid)

    def token(self, user: str) -> str:
        key = security.SigningKey.load(security.key_path(self.home))
        return security.create_token(key, f"{user}@pool", ["read", "submit"], 3600)

    def schedd(self, token: str | None = None) -> Schedd:
        return Schedd(token=token, config=self.config)

    def submit(self, description: str, token: str | None = None) -> int:
        with self.schedd(token) as schedd:
            return schedd.submit(description, cwd=str(self.home)).cluster()

    def finished(self, cluster: int) -> list:
        with self.schedd() as schedd:
            return list(schedd.history(f"ClusterId == {cluster}"))

    def wait_done(self, cluster: int, count: int, timeout: float = TIMEOUT) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.finished(cluster)
            if len(done) >= count:
                return done
            time.sleep(0.2)
        with self.schedd() as schedd:
            left = schedd.query(f"ClusterId == {cluster}")
        raise AssertionError(f"{len(self.finished(cluster))}/{count} done; still queued: "
                             f"{[(a.eval('ProcId'), a.eval('JobStatus')) for a in left]}\n"
                             + self.logs())

    def slots(self) -> list:
        with Collector(config=self.config) as collector:
            return collector.query("Machine")

    def logs(self) -> str:
        found = []
        for log in sorted((self.home / "log").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()
            found.append(f"--- {log.name}\n" + "\n".join(lines[-15:]))
        return "\n".join(found)

    def startd(self, instance: str, *args: str) -> None:
        self.roost("startd", "--instance", instance, "--name", f"{instance}.test", *args)


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    yield pool
    pool.roost("pool", "down", check=False)


def sweep(pool: Pool, count: int, *, extra: str = "", seconds: float = 0) -> str:
    """A submit description of ``count`` jobs that each append their id to a file."""
    run = f"sleep {seconds}; " if seconds else ""
    return (f"executable = /bin/sh\n"
            f"arguments = \"-c '{run}echo $(Cluster).$(Process) >> {pool.home}/effects'\"\n"
            f"{extra}\nqueue {count}\n")


def effects(pool: Pool) -> Counter:
    path = pool.home / "effects"
    return Counter(path.read_text().split()) if path.exists() else Counter()


def test_pool_up_is_idempotent_and_runs_jobs(pool):
    up = pool.roost("pool", "up", "--startds", "2")
    assert "the pool is up: 2 slot(s)" in up.stdout
    again = pool.roost("pool", "up", "--startds", "2")
    assert "matchmaker is running" in again.stdout and "startd-2 is running" in again.stdout
    assert {ad.eval("Name") for ad in pool.slots()} == {
        f"slot1@{name}" for name in _startd_names(pool)}
    cluster = pool.submit(sweep(pool, 20))
    done = pool.wait_done(cluster, 20)
    assert all(ad.eval("ExitCode") == 0 and ad.eval("JobStatus") == 4 for ad in done)
    assert effects(pool) == Counter({f"{cluster}.{n}": 1 for n in range(20)})
    status = pool.roost("pool", "status")
    assert "startd-1" in status.stdout and "slots: 2" in status.stdout
    down = pool.roost("pool", "down")
    assert "matchmaker stopped" in down.stdout
    assert pool.roost("pool", "status", check=False).returncode == 1


def _startd_names(pool: Pool) -> set[str]:
    import socket

    return {f"{socket.getfqdn()}-{i}" for i in (1, 2)}


def test_requirements_start_and_rank_decide_where_jobs_run(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "1", "--memory", "512", "--attribute", 'Site="a"')
    pool.startd("b", "--cpus", "1", "--memory", "512", "--attribute", 'Site="b"',
                "--start", 'TARGET.Owner != "mallory"')
    # Rank first, alone: a claim is reused for the owner's next job wherever it is.
    ranked = pool.submit(sweep(pool, 1, extra='rank = TARGET.Site == "b"'))
    pool.wait_done(ranked, 1)
    only_a = pool.submit(sweep(pool, 6, extra='requirements = TARGET.Site == "a"'))
    refused = pool.submit(sweep(pool, 3), token=pool.token("mallory"))
    for cluster, count in ((only_a, 6), (refused, 3)):
        pool.wait_done(cluster, count)
    hosts = {cluster: {ad.eval("LastRemoteHost") for ad in pool.finished(cluster)}
             for cluster in (only_a, ranked, refused)}
    assert all(host.endswith("@b.test") for host in hosts[ranked]), hosts
    assert all(host.endswith("@a.test") for host in hosts[only_a]), hosts
    assert all(host.endswith("@a.test") for host in hosts[refused]), hosts
    never = pool.roost("submit", "-", check=False)  # empty stdin: an error, not a hang
    assert never.returncode != 0


def test_a_job_that_matches_nothing_is_said_so(pool, tmp_path):
    pool.roost("pool", "up")
    (pool.home / "big.sub").write_text(sweep(pool, 1, extra="request_memory = 100000000"))
    submitted = pool.roost("submit", str(pool.home / "big.sub"))
    assert "WARNING: no slot of the 1 in the pool matches job" in submitted.stderr
    cluster = submitted.stdout.split()[-1].rstrip(".")
    time.sleep(3)  # a cycle or two
    report = pool.roost("analyze", f"{cluster}.0").stdout
    assert "is idle" in report and "have too few resources left" in report
    assert "No slot in the pool can run this job" in report
    assert "asking for fewer resources" in report
    def timeless(text: str) -> str:
        return re.sub(r"\(\d+ s ago\)", "", text)

    assert timeless(pool.roost("q", "-better-analyze", cluster).stdout) == timeless(report)


def test_analyze_names_slots_in_the_owner_state_and_what_to_write(pool):
    pool.roost("pool", "up", "--startds", "0")
    # False without a job, so IS_OWNER holds and the slot stays in the Owner state.
    started = pool.roost("startd", "--instance", "a", "--name", "a.test", "--cpus", "1",
                         "--memory", "512", "--start", 'TARGET.Project =?= "physics"')
    warning = ('slot1@a.test: START is False without a job (START = TARGET.Project =?= '
               '"physics"), so IS_OWNER is true')
    assert started.stderr.startswith(f"WARNING: {warning}"), started.stderr
    assert 'Write TARGET.Project == "physics" rather than' in started.stderr
    assert warning in (pool.home / "log" / "startd-a.log").read_text()
    cluster = pool.submit(sweep(pool, 1, extra='+Project = "physics"'))
    deadline = time.monotonic() + TIMEOUT
    while True:  # until a cycle has seen the job and the slot
        report = pool.roost("analyze", f"{cluster}.0").stdout
        if "1 in the Owner state, 0 claimed, 0 matched" in report:
            break
        assert time.monotonic() < deadline, report
    assert "  1 would run it but are in the Owner state (they take no job)" in report
    assert "  0 would run it but are claimed" in report
    assert ("slot1@a.test would run it but is in the Owner state, taking no job: START is "
            "False without a job") in report
    assert ('  Write TARGET.Project == "physics" rather than TARGET.Project =?= "physics": '
            "without a job it is UNDEFINED rather than False") in report


@pytest.mark.whole_machine  # samples the shares every 0.5 s: starved workers skew them
def test_equal_owners_share_a_saturated_pool(pool):
    # Claims go back to the negotiator every 2 s (CLAIM_WORKLIFE), so shares can move.
    pool.env["ROOST_SCHEDD_CLAIM_WORKLIFE"] = "2"
    pool.roost("pool", "up", "--startds", "0")
    for name in ("a", "b"):
        pool.startd(name, "--cpus", "2", "--memory", "1024", "--slots", "2")
    alice, bob = pool.token("alice"), pool.token("bob")
    first = pool.submit(sweep(pool, 40, seconds=1), token=alice)
    second = pool.submit(sweep(pool, 40, seconds=1), token=bob)
    samples = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(samples) < 12:
        running = Counter(str(ad.eval("RemoteOwner")) for ad in pool.slots()
                          if ad.eval("State") == "Claimed")
        if sum(running.values()) == 4:
            samples.append((running["alice"], running["bob"]))
        time.sleep(0.5)
    assert samples, pool.logs()
    alice_share = sum(a for a, _ in samples) / (4 * len(samples))
    assert 0.3 <= alice_share <= 0.7, samples
    pool.wait_done(first, 40)
    pool.wait_done(second, 40)
    users = {a.name for a in _priorities(pool)}
    assert {"alice", "bob"} <= users, users


def _running(pool: Pool, cluster: int, timeout: float = 30.0):
    """Wait until the cluster's job runs; its ad."""
    deadline = time.monotonic() + timeout
    with pool.schedd() as schedd:
        while True:
            (job,) = schedd.query(f"ClusterId == {cluster}")
            if job.eval("JobStatus") == 2:
                return job
            assert time.monotonic() < deadline, pool.logs()
            time.sleep(0.2)


def _marked(pool: Pool, label: str, seconds: float) -> str:
    """A job that notes its start and its end in the effects file."""
    run = f"echo {label}-start >> {pool.home}/effects; sleep {seconds}; " \
          f"echo {label}-end >> {pool.home}/effects"
    return f"executable = /bin/sh\narguments = \"-c '{run}'\"\nqueue\n"


def test_a_slot_preempts_a_job_for_one_it_ranks_higher(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "1", "--memory", "512", "--slots", "1",
                "--rank", 'TARGET.Owner == "bob"')
    first = pool.submit(_marked(pool, "alice", 6), token=pool.token("alice"))
    _running(pool, first)
    second = pool.submit(_marked(pool, "bob", 0.5), token=pool.token("bob"))
    (bobs,) = pool.wait_done(second, 1, timeout=30)
    assert bobs.eval("NumJobStarts") == 1
    (alices,) = pool.wait_done(first, 1, timeout=40)
    # alice's job went back to Idle, not lost, and ran again to its end once bob's was done.
    assert alices.eval("NumJobStarts") == 2 and alices.eval("ExitCode") == 0
    assert effects(pool) == Counter({"alice-start": 2, "bob-start": 1, "bob-end": 1,
                                     "alice-end": 1})
    order = (pool.home / "effects").read_text().split()
    assert order.index("bob-end") < order.index("alice-end")


def test_without_a_rank_or_preemption_requirements_a_running_job_is_not_preempted(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "1", "--memory", "512", "--slots", "1")
    first = pool.submit(_marked(pool, "alice", 4), token=pool.token("alice"))
    _running(pool, first)
    second = pool.submit(_marked(pool, "bob", 0), token=pool.token("bob"))
    pool.wait_done(second, 1, timeout=40)
    (alices,) = pool.finished(first)
    assert alices.eval("NumJobStarts") == 1
    order = (pool.home / "effects").read_text().split()
    assert order == ["alice-start", "alice-end", "bob-start", "bob-end"], pool.logs()


def test_a_better_priority_preempts_under_preemption_requirements(pool):
    pool.env["ROOST_MATCHMAKER_PREEMPTION_REQUIREMENTS"] = (
        "MY.RemoteUserPrio > TARGET.SubmitterUserPrio * 1.2")
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "1", "--memory", "512", "--slots", "1")
    pool.roost("userprio", "-setfactor", "alice", "100000")
    first = pool.submit(_marked(pool, "alice", 6), token=pool.token("alice"))
    _running(pool, first)
    second = pool.submit(_marked(pool, "bob", 0.5), token=pool.token("bob"))
    pool.wait_done(second, 1, timeout=30)
    (alices,) = pool.wait_done(first, 1, timeout=40)
    assert alices.eval("NumJobStarts") == 2
    order = (pool.home / "effects").read_text().split()
    assert order == ["alice-start", "bob-start", "bob-end", "alice-start", "alice-end"], \
        pool.logs()


def _priorities(pool: Pool) -> list:
    from roost.client import Negotiator

    with Negotiator(config=pool.config) as negotiator:
        return negotiator.user_priorities()


def test_sigkill_of_the_schedd_loses_nothing_and_runs_nothing_twice(pool):
    # A lease that outlasts the schedd's restart (4-6 s on a loaded machine of 2 cores):
    # under 6 s, a job that ended while the schedd was down lost its claim, and so its
    # end, and ran again (tests/pool/test_dag_sigkill.py caught it so).
    pool.env["ROOST_SCHEDD_CLAIM_LEASE"] = "30"
    pool.roost("pool", "up")
    cluster = pool.submit(sweep(pool, 30, seconds=0.5))
    time.sleep(3)
    pool.kill("schedd")
    pool.roost("schedd")
    time.sleep(2)
    pool.kill("schedd")
    pool.roost("schedd")
    done = pool.wait_done(cluster, 30)
    assert effects(pool) == Counter({f"{cluster}.{n}": 1 for n in range(30)})
    assert all(ad.eval("JobStatus") == 4 for ad in done)


def test_sigkill_of_a_startd_requeues_its_jobs_after_the_lease(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "1", "--memory", "512")
    pid_file = pool.home / "job.pid"
    cluster = pool.submit(f"executable = /bin/sh\n"
                          f"arguments = \"-c 'echo $$ > {pid_file}; exec sleep 300'\"\nqueue\n")
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, pool.logs()
        time.sleep(0.2)
    pool.kill("startd-a")
    # Its lifeline kills the job at once: it never runs beside its requeued copy.
    wait_gone(int(pid_file.read_text()), seconds=10)
    pool.startd("b", "--cpus", "1", "--memory", "512")
    with pool.schedd() as schedd:
        deadline = time.monotonic() + 40
        while True:
            (job,) = schedd.query(f"ClusterId == {cluster}")
            if job.eval("NumMachineLosses") == 1:
                break
            assert time.monotonic() < deadline, pool.logs()
            time.sleep(0.5)
        assert job.eval("JobStatus") in (1, 2)
        schedd.act(_remove(), f"{cluster}")


def _remove():
    from roost.client import JobAction

    return JobAction.Remove


def test_a_concurrency_limit_holds_across_the_pool(pool):
    pool.env["ROOST_MATCHMAKER_CONCURRENCY_LIMITS"] = "xsw = 1"
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "2", "--memory", "1024", "--slots", "2")
    cluster = pool.submit(sweep(pool, 4, seconds=1, extra="concurrency_limits = XSW"))
    free = pool.submit(sweep(pool, 2, seconds=1))
    most = 0
    deadline = time.monotonic() + 60
    while len(pool.finished(cluster)) < 4 and time.monotonic() < deadline:
        most = max(most, sum(1 for ad in pool.slots()
                             if str(ad.eval("ConcurrencyLimits")).lower() == "xsw"))
        time.sleep(0.2)
    assert len(pool.finished(cluster)) == 4, pool.logs()
    pool.wait_done(free, 2)
    assert most == 1


def test_sigkill_of_the_matchmaker_loses_nothing(pool):
    pool.roost("pool", "up")
    cluster = pool.submit(sweep(pool, 40, seconds=0.2))
    time.sleep(2)
    pool.kill("matchmaker")
    time.sleep(1)
    pool.roost("pool", "up")  # brings back what is missing: the matchmaker
    done = pool.wait_done(cluster, 40)
    assert effects(pool) == Counter({f"{cluster}.{n}": 1 for n in range(40)})
    assert all(ad.eval("JobStatus") == 4 for ad in done)


def test_a_group_quota_caps_a_group(pool):
    pool.env["ROOST_MATCHMAKER_GROUP_NAMES"] = "physics, chem"
    pool.env["ROOST_MATCHMAKER_GROUP_QUOTAS"] = "physics = 1, chem = 3"
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "4", "--memory", "2048", "--slots", "4")
    physics = pool.submit(sweep(pool, 6, seconds=1, extra="accounting_group = physics"))
    chem = pool.submit(sweep(pool, 6, seconds=1, extra="accounting_group = chem"))
    most = Counter()
    deadline = time.monotonic() + 60
    while (len(pool.finished(physics)) + len(pool.finished(chem)) < 12
           and time.monotonic() < deadline):
        running = Counter(str(ad.eval("RemoteGroup")) for ad in pool.slots()
                          if ad.eval("State") == "Claimed")
        most = Counter({group: max(most[group], running[group]) for group in running | most})
        time.sleep(0.2)
    pool.wait_done(physics, 6)
    pool.wait_done(chem, 6)
    assert most["physics"] == 1 and most["chem"] >= 2, most


@pytest.mark.whole_machine  # a killed startd's jobs must die within a second
def test_500_jobs_survive_sigkills_of_every_daemon_at_random_points(pool):
    import random

    rng = random.Random(os.getpid())
    pool.roost("pool", "up", "--startds", "0")
    startd = ("a", "--cpus", "2", "--memory", "1024", "--slots", "2")
    pool.startd(*startd)
    # Each run notes its start and its end, with its own shell's pid and the time.
    note = f"echo $(Cluster).$(Process) $$ {{}} $(date +%s.%N) >> {pool.home}/effects"
    cluster = pool.submit(f"executable = /bin/sh\n"
                          f"arguments = \"-c '{note.format('start')}; sleep 0.01; "
                          f"{note.format('end')}'\"\nqueue 500\n")
    startd_kills = []
    for victim in ("schedd", "startd-a", "matchmaker", "schedd", "startd-a"):
        time.sleep(rng.uniform(0.5, 3.0))
        pool.kill(victim)
        if victim == "startd-a":
            startd_kills.append(time.time())
            pool.startd(*startd)
        else:
            pool.roost(victim)
    done = pool.wait_done(cluster, 500, timeout=300)
    assert sorted(ad.eval("ProcId") for ad in done) == list(range(500))  # each once
    assert all(ad.eval("JobStatus") == 4 for ad in done)
    with pool.schedd() as schedd:
        assert schedd.query(f"ClusterId == {cluster}") == []  # the queue and history agree
    runs: dict[str, dict[str, dict[str, float]]] = {}
    for line in (pool.home / "effects").read_text().splitlines():
        job, pid, kind, when = line.split()
        runs.setdefault(job, {}).setdefault(pid, {})[kind] = float(when)
    assert len(runs) == 500
    for job, by_pid in runs.items():
        assert any("end" in run for run in by_pid.values()), (job, by_pid)  # nothing lost
        spans = []
        for run in by_pid.values():
            kills = [k for k in startd_kills if k >= run["start"]]
            if "end" not in run or (kills and run["end"] > kills[0]):
                # Cut short by a startd's death: its lifeline killed it within a second.
                assert kills and run.get("end", kills[0]) <= kills[0] + 1.0, (job, by_pid)
                spans.append((run["start"], kills[0] + 1.0))
            else:
                spans.append((run["start"], run["end"]))
        spans.sort()  # never two runs of a job at the same time:
        assert all(a[1] < b[0] for a, b in itertools.pairwise(spans)), (job, by_pid)
