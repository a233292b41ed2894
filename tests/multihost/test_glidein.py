"""A glide-in pilot on a namespace host (tests/hosts.py): the batch script that ``roost
glidein submit`` writes, run on a compute node as Slurm would run it (an ``srun`` that
only drops its options), joins the central manager's pool with its token alone, and its
startd advertises the node's own address, not loopback, so that jobs submitted on the
central manager run there."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from startd.glidein.pilot import PilotSpec, slurm_script

from .test_pool import PORT, TIMEOUT, Site, central_manager, join

pytestmark = pytest.mark.xdist_group("hosts-glidein")

# Slurm's srun, for one task on this node: its options dropped, the command run.
FAKE_SRUN = """#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in --*) shift ;; *) break ;; esac; done
exec "$@"
"""


def test_a_pilots_startd_advertises_its_nodes_address(make_network):
    network = make_network(["cm", "node1"])
    cm_host, node = network["cm"], network["node1"]
    cm = central_manager(cm_host)
    pilot = Site(node)
    join(cm, pilot)  # the pilot's one file: startd.token, for the node's name
    script = slurm_script(
        PilotSpec(f"cm:{PORT}", 600, token_file=str(node.directory / "startd.token")),
        home=pilot.home, python=sys.executable)
    assert "--address" not in script and "pool.key" not in script
    (node.directory / "pilot.sh").write_text(script)
    bin_dir = node.directory / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(FAKE_SRUN)
    (bin_dir / "srun").chmod(0o755)
    env = {**pilot.env, "PATH": f"{bin_dir}:{pilot.env['PATH']}", "SLURM_JOB_ID": "7",
           "SLURM_NODEID": "0", "SLURMD_NODENAME": "node1", "SLURM_CPUS_ON_NODE": "1",
           "SLURM_MEM_PER_NODE": "512", "SLURM_JOB_END_TIME": str(int(time.time()) + 600)}
    with open(node.directory / "pilot.out", "w") as out:
        batch_job = node.popen(["bash", "pilot.sh"], env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    try:
        [[name, address, my_address, glidein]] = cm.wait_for(
            "the pilot's slot", "status", "-af", "Name", "StartdIpAddr", "MyAddress",
            "IsGlidein")
        assert (name, glidein) == ("slot1@node1", "true")
        assert re.fullmatch(rf"{re.escape(node.address)}:\d+", address), address
        assert my_address == address  # the collector dialled it: no broker needed
        (cm_host.directory / "job.sub").write_text(
            "executable = /bin/hostname\n"
            "initialdir = /\n"  # the submit directory is not on the node
            "+MaxRuntime = 60\n"
            "queue\n")
        cluster = re.search(r"cluster (\d+)", cm.roost("submit", "job.sub").stdout).group(1)
        waited = cm.roost("wait", "-timeout", str(int(TIMEOUT)), "-quiet", cluster,
                          check=False)
        assert waited.returncode == 0, (waited.stdout + waited.stderr + cm.logs()
                                        + (node.directory / "pilot.out").read_text())
        assert cm.values("history", cluster, "-af", "ExitCode", "LastRemoteHost") == [
            ["0", "slot1_1@node1"]]
    finally:
        batch_job.terminate()
        batch_job.wait(30)
