"""DAGs in a personal pool (``roost pool up``): nodes run in their order on real slots,
PRE and POST scripts run on the submit side, retries, a category's throttle, a failure that
blocks one branch while the other completes, and ``roost retry`` of the failed node.  Each
job notes its node, start and end, so that order, overlap and runs twice show."""

from __future__ import annotations

import os
import re

import pytest

from .test_pool import Pool

JOB = """#!/bin/sh
# node seconds: note the start, fail where the test says, note the end.
echo "$1 start $(date +%s.%N)" >> {home}/runs
if [ -e {home}/fail-$1 ]; then rm -f {home}/fail-$1; exit 3; fi
if [ -e {home}/broken-$1 ]; then exit 4; fi
sleep $2
echo "$1 end $(date +%s.%N)" >> {home}/runs
"""


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    yield pool
    pool.roost("pool", "down", check=False)


def executable(path, text: str) -> None:
    path.write_text(text)
    os.chmod(path, 0o755)


def submit_dag(pool: Pool, text: str, *options: str) -> int:
    """Write the DAG (every node runs job.sh with its name) and submit it: the DAG id."""
    executable(pool.home / "job.sh", JOB.format(home=pool.home))
    (pool.home / "node.sub").write_text(f"executable = {pool.home}/job.sh\n"
                                        "arguments = $(node) $(seconds)\nqueue\n")
    (pool.home / "test.dag").write_text(text + 'VARS ALL_NODES node="$(JOB)"\n')
    done = pool.roost("dag", "submit", *options, str(pool.home / "test.dag"))
    found = re.fullmatch(r"(\d+) node\(s\) submitted as DAG (\d+)\.\n", done.stdout)
    assert found, done.stdout
    return int(found.group(2))


def runs(pool: Pool) -> list[tuple[str, str, float]]:
    path = pool.home / "runs"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(node, kind, float(when)) for node, kind, when in (line.split() for line in lines)]


def starts(pool: Pool, node: str) -> int:
    return sum(1 for name, kind, _ in runs(pool) if name == node and kind == "start")


def first(pool: Pool, node: str, kind: str) -> float:
    return next(when for name, k, when in runs(pool) if name == node and k == kind)


def last(pool: Pool, node: str, kind: str) -> float:
    return [when for name, k, when in runs(pool) if name == node and k == kind][-1]


def test_a_diamond_with_scripts_and_a_retry_that_succeeds_the_second_time(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "2", "--memory", "1024")
    executable(pool.home / "pre.sh", f'#!/bin/sh\necho "pre $1 $(pwd)" >> {pool.home}/scripts\n')
    executable(pool.home / "post.sh", f'#!/bin/sh\necho "post $1 $2" >> {pool.home}/scripts\n'
               'exit $2\n')
    (pool.home / "fail-C").touch()  # C fails its first run
    dag = submit_dag(pool, "JOB A node.sub\nJOB B node.sub\nJOB C node.sub\nJOB D node.sub\n"
                     "PARENT A CHILD B C\nPARENT B C CHILD D\nRETRY C 1\n"
                     "SCRIPT PRE A pre.sh $JOB\nSCRIPT POST D post.sh $JOB $RETURN\n"
                     'VARS ALL_NODES seconds="0"\n')
    waited = pool.roost("wait", "-quiet", "-timeout", "60", str(dag), check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + pool.logs()
    assert (starts(pool, "A"), starts(pool, "B"), starts(pool, "C"), starts(pool, "D")) == (
        1, 1, 2, 1)
    assert first(pool, "A", "end") < min(first(pool, "B", "start"), first(pool, "C", "start"))
    assert first(pool, "D", "start") > max(last(pool, "B", "end"), last(pool, "C", "end"))
    assert (pool.home / "scripts").read_text().splitlines() == [f"pre A {pool.home}",
                                                                 "post D 0"]
    status = pool.roost("dag", "status", str(dag)).stdout
    assert f"DAG {dag} (test.dag+{dag}" in status and ": succeeded, return value 0" in status
    assert re.search(r"\n  C +\d+  done +1/1", status), status


def test_a_category_throttle_is_never_exceeded(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "4", "--memory", "2048")
    nodes = [f"N{i}" for i in range(6)]
    dag = submit_dag(pool, "".join(f"JOB {n} node.sub\nCATEGORY {n} heavy\n" for n in nodes)
                     + 'MAXJOBS heavy 2\nVARS ALL_NODES seconds="1"\n')
    waited = pool.roost("wait", "-quiet", "-timeout", "90", str(dag), check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + pool.logs()
    edges = sorted((when, +1 if kind == "start" else -1) for _, kind, when in runs(pool))
    running, most = 0, 0
    for _, step in edges:
        running += step
        most = max(most, running)
    assert most == 2, runs(pool)
    assert all(starts(pool, n) == 1 for n in nodes)


def test_a_failure_blocks_its_branch_the_other_completes_and_roost_retry_reruns_it(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("a", "--cpus", "2", "--memory", "1024")
    (pool.home / "broken-A").touch()
    dag = submit_dag(pool, "JOB A node.sub\nJOB B node.sub\nJOB C node.sub\nJOB D node.sub\n"
                     'PARENT A CHILD B\nPARENT C CHILD D\nVARS ALL_NODES seconds="0"\n')
    waited = pool.roost("wait", "-quiet", "-timeout", "60", str(dag), check=False)
    assert waited.returncode == 1, waited.stdout + waited.stderr + pool.logs()
    assert "exited with code 4" in waited.stdout + waited.stderr
    assert (starts(pool, "A"), starts(pool, "B"), starts(pool, "C"), starts(pool, "D")) == (
        1, 0, 1, 1)
    status = pool.roost("dag", "status", str(dag)).stdout
    assert "failed, return value 1" in status and "blocked behind it: B" in status
    cluster = re.search(r"failed: A \(cluster (\d+)\)", status).group(1)
    (pool.home / "broken-A").unlink()
    pool.roost("retry", cluster)
    waited = pool.roost("wait", "-quiet", "-timeout", "60", str(dag), check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + pool.logs()
    assert (starts(pool, "A"), starts(pool, "B"), starts(pool, "C"), starts(pool, "D")) == (
        2, 1, 1, 1)
    assert ": succeeded" in pool.roost("dag", "status", str(dag)).stdout
