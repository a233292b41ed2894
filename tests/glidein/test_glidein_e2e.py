"""Pilots on a real single-node Slurm cluster (tests/slurm_cluster.py), joining a real pool
(``roost pool up --startds 0``) on loopback: jobs run inside the allocation, a pilot leaves
when idle and Slurm records a success, a job too long for a pilot's remaining life waits,
and a cancelled pilot's job runs again elsewhere exactly once.  Every job writes a side
effect, so that a job run twice or lost shows."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from roost.client import JobAction

from ..pool.test_pool import Pool
from ..slurm_cluster import INSTALL_HINT, SlurmCluster, missing_programs

TIMEOUT = 60.0

# One Slurm cluster at a time: these modules share one xdist worker (scripts/test).
pytestmark = [pytest.mark.xdist_group("slurm"),
              pytest.mark.skipif(bool(missing_programs()),
                                 reason=f"Slurm is not installed ({INSTALL_HINT})")]


@pytest.fixture(scope="module")
def cluster():
    cluster = SlurmCluster()
    try:
        cluster.start()
    except RuntimeError as error:
        pytest.fail(f"the Slurm cluster did not start: {error}", pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def pool(tmp_path, cluster):
    pool = Pool(tmp_path / "home")
    pool.env["SLURM_CONF"] = cluster.env["SLURM_CONF"]
    pool.roost("pool", "up", "--startds", "0")
    yield pool
    pool.roost("glidein", "cancel", check=False)
    pool.roost("pool", "down", check=False)


def submit_pilot(pool: Pool, *options: str) -> str:
    return submit_pilot_for(pool, "00:02:00", *options)


def submit_pilot_for(pool: Pool, walltime: str, *options: str) -> str:
    """A pilot's batch job id; its output goes to the pool's glidein directory (the default,
    the node's /tmp, would be shared by every test's Slurm cluster)."""
    done = pool.roost("glidein", "submit", "--slurm", "--time", walltime,
                      "--cpus-per-node", "1", "--output-dir", str(pool.home / "glidein"),
                      *options)
    match = re.match(r"submitted pilot (\d+):", done.stdout)
    assert match, done.stdout
    return match.group(1)


def wait_for(condition, what: str, pool: Pool, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s\n{diagnosis(pool)}")
        time.sleep(0.25)


def pilot_slots(pool: Pool, job_id: str) -> list:
    return [ad for ad in pool.slots() if ad.eval("GLIDEIN_BatchJobId") == job_id]


def diagnosis(pool: Pool) -> str:
    outputs = "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}"
                        for path in sorted((pool.home / "glidein").glob("*.out")))
    status = pool.roost("glidein", "status", check=False)
    return f"{status.stdout}{status.stderr}\n{outputs}\n{pool.logs()}"


def job(pool: Pool, count: int = 1, seconds: float = 0, extra: str = "") -> str:
    """Jobs that record, in the effects file, their id and the pilot's batch job id as
    the slot's machine ad (handed to every job) says it: proof of where they ran."""
    record = ("echo $(Cluster).$(Process) "
              "$(grep ^GLIDEIN_BatchJobId $_CONDOR_MACHINE_AD | tr -dc 0-9)"
              f" >> {pool.home}/effects")
    wait = f"sleep {seconds}; " if seconds else ""
    return (f"executable = /bin/sh\narguments = \"-c '{wait}{record}'\"\n{extra}\n"
            f"queue {count}\n")


def effects(pool: Pool) -> Counter:
    path = pool.home / "effects"
    return Counter(path.read_text().splitlines()) if path.exists() else Counter()


def test_a_pilot_runs_jobs_in_its_allocation_and_leaves_when_idle(pool, cluster):
    pilot = submit_pilot(pool, "--idle-timeout", "8")
    slots = wait_for(lambda: pilot_slots(pool, pilot), "slot of the pilot", pool)
    assert slots[0].eval("IsGlidein") is True and slots[0].eval("IS_GLIDEIN") is True
    # Named for the token minted for it, which covers its own startds and no others; its
    # startd's roost home is its own on the node, not the pool's.
    assert re.fullmatch(rf"slot1@glidein-[0-9a-f]{{8}}-{pilot}\.{cluster.node}",
                        slots[0].eval("Name")), slots[0].eval("Name")
    assert not list((pool.home / "log").glob("startd-glidein*"))
    status = pool.roost("glidein", "status").stdout
    assert re.search(rf"^{pilot}\s+RUNNING\s+1\s.*\sidle$", status, re.MULTILINE), status

    # Longer than the pilot can live (it leaves a minute before its 2 minutes end).
    too_long = pool.submit(job(pool, extra="+MaxRuntime = 3600"))
    cluster_id = pool.submit(job(pool, 4))
    pool.wait_done(cluster_id, 4)
    assert effects(pool) == Counter({f"{cluster_id}.{n} {pilot}": 1 for n in range(4)})
    with pool.schedd() as schedd:
        (waiting,) = schedd.query(f"ClusterId == {too_long}")
        assert waiting.eval("JobStatus") == 1
        assert "NumJobStarts" not in waiting or waiting.eval("NumJobStarts") == 0
        schedd.act(JobAction.Remove, f"{too_long}")

    # No claim for 8 s: the startd leaves, its slots go, and Slurm records a success.
    wait_for(lambda: cluster.job_state(pilot) not in ("RUNNING", "COMPLETING"),
             "end of the pilot", pool)
    assert cluster.job_state(pilot) == "COMPLETED", diagnosis(pool)
    assert not pilot_slots(pool, pilot)
    assert "leaving: no claim within the idle timeout" in diagnosis(pool)
    status = pool.roost("glidein", "status").stdout
    assert re.search(rf"^{pilot}\s+COMPLETED\s.*\sended$", status, re.MULTILINE), status


def test_a_cancelled_pilot_vacates_its_job_which_completes_once_elsewhere(pool, cluster):
    first = submit_pilot(pool, "--idle-timeout", "30")
    wait_for(lambda: pilot_slots(pool, first), "slot of the first pilot", pool)
    cluster_id = pool.submit(job(pool, seconds=6))
    wait_for(lambda: any(ad.eval("State") == "Claimed" for ad in pilot_slots(pool, first)),
             "job running in the first pilot", pool)
    status = pool.roost("glidein", "status").stdout
    assert re.search(rf"^{first}\s+RUNNING\s.*\sbusy$", status, re.MULTILINE), status
    # A second pilot, beside the first on the 2-core node, for the job to go to.
    second = submit_pilot(pool, "--idle-timeout", "30")
    wait_for(lambda: pilot_slots(pool, second), "slot of the second pilot", pool)

    cluster.run("scancel", first)
    wait_for(lambda: cluster.job_state(first) == "CANCELLED", "cancelled first pilot", pool)
    (done,) = pool.wait_done(cluster_id, 1)
    # Slurm signals every process of the allocation, the job with the startd: a job that
    # dies of that SIGTERM before the startd has begun to vacate it must count as vacated.
    assert done.eval("JobStatus") == 4 and done.eval("ExitCode") == 0, (
        f"the job ended with the cancelled pilot instead of going back to Idle: "
        f"ExitSignal {done.eval('ExitSignal')}, NumJobStarts {done.eval('NumJobStarts')}")
    assert done.eval("NumJobStarts") == 2
    assert effects(pool) == Counter({f"{cluster_id}.0 {second}": 1})
    assert not pilot_slots(pool, first)

    # Now idle, the second pilot is cancelled as such, and nothing else.
    wait_for(lambda: all(ad.eval("State") != "Claimed" for ad in pilot_slots(pool, second)),
             "second pilot idle", pool)
    cancelled = pool.roost("glidein", "cancel", "--idle-only")
    assert cancelled.stdout.strip() == (f"cancelled pilot(s) {second}; revoked 1 pilot "
                                        "token(s)")
    wait_for(lambda: cluster.job_state(second) == "CANCELLED", "cancelled second pilot",
             pool)
    # Its token is refused from now on, wherever it went.
    token_id = next(line.split()[1] for line in
                    (pool.home / "glidein" / "pilots").read_text().splitlines()
                    if line.split()[0] == second)
    assert token_id in (pool.home / "keys" / "revoked").read_text()


def test_a_pilot_leaves_a_minute_before_its_allocation_ends(pool, cluster):
    """A one-minute allocation (Slurm counts whole minutes) leaves no time to live: the
    startd leaves at once, and Slurm records a success.  Slurm 22.05 does not set
    SLURM_JOB_END_TIME: the script asks squeue for the end."""
    began = time.monotonic()
    pilot = submit_pilot_for(pool, "00:01:00", "--idle-timeout", "300")
    wait_for(lambda: cluster.job_state(pilot) not in ("PENDING", "RUNNING", "COMPLETING"),
             "end of the pilot", pool)
    assert cluster.job_state(pilot) == "COMPLETED", diagnosis(pool)
    assert time.monotonic() - began < 30
    output = (pool.home / "glidein" / f"roost-glidein-{pilot}.out").read_text()
    assert "end_time from slurm" in output and \
        "leaving: the allocation is about to end" in output, output
    assert not pilot_slots(pool, pilot)
