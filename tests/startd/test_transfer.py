"""The startd's side of file transfer (startd.transfer): whether a job's files move, the
job ad it runs with, and which files its output is."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from classad import ClassAd
from startd import starter
from startd.transfer import (
    STDERR,
    STDOUT,
    TransferFailed,
    output_entries,
    output_limit,
    prepared_ad,
    sends_output,
    snapshot,
    wanted,
)


@pytest.mark.parametrize(("should", "job_domain", "slot_domain", "moves"), [
    ("YES", "submit.host", "submit.host", True),
    ("NO", "submit.host", "desk1", False),
    ("IF_NEEDED", "submit.host", "desk1", True),
    ("IF_NEEDED", "Submit.Host", "submit.host", False),  # one domain: a shared file system
    (None, "submit.host", "desk1", True),  # IF_NEEDED is condor_submit's default
    (None, None, "desk1", False),  # a job from before FileSystemDomain: as it always ran
    ("if_needed", "a", "b", True),
])
def test_whether_files_move(should, job_domain, slot_domain, moves):
    job = ClassAd({k: v for k, v in (("ShouldTransferFiles", should),
                                      ("FileSystemDomain", job_domain)) if v is not None})
    assert wanted(job, ClassAd({"FileSystemDomain": slot_domain})) is moves


def result(failure=starter.FAILURE_NONE, exit_code=0) -> starter.JobResult:
    return starter.JobResult(exit_code, None, starter.Usage(), failure)


@pytest.mark.parametrize(("when", "ended", "stopped_as", "sends"), [
    ("ON_EXIT", result(), "evicted", True),
    ("ON_EXIT", result(exit_code=3), "evicted", True),
    ("ON_EXIT", result(starter.FAILURE_SIGNAL, None), "evicted", True),
    ("ON_EXIT", result(starter.FAILURE_KILLED, None), "evicted", False),
    ("ON_EXIT", result(starter.FAILURE_MEMORY, None), "evicted", False),
    ("ON_EXIT", result(starter.FAILURE_START, None), "evicted", False),
    ("ON_SUCCESS", result(), "evicted", True),
    ("ON_SUCCESS", result(exit_code=1), "evicted", False),
    ("ON_EXIT_OR_EVICT", result(starter.FAILURE_KILLED, None), "evicted", True),
    ("ON_EXIT_OR_EVICT", result(starter.FAILURE_KILLED, None), "walltime", True),
    ("ON_EXIT_OR_EVICT", result(starter.FAILURE_KILLED, None), "machine-lost", False),
    ("ON_EXIT_OR_EVICT", result(exit_code=2), "evicted", True),
])
def test_when_output_moves(when, ended, stopped_as, sends):
    assert sends_output(ClassAd({"WhenToTransferOutput": when}), ended, stopped_as) is sends


def test_the_job_runs_in_its_sandbox_with_its_files_by_base_name(tmp_path):
    job = ClassAd({"Iwd": "/home/alice/run", "Cmd": "/home/alice/run/bin/sim", "In": "in/x.txt",
                   "Out": "logs/out.txt", "Err": "logs/out.txt", "Arguments": "a b"})
    ran = prepared_ad(job, tmp_path)
    assert (ran["Iwd"], ran["Cmd"], ran["In"], ran["Out"], ran["Err"]) == (
        str(tmp_path), "sim", "x.txt", STDOUT, STDOUT)
    assert ran["Arguments"] == "a b"
    kept = prepared_ad(ClassAd({"Cmd": "/bin/sleep", "TransferExecutable": False,
                                "Err": "e.txt", "Out": "/dev/null"}), tmp_path)
    assert (kept["Cmd"], kept["Err"], kept["Out"]) == ("/bin/sleep", STDERR, "/dev/null")
    # A stream that is not transferred is written where it says, on this machine.
    there = prepared_ad(ClassAd({"Out": "/shared/o.txt", "TransferOut": False}), tmp_path)
    assert there["Out"] == "/shared/o.txt"


def sandbox_with_input(path: Path) -> dict:
    path.mkdir()
    for name in ("input.dat", "sim", starter.JOB_AD_FILE):
        (path / name).write_text(name)
    (path / "indir").mkdir()
    before = snapshot(path)
    time.sleep(0.01)  # so that a change shows in the modification time
    return before


def test_default_output_is_what_the_job_made_or_changed_at_the_top(tmp_path):
    sandbox = tmp_path / "sandbox"
    before = sandbox_with_input(sandbox)
    (sandbox / "result.txt").write_text("new")
    with open(sandbox / "input.dat", "a") as changed:
        changed.write(" and more")
    (sandbox / "newdir").mkdir()
    (sandbox / "newdir" / "deep.txt").write_text("not at the top")
    (sandbox / STDOUT).write_text("printed")
    (sandbox / STDERR).write_text("complained")
    job = ClassAd({"Out": "o.txt", "Err": "e.txt"})
    names = [e.name for e in output_entries(job, sandbox, before)]
    assert names == ["input.dat", "result.txt", STDOUT, STDERR]
    # An evicted run's output, for the spool: no streams.
    assert [e.name for e in output_entries(job, sandbox, before, for_spool=True)] == [
        "input.dat", "result.txt"]


def test_files_an_evicted_run_left_are_output_even_unchanged(tmp_path):
    sandbox = tmp_path / "sandbox"
    before = sandbox_with_input(sandbox)
    names = [e.name for e in output_entries(ClassAd(), sandbox, before,
                                            intermediate=frozenset({"input.dat"}))]
    assert names == ["input.dat"]


def test_listed_output_files_and_directories(tmp_path):
    sandbox = tmp_path / "sandbox"
    before = sandbox_with_input(sandbox)
    (sandbox / "res").mkdir()
    (sandbox / "res" / "a").write_text("a")
    (sandbox / "sub").mkdir()
    (sandbox / "sub" / "b.txt").write_text("b")
    job = ClassAd({"TransferOutput": "sub/b.txt, res, input.dat"})
    assert [e.name for e in output_entries(job, sandbox, before)] == [
        "b.txt", "res", "res/a", "input.dat"]
    job["PreserveRelativePaths"] = True
    assert [e.name for e in output_entries(job, sandbox, before)][0] == "sub/b.txt"


def test_a_listed_output_the_job_did_not_make_is_hold_12_naming_it(tmp_path):
    sandbox = tmp_path / "sandbox"
    before = sandbox_with_input(sandbox)
    job = ClassAd({"TransferOutput": "input.dat, missing.out"})
    with pytest.raises(TransferFailed, match="'missing.out'") as failed:
        output_entries(job, sandbox, before, where="slot1@desk1")
    assert failed.value.hold_code == 12
    assert "slot1@desk1" in failed.value.reason


def test_an_output_may_not_leave_the_sandbox(tmp_path):
    sandbox = tmp_path / "sandbox"
    before = sandbox_with_input(sandbox)
    with pytest.raises(TransferFailed, match="not in the job's sandbox"):
        output_entries(ClassAd({"TransferOutput": "../../etc/passwd"}), sandbox, before)


def test_output_limit():
    assert output_limit(ClassAd({"MaxTransferOutputMB": 3})) == 3 << 20
    assert output_limit(ClassAd({"MaxTransferOutputMB": -1})) is None
    assert output_limit(ClassAd()) is None


def test_an_absolute_listed_output_is_read_from_the_sandbox(tmp_path):
    sandbox = tmp_path / "sandbox"
    before = sandbox_with_input(sandbox)
    (sandbox / "x").write_text("x")
    (entry,) = output_entries(ClassAd({"TransferOutput": "/x"}), sandbox, before)
    assert entry.source == sandbox / "x" and os.path.basename(entry.name) == "x"
