"""Workflows of plain jobs joined by ``parents`` (no DAG file) in a personal pool, submitted
with ``roost submit`` as a user would.  qdo's example: 32 groups of 25 extract tasks, one
merge per group that waits for its group's cluster, and a final merge that waits for every
merge.  Each job notes its id, start and end, so that the order shows from the jobs' own
timestamps."""

from __future__ import annotations

import os
import re

import pytest

from .test_pool import Pool

GROUPS, TASKS = 32, 25
SLOTS = 16

TASK = """#!/bin/sh
# id: note the start and the end.
echo "$1 start $(date +%s.%N)" >> {home}/runs
echo "$1 end $(date +%s.%N)" >> {home}/runs
"""


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    yield pool
    pool.roost("pool", "down", check=False)


def submit(pool: Pool, name: str, text: str) -> int:
    """``roost submit`` of a submit file ``name`` holding ``text``: its cluster."""
    (pool.home / name).write_text(f"executable = {pool.home}/task.sh\n{text}")
    done = pool.roost("submit", str(pool.home / name))
    found = re.fullmatch(r"\d+ job\(s\) submitted to cluster (\d+)\.\n", done.stdout)
    assert found, done.stdout
    return int(found.group(1))


def spans(pool: Pool) -> dict[str, dict[str, list[float]]]:
    """Each job id's start and end times, as the jobs noted them."""
    found: dict[str, dict[str, list[float]]] = {}
    for line in (pool.home / "runs").read_text().splitlines():
        job, kind, when = line.split()
        found.setdefault(job, {"start": [], "end": []})[kind].append(float(when))
    return found


def test_qdo_groups_of_extracts_a_merge_per_group_and_a_final_merge(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("wide", "--slots", str(SLOTS), "--cpus", str(SLOTS),
                "--memory", str(SLOTS * 128), "--disk", str(SLOTS * 2 * 2**20))
    (pool.home / "task.sh").write_text(TASK.format(home=pool.home))
    os.chmod(pool.home / "task.sh", 0o755)
    groups: dict[int, int] = {}  # extract cluster -> its merge's cluster
    for group in range(GROUPS):
        extracts = submit(pool, f"extract-{group}.sub",
                          "arguments = $(Cluster).$(Process)\nqueue 25\n")
        groups[extracts] = submit(pool, f"merge-{group}.sub",
                                  f"arguments = $(Cluster)\nparents = {extracts}\nqueue\n")
    final = submit(pool, "final.sub", "arguments = $(Cluster)\n"
                   f"parents = {', '.join(str(merge) for merge in groups.values())}\nqueue\n")
    waited = pool.roost("wait", "-quiet", "-timeout", "120", str(final), check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + pool.logs()

    ran = spans(pool)
    extract_ids = {f"{cluster}.{proc}" for cluster in groups for proc in range(TASKS)}
    assert set(ran) == extract_ids | {str(merge) for merge in groups.values()} | {str(final)}
    assert all(len(run["start"]) == len(run["end"]) == 1 for run in ran.values())  # once
    for extracts, merge in groups.items():
        ended = max(ran[f"{extracts}.{proc}"]["end"][0] for proc in range(TASKS))
        assert ran[str(merge)]["start"][0] > ended, (extracts, merge)
    last_merge = max(ran[str(merge)]["end"][0] for merge in groups.values())
    assert ran[str(final)]["start"][0] > last_merge
