"""A DAG in a personal pool whose schedd is killed with SIGKILL twice while its nodes run:
the schedd starts again, the DAG resumes and succeeds, no node's job runs twice (beyond the
RETRY it was told to make) and none is lost, and no child starts before its parents end.
Each run of a node's job notes its node, its shell's pid, its start and its end."""

from __future__ import annotations

import os
import re
import time

import pytest

from .test_pool import TIMEOUT, Pool

JOB = """#!/bin/sh
# node seconds: note the start, fail once where the test says, note the end.
echo "$1 $$ start $(date +%s.%N)" >> {home}/runs
if [ -e {home}/fail-$1 ]; then rm -f {home}/fail-$1; echo "$1 $$ fail 0" >> {home}/runs; exit 3; fi
sleep $2
echo "$1 $$ end $(date +%s.%N)" >> {home}/runs
"""

# Four layers: a root, 24 nodes fanning out from it, a node they fan into (with a POST
# script), 8 nodes after it and a last node: 35 nodes.
WIDE = [f"M{i}" for i in range(24)]
NARROW = [f"N{i}" for i in range(8)]
NODES = ["A", *WIDE, "B", *NARROW, "Z"]
DAG = ("".join(f"JOB {node} node.sub\n" for node in NODES)
       + f"PARENT A CHILD {' '.join(WIDE)}\nPARENT {' '.join(WIDE)} CHILD B\n"
       + f"PARENT B CHILD {' '.join(NARROW)}\nPARENT {' '.join(NARROW)} CHILD Z\n"
       + "RETRY M5 1\nSCRIPT POST B post.sh $JOB $RETURN\n"
       + 'VARS ALL_NODES node="$(JOB)" seconds="1"\n')


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    yield pool
    pool.roost("pool", "down", check=False)


def executable(path, text: str) -> None:
    path.write_text(text)
    os.chmod(path, 0o755)


def runs(pool: Pool) -> dict[str, dict[str, dict[str, float]]]:
    """node -> pid -> {"start": t, "end": t, "fail": 0} as the runs noted them."""
    path = pool.home / "runs"
    found: dict[str, dict[str, dict[str, float]]] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        node, pid, kind, when = line.split()
        found.setdefault(node, {}).setdefault(pid, {})[kind] = float(when)
    return found


def until_ended(pool: Pool, nodes: list[str], count: int) -> None:
    """Wait until ``count`` of ``nodes`` have a run that ended."""
    deadline = time.monotonic() + TIMEOUT
    while sum(1 for node in nodes
              if any("end" in run for run in runs(pool).get(node, {}).values())) < count:
        assert time.monotonic() < deadline, runs(pool)
        time.sleep(0.2)


def restart_schedd(pool: Pool) -> None:
    pool.kill("schedd")
    pool.roost("schedd")


def test_sigkill_of_the_schedd_in_the_middle_of_a_dag(pool):
    # A lease that outlasts the schedd's restart (4-6 s on a loaded machine of 2 cores),
    # as HTCondor's job lease must: under the pool tests' 6 s, a startd gave up the claim
    # of a job that had ended while the schedd was down, and the schedd, finding the claim
    # gone, rightly ran the job again.
    pool.env["ROOST_SCHEDD_CLAIM_LEASE"] = "30"
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "4", "--memory", "2048", "--slots", "4")
    executable(pool.home / "job.sh", JOB.format(home=pool.home))
    executable(pool.home / "post.sh", f'#!/bin/sh\necho "post $1 $2" >> {pool.home}/posts\n'
               "sleep 1\nexit $2\n")
    (pool.home / "node.sub").write_text(f"executable = {pool.home}/job.sh\n"
                                        "arguments = $(node) $(seconds)\nqueue\n")
    (pool.home / "fail-M5").touch()  # M5 fails its first run, and is retried once
    (pool.home / "test.dag").write_text(DAG)
    done = pool.roost("dag", "submit", str(pool.home / "test.dag"))
    dag = re.fullmatch(r"35 node\(s\) submitted as DAG (\d+)\.\n", done.stdout).group(1)

    until_ended(pool, WIDE, 4)  # the fan-out is under way: some ended, some run
    restart_schedd(pool)
    deadline = time.monotonic() + TIMEOUT
    while not (pool.home / "posts").exists():  # B's POST script runs
        assert time.monotonic() < deadline, runs(pool)
        time.sleep(0.1)
    restart_schedd(pool)
    waited = pool.roost("wait", "-quiet", "-timeout", "150", dag, check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + pool.logs()

    ran = runs(pool)
    assert set(ran) == set(NODES)  # none lost
    for node, by_pid in ran.items():
        failed = [run for run in by_pid.values() if "fail" in run]
        ended = [run for run in by_pid.values() if "end" in run]
        # Once each, M5 twice as its RETRY said: the first time failing.
        assert (len(failed), len(ended), len(by_pid)) == (
            (1, 1, 2) if node == "M5" else (0, 1, 1)), (node, by_pid)
    end = {node: max(run.get("end", 0) for run in by_pid.values())
           for node, by_pid in ran.items()}
    start = {node: min(run["start"] for run in by_pid.values()) for node, by_pid in ran.items()}
    parents = {**{node: ["A"] for node in WIDE}, "B": WIDE, **{node: ["B"] for node in NARROW},
               "Z": NARROW}
    for child, its_parents in parents.items():
        assert start[child] > max(end[parent] for parent in its_parents), child
    # The POST script may run again after a crash (as DAGMan's recovery runs it); it saw
    # B's job succeed every time.
    assert set((pool.home / "posts").read_text().splitlines()) == {"post B 0"}
    status = pool.roost("dag", "status", dag).stdout
    assert ": succeeded, return value 0" in status, status
    assert re.search(r"\n  M5 +\d+  done +1/1", status), status
