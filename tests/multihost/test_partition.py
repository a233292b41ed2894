"""A partition between a desktop and the central manager in the middle of a run (the
desktop's port of the bridge goes down, tests/hosts.py): the desktop's startd kills its
jobs when their claims' leases run out, the schedd puts them back only after that, and
they finish on the other desktop, exactly once at a time, nothing lost.  Once the partition
heals nothing is left inconsistent: no job process on the healed desktop, no claim held on
either side, and each job's Attempts says what happened."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import defaultdict

import pytest

from .test_hosts import dial, serve
from .test_pool import PORT, TIMEOUT, Site, central_manager, join

pytestmark = pytest.mark.xdist_group("hosts-partition")

LEASE = 6  # the schedd's claim lease, seconds (default 60)
# Shortened so that a test stays under a minute: the stale ads of a desktop cut off leave
# the collector soon (default: after 900 s, swept every 60 s), and so the negotiator stops
# matching them.
SETTINGS = {"ROOST_SCHEDD_CLAIM_LEASE": str(LEASE), "ROOST_MATCHMAKER_AD_LIFETIME": "12",
            "ROOST_MATCHMAKER_HOUSEKEEPING_INTERVAL": "2"}
JOB = "/tmp/roost-job.sh"  # each desktop's own /tmp
STAMPS = "/tmp/stamps"
# A job: notes its start, that it is alive every 0.2 s for about 12 s (longer than a
# lease, so a startd cut off kills it first), and its end, with the time, in STAMPS on the
# host it runs on.
SCRIPT = f"""\
id=$1
echo "$id start $(date +%s.%N)" >> {STAMPS}
i=0
while [ $i -lt 60 ]; do
    echo "$id alive $(date +%s.%N)" >> {STAMPS}
    sleep 0.2
    i=$((i + 1))
done
echo "$id end $(date +%s.%N)" >> {STAMPS}
"""


def desktop(cm: Site, host) -> Site:
    desk = Site(host, **SETTINGS)
    join(cm, desk)
    host.path(JOB).write_text(SCRIPT)
    desk.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token",
               "--cpus", "2", "--memory", "1024")
    return desk


def runs(host) -> dict[str, dict[str, list[float]]]:
    """Per job, its stamps on ``host``: start, alive and end times."""
    found: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    path = host.path(STAMPS)
    for line in (path.read_text().splitlines() if path.exists() else []):
        job_id, kind, when = line.split()
        found[job_id][kind].append(float(when))
    return found


def job_processes(host) -> list[str]:
    """The command lines of the jobs' processes still alive on ``host``."""
    found = []
    for pid in host.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if JOB in line:
            found.append(line)
    return found


def test_a_host_cut_off_the_bridge_reaches_nobody_until_it_heals(make_network):
    network = make_network(["cm", "desk1"])
    server, port = serve(network["cm"], network["cm"].address)
    try:
        assert dial(network["desk1"], network["cm"].address, port) == "cm"
        network["desk1"].cut_off()
        assert dial(network["desk1"], network["cm"].address, port) in (
            "timed out", "EHOSTUNREACH", "ENETUNREACH")
        network["desk1"].heal()
        deadline = time.monotonic() + 15
        while (answer := dial(network["desk1"], network["cm"].address, port)) != "cm":
            assert time.monotonic() < deadline, answer
    finally:
        server.stdin.close()
        server.wait(timeout=10)


def test_a_partition_costs_its_jobs_a_lease_and_leaves_nothing_inconsistent(make_network):
    network = make_network(["cm", "desk1", "desk2"])
    cm = central_manager(network["cm"], **SETTINGS)
    desks = {name: desktop(cm, network[name]) for name in ("desk1", "desk2")}
    cm.wait_for("two partitionable slots", "status", "-af", "Name", count=2)
    (network["cm"].directory / "jobs.sub").write_text(
        f"executable = /bin/sh\narguments = {JOB} $(Cluster).$(Process)\n"
        "initialdir = /\nqueue 4\n")
    cluster = re.search(r"cluster (\d+)", cm.roost("submit", "jobs.sub").stdout).group(1)
    running = cm.wait_for("four running jobs", "q", cluster, "-constraint", "JobStatus == 2",
                          "-af", "ProcId", "RemoteHost", count=4)
    on_desk1 = {f"{cluster}.{proc}" for proc, host in running if host.endswith("@desk1")}
    assert len(on_desk1) == 2, running  # two CPUs a desktop: two jobs on each

    network["desk1"].cut_off()
    waited = cm.roost("wait", "-timeout", "60", "-quiet", cluster, check=False)
    logs = cm.logs() + desks["desk1"].logs() + desks["desk2"].logs()
    assert waited.returncode == 0, waited.stdout + waited.stderr + logs
    network["desk1"].heal()

    # Nothing lost, nothing twice: every job completed once, and a run cut off is not
    # counted as the job's failure.
    history = json.loads(cm.roost("history", cluster, "-json").stdout)
    assert len(history) == 4, history
    for ad in history:
        job_id = f"{ad['ClusterId']}.{ad['ProcId']}"
        assert (ad["ExitCode"], ad["NumJobCompletions"]) == (0, 1), ad
        attempts = [(a["Failure"], a["Outcome"]) for a in ad["Attempts"]]
        if job_id in on_desk1:
            assert attempts == [("machine-lost", "requeued"), ("exit", "completed")], ad
            assert ad["NumMachineLosses"] == 1 and ad["LastRemoteHost"].endswith("@desk2")
        else:
            assert attempts == [("exit", "completed")], ad

    # Exactly once at a time: a job's run cut off on desk1 was last alive before its
    # run on desk2 began, and no job ran to its end on desk1.
    first, second = runs(network["desk1"]), runs(network["desk2"])
    for job_id in on_desk1:
        cut_run, rerun = first[job_id], second[job_id]
        assert cut_run["start"] and not cut_run["end"], cut_run
        assert len(rerun["start"]) == len(rerun["end"]) == 1, rerun
        assert max(cut_run["alive"]) < rerun["start"][0], (job_id, cut_run, rerun)
    # desk1's startd killed them itself, when their claims' leases ran out.
    startd_log = "".join(log.read_text() for log in (desks["desk1"].home / "log").glob(
        "startd*.log"))
    assert startd_log.count("the lease has expired") == 2, startd_log
    ends = sorted(job_id for stamps in (first, second) for job_id, kinds in stamps.items()
                  for _ in kinds["end"])
    assert ends == sorted(f"{cluster}.{proc}" for proc in range(4))

    # Healed: desk1's startd advertises again, holding no claim (the ads of its dynamic
    # slots, whose withdrawal could not reach the collector, have expired), and runs no
    # job; the schedd holds no claim either.
    idle = [["slot1@desk1", "Unclaimed"], ["slot1@desk2", "Unclaimed"]]
    deadline = time.monotonic() + TIMEOUT
    while (slots := sorted(cm.values("status", "-af", "Name", "State"))) != idle:
        assert time.monotonic() < deadline, f"desk1 never came back: {slots}\n{logs}"
        time.sleep(0.5)
    assert job_processes(network["desk1"]) == []
    assert job_processes(network["desk2"]) == []
    with sqlite3.connect(f"file:{cm.home / 'schedd' / 'queue.db'}?mode=ro", uri=True) as db:
        assert db.execute("select claim_id, slot_name from claims").fetchall() == []
