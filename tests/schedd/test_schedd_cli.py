"""``roost schedd``, ``submit``, ``rm``/``hold``/``release``, ``qedit`` and ``retry`` as a
user runs them: real daemons, the command line in-process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import pytest

from roost import cli, security
from roost.client import Collector, Schedd
from roost.config import load_config

from ..daemons import Daemons


@pytest.fixture
def pool(tmp_path, monkeypatch):
    daemons = Daemons(tmp_path / "home")
    (tmp_path / "home").mkdir()
    daemons.start("matchmaker")
    daemons.start("schedd")
    for name, value in daemons.env.items():
        if name.startswith("ROOST_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    yield daemons
    daemons.stop_all()


def roost(capsys, *args, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def jobs(constraint: str = "") -> list:
    with Schedd() as schedd:
        return schedd.query(constraint)


def test_submit_job_ad_files(pool, tmp_path, capsys, monkeypatch):
    (tmp_path / "one.ad").write_text('Cmd = "/bin/sleep"\nArguments = "1"\nRequestCpus = 2\n')
    assert roost(capsys, "submit", "one.ad", "-queue", "3") == (
        0, "3 job(s) submitted to cluster 1.\n", "")
    ads = jobs()
    assert [ad["ProcId"] for ad in ads] == [0, 1, 2]
    ad = ads[0]
    assert ad["RequestCpus"] == 2
    assert ad["Iwd"] == str(tmp_path)
    assert ad["RequestMemory"] == 128
    assert 'TARGET.OpSys ==' in str(ad.lookup("Requirements"))
    assert abs(ad["QDate"] - time.time()) < 60
    # Several ads in new syntax, from standard input, as JSON ids.
    text = '[ Cmd = "/bin/a"; Arguments = "x" ]\n[ Cmd = "/bin/a"; Arguments = "y" ]\n'
    status, out, _ = roost(capsys, "submit", "-", "-queue", "2", "-json", stdin=text,
                           monkeypatch=monkeypatch)
    assert status == 0
    assert json.loads(out) == {"ClusterId": 2, "NumProcs": 4,
                               "JobIds": ["2.0", "2.1", "2.2", "2.3"]}
    assert [ad["Arguments"] for ad in jobs("ClusterId == 2")] == ["x", "x", "y", "y"]


def test_submit_description_file(pool, tmp_path, capsys):
    (tmp_path / "job.sub").write_text(
        "executable = /bin/echo\narguments = $(Process) $(x)\nrequest_memory = 1G\n"
        "queue x in (red, green)\n")
    assert roost(capsys, "submit", "job.sub")[:2] == (0, "2 job(s) submitted to cluster 1.\n")
    ads = jobs()
    assert [ad["Arguments"] for ad in ads] == ["0 red", "1 green"]
    assert {ad["RequestMemory"] for ad in ads} == {1024}


@pytest.mark.parametrize(("name", "text", "where"), [
    ("bad.ad", 'Cmd = "/bin/true"\nRequestCpus = 1 +\n', "bad.ad:2:"),
    ("bad.sub", "executable = /bin/true\nrequest_cpus = 2 +\nqueue\n", "bad.sub:2:"),
    ("bad.sub", "executable = /bin/true\nqueue 2 x in (a b\n", "bad.sub:2:"),
    # What roost's daemons would not do as the file says (roost sends no mail): refused,
    # never recorded and ignored.
    ("mail.sub", "executable = /bin/true\nnotification = Complete\nqueue\n", "mail.sub:2:16:"),
    # What condor_submit refuses too.
    ("remap.sub", "executable = /bin/true\ntransfer_output_remaps = a=b\nqueue\n",
     "remap.sub:2:"),
    ("out.sub", "executable = /bin/true\nshould_transfer_files = NO\n"
     "transfer_output_files = a\nqueue\n", "out.sub:3:"),
])
def test_bad_files_are_refused_whole(pool, tmp_path, capsys, name, text, where):
    (tmp_path / name).write_text(text)
    status, out, err = roost(capsys, "submit", name)
    assert status == 1
    assert out == ""
    assert err.startswith(f"roost: {where}") and err.count("\n") == 1
    assert jobs() == []


def test_commands_the_daemons_honour_are_submitted(pool, tmp_path, capsys):
    (tmp_path / "job.sub").write_text(
        "executable = /bin/true\noutput = o\nstream_output = true\nleave_in_queue = true\n"
        "allowed_job_duration = 600\nallowed_execute_duration = 300\nnotification = never\n"
        "notify_user = a@example.org\ntransfer_output_files = o\n"
        "transfer_output_remaps = \"o = results/o\"\nqueue\n")
    assert roost(capsys, "submit", "job.sub")[:2] == (0, "1 job(s) submitted to cluster 1.\n")
    (ad,) = jobs()
    assert [ad.get(name) for name in ("StreamOut", "LeaveJobInQueue", "AllowedJobDuration",
                                      "AllowedExecuteDuration", "JobNotification",
                                      "TransferOutput", "TransferOutputRemaps")] == [
        True, True, 600, 300, 0, "o", "o = results/o"]


def test_rm_hold_release_qedit_retry(pool, tmp_path, capsys):
    (tmp_path / "j.ad").write_text('Cmd = "/bin/true"\n')
    roost(capsys, "submit", "j.ad", "-queue", "4")
    assert roost(capsys, "hold", "1.1", "-reason", "wait for data") == (0, "Job 1.1 held\n", "")
    (held,) = jobs("JobStatus == 5")
    assert held["HoldReason"] == "wait for data"
    assert roost(capsys, "release", "1")[:2] == (
        0, "All jobs in cluster 1 have been released\n")
    status, _, err = roost(capsys, "release", "1.0")
    assert status == 1 and "1.0" in err
    assert roost(capsys, "qedit", "1.2", "JobPrio", "7")[:2] == (
        0, 'Set attribute "JobPrio" for 1 matching jobs.\n')
    assert [ad["JobPrio"] for ad in jobs("ProcId == 2")] == [7]
    user = Schedd().user
    assert roost(capsys, "rm", user)[:2] == (
        0, f"All jobs of user {user} have been marked for removal\n")
    assert jobs() == []
    status, _, err = roost(capsys, "rm", "1.0")
    assert status == 1 and "no such job" in err
    assert roost(capsys, "retry", "1")[:2] == (0, "4 failed job(s) of cluster 1 re-queued.\n")
    assert len(jobs("JobStatus == 1")) == 4


def test_parents_rerun_and_retry_of_a_job(pool, tmp_path, capsys):
    (tmp_path / "parent.sub").write_text("executable = /bin/true\nqueue 2\n")
    (tmp_path / "child.sub").write_text("executable = /bin/true\nparents = 1.1\nqueue\n")
    (tmp_path / "orphan.sub").write_text("executable = /bin/true\nparents = 9\nqueue\n")
    roost(capsys, "submit", "parent.sub")
    assert roost(capsys, "submit", "child.sub")[:2] == (0, "1 job(s) submitted to cluster 2.\n")
    (child,) = jobs("ClusterId == 2")
    assert (child["JobStatus"], child["Parents"]) == (8, "1.1")
    status, out, err = roost(capsys, "submit", "orphan.sub")
    assert (status, out) == (1, "")
    assert err.count("\n") == 1
    assert err.endswith("unknown parent 9: no such job in the queue or its history\n")
    assert [ad["ClusterId"] for ad in jobs()] == [1, 1, 2]
    # Removing the parent blocks the child; retrying that one job re-arms the child.
    roost(capsys, "rm", "1.1")
    assert [ad["ClusterId"] for ad in jobs()] == [1]
    assert roost(capsys, "retry", "1.1")[:2] == (0, "1 failed job(s) of job 1.1 re-queued.\n")
    assert sorted((ad["ClusterId"], ad["ProcId"], ad["JobStatus"]) for ad in jobs()) == [
        (1, 0, 1), (1, 1, 1), (2, 0, 8)]
    roost(capsys, "rm", "1.0")
    assert roost(capsys, "rerun", "-constraint", "ClusterId == 1 && ProcId == 0")[:2] == (
        0, "1 finished job(s) re-queued.\n")
    status, _, err = roost(capsys, "rerun", "-constraint", "ClusterId == 77")
    assert (status, err) == (1, "roost: no finished jobs match\n")


def test_schedd_ads_reach_the_collector(pool, tmp_path, capsys):
    (tmp_path / "j.ad").write_text('Cmd = "/bin/true"\n')
    roost(capsys, "submit", "j.ad", "-queue", "2")
    config = load_config()
    with Collector(config=config) as collector:
        (schedd,) = collector.query("Scheduler")
        address = (config.home / "run" / "schedd.address").read_text().strip()
        assert schedd["MyAddress"] == address
    # The ads are sent at start and every update interval; a restart sends them at once.
    pool.kill("schedd")
    pool.start("schedd")
    with Collector(config=config) as collector:
        (submitter,) = collector.query("Submitter")
        (schedd,) = collector.query("Scheduler")
    assert submitter["IdleJobs"] == 2
    assert schedd["TotalIdleJobs"] == 2


def test_many_watchers_are_served_and_submits_go_on(pool):
    import threading

    from classad import ClassAd

    watchers, received = [], []
    lock = threading.Lock()
    subscribed = threading.Semaphore(0)  # a release per stream the schedd has subscribed

    def watch(client):
        for event in client.job_events(include_current=False):
            if event.kind == "subscribed":
                subscribed.release()
            elif event.kind == "submitted":
                with lock:
                    received.append(event.job_id)
                return

    threads = []
    for _ in range(100):
        client = Schedd()
        watchers.append(client)
        thread = threading.Thread(target=watch, args=(client,), daemon=True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + 60
    for _ in threads:
        assert subscribed.acquire(timeout=max(0.0, deadline - time.monotonic())), \
            "not every event stream was subscribed"
    with Schedd() as schedd:
        cluster = schedd.submit(ClassAd({"Cmd": "/bin/true"})).cluster()
    for thread in threads:
        thread.join(20)
    for client in watchers:
        client.close()
    assert received == [f"{cluster}.*"] * 100  # a submit is one event for its cluster


def test_a_schedd_given_a_token_and_no_pool_key_refuses_to_start_saying_why(tmp_path):
    home = tmp_path / "submit-host"
    token = tmp_path / "schedd.token"
    token.write_text(security.create_token(security.SigningKey.generate(), "schedd@sub",
                                           ["advertise-schedd"], 600) + "\n")
    done = subprocess.run([sys.executable, "-m", "roost", "schedd", "--foreground",
                           "--token", str(token)], env={**os.environ, "ROOST_HOME": str(home)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"roost: no pool key in {token} or {home / 'keys'}: a schedd checks its users' "
        "tokens with the pool's public key (roost token create --out writes it with the "
        "token)")
    assert not (home / "schedd").exists(), "nothing was made before the refusal"
    assert not (home / "keys").exists(), "a schedd given a token makes no key of its own"


def test_a_revoked_token_is_refused_by_the_collector_and_the_schedd(tmp_path, monkeypatch,
                                                                    capsys):
    daemons = Daemons(tmp_path / "home")
    (tmp_path / "home").mkdir()
    daemons.env["ROOST_SECURITY_REVOCATION_INTERVAL"] = "1"
    try:
        daemons.start("matchmaker")
        daemons.start("schedd")
        for name, value in daemons.env.items():
            if name.startswith("ROOST_"):
                monkeypatch.setenv(name, value)
        key = security.SigningKey.load(security.key_path(tmp_path / "home"))
        alice = tmp_path / "alice.token"
        security.write_token(alice, security.create_token(key, "alice@pool", ["submit"], 600))
        bob = tmp_path / "bob.token"
        security.write_token(bob, security.create_token(key, "bob@pool", ["submit"], 600))
        monkeypatch.setenv("ROOST_SECURITY_TOKEN_FILE", str(alice))
        assert roost(capsys, "q")[0] == 0 and roost(capsys, "status", "-schedd")[0] == 0
        # The administrator (who holds the pool key) revokes alice's token by its file.
        monkeypatch.delenv("ROOST_SECURITY_TOKEN_FILE")
        status, out, _ = roost(capsys, "token", "revoke", str(alice))
        token_id = security.decode_token(security.load_token(alice)).token_id
        assert (status, out.split(" (")[0]) == (0, f"revoked token {token_id}")
        monkeypatch.setenv("ROOST_SECURITY_TOKEN_FILE", str(alice))
        for args in (("status", "-schedd"), ("q",)):
            deadline = time.monotonic() + 10
            while (said := roost(capsys, *args))[0] == 0:
                assert time.monotonic() < deadline, f"roost {' '.join(args)} still accepted"
                time.sleep(0.2)
            assert f"did not accept the token: token {token_id} was revoked" in said[2]
        monkeypatch.setenv("ROOST_SECURITY_TOKEN_FILE", str(bob))
        assert roost(capsys, "q")[0] == 0, "another token of the pool is not revoked"
        with Collector() as collector:
            (ad,) = collector.query("Collector", projection=["RevokedTokens"])
        assert ad.eval("RevokedTokens") == [token_id]
    finally:
        daemons.stop_all()
