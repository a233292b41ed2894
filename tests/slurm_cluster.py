"""A throwaway single-node Slurm cluster for the glide-in tests.

``SlurmCluster`` writes a ``slurm.conf`` into a temporary directory, starts ``slurmctld -D``
and ``slurmd -D`` as child processes on free ports of this host, and waits until ``sinfo``
shows the node idle.  ``env`` is the environment the Slurm commands (sbatch, squeue, ...)
need: ``SLURM_CONF`` pointing at that file.  ``stop()`` (or leaving the ``with`` block)
cancels what is left, stops both daemons and removes the directory.

The cluster needs neither munge nor systemd nor cgroups: ``auth/none`` and ``cred/none``
(no credentials are checked, which is fine on a test machine), processes tracked by their
parent ids (``proctrack/linuxproc``) and no task binding.  The node offers 2 CPUs whatever
the machine has (``config_overrides``), consumable per core, so two single-CPU pilots share
it.  The daemons run as root, as Slurm's daemons do; run as another user, Slurm refuses to
start (``SlurmUser`` and the spool directories want root), and the error says so.

So that no cluster outlives the test run even when it is killed, ``start()`` also starts a
small watchdog process (this file, run with ``--watchdog``) that waits for the test process
to go away and then stops the daemons and removes the directory.  Jobs left running when the
cluster stops are cancelled first and given ``KillWait`` to go, so that no pilot's startd
outlives its cluster.

Only the standard library is imported, so the module loads without roost and the watchdog
runs it as a script.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

INSTALL_HINT = "install them with: apt-get install slurmctld slurmd slurm-client"
PROGRAMS = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
CPUS = 2
START_TIMEOUT = 30.0  # seconds for the node to show up idle
KILL_WAIT = 30  # seconds between a cancelled job's SIGTERM and its SIGKILL (slurm.conf)


def missing_programs() -> list[str]:
    """The Slurm programs that are not installed (PATH, then /usr/sbin, where Debian puts
    the daemons)."""
    return [program for program in PROGRAMS if _which(program) is None]


def _which(program: str) -> str | None:
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _real_memory_mib() -> int:
    """The machine's memory in MiB, as slurmd measures it (MemTotal), less a little so
    that slurmd never finds less than configured."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return max(256, int(line.split()[1]) // 1024 - 64)
    return 1024


class SlurmCluster:
    """A single-node Slurm cluster in a temporary directory; see the module's docstring."""

    def __init__(self, extra_config: Sequence[str] = ()) -> None:
        """``extra_config``: more slurm.conf lines; a later line wins over ours."""
        self.extra_config = tuple(extra_config)
        self.tmpdir: Path | None = None
        self.node = socket.gethostname().split(".")[0]
        self.env: dict[str, str] = {}
        self._daemons: dict[str, subprocess.Popen] = {}
        self._watchdog: subprocess.Popen | None = None

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def conf(self) -> Path:
        assert self.tmpdir is not None, "cluster not started"
        return self.tmpdir / "slurm.conf"

    def start(self) -> SlurmCluster:
        """Write the configuration, start the daemons, wait for the node; RuntimeError with
        the daemons' logs if it does not come up."""
        if self.tmpdir is not None:
            raise RuntimeError("SlurmCluster already started")
        missing = missing_programs()
        if missing:
            raise RuntimeError(f"Slurm programs not found: {', '.join(missing)}; {INSTALL_HINT}")
        self.tmpdir = Path(tempfile.mkdtemp(prefix="roost-slurm-"))
        atexit.register(self.stop)
        try:
            for directory in ("state", "spool"):
                (self.tmpdir / directory).mkdir()
            self.conf.write_text(self._configuration())
            self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
            # A Slurm variable of an enclosing job would leak into the test's commands.
            for name in [name for name in self.env if name.startswith(("SLURM_", "SBATCH_",
                                                                          "SQUEUE_"))]:
                if name != "SLURM_CONF":
                    del self.env[name]
            self._spawn("slurmctld", "-D", "-i")
            self._wait(self._controller_answers, "slurmctld did not answer scontrol ping")
            self._spawn("slurmd", "-D", "-N", self.node)
            self._start_watchdog()
            self._wait(self._node_idle, f"node {self.node} did not become idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Cancel every job and wait for them, stop the daemons, remove the directory.
        Safe to repeat."""
        if self.tmpdir is None:
            return
        if "slurmctld" in self._daemons and self._daemons["slurmctld"].poll() is None:
            _cancel_all(str(self.conf))
        tmpdir, self.tmpdir = self.tmpdir, None
        _shutdown([process.pid for process in self._daemons.values()], str(tmpdir))
        for process in self._daemons.values():
            process.wait()
        self._daemons.clear()
        if self._watchdog is not None:
            with contextlib.suppress(OSError):
                self._watchdog.stdin.close()
            try:
                self._watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
            self._watchdog = None
        atexit.unregister(self.stop)

    # -- commands ------------------------------------------------------------------------

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """A Slurm command against this cluster, its output as text."""
        done = subprocess.run([_which(args[0]) or args[0], *args[1:]], env=self.env,
                              capture_output=True, text=True, timeout=30)
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

    def logs(self) -> str:
        """The end of both daemons' logs, for a failure message."""
        found = []
        for name in ("slurmctld", "slurmd"):
            path = self.tmpdir / f"{name}.log" if self.tmpdir else None
            try:
                lines = path.read_text(errors="replace").splitlines() if path else []
            except OSError:
                lines = []
            found.append(f"--- {name}.log\n" + "\n".join(lines[-20:]))
        return "\n".join(found)

    # -- helpers -------------------------------------------------------------------------

    def _configuration(self) -> str:
        assert self.tmpdir is not None
        return configuration(self.tmpdir, self.tmpdir, controller=(self.node, "127.0.0.1"),
                             nodes=[(self.node, "127.0.0.1")], controller_port=_free_port(),
                             slurmd_port=_free_port(), extra=self.extra_config)

    def _start_watchdog(self) -> None:
        self._watchdog = subprocess.Popen(
            [sys.executable, __file__, "--watchdog", str(self.conf),
             *(str(process.pid) for process in self._daemons.values())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def _spawn(self, name: str, *args: str) -> None:
        program = _which(name)
        assert program is not None
        assert self.tmpdir is not None
        output = open(self.tmpdir / f"{name}.out", "wb")  # noqa: SIM115 (kept by the child)
        with output:
            self._daemons[name] = subprocess.Popen(
                [program, *args], env=self.env, stdout=output, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.tmpdir, start_new_session=True)

    def _wait(self, condition, message: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not condition():
            for name, process in self._daemons.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with status {process.returncode} "
                                       f"while starting:\n{self._output(name)}{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{message} within {START_TIMEOUT:.0f} s:\n{self.logs()}")
            time.sleep(0.2)

    def _output(self, name: str) -> str:
        assert self.tmpdir is not None
        try:
            return (self.tmpdir / f"{name}.out").read_text(errors="replace")
        except OSError:
            return ""

    def _controller_answers(self) -> bool:
        return self.run("scontrol", "ping", check=False).returncode == 0

    def _node_idle(self) -> bool:
        shown = self.run("sinfo", "--noheader", "--nodes", self.node, "--format", "%t",
                         check=False)
        return shown.returncode == 0 and shown.stdout.strip() == "idle"


def configuration(state: Path, spool: Path, *, controller: tuple[str, str],
                  nodes: Sequence[tuple[str, str]], controller_port: int, slurmd_port: int,
                  extra: Sequence[str] = ()) -> str:
    """The text of a slurm.conf: slurmctld on ``controller`` (its name and address), its
    state and log under ``state``; a slurmd on each of ``nodes`` (name and address), its
    spool, pid file and log under ``spool`` (on a cluster of several hosts each has its
    own); the settings of the module's docstring; ``extra`` last, so that it wins."""
    node_lines = [f"NodeName={name} NodeHostname={name} NodeAddr={address} CPUs={CPUS} "
                  f"RealMemory={_real_memory_mib()} State=UNKNOWN" for name, address in nodes]
    return "\n".join([
        "ClusterName=roosttest",
        f"SlurmctldHost={controller[0]}({controller[1]})",
        f"SlurmctldPort={controller_port}",
        f"SlurmdPort={slurmd_port}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/none",
        "CredType=cred/none",
        "MpiDefault=none",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        # The configured node counts, not what slurmd finds: 2 CPUs on any machine.
        "SlurmdParameters=config_overrides",
        "ReturnToService=2",
        # Ended jobs stay visible to squeue and scontrol for 5 minutes.
        "MinJobAge=300",
        # What a cancelled job's processes get between SIGTERM and SIGKILL.
        f"KillWait={KILL_WAIT}",
        "InactiveLimit=0",
        "SchedulerType=sched/backfill",
        f"StateSaveLocation={state / 'state'}",
        f"SlurmdSpoolDir={spool / 'spool'}",
        f"SlurmctldPidFile={state / 'slurmctld.pid'}",
        f"SlurmdPidFile={spool / 'slurmd.pid'}",
        f"SlurmctldLogFile={state / 'slurmctld.log'}",
        f"SlurmdLogFile={spool / 'slurmd.log'}",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        *node_lines,
        f"PartitionName=debug Nodes={','.join(name for name, _ in nodes)} Default=YES "
        "MaxTime=INFINITE State=UP",
        *extra,
        "",
    ])


def _cancel_all(conf: str) -> None:
    """Cancel every job of the cluster and wait until none runs (at most KillWait and a
    little more: what Slurm gives them before SIGKILL)."""
    env = {**os.environ, "SLURM_CONF": conf}

    def slurm(*args: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run([_which(args[0]) or args[0], *args[1:]], env=env,
                                  capture_output=True, text=True, timeout=10).stdout
        return ""

    slurm("scancel", "--user", str(os.getuid()))
    deadline = time.monotonic() + KILL_WAIT + 10
    while slurm("squeue", "--noheader", "--format=%i").split() \
            and time.monotonic() < deadline:
        time.sleep(0.5)


def _shutdown(pids: list[int], tmpdir: str) -> None:
    """SIGTERM the daemons, SIGKILL those still there after 15 s, remove tmpdir."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(tmpdir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A daemon that exited but is not yet reaped by the test process is a zombie.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0] != "Z"
    return False


def _watchdog(conf: str, *pids: str) -> None:
    """Block until stdin closes (the test process ended, however it ended), then cancel
    the jobs and stop the daemons.  Ignores Ctrl-C so that it outlives the test process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stdin.buffer.read()
    if os.path.exists(conf):
        _cancel_all(conf)
        _shutdown([int(pid) for pid in pids], os.path.dirname(conf))


if __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    _watchdog(*sys.argv[2:])
