"""File transfer through a whole pool of processes on loopback, its startd of another
FileSystemDomain than the schedd's (as a desktop of another host would be): jobs get
their input in a sandbox, their output comes back to the submit directory, and what
cannot move holds the job with HTCondor's codes.  A pool of one domain (a personal pool)
runs jobs in place, as it always did."""

from __future__ import annotations

import os
import time

import pytest

from .test_pool import TIMEOUT, Pool

SCRIPT = """#!/bin/sh
[ "$PWD" = "$_CONDOR_SCRATCH_DIR" ] || { echo "not in the sandbox: $PWD" >&2; exit 7; }
cat a.txt data/b.txt > result.txt
read line
echo "stdin said $line"
echo "to stderr" >&2
mkdir made && echo m > made/m.txt
echo "left in the sandbox" > not-listed.txt
"""


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    pool.env["ROOST_STARTD_FILE_SYSTEM_DOMAIN"] = "execute.test"
    pool.env["ROOST_SCHEDD_FILE_SYSTEM_DOMAIN"] = "submit.test"
    yield pool
    pool.roost("pool", "down", check=False)


def make_submit_dir(path):
    path.mkdir()
    (path / "run.sh").write_text(SCRIPT)
    os.chmod(path / "run.sh", 0o755)
    (path / "a.txt").write_text("alpha\n")
    (path / "data").mkdir()
    (path / "data" / "b.txt").write_text("beta\n")
    (path / "in.txt").write_text("from stdin\n")
    return path


def jobs(pool: Pool, cluster: int) -> list:
    with pool.schedd() as schedd:
        return schedd.query(f"ClusterId == {cluster}")


def wait_held(pool: Pool, cluster: int, count: int) -> list:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = jobs(pool, cluster)
        if sum(ad.eval("JobStatus") == 5 for ad in found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not held: {[a.eval('JobStatus') for a in jobs(pool, cluster)]}\n"
                         + pool.logs())


def test_input_goes_to_the_sandbox_and_output_comes_back(pool, tmp_path):
    pool.roost("pool", "up", "--startds", "1")
    [slot] = pool.slots()
    assert (slot.eval("HasFileTransfer"), slot.eval("FileSystemDomain")) == (True,
                                                                              "execute.test")
    work = make_submit_dir(tmp_path / "work")
    with pool.schedd() as schedd:
        cluster = schedd.submit(
            "executable = run.sh\ninput = in.txt\noutput = out.$(Process).txt\n"
            "error = err.$(Process).txt\ntransfer_input_files = a.txt, data\n"
            "transfer_output_files = result.txt, made\n"
            "transfer_output_remaps = \"result.txt = results/r$(Process).txt\"\nqueue 2\n",
            cwd=str(work)).cluster()
    done = pool.wait_done(cluster, 2)
    assert [ad.eval("ExitCode") for ad in done] == [0, 0], pool.logs()
    for proc in (0, 1):
        assert (work / "results" / f"r{proc}.txt").read_text() == "alpha\nbeta\n"
        assert (work / f"out.{proc}.txt").read_text() == "stdin said from stdin\n"
        assert (work / f"err.{proc}.txt").read_text() == "to stderr\n"
    assert (work / "made" / "m.txt").read_text() == "m\n"
    assert not (work / "not-listed.txt").exists() and not (work / "result.txt").exists()
    assert not [p for p in work.rglob("*") if ".roost-part-" in p.name]
    for ad in done:
        assert ad.eval("FileSystemDomain") == "submit.test"
        assert ad.eval("CumulativeTransferTime") > 0
        (attempt,) = ad.eval("Attempts")
        assert attempt["TransferInputSeconds"] > 0 and attempt["TransferOutputSeconds"] > 0
        # The run's own time is the job's, apart from the transfers.
        assert ad.eval("RemoteWallClockTime") == attempt["WallSeconds"]


def test_default_output_is_what_the_job_made(pool, tmp_path):
    pool.roost("pool", "up", "--startds", "1")
    work = make_submit_dir(tmp_path / "work")
    with pool.schedd() as schedd:
        cluster = schedd.submit(
            "executable = /bin/sh\narguments = \"-c 'cat a.txt > copy.txt; echo x >> a.txt;"
            " touch untouched'\"\ntransfer_input_files = a.txt, in.txt\nqueue\n",
            cwd=str(work)).cluster()
    [done] = pool.wait_done(cluster, 1)
    assert done.eval("ExitCode") == 0
    assert (work / "copy.txt").read_text() == "alpha\n"
    assert (work / "a.txt").read_text() == "alpha\nx\n"  # changed: it came back
    assert (work / "untouched").exists()
    assert not (work / "sh").exists()  # the executable came in unchanged: it stays there


def test_what_cannot_move_holds_the_job_with_htcondors_codes(pool, tmp_path):
    pool.roost("pool", "up", "--startds", "1")
    work = make_submit_dir(tmp_path / "work")
    with pool.schedd() as schedd:
        missing_output = schedd.submit(
            "executable = /bin/true\ntransfer_output_files = never-made.txt\nqueue\n",
            cwd=str(work)).cluster()
        missing_input = schedd.submit(
            "executable = /bin/true\ntransfer_input_files = a.txt, not-there.txt\nqueue\n",
            cwd=str(work)).cluster()
        too_big = schedd.submit(
            "executable = /bin/true\ntransfer_input_files = a.txt\n"
            "max_transfer_input_mb = 0\nqueue\n", cwd=str(work)).cluster()
    [held] = wait_held(pool, missing_output, 1)
    assert held.eval("HoldReasonCode") == 12
    assert "never-made.txt" in held.eval("HoldReason")
    [held] = wait_held(pool, missing_input, 1)
    assert held.eval("HoldReasonCode") == 13
    assert "not-there.txt" in held.eval("HoldReason")
    [held] = wait_held(pool, too_big, 1)
    assert held.eval("HoldReasonCode") == 32
    assert "MaxTransferInputMB" in held.eval("HoldReason")


def test_a_vanished_submit_directory_holds_the_job(pool, tmp_path):
    pool.roost("pool", "up", "--startds", "1")
    work = make_submit_dir(tmp_path / "work")
    started, go = tmp_path / "started", tmp_path / "go"
    with pool.schedd() as schedd:
        cluster = schedd.submit(
            f"executable = /bin/sh\narguments = \"-c 'echo out > o.txt; touch {started}; "
            f"while [ ! -e {go} ]; do sleep 0.05; done'\"\ntransfer_input_files = a.txt\n"
            "queue\n", cwd=str(work)).cluster()
    deadline = time.monotonic() + TIMEOUT
    while not started.exists():  # the job runs: its input came from the submit directory
        assert time.monotonic() < deadline, pool.logs()
        time.sleep(0.05)
    work.rename(tmp_path / "moved")
    go.touch()
    [held] = wait_held(pool, cluster, 1)
    assert held.eval("HoldReasonCode") == 12
    assert "no longer exists" in held.eval("HoldReason")
    assert not work.exists()  # nothing made it again


def test_a_pool_of_one_file_system_domain_runs_jobs_in_place(tmp_path):
    pool = Pool(tmp_path / "home")  # no domains given: both are the host's name
    try:
        pool.roost("pool", "up", "--startds", "1")
        work = make_submit_dir(tmp_path / "work")
        with pool.schedd() as schedd:
            cluster = schedd.submit(
                "executable = /bin/sh\narguments = \"-c 'pwd > where.txt'\"\n"
                "transfer_input_files = a.txt\nqueue\n", cwd=str(work)).cluster()
        [done] = pool.wait_done(cluster, 1)
        assert done.eval("ExitCode") == 0
        assert (work / "where.txt").read_text().strip() == str(work)
        assert "CumulativeTransferTime" not in done  # nothing moved
    finally:
        pool.roost("pool", "down", check=False)
