"""Balsam's ``dag.spawn_child`` in a personal pool (``roost pool up``): a running job adds a
random number of children and a reduce that waits for them all, with the credential of its
run found in its environment.  Each job notes its own start and end, so the order shows;
the credential shows nowhere in the queue or the logs, and is refused once the job ends."""

from __future__ import annotations

import os
import random
import sys
import time

import pytest

from roost.client import Schedd
from roost.errors import RoostError

from .test_pool import TIMEOUT, Pool

NOTE = """#!/bin/sh
# name seconds: note the start, sleep, note the end.
echo "$1 start $(date +%s.%N)" >> {home}/runs
sleep $2
echo "$1 end $(date +%s.%N)" >> {home}/runs
"""

# The parent: Balsam's post-processing step, as a Python job.  It spawns its children and
# their reduce through roost.Schedd(), which finds the run's credential and the schedd's
# address in the job's environment (no token file, no address file), hands its credential
# to the test, and waits for the test to have read the queue before it ends.
PARENT = """import os, random, time
from roost import Schedd

home = {home!r}
def note(kind):
    with open(os.path.join(home, "runs"), "a") as runs:
        runs.write(f"parent {{kind}} {{time.time():.9f}}\\n")

note("start")
count = random.Random({seed}).randint(3, 8)
def job(name, seconds):
    return (f"executable = {{home}}/note.sh\\narguments = {{name}} {{seconds}}\\n"
            f"output = {{home}}/{{name}}.out\\nerror = {{home}}/{{name}}.err\\nqueue\\n")
with Schedd() as schedd:
    children = [schedd.submit(job(f"child{{n}}", 1), cwd=home).cluster() for n in range(count)]
    reduce = schedd.submit(job("reduce", 0), cwd=home, parents=children).cluster()
with open(os.path.join(home, "spawned.tmp"), "w") as spawned:
    spawned.write(" ".join(map(str, children)) + f"\\n{{reduce}}\\n"
                  + os.environ["ROOST_JOB_TOKEN"])
os.rename(os.path.join(home, "spawned.tmp"), os.path.join(home, "spawned"))
deadline = time.monotonic() + 60
while not os.path.exists(os.path.join(home, "read")) and time.monotonic() < deadline:
    time.sleep(0.1)
note("end")
"""


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    yield pool
    pool.roost("pool", "down", check=False)


def wait_for(path, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name} within {timeout} s"
        time.sleep(0.1)


def runs(pool: Pool) -> dict[tuple[str, str], list[float]]:
    found: dict[tuple[str, str], list[float]] = {}
    for line in (pool.home / "runs").read_text().splitlines():
        name, kind, when = line.split()
        found.setdefault((name, kind), []).append(float(when))
    return found


def test_a_job_spawns_children_and_a_reduce_that_waits_for_them(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "4", "--memory", "2048")
    seed = random.randrange(1 << 30)
    count = random.Random(seed).randint(3, 8)
    note = pool.home / "note.sh"
    note.write_text(NOTE.format(home=pool.home))
    os.chmod(note, 0o755)
    (pool.home / "parent.py").write_text(PARENT.format(home=str(pool.home), seed=seed))
    # The parent's files travel (its run starts once its input is in its sandbox), as
    # between hosts that share no file system; its interpreter is the one here.
    parent = pool.submit(f"executable = {sys.executable}\ntransfer_executable = false\n"
                         f"should_transfer_files = YES\ntransfer_input_files = parent.py\n"
                         f"arguments = parent.py\nbatch_name = balsam\n"
                         f"output = parent.out\nerror = parent.err\nqueue\n")

    wait_for(pool.home / "spawned")
    children_text, reduce_text, token = (pool.home / "spawned").read_text().split("\n")
    children, reduce = [int(word) for word in children_text.split()], int(reduce_text)
    assert len(children) == count, f"seed {seed}"
    listed = pool.roost("q", "-long").stdout  # the parent still runs, its children queued
    assert f"SpawnedBy = \"{parent}.0\"" in listed
    assert token not in listed
    (pool.home / "read").touch()

    done = pool.wait_done(reduce, 1)
    ended = {cluster: pool.finished(cluster) for cluster in (parent, *children)}
    for cluster, ads in {**ended, reduce: done}.items():
        assert [(ad.eval("JobStatus"), ad.eval("ExitCode")) for ad in ads] == [(4, 0)], (
            cluster, (pool.home / "parent.err").read_text())
    for cluster in (*children, reduce):
        ad = ended.get(cluster, done)[0]
        assert (ad.eval("Owner"), ad.eval("SpawnedBy"), ad.eval("WorkflowId"),
                ad.eval("JobBatchName")) == (ended[parent][0].eval("Owner"), f"{parent}.0",
                                             parent, "balsam")

    noted = runs(pool)
    (parent_start,) = noted["parent", "start"]
    child_starts = [noted[f"child{n}", "start"] for n in range(count)]
    child_ends = [noted[f"child{n}", "end"] for n in range(count)]
    assert all(len(one) == 1 for one in (*child_starts, *child_ends)), noted  # each ran once
    assert all(start > parent_start for (start,) in child_starts)
    (reduce_start,) = noted["reduce", "start"]
    assert reduce_start > max(end for (end,) in child_ends)
    assert noted["reduce", "end"]

    # The credential died with its run, and was written nowhere.
    with Schedd(token=token, config=pool.config) as spawner, pytest.raises(
            RoostError, match=f"did not accept the token: job {parent}.0 is no longer in "
                              "the queue"):
        spawner.query()
    assert token not in pool.roost("history", "-long").stdout
    for log in (pool.home / "log").glob("*.log"):
        assert token not in log.read_text(errors="replace"), log.name
