"""``roost vacate``, ``suspend`` and ``continue`` through a whole pool of separate
processes: the job's processes are stopped, continued or gone, as the queue says."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ..daemons import wait_gone
from .test_pool import Pool


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    yield pool
    pool.roost("pool", "down", check=False)


def until(test, what: str, pool: Pool, timeout: float = 30.0):
    """``test()``'s value once it is true, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := test()):
        assert time.monotonic() < deadline, f"no {what}\n{pool.logs()}"
        time.sleep(0.1)
    return value


def process_state(pid: int) -> str:
    """The state letter in /proc/PID/stat; "" for a process that is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return ""


def job_attr(pool: Pool, cluster: int, name: str) -> str:
    return pool.roost("q", str(cluster), "-af", name).stdout.strip()


def submit_script(pool: Pool, script: str, extra: str = "") -> int:
    path = pool.home / "job.sh"
    path.write_text(script)
    return pool.submit(f"executable = /bin/sh\narguments = {path}\n{extra}\nqueue\n")


def runs(pool: Pool) -> list[dict[str, float]]:
    """Each run's pid, start and end, from the lines the job writes."""
    found: dict[str, dict[str, float]] = {}
    path = pool.home / "runs"
    for line in path.read_text().splitlines() if path.exists() else []:
        kind, pid, when = line.split()
        found.setdefault(pid, {"pid": int(pid)})[kind] = float(when)
    return list(found.values())


def test_a_vacated_job_leaves_its_machine_and_runs_again_without_using_a_retry(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "2", "--memory", "1024", "--slots", "2")
    note = f"echo {{}} $$ $(date +%s.%N) >> {pool.home}/runs"
    # The first run waits to be vacated and takes a second to leave (its soft kill is
    # SIGTERM, the default KillSig); the second finishes at once.  The trap comes before
    # the start is noted: a vacate may follow the note at once.  The soft kill goes to the
    # whole family: when the sleep dies of it first, the wait returns before the shell has
    # run its trap, which it runs before its next command or in the next wait.
    cluster = submit_script(pool, (
        f"trap 'sleep 1; {note.format('end')}; exit 0' TERM\n"
        f"{note.format('start')}\n"
        f"if [ -e {pool.home}/ran ]; then {note.format('end')}; exit 0; fi\n"
        f"touch {pool.home}/ran\n"
        "sleep 300 & wait\n"
        "sleep 30 & wait\n"), extra="max_retries = 1")
    (first,) = until(lambda: runs(pool), "first run", pool)
    until(lambda: job_attr(pool, cluster, "JobStatus") == "2", "Running job", pool)
    vacated = pool.roost("vacate", str(cluster), "-reason", "to another slot")
    assert vacated.stdout == f"All jobs in cluster {cluster} have been vacated\n"
    wait_gone(first["pid"], seconds=10)
    (done,) = pool.wait_done(cluster, 1)
    assert (done.eval("JobStatus"), done.eval("ExitCode")) == (4, 0)
    assert (done.eval("NumJobStarts"), done.eval("NumJobEvictions")) == (2, 1)
    assert done.eval("NumJobCompletions") == 1  # the vacated run used up no retry
    attempts = [(a.eval("Failure"), a.eval("Outcome"), a.eval("Reason"))
                for a in done.eval("Attempts")]
    assert attempts == [("evicted", "requeued", "to another slot"),
                        ("exit", "completed", "exited with code 0")]
    one, two = sorted(runs(pool), key=lambda run: run["start"])
    assert one["end"] < two["start"], (one, two)  # never two runs at once


def test_a_suspended_job_is_stopped_on_its_claimed_slot_and_continues(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "1", "--memory", "512", "--slots", "1")
    pids = pool.home / "pids"
    cluster = submit_script(pool, f"sleep 300 & echo $$ $! > {pids}.new; mv {pids}.new {pids}; "
                                  "wait\n")
    family = [int(pid) for pid in until(lambda: pids.exists() and pids.read_text().split(),
                                        "job's pids", pool)]
    until(lambda: job_attr(pool, cluster, "JobStatus") == "2", "Running job", pool)
    assert pool.roost("suspend", f"{cluster}.0").stdout == f"Job {cluster}.0 suspended\n"
    until(lambda: all(process_state(pid) == "T" for pid in family), "stopped family", pool)
    assert job_attr(pool, cluster, "JobStatus") == "7"
    assert "0 running, 0 held, 1 suspended" in pool.roost("q", str(cluster)).stdout
    until(lambda: [(ad.eval("State"), ad.eval("Activity")) for ad in pool.slots()]
          == [("Claimed", "Suspended")], "slot claimed and suspended", pool)
    assert pool.roost("continue", f"{cluster}.0").stdout == f"Job {cluster}.0 continued\n"
    until(lambda: all(process_state(pid) in ("R", "S") for pid in family), "running family",
          pool)
    assert job_attr(pool, cluster, "JobStatus") == "2"
    until(lambda: [(ad.eval("State"), ad.eval("Activity")) for ad in pool.slots()]
          == [("Claimed", "Busy")], "slot busy again", pool)
