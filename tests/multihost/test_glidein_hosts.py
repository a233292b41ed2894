"""Glide-ins on a Slurm cluster of three namespace hosts (tests/slurm_hosts.py), which share
no file system but the roost software's: slurmctld and the pool's central manager on "cm",
a slurmd on each of "node1" and "node2".  ``roost glidein submit --slurm`` runs on the
central manager, as a user there would run it; the pilot's startds join the pool with the
token its script carries, jobs with file transfer run on both nodes, the pilot leaves when
idle and Slurm records a success, a cancelled pilot's job runs once more elsewhere, and
no node ever holds the pool's signing key.  Every job records its run in the /tmp of the
node it ran on, so that a job run twice, or lost, shows."""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter

import pytest

from ..slurm_cluster import INSTALL_HINT, missing_programs
from ..slurm_hosts import SlurmHosts
from .test_pool import PORT, TIMEOUT, central_manager

pytestmark = [pytest.mark.xdist_group("hosts-slurm"),
              pytest.mark.skipif(bool(missing_programs()),
                                 reason=f"Slurm is not installed ({INSTALL_HINT})")]

NODES = ("node1", "node2")
EFFECTS = "/tmp/effects"  # on each node: a line per run of a job that ran to its end
# The job: an input file in, an output file out, and its run recorded where it ran.
JOB_SCRIPT = f"""#!/bin/sh
sleep "$2"
echo "$(hostname): $(tr a-z A-Z < in.txt)" > out.txt
echo "$1 $(grep ^GLIDEIN_BatchJobId "$_CONDOR_MACHINE_AD" | tr -dc 0-9)" >> {EFFECTS}
"""


@pytest.fixture
def cluster(make_network):
    """The hosts, Slurm across them, and the central manager on cm (its matchmaker bound
    to every interface, as one roost.toml there would have it)."""
    network = make_network(["cm", *NODES])
    slurm = SlurmHosts(network["cm"], [network[name] for name in NODES])
    try:
        slurm.start()
    except RuntimeError as error:
        pytest.fail(f"the Slurm cluster did not start: {error}", pytrace=False)
    cm = central_manager(network["cm"], SLURM_CONF=slurm.env["SLURM_CONF"])
    yield network, slurm, cm
    cm.roost("glidein", "cancel", check=False)
    slurm.stop()


def submit_pilot(cm, *options: str) -> str:
    """A pilot's batch job id: ``roost glidein submit --slurm`` on the central manager,
    with nothing but the pool's own configuration (no --collector, no --output-dir)."""
    done = cm.roost("glidein", "submit", "--slurm", "--time", "00:05:00", *options)
    match = re.match(r"submitted pilot (\d+):", done.stdout)
    assert match, done.stdout
    # The matchmaker binds 0.0.0.0: the nodes dial the central manager by its name.
    assert f"joining cm:{PORT};" in done.stdout, done.stdout
    return match.group(1)


def pilot_slots(cm, pilot: str, count: int) -> dict[str, list[str]]:
    """The pilot's slots once ``count`` have joined: name, address and state by node."""
    rows = cm.wait_for(f"{count} slot(s) of pilot {pilot}", "status", "-constraint",
                       f'GLIDEIN_BatchJobId == "{pilot}"', "-af", "Machine", "Name",
                       "StartdIpAddr", "State", count=count)
    return {machine: rest for machine, *rest in rows}


def wait_for(condition, what: str, diagnosis, timeout: float = 2 * TIMEOUT):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s\n{diagnosis()}"
        time.sleep(0.25)
    return found


def submit_jobs(cm, text: str) -> str:
    """Jobs of ``text`` (the JOB_SCRIPT's submit description) submitted from a directory
    only the central manager has; their cluster id."""
    work = cm.host.directory / "work"
    work.mkdir(exist_ok=True)
    (work / "in.txt").write_text("alpha\n")
    (work / "job.sh").write_text(JOB_SCRIPT)
    os.chmod(work / "job.sh", 0o755)
    (work / "job.sub").write_text("executable = job.sh\n"
                                  "should_transfer_files = YES\n"
                                  "transfer_input_files = in.txt\n"
                                  "transfer_output_files = out.txt\n"
                                  'transfer_output_remaps = "out.txt = out.$(Process).txt"\n'
                                  + text)
    submitted = cm.host.run([sys.executable, "-m", "roost", "submit", "job.sub"], cwd=work,
                            env=cm.env, timeout=60)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    return re.search(r"cluster (\d+)", submitted.stdout).group(1)


def effects(network) -> Counter:
    """Every run recorded on the nodes: ``JOB PILOT NODE``."""
    found = Counter()
    for name in NODES:
        path = network[name].path(EFFECTS)
        if path.exists():
            found.update(f"{line} {name}" for line in path.read_text().splitlines())
    return found


def signing_keys(network) -> dict[str, list[str]]:
    """Any pool.key in a node's own files: its /tmp (where its pilots' homes are) and its
    host directory."""
    found = {}
    for name in NODES:
        host = network[name]
        listed = host.run(["find", "/tmp", str(host.directory), "-name", "pool.key"],
                          check=True).stdout.split()
        if listed:
            found[name] = listed
    return found


def report(network, slurm, cm):
    """What explains a failure: the pilots' output on their first nodes, the Slurm and
    roost logs."""
    def diagnosis() -> str:
        outputs = []
        for name in NODES:
            for path in sorted(network[name].path("/tmp").glob("roost-glidein-*.out")):
                outputs.append(f"--- {name} {path.name}\n"
                               f"{path.read_text(errors='replace')[-2000:]}")
        status = cm.roost("glidein", "status", check=False)
        return "\n".join([status.stdout + status.stderr, *outputs, slurm.logs(), cm.logs()])
    return diagnosis


def test_a_two_node_pilot_runs_jobs_with_their_files_on_both_nodes_and_leaves_when_idle(
        cluster):
    network, slurm, cm = cluster
    diagnosis = report(network, slurm, cm)
    pilot = submit_pilot(cm, "-N", "2", "--idle-timeout", "10")
    slots = pilot_slots(cm, pilot, 2)
    assert sorted(slots) == list(NODES)
    assert sorted(slurm.job_nodes(pilot)) == list(NODES)
    for name, (slot, address, _) in slots.items():
        # Named for the pilot's own token, advertising the node's own address.
        assert re.fullmatch(rf"slot1@glidein-[0-9a-f]{{8}}-{pilot}\.{name}", slot), slot
        assert re.fullmatch(rf"{re.escape(network[name].address)}:\d+", address), address
        # The node keeps the pilot's token and the pool's public key, in its own /tmp.
        home = network[name].path(f"/tmp/roost-glidein-{pilot}.{NODES.index(name)}")
        assert (home / "startd.token").is_file() and (home / "keys" / "pool.pub").is_file()
    assert signing_keys(network) == {}

    cluster_id = submit_jobs(cm, 'arguments = "$(Cluster).$(Process) 0"\n'
                                 'requirements = Machine == "$(node)"\n'
                                 f"queue 1 node in ({', '.join(NODES)})\n")
    waited = cm.roost("wait", "-timeout", str(int(2 * TIMEOUT)), "-quiet", cluster_id,
                      check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + diagnosis()
    rows = cm.values("history", cluster_id, "-af", "ProcId", "ExitCode", "LastRemoteHost")
    ran_on = {int(proc): remote.rpartition(".")[2] for proc, _, remote in rows}
    assert ran_on == {0: "node1", 1: "node2"}, rows
    assert {exit_code for _, exit_code, _ in rows} == {"0"}, rows
    assert all(f"-{pilot}." in remote for _, _, remote in rows), rows
    # Each job's output came back to the submit directory from its node.
    for proc, node in ran_on.items():
        assert (cm.host.directory / "work" / f"out.{proc}.txt").read_text() == \
            f"{node}: ALPHA\n"
    assert effects(network) == Counter({f"{cluster_id}.{proc} {pilot} {node}": 1
                                        for proc, node in ran_on.items()})

    # No claim for 10 s: both startds leave, the batch script ends, Slurm records success.
    wait_for(lambda: slurm.job_state(pilot) not in ("RUNNING", "COMPLETING"),
             "end of the pilot", diagnosis)
    assert slurm.job_state(pilot) == "COMPLETED", diagnosis()
    assert cm.values("status", "-constraint", f'GLIDEIN_BatchJobId == "{pilot}"', "-af",
                     "Name") == []
    # Its output is on its first node, which ran the batch script.
    output = network["node1"].path(f"/tmp/roost-glidein-{pilot}.out").read_text()
    assert output.count("leaving: no claim within the idle timeout") == 2, output
    assert signing_keys(network) == {}


def test_a_cancelled_pilots_job_runs_once_more_on_another_node(cluster):
    network, slurm, cm = cluster
    diagnosis = report(network, slurm, cm)
    first = submit_pilot(cm, "--idle-timeout", "60")
    [first_node] = pilot_slots(cm, first, 1)
    cluster_id = submit_jobs(cm, 'arguments = "$(Cluster).$(Process) 8"\nqueue\n')
    wait_for(lambda: pilot_slots(cm, first, 1)[first_node][2] == "Claimed",
             "job running in the first pilot", diagnosis)
    # A second pilot, on the other node, for the job to go to.
    [other_node] = [name for name in NODES if name != first_node]
    second = submit_pilot(cm, "--idle-timeout", "60", "--extra", f"--nodelist={other_node}")
    assert list(pilot_slots(cm, second, 1)) == [other_node]

    cancelled = cm.roost("glidein", "cancel", first)
    assert cancelled.stdout.strip() == f"cancelled pilot(s) {first}; revoked 1 pilot token(s)"
    wait_for(lambda: slurm.job_state(first) == "CANCELLED", "cancelled first pilot",
             diagnosis)
    waited = cm.roost("wait", "-timeout", str(int(2 * TIMEOUT)), "-quiet", cluster_id,
                      check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + diagnosis()
    [[exit_code, starts, remote]] = cm.values("history", cluster_id, "-af", "ExitCode",
                                              "NumJobStarts", "LastRemoteHost")
    assert (exit_code, starts) == ("0", "2"), diagnosis()
    assert remote.endswith(f"-{second}.{other_node}"), remote
    assert effects(network) == Counter({f"{cluster_id}.0 {second} {other_node}": 1})
    assert (cm.host.directory / "work" / "out.0.txt").read_text() == f"{other_node}: ALPHA\n"
    assert cm.values("status", "-constraint", f'GLIDEIN_BatchJobId == "{first}"', "-af",
                     "Name") == []
    assert signing_keys(network) == {}
