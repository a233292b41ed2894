"""Slurm, as the glide-in commands use it: sbatch, squeue, sacct and scancel.

Only our pilots (jobs named ``roost-glidein``, of the current user) are listed.  squeue
shows the jobs slurmctld holds: queued and running ones, and those that ended in the last
``MinJobAge`` seconds (5 minutes by default), since it is asked for every state.  sacct,
where the cluster keeps accounting, adds the ones that ended earlier today; where it does
not (sacct then fails: "accounting storage is disabled"), squeue alone answers.

A command that fails, or cannot be run at all, is a ``RoostError`` of one line naming the
command and what it said.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from roost.errors import RoostError
from startd.glidein.pilot import PILOT_JOB_NAME

TIMEOUT = 60.0  # seconds a Slurm command gets; slurmctld answers in well under one
_SEPARATOR = "|"
# squeue's fields (``--format``): job id, state (long), nodes, time left, reason.
_SQUEUE_FORMAT = _SEPARATOR.join(("%i", "%T", "%D", "%L", "%r"))
_SACCT_FIELDS = "JobID,State,NNodes,Reason"


@dataclass(frozen=True)
class BatchJob:
    """A pilot as the batch system sees it."""

    job_id: str
    state: str  # Slurm's state word: PENDING, RUNNING, COMPLETED, CANCELLED, FAILED, ...
    nodes: int
    time_left: int | None  # seconds, while it runs or waits (None: unknown or unlimited)
    reason: str  # why it waits, or how it ended ("None" when Slurm has nothing to say)


class Slurm:
    """The Slurm commands, run with ``env`` (default: this process's environment)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)

    def submit(self, script: Path) -> str:
        """Submit ``script`` with sbatch; the new job's id."""
        out = self._run(["sbatch", "--parsable", str(script)])
        # --parsable prints "ID" or "ID;CLUSTER".
        job_id = out.strip().splitlines()[-1].partition(";")[0] if out.strip() else ""
        if not job_id.isdigit():
            raise RoostError(f"sbatch {script}: expected a job id, got {out.strip()!r}")
        return job_id

    def jobs(self) -> list[BatchJob]:
        """Our pilots: those slurmctld holds, then those only accounting remembers."""
        user = str(os.getuid())
        out = self._run(["squeue", "--noheader", "--states=all", f"--user={user}",
                         f"--name={PILOT_JOB_NAME}", f"--format={_SQUEUE_FORMAT}"])
        found = {job.job_id: job for job in parse_squeue(out)}
        for job in self._accounted(user):
            found.setdefault(job.job_id, job)
        return sorted(found.values(), key=lambda job: _job_order(job.job_id))

    def cancel(self, job_ids: Iterable[str]) -> None:
        """scancel the jobs: Slurm sends SIGTERM, and SIGKILL ``KillWait`` seconds later,
        so each startd vacates its jobs and withdraws its ads."""
        ids = [str(job_id) for job_id in job_ids]
        if ids:
            self._run(["scancel", *ids])

    def _accounted(self, user: str) -> list[BatchJob]:
        try:
            out = self._run(["sacct", "--noheader", "--parsable2", "--allocations",
                             f"--user={user}", f"--name={PILOT_JOB_NAME}",
                             f"--format={_SACCT_FIELDS}"])
        except RoostError:
            return []  # no accounting on this cluster: squeue has said all there is
        return parse_sacct(out)

    def _run(self, argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                                  timeout=TIMEOUT)
        except FileNotFoundError:
            raise RoostError(f"{argv[0]} not found: is this a Slurm cluster's login node? "
                             f"(install Slurm's client commands)") from None
        except subprocess.TimeoutExpired:
            raise RoostError(f"{argv[0]} did not answer within {TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            said = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
            raise RoostError(f"{argv[0]} failed: {said}")
        return done.stdout


def parse_squeue(text: str) -> list[BatchJob]:
    """squeue lines of ``_SQUEUE_FORMAT``; lines of another shape are skipped."""
    jobs = []
    for line in text.splitlines():
        fields = line.strip().split(_SEPARATOR)
        if len(fields) != 5 or not fields[0]:
            continue
        job_id, state, nodes, left, reason = fields
        jobs.append(BatchJob(job_id, _state_word(state), _int(nodes), parse_duration(left),
                             reason))
    return jobs


def parse_sacct(text: str) -> list[BatchJob]:
    """sacct ``--parsable2`` lines of ``_SACCT_FIELDS``; ended jobs have no time left."""
    jobs = []
    for line in text.splitlines():
        fields = line.strip().split(_SEPARATOR)
        if len(fields) != 4 or not fields[0] or "." in fields[0]:
            continue  # a job step (ID.batch) is not a pilot
        job_id, state, nodes, reason = fields
        jobs.append(BatchJob(job_id, _state_word(state), _int(nodes), None, reason))
    return jobs


def parse_duration(text: str) -> int | None:
    """Seconds in Slurm's ``[D-]HH:MM:SS``, ``MM:SS`` or ``SS``; None for ``INVALID``,
    ``UNLIMITED`` or ``NOT_SET``."""
    text = text.strip()
    days, dash, rest = text.partition("-")
    if not dash:
        days, rest = "0", text
    parts = rest.split(":")
    if not days.isdigit() or not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return int(days) * 86400 + seconds


def _state_word(state: str) -> str:
    # sacct writes "CANCELLED by 0"; squeue the word alone.
    return state.split()[0].upper() if state.strip() else "UNKNOWN"


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _job_order(job_id: str) -> tuple[int, str]:
    head = job_id.partition("_")[0]
    return (int(head) if head.isdigit() else 0, job_id)
