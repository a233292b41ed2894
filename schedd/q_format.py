"""``roost q`` and ``roost history``'s output, made as condor_q and condor_history make it:
pure, no I/O, no clock (``now`` is an argument).

The views are HTCondor's print formats (``src/condor_q.V6/queue.cpp``: ``jobProgress``,
``jobDefault``, ``jobHold`` and ``jobRuntime``; ``src/condor_tools/history.cpp``:
``defaultJob``), laid out by ``roost.ad_format``'s tables:

- a title ``-- Schedd: NAME : <ADDRESS> @ MM/DD/YY HH:MM:SS`` after two blank lines (condor_q
  prints them before every title), then the column headings and a row per batch or job;
- the batch view (the default) rolls a batch's clusters into one row: a batch is a cluster,
  or all the clusters of one owner with the same ``JobBatchName``.  Counts of zero print
  as ``_``; the HOLD column is there only if a job is held or there is no batch at all;
- the footer's totals, by status, for the query, the user (when the query is the user's
  own jobs) and all users, one line each, each but the last ending in a space as condor_q's
  summary mask leaves it.

On a terminal (``terminal_width`` > 0) the columns are fitted and the lines cut one short
of its width as condor_q does; into a file or pipe nothing is cut.  ``-attempts`` (roost's
own) lists each run of a job from its ``Attempts`` history, printing what each one records.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from classad import ClassAd, Value
from roost.ad_format import (
    Column,
    attr_value,
    c_divmod,
    fit_to_terminal,
    format_date,
    format_time,
    integer,
    number,
    table_lines,
)
from schedd.job_status import JobStatus

if TYPE_CHECKING:
    from roost.client import ClusterSummary, QueueSummary

# The views of roost q (and of roost history: "history" and "attempts").
BATCH, NOBATCH, DAG, HOLD, RUN, HISTORY, ATTEMPTS = (
    "batch", "nobatch", "dag", "hold", "run", "history", "attempts")

# The attributes every job view sorts by, and so fetches.
JOB_ID_ATTRS = ("ClusterId", "ProcId")
DAG_ID = "DAGManJobId"  # what the DAG view also sorts by

_ON_A_MACHINE = frozenset({JobStatus.RUNNING, JobStatus.TRANSFERRING_OUTPUT,
                           JobStatus.SUSPENDED})


# -- the title and the totals ----------------------------------------------------------------


def header(schedd_name: str, schedd_address: str, now: int) -> str:
    """condor_q's title line, after the two blank lines it always prints first."""
    address = schedd_address if schedd_address.startswith("<") else f"<{schedd_address}>"
    stamp = time.strftime("%m/%d/%y %H:%M:%S", time.localtime(now))
    return f"\n\n-- Schedd: {schedd_name} : {address} @ {stamp}\n"


def _add(counts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for one in counts:
        for status, n in one.items():
            total[status] = total.get(status, 0) + n
    return total


def totals_line(whose: str, counts: Mapping[int, int]) -> str:
    """``Total for WHOSE: N jobs; C completed, ...`` from jobs counted by JobStatus; a job
    transferring its output counts as running, as condor_q counts it."""
    def n(*statuses: JobStatus) -> int:
        return sum(counts.get(int(status), 0) for status in statuses)

    # Jobs waiting for their parents (roost's own state) are told only when there are some,
    # so that the line is condor_q's otherwise.
    waiting = n(JobStatus.WAITING)
    return (f"Total for {whose}: {sum(counts.values())} jobs; "
            f"{n(JobStatus.COMPLETED)} completed, {n(JobStatus.REMOVED)} removed, "
            f"{n(JobStatus.IDLE)} idle, "
            f"{n(JobStatus.RUNNING, JobStatus.TRANSFERRING_OUTPUT)} running, "
            f"{n(JobStatus.HELD)} held, {n(JobStatus.SUSPENDED)} suspended"
            + (f", {waiting} waiting" if waiting else ""))


def footer(summary: QueueSummary, user: str | None = None, totals_only: bool = False) -> str:
    """The totals of the query (its clusters' counts), of ``user`` if the query is that
    user's jobs, and of all users; after a blank line unless they are all there is."""
    lines = [totals_line("query", _add(c.counts for c in summary.clusters))]
    if user is not None:
        lines.append(totals_line(user, summary.owners.get(user, {})))
    lines.append(totals_line("all users", _add(summary.owners.values())))
    text = " \n".join(lines) + "\n"  # each column of the summary mask ends in a space
    return text if totals_only else "\n" + text


# -- the batch view -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Batch:
    """One row of the batch view: clusters rolled together."""

    owner: str
    name: str  # JobBatchName, or "ID: <cluster>" for a cluster of its own
    submitted: int  # the earliest QDate
    done: int  # procs that completed and left the queue
    running: int
    idle: int
    held: int
    total: int  # procs submitted
    first: tuple[int, int]  # the lowest (cluster, proc) in the queue
    last: tuple[int, int]  # the highest

    @property
    def job_ids(self) -> str:
        """condor_q's JOB_IDS: ``7.3``, ``7.0-9`` within a cluster, ``3.0 ... 5.4``
        across clusters."""
        (c1, p1), (c2, p2) = self.first, self.last
        if self.first == self.last:
            return f"{c1}.{p1}"
        if c1 == c2:
            return f"{c1}.{p1}-{p2}"
        return f"{c1}.{p1} ... {c2}.{p2}"


def batches(clusters: Iterable[ClusterSummary]) -> list[Batch]:
    """The clusters rolled into batches, in the order of their first cluster: a cluster
    with a batch name joins the other clusters of its owner with that name."""
    groups: dict[tuple, list[ClusterSummary]] = {}
    for cluster in sorted(clusters, key=lambda c: c.cluster_id):
        key = (cluster.owner, cluster.batch_name) if cluster.batch_name else (cluster.cluster_id,)
        groups.setdefault(key, []).append(cluster)
    return [_batch(members) for members in groups.values()]


def _batch(members: list[ClusterSummary]) -> Batch:
    first = members[0]
    counts = _add(c.counts for c in members)

    def n(*statuses: JobStatus) -> int:
        return sum(counts.get(int(status), 0) for status in statuses)

    ids = [(c.cluster_id, proc) for c in members for proc in (c.first_proc, c.last_proc)
           if proc >= 0] or [(first.cluster_id, 0)]
    return Batch(
        owner=first.owner, name=first.batch_name or f"ID: {first.cluster_id}",
        submitted=min(c.qdate for c in members), done=sum(c.completed for c in members),
        running=n(JobStatus.RUNNING, JobStatus.TRANSFERRING_OUTPUT),
        idle=n(JobStatus.IDLE, JobStatus.SUSPENDED), held=n(JobStatus.HELD),
        total=sum(c.total_submitted for c in members), first=min(ids), last=max(ids))


def _count_column(heading: str, field: str, rows: Sequence[Batch]) -> Column:
    """``%6d OR _``, widened to the widest count."""
    def cell(row: Batch) -> str | None:
        value = getattr(row, field)
        return str(value) if value else None

    width = max([6, *(len(str(getattr(row, field))) for row in rows)])
    return Column(heading, width, cell, missing="_")


def _squeeze(owner: int, name: int, ids: int, terminal_width: int) -> tuple[int, int]:
    """condor_q's share of a terminal's width between the owner, batch name and job id
    columns (50 characters go to the rest): the owner's and batch name's widths."""
    room = terminal_width - 50
    if owner + name + ids <= room:
        return owner, name
    name_room = owner_room = ids_room = c_divmod(room - (8 + 10 + 9), 3)[0]
    if ids_room < ids and (name + owner) - (name_room + owner_room + 10 + 8) > 7 \
            and name_room < 10:
        ids //= 2  # show the first id only
    if ids_room + 9 > ids:
        spare = ids_room + 9 - ids
        owner_room += spare // 2
        name_room += spare - spare // 2
    if name_room + 10 > name:
        owner_room = min(8 + owner_room + name_room + 10 - name, owner) - 8
    if owner_room + 8 > owner:
        name_room = min(10 + name_room + owner_room + 8 - owner, name) - 10
    return min(owner, owner_room + 8), min(name, name_room + 10)


def batch_table(rows: Sequence[Batch], terminal_width: int = 0) -> str:
    """The batch view's headings and rows."""
    owner_width, name_width = 5, 12  # as registered: what an empty queue shows
    owner_cut = False
    if rows:
        longest_owner = max(len(row.owner) for row in rows)
        owner, name = longest_owner, max(len(row.name) for row in rows)
        if terminal_width:
            owner, name = _squeeze(owner, name, max(len(row.job_ids) for row in rows),
                                   terminal_width)
        # condor_q's own rule: a column narrower than its heading is made 8 wide.
        owner_cut = owner < max(5, longest_owner)
        owner_width = max(8, owner) if owner_cut else owner
        name_width = max(10, name)
    columns = [
        Column("OWNER", owner_width, lambda row: row.owner, left=True, truncate=owner_cut,
               grow=False),
        Column("BATCH_NAME", name_width, lambda row: row.name, left=True, grow=False),
        Column("   SUBMITTED", 12, lambda row: format_date(row.submitted), grow=False),
        _count_column("  DONE", "done", rows),
        _count_column("  RUN ", "running", rows),
        _count_column("  IDLE", "idle", rows),
        _count_column("  HOLD", "held", rows),
        _count_column(" TOTAL", "total", rows),
        Column("JOB_IDS", 0, lambda row: row.job_ids),
    ]
    if rows and not any(row.held for row in rows):
        del columns[6]
    return "\n".join(fit_to_terminal(table_lines(rows, columns), terminal_width)) + "\n"


# -- the job views ---------------------------------------------------------------------------


def _int_attr(ad: ClassAd, attr: str) -> int | None:
    return integer(attr_value(ad, attr))


def _string_attr(ad: ClassAd, attr: str) -> str | None:
    value = attr_value(ad, attr)
    return value if type(value) is str else None


def _date_cell(attr: str):
    def cell(ad: ClassAd) -> str | None:
        epoch = _int_attr(ad, attr)
        return None if epoch is None else format_date(epoch)

    return cell


def _job_id_columns(job=lambda row: row) -> list[Column]:
    """``%4d.`` then ``%-3d``: ID as condor_q prints it, each part widened as needed."""
    def cluster(row) -> str | None:
        value = _int_attr(job(row), "ClusterId")
        return None if value is None else f"{value}."

    def proc(row) -> str | None:
        value = _int_attr(job(row), "ProcId")
        return None if value is None else str(value)

    return [Column(" ID", 5, cluster, ("ClusterId",), missing="?"),
            Column(" ", 3, proc, ("ProcId",), left=True, prefix=False, missing="?")]


def _owner_column(width: int = 14) -> Column:
    return Column("OWNER", width, lambda ad: _string_attr(ad, "Owner"), ("Owner",),
                  left=True, grow=False, missing="??")


def _owner_or_node(ad: ClassAd) -> str | None:
    """condor_q -dag's OWNER/NODENAME: a DAG node's job shows its node, indented."""
    node = _string_attr(ad, "DAGNodeName")
    return f" |-{node}" if node is not None else _string_attr(ad, "Owner")


_OWNER_OR_NODE = Column("OWNER/NODENAME", 14, _owner_or_node, ("Owner", "DAGNodeName"),
                        left=True, grow=False, missing="??")


def _run_time(now: int):
    """Wall-clock time of all runs so far (RemoteWallClockTime) and of the one under way."""
    def cell(ad: ClassAd) -> str | None:
        total = number(attr_value(ad, "RemoteWallClockTime")) or 0.0
        status = _int_attr(ad, "JobStatus")
        started = _int_attr(ad, "JobCurrentStartDate")
        if status in _ON_A_MACHINE and started:
            total += now - started
        return format_time(int(total))

    return Column("    RUN_TIME", 12, cell,
                  ("RemoteWallClockTime", "JobStatus", "JobCurrentStartDate"), grow=False)


def _status(ad: ClassAd) -> str | None:
    status = _int_attr(ad, "JobStatus")
    try:
        return JobStatus(status).letter if status is not None else None
    except ValueError:
        return " "


def _priority(ad: ClassAd) -> str | None:
    value = _int_attr(ad, "JobPrio")
    return None if value is None else str(value)


def _size(ad: ClassAd) -> str | None:
    """MemoryUsage (MB) if the job has it, else ImageSize (KiB) in MB."""
    memory = _int_attr(ad, "MemoryUsage")
    if memory is not None:
        return f"{float(memory):.1f}"
    image = _int_attr(ad, "ImageSize")
    return None if image is None else f"{image / 1024:.1f}"


def _description(ad: ClassAd) -> str | None:
    """CMD: the job's description in parentheses, else its program's name and arguments."""
    description = _string_attr(ad, "JobDescription")
    if description:
        return f"({description})"
    cmd = _string_attr(ad, "Cmd")
    if cmd is None:
        return None
    args = _string_attr(ad, "Arguments") or _string_attr(ad, "Args")
    name = PurePosixPath(cmd).name
    return f"{name} {args}" if args else name


_SUBMITTED = Column("  SUBMITTED", 11, _date_cell("QDate"), ("QDate",), grow=False,
                    missing="??")
_ST = Column("ST", 2, _status, ("JobStatus",), left=True, missing="")
_CMD = Column("CMD", 0, _description, ("JobDescription", "Cmd", "Arguments", "Args"),
              missing="")


def _code(ad: ClassAd) -> str | None:
    value = _int_attr(ad, "HoldReasonCode")
    return None if value is None else str(value)


def _subcode(ad: ClassAd) -> str | None:
    value = _int_attr(ad, "HoldReasonSubCode")
    return None if value is None else f"/{value:<3d}"


def _job_id(ad: ClassAd) -> str | None:
    cluster, proc = _int_attr(ad, "ClusterId"), _int_attr(ad, "ProcId")
    return None if cluster is None else f"{cluster}.{-1 if proc is None else proc}"


def _past_run_time(ad: ClassAd) -> str:
    """condor_history's RUN_TIME: ``RemoteWallClockTime ?: (RemoteUserCpu ?: 0)``."""
    wall = number(attr_value(ad, "RemoteWallClockTime"))
    if wall is None:
        wall = number(attr_value(ad, "RemoteUserCpu")) or 0.0
    return format_time(int(wall))


def _job_columns(view: str, now: int) -> list[Column]:
    if view == HISTORY:
        return [Column(" ID         ", 12, _job_id, JOB_ID_ATTRS, left=True, missing="??"),
                _owner_column(), _SUBMITTED,
                Column("  RUN_TIME  ", 12, _past_run_time,
                       ("RemoteWallClockTime", "RemoteUserCpu"), grow=False),
                _ST,
                Column("  COMPLETED", 11, _date_cell("CompletionDate"), ("CompletionDate",),
                       grow=False, missing=""),
                _CMD]
    columns = [*_job_id_columns(), _OWNER_OR_NODE if view == DAG else _owner_column()]
    if view == HOLD:
        return columns + [
            Column("HELD_SINCE", 11, _date_cell("EnteredCurrentStatus"),
                   ("EnteredCurrentStatus",), grow=False, missing="??"),
            Column("CODE", 4, _code, ("HoldReasonCode",), missing="?"),
            Column("/SUB", 4, _subcode, ("HoldReasonSubCode",), left=True, truncate=True,
                   prefix=False, missing=""),
            Column("HOLD_REASON", 0, lambda ad: _string_attr(ad, "HoldReason"),
                   ("HoldReason",), missing=""),
        ]
    columns += [_SUBMITTED, _run_time(now)]
    if view == RUN:
        return columns + [Column("HOST(S)", 0, lambda ad: _string_attr(ad, "RemoteHost"),
                                 ("RemoteHost",), missing="??")]
    return columns + [
        _ST,
        Column("PRI", 3, _priority, ("JobPrio",), left=True, missing=""),
        Column("SIZE", 4, _size, ("MemoryUsage", "ImageSize"), grow=False, missing=""),
        _CMD,
    ]


def projection(view: str) -> tuple[str, ...]:
    """The attributes a view shows or sorts by: all a query for it needs to fetch (none
    for the batch view, which is made of the schedd's counts)."""
    if view == BATCH:
        return ()
    if view == ATTEMPTS:
        return (*JOB_ID_ATTRS, "Attempts")
    columns = _job_columns(view, 0)
    wanted = {*JOB_ID_ATTRS, *(a for c in columns for a in c.reads)}
    if view == DAG:
        wanted.add(DAG_ID)
    return tuple(sorted(wanted, key=str.lower))


def sort_jobs(ads: Iterable[ClassAd], view: str = NOBATCH) -> list[ClassAd]:
    """The ads in job id order, as condor_q prints them; ads without ids come last.  In
    the DAG view a DAG's nodes come together, where the DAG's own id falls (it is a
    cluster id given out before its nodes'), as condor_q puts them under their DAGMan
    job."""
    def key(ad: ClassAd) -> tuple:
        cluster, proc = _int_attr(ad, "ClusterId"), _int_attr(ad, "ProcId")
        dag = _int_attr(ad, DAG_ID) if view == DAG else None
        return (cluster is None, cluster or 0 if dag is None else dag, cluster or 0,
                proc or 0)

    return sorted(ads, key=key)


def job_table(ads: Sequence[ClassAd], view: str, now: int, terminal_width: int = 0) -> str:
    """The headings and a row per job ad (in the order given) of the -nobatch, -hold or
    -run view, or of roost history's default view."""
    columns = _job_columns(view, now)
    if view != HISTORY and ads:
        columns = _fit_job_columns(ads, columns, terminal_width)
    return "\n".join(fit_to_terminal(table_lines(ads, columns), terminal_width)) + "\n"


def _fit_job_columns(ads: Sequence[ClassAd], columns: list[Column],
                     terminal_width: int) -> list[Column]:
    """condor_q's widening of the standard views: only once a cluster id needs five
    digits, a proc id four or an owner fifteen characters, the SIZE column fits the
    largest size; and on a terminal the OWNER column fits the longest owner as far as the
    terminal is wider than 80."""
    clusters = [_int_attr(ad, "ClusterId") or 0 for ad in ads]
    procs = [_int_attr(ad, "ProcId") or 0 for ad in ads]
    longest = max(len(_string_attr(ad, "Owner") or "") for ad in ads)
    if max(clusters) < 9999 and max(procs) < 999 and longest <= 14:
        return columns
    fitted = []
    for column in columns:
        if column.heading == "OWNER" and terminal_width and longest > 14:
            column = dataclasses.replace(
                column, width=max(column.width, min(longest, 14 + terminal_width - 80)))
        elif column.heading == "SIZE":
            widest = max([column.width, *(len(_size(ad) or "") for ad in ads)])
            column = dataclasses.replace(column, width=widest)
        fitted.append(column)
    return fitted


# -- roost history -attempts -----------------------------------------------------------------


def _attempt_cell(attr: str, show=str):
    def cell(row: tuple[ClassAd, ClassAd]) -> str | None:
        value = attr_value(row[1], attr)
        if value is Value.Undefined or value is Value.Error:
            return None
        return show(value)

    return cell


def _exit(row: tuple[ClassAd, ClassAd]) -> str | None:
    attempt = row[1]
    code, signal = _int_attr(attempt, "ExitCode"), _int_attr(attempt, "ExitSignal")
    if signal is not None:
        return f"SIG {signal}"
    return None if code is None else str(code)


def _seconds(value) -> str:
    seconds = number(value)
    return "" if seconds is None else format_time(int(seconds))


def _whole(value) -> str:
    amount = integer(value)
    return "" if amount is None else str(amount)


def _epoch(value) -> str:
    epoch = integer(value)
    return "" if epoch is None else format_date(epoch)


_ATTEMPT_COLUMNS = (
    *_job_id_columns(lambda row: row[0]),
    Column("ATTEMPT", 7, _attempt_cell("Attempt", _whole), missing=""),
    Column("HOST", 4, _attempt_cell("Host"), left=True, missing=""),
    Column("STARTED", 11, _attempt_cell("Start", _epoch), grow=False, missing=""),
    Column("ENDED", 11, _attempt_cell("End", _epoch), grow=False, missing=""),
    Column("   WALL_TIME", 12, _attempt_cell("WallSeconds", _seconds), missing=""),
    Column("    CPU_TIME", 12, _attempt_cell("CpuSeconds", _seconds), missing=""),
    Column("MEMORY", 6, _attempt_cell("PeakMemoryMB", _whole), missing=""),
    Column("EXIT", 4, _exit, left=True, missing=""),
    Column("FAILURE", 7, _attempt_cell("Failure"), left=True, missing=""),
    Column("OUTCOME", 7, _attempt_cell("Outcome"), left=True, missing=""),
    Column("REASON", 0, _attempt_cell("Reason"), missing=""),
)


def attempts(ad: ClassAd) -> list[ClassAd]:
    """The job's attempt history: the nested ads of its ``Attempts`` list."""
    value = attr_value(ad, "Attempts")
    return [a for a in value if isinstance(a, ClassAd)] if isinstance(value, list) else []


def attempts_table(ads: Sequence[ClassAd], terminal_width: int = 0) -> str:
    """A line per attempt of each job (jobs in the order given, attempts in the order they
    ran), each showing what its attempt records: ``-attempts``."""
    rows = [(ad, attempt) for ad in ads for attempt in attempts(ad)]
    return "\n".join(fit_to_terminal(table_lines(rows, _ATTEMPT_COLUMNS), terminal_width)) + "\n"


# -- whole outputs ---------------------------------------------------------------------------


def queue_text(summary: QueueSummary, view: str, ads: Sequence[ClassAd] = (), *, now: int,
               user: str | None = None, terminal_width: int = 0,
               totals_only: bool = False) -> str:
    """condor_q's output: the title, then the batch view of ``summary``'s clusters or the
    ``view`` of ``ads`` (sorted here), then the totals (not after -run).  ``user`` is the
    user whose jobs the query is, if it is; ``totals_only`` leaves out the table."""
    text = header(summary.schedd_name, summary.schedd_address, now)
    if totals_only:
        return text + footer(summary, user, totals_only=True)
    if view == BATCH:
        text += batch_table(batches(summary.clusters), terminal_width)
    else:
        text += job_table(sort_jobs(ads, view), view, now, terminal_width)
    return text if view == RUN else text + footer(summary, user)
