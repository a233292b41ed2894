"""A Slurm cluster across namespace hosts (tests/hosts.py), for glide-ins whose nodes share
nothing with the pool but the roost software.

``SlurmHosts(network["cm"], [network["node1"], network["node2"]])`` runs slurmctld on the
controller's host and one slurmd on each node's, each slurmd named for its host
(``NodeName`` and ``NodeHostname`` the host's hostname, ``NodeAddr`` its bridge address;
every host resolves the others' names through the /etc/hosts the network gives it).  The
configuration is tests/slurm_cluster.py's (``auth/none``, no munge, 2 CPUs a node), written
to ``SLURM_DIR`` on every host: each host has its own /tmp, so each keeps its own copy of
slurm.conf and its own state, spool, pid and log files there, at the same path, which is
also the ``SLURM_CONF`` that sbatch hands the batch script and its sruns on the nodes.  Each
host has its own ports, so Slurm's well-known ones serve.

The daemons are processes of their hosts: whatever ends the hosts (``Network.stop``, its
watchdog when the test process is killed) ends them and the jobs they started, and takes
their files with the hosts' /tmp.  ``stop()`` first cancels what is left and gives it
``KillWait`` to go, so that pilots vacate their jobs as they would on a real cluster.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .slurm_cluster import (
    INSTALL_HINT,
    KILL_WAIT,
    START_TIMEOUT,
    _which,
    configuration,
    missing_programs,
)

SLURM_DIR = Path("/tmp/roost-slurm")  # on every host: its own copy, in its own /tmp
CONTROLLER_PORT = 6817  # Slurm's defaults: each host has ports of its own
SLURMD_PORT = 6818


class SlurmHosts:
    """slurmctld on ``controller``, a slurmd on each of ``nodes``; see the module's
    docstring."""

    def __init__(self, controller, nodes: Sequence, extra_config: Sequence[str] = ()) -> None:
        self.controller = controller
        self.nodes = list(nodes)
        self.extra_config = tuple(extra_config)
        self.conf = SLURM_DIR / "slurm.conf"
        # What the Slurm commands need on any of the hosts: no Slurm variable of an
        # enclosing job, which would leak into the test's commands.
        self.env = {name: value for name, value in os.environ.items()
                    if not name.startswith(("SLURM_", "SBATCH_", "SQUEUE_"))}
        self.env["SLURM_CONF"] = str(self.conf)
        self._daemons: dict[str, subprocess.Popen] = {}  # by host name

    def __enter__(self) -> SlurmHosts:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> SlurmHosts:
        """Write the configuration on every host, start the daemons, wait until every node
        is idle; RuntimeError with the daemons' logs if the cluster does not come up."""
        missing = missing_programs()
        if missing:
            raise RuntimeError(f"Slurm programs not found: {', '.join(missing)}; {INSTALL_HINT}")
        text = configuration(SLURM_DIR, SLURM_DIR,
                             controller=(self.controller.name, self.controller.address),
                             nodes=[(node.name, node.address) for node in self.nodes],
                             controller_port=CONTROLLER_PORT, slurmd_port=SLURMD_PORT,
                             extra=self.extra_config)
        for host in (self.controller, *self.nodes):
            directory = host.path(SLURM_DIR)
            for inner in ("state", "spool"):
                (directory / inner).mkdir(parents=True, exist_ok=True)
            host.path(self.conf).write_text(text)
        try:
            self._spawn(self.controller, "slurmctld", "-D", "-i")
            self._wait(lambda: self.run("scontrol", "ping", check=False).returncode == 0,
                       "slurmctld did not answer scontrol ping")
            for node in self.nodes:
                self._spawn(node, "slurmd", "-D", "-N", node.name)
            self._wait(self._nodes_idle, "the nodes did not become idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Cancel every job and wait for them (at most KillWait and a little more), stop
        the daemons.  Safe to repeat."""
        if not self._daemons:
            return
        if self._daemons[self.controller.name].poll() is None:
            self.run("scancel", "--user", str(os.getuid()), check=False)
            deadline = time.monotonic() + KILL_WAIT + 10
            while self.run("squeue", "--noheader", "--format=%i", check=False).stdout.split() \
                    and time.monotonic() < deadline:
                time.sleep(0.5)
        for process in self._daemons.values():
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in self._daemons.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._daemons.clear()

    # -- commands ------------------------------------------------------------------------

    def run(self, *args: str, host=None, check: bool = True) -> subprocess.CompletedProcess:
        """A Slurm command on ``host`` (default: the controller's), its output as text."""
        done = (host or self.controller).run([_which(args[0]) or args[0], *args[1:]],
                                             env=self.env, timeout=30)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
        return done

    def job_state(self, job_id: str) -> str:
        """The state word of a job slurmctld still knows (``scontrol show job``)."""
        shown = self.run("scontrol", "show", "job", job_id).stdout
        for field in shown.split():
            if field.startswith("JobState="):
                return field.partition("=")[2]
        raise RuntimeError(f"no JobState for job {job_id}: {shown.strip()}")

    def job_nodes(self, job_id: str) -> list[str]:
        """The nodes a job runs (or ran) on, by name."""
        shown = self.run("squeue", "--noheader", "--states=all", "--jobs", job_id,
                         "--format=%N").stdout.strip()
        return self.run("scontrol", "show", "hostnames", shown).stdout.split() if shown else []

    def logs(self) -> str:
        """The end of every daemon's log, for a failure message."""
        found = []
        for host, name in ((self.controller, "slurmctld"),
                           *((node, "slurmd") for node in self.nodes)):
            try:
                lines = host.path(SLURM_DIR / f"{name}.log").read_text(
                    errors="replace").splitlines()
            except OSError:
                lines = []
            found.append(f"--- {host.name} {name}.log\n" + "\n".join(lines[-20:]))
        return "\n".join(found)

    # -- helpers -------------------------------------------------------------------------

    def _spawn(self, host, name: str, *args: str) -> None:
        program = _which(name)
        assert program is not None
        with open(host.path(SLURM_DIR / f"{name}.out"), "wb") as output:
            self._daemons[host.name] = host.popen([program, *args], env=self.env,
                                                  stdout=output, stderr=subprocess.STDOUT)

    def _wait(self, condition, message: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not condition():
            for name, process in self._daemons.items():
                if process.poll() is not None:
                    raise RuntimeError(f"a Slurm daemon of {name} exited with status "
                                       f"{process.returncode} while starting:\n"
                                       f"{self._output(name)}{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{message} within {START_TIMEOUT:.0f} s:\n{self.logs()}")
            time.sleep(0.2)

    def _output(self, name: str) -> str:
        """What the daemon of host ``name`` wrote before its log was open."""
        host = next(host for host in (self.controller, *self.nodes) if host.name == name)
        daemon = "slurmctld" if host is self.controller else "slurmd"
        try:
            return host.path(SLURM_DIR / f"{daemon}.out").read_text(errors="replace")
        except OSError:
            return ""

    def _nodes_idle(self) -> bool:
        shown = self.run("sinfo", "--noheader", "--nodes",
                         ",".join(node.name for node in self.nodes), "--format=%n %t",
                         check=False)
        states = dict(line.split() for line in shown.stdout.splitlines() if line.strip())
        return shown.returncode == 0 and all(states.get(node.name) == "idle"
                                             for node in self.nodes)
