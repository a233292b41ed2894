"""What ``roost wait`` knows of the jobs it follows, and the lines it shows of them.

Pure: no I/O, no clock (``now`` is an argument), no gRPC.  A ``Follower`` is told the jobs'
states as the shell reads them from the queue and the history (``sync``) and each change
of the schedd's event stream (``handle``); it answers with the jobs that just finished
(``Finished``), the counts the progress line shows, and whether the wait is over.

A job is finished, for waiting, once it is Completed, Removed or Held: a held job does not
go on by itself.  It succeeded if it completed with its JobSuccessExitCode (0 unless the job
says otherwise) and not by a signal; every other end is a failure.  A job that comes back
(released, or re-queued by ``roost retry``) is followed again, and reported again when it
finishes again.

Changes are applied in the order they come.  The stream is subscribed before the queue is
read, so a change committed before the read may arrive after it, and show an old state for
a moment (the changes after it bring the job back to the present).  So an end already told
(same status, same time) is not told again, and a wait that an event, rather than a sync,
shows to be over is confirmed by one more sync (``confirmed``) before the shell believes
it.  Times are not compared otherwise: the startd's clock and the schedd's may differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from schedd.job_status import JobStatus

# What the shell reads of each job besides its id, status and EnteredCurrentStatus.
WATCHED = ("ExitCode", "ExitBySignal", "ExitSignal", "JobSuccessExitCode", "HoldReason",
           "HoldReasonCode", "RemoveReason", "DAGPostPending", "DAGNodeSuccess",
           "DAGPostReturn")
# Attributes of the job itself rather than of its current state: kept across changes.
# A DAG node's job whose POST script has yet to run (DAGPostPending) has not finished when
# it ends: the script decides the node (DAGNodeSuccess), and then it has.
_STATIC = frozenset({"JobSuccessExitCode", "DAGPostPending"})

IDLE, RUNNING, HELD, WAITING = "idle", "running", "held", "waiting"
SUCCEEDED, FAILED = "succeeded", "failed"
# Each JobStatus's column in the counts.
_ON_A_MACHINE = frozenset({JobStatus.RUNNING, JobStatus.TRANSFERRING_OUTPUT,
                           JobStatus.SUSPENDED})
FINISHED_STATES = frozenset({JobStatus.COMPLETED, JobStatus.REMOVED, JobStatus.HELD})
MAX_LISTED = 10  # failed jobs named in the summary


@dataclass(frozen=True, slots=True)
class JobState:
    """A job as a read of the queue or the history found it."""

    job_id: str  # "cluster.proc"
    status: int
    time: int  # EnteredCurrentStatus
    attrs: Mapping[str, object] = field(default_factory=dict)  # of WATCHED


@dataclass(frozen=True, slots=True)
class JobChanged:
    """An event of the schedd's stream: the job's new status and what changed."""

    job_id: str
    status: int
    kind: str
    time: int
    attrs: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finished:
    """A followed job reached a finished state; ``reason`` says how, in a few words."""

    job_id: str
    status: JobStatus
    ok: bool
    reason: str
    time: int
    attrs: Mapping[str, object]

    def record(self) -> dict[str, object]:
        """What ``roost wait -json`` prints of it."""
        record: dict[str, object] = {"JobId": self.job_id, "JobStatus": int(self.status),
                                     "Ok": self.ok, "Reason": self.reason, "Time": self.time}
        for name in ("ExitCode", "ExitSignal", "HoldReason", "HoldReasonCode", "RemoveReason"):
            value = self.attrs.get(name)
            if name == "ExitCode" and self.attrs.get("ExitBySignal") is True:
                continue
            if isinstance(value, int | str) and not isinstance(value, bool):
                record[name] = value
        return record


@dataclass(frozen=True, slots=True)
class Counts:
    """The followed jobs by where they are: ``done`` is succeeded + failed (jobs that left
    the queue); held jobs are finished too, but counted on their own."""

    idle: int = 0
    running: int = 0
    held: int = 0
    succeeded: int = 0
    failed: int = 0
    waiting: int = 0  # for their parents (schedd.dependencies)

    @property
    def total(self) -> int:
        return self.idle + self.running + self.held + self.succeeded + self.failed + self.waiting

    @property
    def done(self) -> int:
        return self.succeeded + self.failed


@dataclass(slots=True)
class _Job:
    status: JobStatus
    time: int
    attrs: dict[str, object]
    column: str
    # The (status, time) of the end last told as a Finished: an old change that comes
    # again after a read (see the module's doc) does not tell it twice.
    told: tuple[JobStatus, int] | None = None


def _key(job_id: str) -> tuple[int, int]:
    cluster, _, proc = job_id.partition(".")
    return int(cluster), int(proc)


def _status(value: int) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        raise ValueError(f"not a JobStatus: {value!r}") from None


def verdict(status: JobStatus, attrs: Mapping[str, object]) -> tuple[bool, str]:
    """Whether a job that reached ``status`` succeeded, and how it ended, in words."""
    node = attrs.get("DAGNodeSuccess")
    if isinstance(node, bool) and status != JobStatus.HELD:
        return node, (f"its DAG node's POST script returned {attrs.get('DAGPostReturn')}"
                      + ("" if node else " (the node failed)"))
    if status == JobStatus.HELD:
        return False, f"held: {attrs.get('HoldReason') or 'no reason given'}"
    if status == JobStatus.REMOVED:
        return False, f"removed: {attrs.get('RemoveReason') or 'no reason given'}"
    if attrs.get("ExitBySignal") is True:
        signal = attrs.get("ExitSignal")
        return False, f"killed by signal {signal if signal is not None else '(unknown)'}"
    code = attrs.get("ExitCode")
    success = attrs.get("JobSuccessExitCode", 0)
    if not isinstance(success, int) or isinstance(success, bool):
        success = 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code == success, f"exited with code {code}"
    return True, "completed"


def _pending(status: JobStatus, attrs: Mapping[str, object]) -> bool:
    """Ended, but its DAG node's POST script is still to decide it."""
    return status in (JobStatus.COMPLETED, JobStatus.REMOVED) and \
        attrs.get("DAGPostPending") is True


def _column(status: JobStatus, attrs: Mapping[str, object]) -> str:
    if status == JobStatus.IDLE:
        return IDLE
    if _pending(status, attrs):
        return RUNNING
    if status == JobStatus.WAITING:
        return WAITING
    if status in _ON_A_MACHINE:
        return RUNNING
    if status == JobStatus.HELD:
        return HELD
    return SUCCEEDED if verdict(status, attrs)[0] else FAILED


class Follower:
    """The followed jobs' states; changed only by ``sync`` and ``handle``.

    ``names`` are what the user named: "CLUSTER" (every job of the cluster, those that
    already left the queue too) or "CLUSTER.PROC".  The first sync decides which jobs
    those are; ``missing`` lists the names that matched none.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._clusters: set[int] = set()
        self._ids: set[str] = set()
        for name in names:
            cluster, dot, proc = name.strip().partition(".")
            if dot:
                self._ids.add(f"{int(cluster)}.{int(proc)}")
            else:
                self._clusters.add(int(cluster))
        self._jobs: dict[str, _Job] = {}
        self._counts: dict[str, int] = dict.fromkeys(
            (IDLE, RUNNING, HELD, SUCCEEDED, FAILED, WAITING), 0)
        self.synced = False
        self.missing: list[str] = []
        # Whether the last change came from a sync (the truth when it was read) rather than
        # from an event that may be older than what the last sync read.
        self._confirmed = False

    @property
    def clusters(self) -> list[int]:
        """The clusters to read and to follow events of."""
        return sorted(self._clusters | {_key(job_id)[0] for job_id in self._ids})

    def _named(self, job_id: str) -> bool:
        return job_id in self._ids or _key(job_id)[0] in self._clusters

    # -- events --------------------------------------------------------------------------

    def sync(self, queue: Iterable[JobState], history: Iterable[JobState]) -> list[Finished]:
        """The followed jobs as the queue, then the history (newest first), read them once
        the event stream was subscribed.  A job in the queue has come back from its
        history; the first sync also decides which jobs are followed."""
        seen: dict[str, JobState] = {}
        for state in queue:
            seen.setdefault(state.job_id, state)
        for state in history:
            seen.setdefault(state.job_id, state)
        if not self.synced:
            for job_id in sorted((j for j in seen if self._named(j)), key=_key):
                state = seen[job_id]
                status = _status(state.status)
                attrs = dict(state.attrs)
                self._jobs[job_id] = _Job(status, state.time, attrs, _column(status, attrs))
                self._counts[self._jobs[job_id].column] += 1
            found_clusters = {_key(job_id)[0] for job_id in self._jobs}
            self.missing = sorted(
                [str(c) for c in self._clusters if c not in found_clusters]
                + [j for j in self._ids if j not in self._jobs], key=_key_of_name)
            self.synced = True
            finished = [self._finish(job_id) for job_id in self._jobs
                        if self._jobs[job_id].status in FINISHED_STATES
                        and not _pending(self._jobs[job_id].status, self._jobs[job_id].attrs)]
        else:
            finished = []
            for job_id in sorted((j for j in seen if j in self._jobs), key=_key):
                state = seen[job_id]
                finished += self._move(job_id, _status(state.status), state.time,
                                       dict(state.attrs), replace=True)
        self._confirmed = True
        return finished

    def handle(self, event: JobChanged) -> list[Finished]:
        """A change from the event stream; the jobs it finished (none or one)."""
        job = self._jobs.get(event.job_id)
        if job is None:  # not followed, a submit ("5.*"), or before the first sync
            return []
        status = _status(event.status)
        self._confirmed = False
        return self._move(event.job_id, status, event.time, dict(event.attrs),
                          replace=status != job.status)

    def _move(self, job_id: str, status: JobStatus, time: int, attrs: dict[str, object],
              *, replace: bool) -> list[Finished]:
        """The job is now in ``status``: its state-specific attributes are ``attrs`` alone
        if ``replace`` (a new state sets all of its own), else merged into what it had."""
        job = self._jobs[job_id]
        if replace:
            kept = {name: value for name, value in job.attrs.items() if name in _STATIC}
            attrs = {**kept, **attrs}
        else:
            attrs = {**job.attrs, **attrs}
        was_finished = job.status in FINISHED_STATES
        changed = status != job.status
        self._counts[job.column] -= 1
        job.status, job.time, job.attrs = status, time, attrs
        job.column = _column(status, attrs)
        self._counts[job.column] += 1
        if status not in FINISHED_STATES or job.told == (status, time) \
                or _pending(status, attrs):
            return []
        if was_finished and not changed and job.told is not None:
            return []  # a change within its end (a held job held again by its owner)
        return [self._finish(job_id)]

    def _finish(self, job_id: str) -> Finished:
        job = self._jobs[job_id]
        job.told = (job.status, job.time)
        return self._finished(job_id)

    def _finished(self, job_id: str) -> Finished:
        job = self._jobs[job_id]
        ok, reason = verdict(job.status, job.attrs)
        return Finished(job_id, job.status, ok, reason, job.time, dict(job.attrs))

    # -- what it knows -------------------------------------------------------------------

    @property
    def counts(self) -> Counts:
        return Counts(**self._counts)

    @property
    def over(self) -> bool:
        """Every followed job is finished (as far as the changes so far tell)."""
        return self.synced and not any(self._counts[c] for c in (IDLE, RUNNING, WAITING))

    @property
    def confirmed(self) -> bool:
        """``over``, and known from a sync rather than from events that may be stale."""
        return self.over and self._confirmed

    def failures(self) -> list[Finished]:
        """The followed jobs that ended badly (held ones too), in job id order."""
        return [self._finished(job_id) for job_id in sorted(self._jobs, key=_key)
                if self._jobs[job_id].column in (FAILED, HELD)]

    def exit_status(self, timed_out: bool = False) -> int:
        """roost wait's: 2 if it timed out, 1 if any job ended badly, else 0."""
        if timed_out:
            return 2
        return 1 if self._counts[FAILED] or self._counts[HELD] else 0

    def validate(self) -> None:
        """Assert that the counts are those of the jobs' states."""
        columns = dict.fromkeys(self._counts, 0)
        for job_id, job in self._jobs.items():
            assert job.column == _column(job.status, job.attrs), job_id
            columns[job.column] += 1
        assert columns == self._counts, (columns, self._counts)


def _key_of_name(name: str) -> tuple[int, int]:
    cluster, _, proc = name.partition(".")
    return int(cluster), int(proc) if proc else -1


# -- what is shown ---------------------------------------------------------------------------


BAR_WIDTH = 16


def progress_line(counts: Counts) -> str:
    """``[#######.........] 45/100 done  12 running  40 idle  3 held  0 failed``"""
    total = counts.total
    filled = BAR_WIDTH * counts.done // total if total else BAR_WIDTH
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    waiting = f"  {counts.waiting} waiting" if counts.waiting else ""
    return (f"[{bar}] {counts.done}/{total} done  {counts.running} running  "
            f"{counts.idle} idle{waiting}  {counts.held} held  {counts.failed} failed")


def summary_line(counts: Counts, failures: Sequence[Finished], *,
                 timed_out_after: float | None = None) -> str:
    """The last line: what became of the jobs, and which ended badly (at most
    ``MAX_LISTED`` of them named)."""
    jobs = f"{counts.total} job{'' if counts.total == 1 else 's'}"
    if timed_out_after is None:
        head = f"{jobs}: {counts.succeeded} succeeded, {counts.failed} failed, {counts.held} held"
    else:
        head = (f"timed out after {timed_out_after:g} s: {jobs}, {counts.done} done "
                f"({counts.failed} failed), {counts.running} running, {counts.idle} idle, "
                f"{counts.held} held")
    if not failures:
        return head
    listed = " ".join(f.job_id for f in failures[:MAX_LISTED])
    more = len(failures) - MAX_LISTED
    return f"{head}; failed or held: {listed}" + (f" and {more} more" if more > 0 else "")


def failure_lines(failures: Sequence[Finished]) -> list[str]:
    """A line per job that ended badly, saying how (at most ``MAX_LISTED``)."""
    lines = [f"Job {f.job_id} {f.reason}" for f in failures[:MAX_LISTED]]
    if len(failures) > MAX_LISTED:
        lines.append(f"... and {len(failures) - MAX_LISTED} more")
    return lines


class Throttle:
    """When to show the progress line: whenever the counts change, but not more often than
    every ``interval`` seconds (a change held back is shown when the interval is up)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._shown: Counts | None = None
        self._at: float | None = None

    def due(self, counts: Counts, now: float, *, force: bool = False) -> bool:
        """Whether to show ``counts`` now (then they count as shown); ``force``: whenever
        they are not what is shown, however soon."""
        if counts == self._shown:
            return False
        if not force and self._at is not None and now - self._at < self.interval:
            return False
        self._shown, self._at = counts, now
        return True

    def forget(self) -> None:
        """The line was erased: the next counts are due whatever they are."""
        self._shown = None

    def wake_at(self, counts: Counts) -> float | None:
        """When a change not shown yet may be shown; None if there is none."""
        if counts == self._shown or self._at is None:
            return None
        return self._at + self.interval
