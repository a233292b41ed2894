"""``roost vacate``, ``suspend`` and ``continue`` as a user runs them against a schedd:
the jobs named as ``roost rm`` names them, condor's words, and the queue they leave."""

from __future__ import annotations

import pytest

from classad import ClassAd
from roost import cli
from schedd.job_queue import Caller
from schedd.job_status import JobStatus
from schedd.lifecycle import JobStarted

ALICE = Caller("alice", admin=False)


@pytest.fixture
def queue(pool, tmp_path, monkeypatch):
    """Cluster 1: jobs 1.0 and 1.1 running, 1.2 idle; the CLI talks to the schedd as alice."""
    token = tmp_path / "alice.token"
    token.write_text(pool.token("alice@pool"))
    monkeypatch.setenv("ROOST_HOME", str(tmp_path))
    monkeypatch.setenv("ROOST_SCHEDD_ADDRESS", pool.address)
    monkeypatch.setenv("ROOST_SECURITY_TOKEN_FILE", str(token))
    pool.jobs.submit(ALICE, ClassAd({"Cmd": "/bin/true"}), [], 3)
    for job_id in ("1.0", "1.1"):
        pool.jobs.job_started(job_id, JobStarted("slot1@node1", pool.jobs.now()))
    return pool


def roost(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def statuses(pool) -> dict[int, int]:
    return {ad.eval("ProcId"): ad.eval("JobStatus") for ad in pool.jobs.query("ClusterId == 1")}


def test_suspend_continue_and_vacate_name_jobs_as_rm_does(queue, capsys):
    assert roost(capsys, "suspend", "1") == (
        0, "All jobs in cluster 1 have been suspended\n", "")  # the idle one is not running
    assert statuses(queue) == {0: JobStatus.SUSPENDED, 1: JobStatus.SUSPENDED,
                               2: JobStatus.IDLE}
    assert roost(capsys, "continue", "1.0") == (0, "Job 1.0 continued\n", "")
    assert roost(capsys, "vacate", "-constraint", "JobStatus == 7")[:2] == (
        0, "All jobs matching constraint (JobStatus == 7) have been vacated\n")
    assert roost(capsys, "vacate", "1.0", "-reason", "a bad node")[:2] == (0, "Job 1.0 vacated\n")
    reasons = {ad.eval("ProcId"): ad.get("VacateReason")
               for ad in queue.jobs.query("ClusterId == 1")}
    assert reasons == {0: "a bad node", 1: "via roost vacate", 2: None}
    # On their machines until the machines report the runs over.
    assert statuses(queue) == {0: JobStatus.RUNNING, 1: JobStatus.SUSPENDED,
                               2: JobStatus.IDLE}
    assert roost(capsys, "continue", "alice")[:2] == (
        0, "All jobs of user alice have been continued\n")
    assert statuses(queue)[1] == JobStatus.RUNNING


def test_what_does_not_apply_is_an_error(queue, capsys):
    status, out, err = roost(capsys, "vacate", "1.2")
    assert (status, out) == (1, "")
    assert "job 1.2: cannot vacate it" in err
    status, _, err = roost(capsys, "continue", "1.0")
    assert status == 1 and "job 1.0: cannot continue it" in err
    status, _, err = roost(capsys, "suspend", "7")
    assert status == 1 and "All jobs in cluster 7: no jobs found" in err
    assert roost(capsys, "suspend")[0] == 2  # name the jobs
    with pytest.raises(SystemExit):  # condor_suspend keeps no reason, nor does roost
        cli.main(["suspend", "-reason", "why", "1.0"])
    status, _, err = roost(capsys, "qedit", "1.2", "VacateRequested", "1")
    assert status == 1 and "VacateRequested cannot be changed" in err  # the schedd's own


def test_the_verbs_are_listed(capsys):
    status, out, _ = roost(capsys, "--help")
    assert status == 0
    for verb in ("vacate", "suspend", "continue"):
        assert f"\n  {verb} " in out
