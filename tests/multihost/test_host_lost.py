"""A desktop that vanishes: SIGKILL of everything it runs, its startd and its jobs.  Its
jobs cost only the claim lease: they go back to Idle (a lost machine, not the jobs'
failure) and run on the other desktop."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time

import pytest

from .test_partition import JOB, LEASE, SETTINGS, desktop, runs
from .test_pool import central_manager

pytestmark = pytest.mark.xdist_group("hosts-lost")


def test_sigkill_of_a_desktop_sends_its_jobs_elsewhere_after_the_lease(make_network):
    network = make_network(["cm", "desk1", "desk2"])
    cm = central_manager(network["cm"], **SETTINGS)
    desktop(cm, network["desk1"])
    cm.wait_for("desk1's slot", "status", "-af", "Name")
    (network["cm"].directory / "jobs.sub").write_text(
        f"executable = /bin/sh\narguments = {JOB} $(Cluster).$(Process)\n"
        "initialdir = /\nqueue 2\n")
    cluster = re.search(r"cluster (\d+)", cm.roost("submit", "jobs.sub").stdout).group(1)
    running = cm.wait_for("two jobs running on desk1", "q", cluster, "-constraint",
                          "JobStatus == 2", "-af", "RemoteHost", count=2)
    assert all(host.endswith("@desk1") for (host,) in running), running
    desk2 = desktop(cm, network["desk2"])

    # Everything desk1 runs, but the process that holds its namespaces.
    holder = network["desk1"].holder.pid
    for pid in network["desk1"].pids():
        if pid != holder:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    killed = time.time()
    deadline = time.monotonic() + 10
    while network["desk1"].pids() != [holder]:
        assert time.monotonic() < deadline, network["desk1"].pids()
        time.sleep(0.1)

    waited = cm.roost("wait", "-timeout", "60", "-quiet", cluster, check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + cm.logs() + desk2.logs()
    history = json.loads(cm.roost("history", cluster, "-json").stdout)
    assert len(history) == 2
    for ad in history:
        assert (ad["ExitCode"], ad["NumJobCompletions"], ad["NumMachineLosses"]) == (0, 1, 1)
        assert ad["LastRemoteHost"].endswith("@desk2")
        lost, done = ad["Attempts"]
        assert (lost["Failure"], lost["Outcome"]) == ("machine-lost", "requeued"), ad
        assert (done["Failure"], done["Outcome"]) == ("exit", "completed"), ad
        # Back in the queue after the lease, and not much later: at most two leases (the
        # last renewal the startd may have heard, before its death was certain) and the
        # grace (timing(6).grace: 2 s).
        assert killed + LEASE - 1 <= lost["End"] <= killed + 2 * LEASE + 2 + 2, (killed, lost)
    # Each ran on desk2 to its end, once.
    second = runs(network["desk2"])
    assert sorted(second) == [f"{cluster}.0", f"{cluster}.1"]
    assert all(len(stamps["start"]) == len(stamps["end"]) == 1 for stamps in second.values())
