"""Glide-ins on a Slurm cluster of three namespace hosts (tests/slurm_hosts.py), each with
its own hostname, /tmp and directory (the machine's files, the roost software among them,
are all they share): slurmctld and the pool's central manager on "cm", a slurmd on each of
"node1" and "node2".  ``roost glidein submit --slurm`` runs on the central manager, as a
user there would run it; the pilot's startds join the pool with the token its script
carries, jobs with file transfer run on both nodes, the pilot leaves when idle and Slurm
records a success, a cancelled pilot's job runs once more elsewhere, and no node ever holds
the pool's signing key.  Every job records its run in the /tmp of the node it ran on, so
that a job run twice, or lost, shows."""

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


class Glideins:
    """The hosts, Slurm across them, and the central manager on cm (its matchmaker bound
    to every interface, as one roost.toml there would have it); what the tests do and look
    at there."""

    def __init__(self, network) -> None:
        self.network = network
        self.slurm = SlurmHosts(network["cm"], [network[name] for name in NODES])
        try:
            self.slurm.start()
        except RuntimeError as error:
            pytest.fail(f"the Slurm cluster did not start: {error}", pytrace=False)
        self.cm = central_manager(network["cm"], SLURM_CONF=self.slurm.env["SLURM_CONF"])
        self.work = self.cm.host.directory / "work"  # only the central manager has it

    def submit_pilot(self, *options: str) -> str:
        """A pilot's batch job id: ``roost glidein submit --slurm`` on the central manager,
        with nothing but the pool's own configuration (no --collector, no --output-dir)."""
        done = self.cm.roost("glidein", "submit", "--slurm", "--time", "00:05:00", *options)
        match = re.match(r"submitted pilot (\d+):", done.stdout)
        assert match, done.stdout
        # The matchmaker binds 0.0.0.0: the nodes dial the central manager by its name.
        assert f"joining cm:{PORT};" in done.stdout, done.stdout
        return match.group(1)

    def slots(self, pilot: str) -> dict[str, list[str]]:
        """The pilot's slots in the collector: name, address and state by node."""
        rows = self.cm.values("status", "-constraint", f'GLIDEIN_BatchJobId == "{pilot}"',
                              "-af", "Machine", "Name", "StartdIpAddr", "State")
        return {machine: rest for machine, *rest in rows}

    def joined(self, pilot: str, count: int) -> dict[str, list[str]]:
        """The pilot's slots once ``count`` have joined."""
        return self.wait_for(lambda: len(found := self.slots(pilot)) == count and found,
                             f"{count} slot(s) of pilot {pilot}")

    def wait_for(self, condition, what: str, timeout: float = 2 * TIMEOUT):
        deadline = time.monotonic() + timeout
        while not (found := condition()):
            assert time.monotonic() < deadline, \
                f"no {what} within {timeout:.0f} s\n{self.diagnosis()}"
            time.sleep(0.25)
        return found

    def submit_jobs(self, text: str) -> str:
        """Jobs of JOB_SCRIPT, ``text`` the rest of their submit description, submitted
        from a directory only the central manager has; their cluster id."""
        self.work.mkdir(exist_ok=True)
        (self.work / "in.txt").write_text("alpha\n")
        (self.work / "job.sh").write_text(JOB_SCRIPT)
        os.chmod(self.work / "job.sh", 0o755)
        (self.work / "job.sub").write_text(
            "executable = job.sh\n"
            "should_transfer_files = YES\n"
            "transfer_input_files = in.txt\n"
            "transfer_output_files = out.txt\n"
            'transfer_output_remaps = "out.txt = out.$(Process).txt"\n' + text)
        submitted = self.cm.host.run([sys.executable, "-m", "roost", "submit", "job.sub"],
                                     cwd=self.work, env=self.cm.env, timeout=60)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        return re.search(r"cluster (\d+)", submitted.stdout).group(1)

    def wait_done(self, cluster_id: str) -> None:
        waited = self.cm.roost("wait", "-timeout", str(int(2 * TIMEOUT)), "-quiet",
                               cluster_id, check=False)
        assert waited.returncode == 0, waited.stdout + waited.stderr + self.diagnosis()

    def effects(self) -> Counter:
        """Every run recorded on the nodes: ``JOB PILOT NODE``."""
        found = Counter()
        for name in NODES:
            path = self.network[name].path(EFFECTS)
            if path.exists():
                found.update(f"{line} {name}" for line in path.read_text().splitlines())
        return found

    def signing_keys(self) -> dict[str, list[str]]:
        """Any pool.key in a node's own files: its /tmp (where its pilots' homes are) and
        its host directory."""
        found = {}
        for name in NODES:
            host = self.network[name]
            listed = host.run(["find", "/tmp", str(host.directory), "-name", "pool.key"],
                              check=True).stdout.split()
            if listed:
                found[name] = listed
        return found

    def diagnosis(self) -> str:
        """What explains a failure: the pilots' output on the nodes, the Slurm and roost
        logs."""
        outputs = []
        for name in NODES:
            for path in sorted(self.network[name].path("/tmp").glob("roost-glidein-*.out")):
                outputs.append(f"--- {name} {path.name}\n"
                               f"{path.read_text(errors='replace')[-2000:]}")
        status = self.cm.roost("glidein", "status", check=False)
        return "\n".join([status.stdout + status.stderr, *outputs, self.slurm.logs(),
                          self.cm.logs()])

    def stop(self) -> None:
        self.cm.roost("glidein", "cancel", check=False)
        self.slurm.stop()


@pytest.fixture
def glideins(make_network):
    glideins = Glideins(make_network(["cm", *NODES]))
    yield glideins
    glideins.stop()


def test_a_two_node_pilot_runs_jobs_with_their_files_on_both_nodes_and_leaves_when_idle(
        glideins):
    network, slurm = glideins.network, glideins.slurm
    pilot = glideins.submit_pilot("-N", "2", "--idle-timeout", "10")
    slots = glideins.joined(pilot, 2)
    assert sorted(slots) == list(NODES)
    assert sorted(slurm.job_nodes(pilot)) == list(NODES)
    for name, (slot, address, _) in slots.items():
        # Named for the pilot's own token, advertising the node's own address.
        assert re.fullmatch(rf"slot1@glidein-[0-9a-f]{{8}}-{pilot}\.{name}", slot), slot
        assert re.fullmatch(rf"{re.escape(network[name].address)}:\d+", address), address
        # The node keeps the pilot's token and the pool's public key, in its own /tmp.
        (home,) = network[name].path("/tmp").glob(
            f"roost-glidein-{pilot}.{NODES.index(name)}.*")
        assert (home / "startd.token").is_file() and (home / "keys" / "pool.pub").is_file()
    assert glideins.signing_keys() == {}

    cluster_id = glideins.submit_jobs('arguments = "$(Cluster).$(Process) 0"\n'
                                      'requirements = Machine == "$(node)"\n'
                                      f"queue 1 node in ({', '.join(NODES)})\n")
    glideins.wait_done(cluster_id)
    rows = glideins.cm.values("history", cluster_id, "-af", "ProcId", "ExitCode",
                              "LastRemoteHost")
    ran_on = {int(proc): remote.rpartition(".")[2] for proc, _, remote in rows}
    assert ran_on == {0: "node1", 1: "node2"}, rows
    assert {exit_code for _, exit_code, _ in rows} == {"0"}, rows
    assert all(f"-{pilot}." in remote for _, _, remote in rows), rows
    # Each job's output came back to the submit directory from its node.
    for proc, node in ran_on.items():
        assert (glideins.work / f"out.{proc}.txt").read_text() == f"{node}: ALPHA\n"
    assert glideins.effects() == Counter({f"{cluster_id}.{proc} {pilot} {node}": 1
                                          for proc, node in ran_on.items()})

    # No claim for 10 s: both startds leave, the batch script ends, Slurm records success.
    glideins.wait_for(lambda: slurm.job_state(pilot) not in ("RUNNING", "COMPLETING"),
                      "end of the pilot")
    assert slurm.job_state(pilot) == "COMPLETED", glideins.diagnosis()
    assert glideins.slots(pilot) == {}
    # Its output is on its first node, which ran the batch script.
    output = network["node1"].path(f"/tmp/roost-glidein-{pilot}.out").read_text()
    assert output.count("leaving: no claim within the idle timeout") == 2, output
    assert "couldn't chdir" not in output, output  # to the submit directory, not here
    assert glideins.signing_keys() == {}
    # Each node's roost home, the pilot's token with it, went with its startd.
    for name in NODES:
        assert not list(network[name].path("/tmp").glob(f"roost-glidein-{pilot}.*.*")), name


def test_a_cancelled_pilots_job_runs_once_more_on_another_node(glideins):
    slurm = glideins.slurm
    first = glideins.submit_pilot("--idle-timeout", "60")
    [first_node] = glideins.joined(first, 1)
    cluster_id = glideins.submit_jobs('arguments = "$(Cluster).$(Process) 8"\nqueue\n')
    glideins.wait_for(lambda: glideins.slots(first).get(first_node, [])[2:] == ["Claimed"],
                      "job running in the first pilot")
    # A second pilot, on the other node, for the job to go to.
    [other_node] = [name for name in NODES if name != first_node]
    second = glideins.submit_pilot("--idle-timeout", "60", "--extra",
                                   f"--nodelist={other_node}")
    assert list(glideins.joined(second, 1)) == [other_node]

    cancelled = glideins.cm.roost("glidein", "cancel", first)
    assert cancelled.stdout.strip() == f"cancelled pilot(s) {first}; revoked 1 pilot token(s)"
    glideins.wait_for(lambda: slurm.job_state(first) == "CANCELLED", "cancelled first pilot")
    glideins.wait_done(cluster_id)
    [[exit_code, starts, remote]] = glideins.cm.values(
        "history", cluster_id, "-af", "ExitCode", "NumJobStarts", "LastRemoteHost")
    assert (exit_code, starts) == ("0", "2"), glideins.diagnosis()
    assert remote.endswith(f"-{second}.{other_node}"), remote
    assert glideins.effects() == Counter({f"{cluster_id}.0 {second} {other_node}": 1})
    assert (glideins.work / "out.0.txt").read_text() == f"{other_node}: ALPHA\n"
    assert glideins.slots(first) == {}
    assert glideins.signing_keys() == {}
