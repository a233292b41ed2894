"""``roost wait``: follow jobs until they finish, with a progress line, and say how they
ended in the exit status.

It does not poll the queue.  It subscribes to the schedd's job events for the clusters it
follows; once the stream is subscribed (and again whenever it is opened anew, after falling
behind or a schedd restart) it reads those jobs from the queue and the history (jobs that
finished before it looked are there), and from then on only listens.  When the events show
every job finished, one more read confirms it (an event may be older than the last read).
The state of the jobs lives in ``schedd.wait_progress``; this module is its shell: the
command line, the stream's reader thread, the reads and the output.

Without job ids it follows clusters whole (``_own_clusters``), never just the jobs that
happen to be in the queue when it starts: a job that failed a moment before is a failure
of the cluster, and the exit status says so.

The progress line goes to standard error: on a terminal one line redrawn in place, else a
line whenever the counts change, at most once a second.  The jobs that ended badly and a
summary go to standard output (to standard error with ``-json``, whose records have
standard output to themselves).
"""

from __future__ import annotations

import json
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from roost.cli_options import Grammar, any_of
from roost.errors import RoostError, UsageError
from schedd import last_submit
from schedd.wait_progress import (
    WATCHED,
    Counts,
    Finished,
    Follower,
    JobChanged,
    JobState,
    Throttle,
    failure_lines,
    progress_line,
    summary_line,
)

if TYPE_CHECKING:
    from roost.client import Schedd

PROG = "roost wait"

HELP = f"""usage: {PROG} [-timeout SECONDS] [-quiet] [-json] [CLUSTER | CLUSTER.PROC | DAG]...

Follow jobs until they have finished, with a line that shows how many are done, running,
idle and held; then name those that ended badly.  A job has finished when it completed,
was removed or is held (a held job does not go on by itself).  Without jobs named, every
cluster of yours that has a job in the queue now, and the cluster you submitted last from
this roost home, each whole: its jobs that finished before roost wait began count too.
roost wait listens to the schedd's job events; it does not poll.

which jobs:
  CLUSTER            the jobs of a cluster, those that already finished too
  CLUSTER.PROC       one job
  DAG                every node of a DAG (the id roost dag submit prints)

options:
  -timeout SECONDS   stop waiting after SECONDS (exit status 2)
  -quiet             no progress line
  -json              a JSON object per job as it finishes, one line each, on standard output
                     (JobId, JobStatus, Ok, Reason, Time, and ExitCode, ExitSignal,
                     HoldReason or RemoveReason when known)
  -help              show this help and exit

exit status:
  0  every job completed with exit code 0 (or the job's JobSuccessExitCode), not by a signal
  1  a job was removed or held, was killed by a signal or exited with another code
  2  the time ran out, or the command line is wrong or names no job

Options take one dash or two and may be shortened (-t, -q, -j)."""

GRAMMAR = Grammar(
    PROG,
    flags=(
        ("help", 1, {"help": True}),
        ("quiet", 1, {"quiet": True}),
        ("json", 1, {"json": True}),
    ),
    valued=(("timeout", 1),),
    autoformat=False,
)

_JOB_ID = re.compile(r"\d+(\.\d+)?$")
# What a read of the queue or the history fetches of each job.
_IDENTITY = ("ClusterId", "ProcId", "JobStatus", "EnteredCurrentStatus")
# Seconds between redraws of the progress line: on a terminal, elsewhere.
TTY_INTERVAL = 0.1
LINE_INTERVAL = 1.0
NOTHING = "You have no jobs in the queue to wait for."
# Events taken from the reader at most before the loop looks at the clock again.
_DRAIN = 1000


@dataclass
class Options:
    """What a ``roost wait`` command line asks for."""

    names: list[str] = field(default_factory=list)  # "CLUSTER" or "CLUSTER.PROC"
    timeout: float | None = None
    quiet: bool = False
    json: bool = False
    help: bool = False


def _set_value(options: Options, name: str, value: str) -> None:
    assert name == "timeout"
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError(f"-timeout needs a number of seconds, not {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise UsageError(f"-timeout needs a number of seconds greater than 0, not {value}")
    options.timeout = seconds


def _name(options: Options, arg: str) -> None:
    if not _JOB_ID.match(arg):
        raise UsageError(f"not a cluster or job id: {arg!r} (use CLUSTER or CLUSTER.PROC)")
    options.names.append(arg)


def parse(argv: Sequence[str]) -> Options:
    """The options of a ``roost wait`` command line; a UsageError for anything else."""
    return GRAMMAR.parse(argv, Options(), _set_value, _name)


def connect() -> Schedd:
    """The client the command asks (tests put one of their own here)."""
    from roost.client import Schedd

    return Schedd()


def main(argv: Sequence[str]) -> int:
    """Run ``roost wait`` with the arguments ``argv``; return the exit status."""
    options = parse(argv)
    if options.help:
        print(HELP)
        return 0
    with connect() as schedd:
        return follow(schedd, options, sys.stdout, sys.stderr)


# -- the shell -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ended:
    """The event stream ended (it does not, unless it failed)."""

    error: BaseException | None


def _dags_as_clusters(schedd: Schedd, names: Sequence[str]) -> list[str]:
    """The names, a DAG's id (``roost dag submit`` prints it) standing for every node of
    the DAG and of its SUBDAGs: a DAG is followed as a cluster is, and succeeds when every
    node did."""
    found: list[str] = []
    for name in names:
        if "." not in name:
            try:
                _dag, nodes = schedd.dag_status(int(name))
            except RoostError as error:
                if f"no DAG {int(name)}" not in str(error):
                    raise
            else:
                found += [str(ad.eval("ClusterId")) for ad in nodes]
                continue
        found.append(name)
    return found


def follow(schedd: Schedd, options: Options, out: TextIO, err: TextIO,
           clock: Callable[[], float] = time.monotonic) -> int:
    """Follow the jobs ``options`` name until they finish or the time runs out; write
    what ``roost wait`` writes to ``out`` and ``err``; return its exit status.  Closes
    ``schedd`` (which ends the event stream)."""
    deadline = None if options.timeout is None else clock() + options.timeout
    report = err if options.json else out
    names = _dags_as_clusters(schedd, options.names) or [
        str(c) for c in _own_clusters(schedd)]
    if not names:
        print(NOTHING, file=report)
        return 0
    follower = Follower(names)
    display = _Display(err, quiet=options.quiet)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    reader = threading.Thread(
        target=_read, args=(schedd.job_events(follower.clusters, include_current=False), inbox),
        name="roost-wait-events", daemon=True)
    reader.start()
    timed_out = False
    try:
        while not follower.confirmed:
            now = clock()
            if deadline is not None and now >= deadline:
                timed_out = True
                break
            wake = [t for t in (deadline, display.wake_at(follower.counts)) if t is not None]
            try:
                item = inbox.get(timeout=max(0.0, min(wake) - now) if wake else None)
            except queue.Empty:
                item = None
            taken = 0
            while item is not None:  # what has come, before deciding
                _tell(_take(item, follower, schedd, bool(options.names)), options, out, display)
                taken += 1
                try:
                    item = inbox.get_nowait() if taken < _DRAIN else None
                except queue.Empty:
                    item = None
            if follower.over and not follower.confirmed:
                _tell(_sync(follower, schedd, bool(options.names)), options, out, display)
            display.show(follower.counts, clock())
        display.show(follower.counts, clock(), force=True)
    finally:
        display.end()
        schedd.close()
        reader.join(timeout=5)
    if not options.names and follower.synced and not follower.counts.total:
        print(NOTHING, file=report)  # the last submit's cluster is gone from the history
        return 0
    failures = follower.failures()
    for line in failure_lines(failures):
        print(line, file=report)
    if timed_out and not follower.synced:
        print(f"timed out after {options.timeout:g} s, before the jobs could be read",
              file=report)
    else:
        print(summary_line(follower.counts, failures,
                           timed_out_after=options.timeout if timed_out else None), file=report)
    return follower.exit_status(timed_out)


def _read(events: Iterator, inbox: queue.SimpleQueue) -> None:
    """The reader thread: the stream's events into ``inbox``, then how it ended."""
    try:
        for event in events:
            inbox.put(event)
        inbox.put(_Ended(None))
    except Exception as error:  # handed to the main thread, which raises it
        inbox.put(_Ended(error))


def _take(item: Any, follower: Follower, schedd: Schedd, named: bool) -> list[Finished]:
    """One thing from the reader: a (re)subscribed stream, an event, or its end."""
    if isinstance(item, _Ended):
        if item.error is not None:
            raise item.error
        raise RoostError("the schedd ended the event stream")
    if item.kind == "subscribed":
        return _sync(follower, schedd, named)
    return follower.handle(JobChanged(item.job_id, item.status, item.kind, item.time,
                                      _values(item.attrs, WATCHED)))


def _sync(follower: Follower, schedd: Schedd, named: bool) -> list[Finished]:
    """Read the followed clusters' jobs from the queue, then from the history."""
    first = not follower.synced
    constraint = any_of([f"ClusterId == {c}" for c in follower.clusters])
    projection = [*_IDENTITY, *WATCHED]
    in_queue = [_state(ad) for ad in schedd.iter_query(constraint, projection)]
    history = [_state(ad) for ad in schedd.history(constraint, projection)]
    finished = follower.sync(in_queue, history)
    if first and named and follower.missing:
        raise UsageError(f"{', '.join(follower.missing)}: no such job in the queue or the "
                         "history")
    return finished


def _own_clusters(schedd: Schedd) -> list[int]:
    """What a bare ``roost wait`` follows: the caller's clusters with a job in the queue
    now, and the one they submitted last from this roost home.  That one too, even with
    others in the queue, so that ``roost submit X && roost wait`` reports on X however fast
    X's jobs end; the others, so that it reports on every cluster still going."""
    from classad import quote

    ads = schedd.iter_query(f"Owner == {quote(schedd.user)}", ["ClusterId"])
    clusters = {ad.eval("ClusterId") for ad in ads}
    last = last_submit.last_cluster(schedd.config.home, schedd.user)
    if last is not None:
        clusters.add(last)
    return sorted(clusters)


def _values(ad, names: Sequence[str]) -> dict[str, object]:
    """The plain values (numbers, strings, booleans) of ``names`` in ``ad``."""
    values = {}
    for name in names:
        if name in ad:
            value = ad.eval(name)
            if isinstance(value, bool | int | float | str):
                values[name] = value
    return values


def _state(ad) -> JobState:
    entered = ad.eval("EnteredCurrentStatus")
    return JobState(f"{ad.eval('ClusterId')}.{ad.eval('ProcId')}", ad.eval("JobStatus"),
                    entered if isinstance(entered, int) else 0, _values(ad, WATCHED))


def _tell(finished: list[Finished], options: Options, out: TextIO, display: _Display) -> None:
    """-json's record of each job that finished."""
    if not options.json or not finished:
        return
    display.clear()
    for one in finished:
        out.write(json.dumps(one.record()) + "\n")
    out.flush()


class _Display:
    """The progress line on ``stream``: redrawn in place on a terminal, a line per change
    elsewhere (at most one a second)."""

    def __init__(self, stream: TextIO, *, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.throttle = Throttle(TTY_INTERVAL if self.tty else LINE_INTERVAL)
        self._drawn = 0  # characters of the line on the terminal now

    def show(self, counts: Counts, now: float, *, force: bool = False) -> None:
        if self.quiet or not counts.total or not self.throttle.due(counts, now, force=force):
            return
        line = progress_line(counts)
        if self.tty:
            self.stream.write("\r" + line + " " * max(0, self._drawn - len(line)))
            self._drawn = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def wake_at(self, counts: Counts) -> float | None:
        return None if self.quiet else self.throttle.wake_at(counts)

    def clear(self) -> None:
        """Erase the line on the terminal (before other output); it is drawn again at the
        next ``show``."""
        if self.tty and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0
            self.throttle.forget()

    def end(self) -> None:
        """End the line on the terminal, so that what follows starts a line of its own."""
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0
