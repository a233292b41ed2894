"""The job queue in SQL: plain functions on a SQLAlchemy Core connection.

The caller owns the transaction (``with engine.begin() as connection``), so one RPC is one
transaction and what it acknowledged is committed.  A job's ad is materialized from its
cluster's ad, the proc's own attributes and the indexed columns (see ``schedd.models``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

import classad
from classad import ClassAd, ExprTree, Value
from roost.client import ClusterSummary
from schedd.job_status import FINISHED, JobStatus
from schedd.lifecycle import applied
from schedd.models import ClaimRecord, Cluster, HistoryJob, Job, QueueHeader

# Attributes kept in columns of the jobs table, by lower-cased name: (spelling, column).
COLUMNS: dict[str, tuple[str, str]] = {
    "clusterid": ("ClusterId", "cluster_id"),
    "procid": ("ProcId", "proc_id"),
    "owner": ("Owner", "owner"),
    "jobstatus": ("JobStatus", "status"),
    "jobprio": ("JobPrio", "job_prio"),
    "qdate": ("QDate", "qdate"),
    "enteredcurrentstatus": ("EnteredCurrentStatus", "entered_status"),
    "retryafter": ("RetryAfter", "retry_after"),
}
# What makes a cluster's jobs worth the periodic evaluation (schedd.job_policy).
PERIODIC_ATTRS = ("PeriodicHold", "PeriodicRelease", "PeriodicRemove", "AllowedJobDuration",
                  "AllowedExecuteDuration", "LeaveJobInQueue")

# A proc's text marks an attribute it deleted, which its cluster's ad may still hold.
_DELETED = "undefined"


@dataclass(frozen=True)
class JobKey:
    cluster_id: int
    proc_id: int

    def __str__(self) -> str:
        return f"{self.cluster_id}.{self.proc_id}"


Changes = Mapping[str, object]  # attribute -> new value; None deletes it


# -- ad text ---------------------------------------------------------------------------------


def ad_text(ad: ClassAd, lines: dict | None = None) -> str:
    """The ad as the queue stores it; ``lines`` as ``ClassAd.print_old`` takes it."""
    return ad.print_old(lines)


def parse_text(text: str) -> ClassAd:
    return classad.parse_one(text, "old") if text else ClassAd()


def _without_columns(ad: ClassAd) -> ClassAd:
    rest = ad.copy()
    for name in list(rest):
        if name.lower() in COLUMNS:
            del rest[name]
    return rest


_PARSED_CLUSTERS: dict[str, ClassAd] = {}
_PARSED_CLUSTERS_KEPT = 256


def cluster_ad(text: str) -> ClassAd:
    """A cluster ad parsed from its text, once for every reader: running a cluster's jobs
    reads its ad for each of them.  Keyed by the text, which a cluster id alone is not (a
    retried cluster is written again), and shared, so callers copy before changing it."""
    ad = _PARSED_CLUSTERS.get(text)
    if ad is None:
        if len(_PARSED_CLUSTERS) >= _PARSED_CLUSTERS_KEPT:
            _PARSED_CLUSTERS.clear()
        ad = _PARSED_CLUSTERS[text] = parse_text(text)
    return ad


# Statements of the hot paths (a run's start and end, the next job for a claim), built
# once: building a SQLAlchemy statement and its cache key costs more than running it.
_CLUSTER_TEXT = select(Cluster.ad).where(Cluster.cluster_id == bindparam("cluster_id"))
_JOB_AND_CLUSTER = (select(Job.__table__, Cluster.ad.label("cluster_ad"))
                    .join(Cluster, Cluster.cluster_id == Job.cluster_id))
_ONE_JOB = _JOB_AND_CLUSTER.where(Job.cluster_id == bindparam("cluster_id"),
                                  Job.proc_id == bindparam("proc_id"))


class ClusterAds:
    """Cluster ads parsed once per reader, by cluster id."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._ads: dict[int, ClassAd] = {}

    def get(self, cluster_id: int) -> ClassAd:
        ad = self._ads.get(cluster_id)
        if ad is None:
            text = self._connection.scalar(_CLUSTER_TEXT, {"cluster_id": cluster_id})
            ad = self._ads[cluster_id] = cluster_ad(text or "")
        return ad


def job_row(connection: Connection, key: JobKey):
    """One job's row, with its cluster's ad text as ``cluster_ad``; None if not queued."""
    return connection.execute(_ONE_JOB, {"cluster_id": key.cluster_id,
                                         "proc_id": key.proc_id}).first()


def materialize(cluster_ad: ClassAd, row) -> ClassAd:
    """The whole job ad: the cluster's attributes, the proc's own over them, the columns."""
    ad = cluster_ad.copy()
    if row.ad:
        own = parse_text(row.ad)
        for name in own:
            value = own.lookup(name)
            if str(value) == _DELETED:
                ad.pop(name, None)
            else:
                ad[name] = value
    ad["ClusterId"] = row.cluster_id
    ad["ProcId"] = row.proc_id
    ad["Owner"] = row.owner
    ad["JobStatus"] = row.status
    ad["JobPrio"] = row.job_prio
    ad["QDate"] = row.qdate
    ad["EnteredCurrentStatus"] = row.entered_status
    if row.retry_after is not None:
        ad["RetryAfter"] = row.retry_after
    return ad


# -- submitting ------------------------------------------------------------------------------


def _column_value(ad: ClassAd, name: str, default: int) -> int:
    value = ad.eval(name) if name in ad else default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {ad.lookup(name)}")
    return value


def allocate_ids(connection: Connection, count: int = 1) -> int:
    """Take ``count`` consecutive cluster ids from the queue's header; the first."""
    header = connection.execute(
        select(QueueHeader.next_cluster_id).where(QueueHeader.id == 1)).scalar()
    if header is None:
        connection.execute(insert(QueueHeader).values(id=1, next_cluster_id=1 + count))
        return 1
    connection.execute(update(QueueHeader).where(QueueHeader.id == 1)
                       .values(next_cluster_id=header + count))
    return header


def submit(connection: Connection, cluster_ad: ClassAd, proc_ads: list[ClassAd], count: int,
           *, owner: str, now: int) -> tuple[int, int]:
    """Queue a cluster: ``proc_ads`` (what differs per proc) or ``count`` identical procs.
    Returns (cluster id, procs).  Raises ValueError for an ad the queue cannot hold."""
    cluster_id = allocate_ids(connection)
    cluster, rows = _cluster_rows(cluster_id, cluster_ad, proc_ads, count, owner=owner, now=now)
    connection.execute(insert(Cluster).values(**cluster))
    _insert_jobs(connection, rows)
    return cluster_id, cluster["total_submitted"]


def submit_many(connection: Connection, clusters: list[tuple[ClassAd, list[ClassAd], int]],
                *, owner: str, now: int, first_id: int) -> list[tuple[int, int]]:
    """Queue clusters with ids from ``first_id`` on (taken by ``allocate_ids``), in a few
    bulk statements: a DAG of a hundred thousand nodes is that many clusters."""
    made, cluster_rows, job_rows = [], [], []
    lines: dict = {}  # the clusters' ads are mostly copies of a few: each line written once
    for offset, (cluster_ad, proc_ads, count) in enumerate(clusters):
        cluster, rows = _cluster_rows(first_id + offset, cluster_ad, proc_ads, count,
                                      owner=owner, now=now, lines=lines)
        cluster_rows.append(cluster)
        job_rows.extend(rows)
        made.append((first_id + offset, cluster["total_submitted"]))
    if cluster_rows:
        connection.execute(insert(Cluster), cluster_rows)
        _insert_jobs(connection, job_rows)
    return made


def _cluster_rows(cluster_id: int, cluster_ad: ClassAd, proc_ads: list[ClassAd], count: int,
                  *, owner: str, now: int, lines: dict | None = None
                  ) -> tuple[dict, Iterable[tuple]]:
    """A cluster's row and its jobs' rows (``lines``: as ``ad_text`` takes it)."""
    procs = len(proc_ads) or count
    if procs < 1:
        raise ValueError("a cluster needs at least one proc")
    qdate = _column_value(cluster_ad, "QDate", now)
    shared = {
        "owner": owner,
        "status": _column_value(cluster_ad, "JobStatus", JobStatus.IDLE),
        "job_prio": _column_value(cluster_ad, "JobPrio", 0),
        "qdate": qdate,
        "entered_status": _column_value(cluster_ad, "EnteredCurrentStatus", now),
    }
    stored = _without_columns(cluster_ad)
    stored["TotalSubmitProcs"] = procs
    batch_name = cluster_ad.eval("JobBatchName") if "JobBatchName" in cluster_ad else ""
    cmd = cluster_ad.eval("Cmd") if "Cmd" in cluster_ad else ""
    periodic = any(name in cluster_ad for name in PERIODIC_ATTRS)
    if proc_ads:
        rows = []
        for proc_id, proc_ad in enumerate(proc_ads):
            merged = cluster_ad.copy()
            merged.update(proc_ad)
            status = _column_value(merged, "JobStatus", JobStatus.IDLE)
            if status not in _SUBMITTED:
                raise ValueError(f"a job is submitted Idle or Held, not JobStatus {status}")
            periodic = periodic or any(name in proc_ad for name in PERIODIC_ATTRS)
            rows.append(_row({**shared, "cluster_id": cluster_id, "proc_id": proc_id,
                              "status": status, "job_prio": _column_value(merged, "JobPrio", 0),
                              "ad": ad_text(_without_columns(proc_ad)), "retry_after": None}))
    else:
        if shared["status"] not in _SUBMITTED:
            raise ValueError(f"a job is submitted Idle or Held, not JobStatus {shared['status']}")
        first = _row({**shared, "cluster_id": cluster_id, "proc_id": 0, "ad": "",
                      "retry_after": None})
        # Only the proc id differs: each row is the first with it replaced.
        at = _JOB_COLUMNS.index("proc_id")
        rows = [first[:at] + (proc_id,) + first[at + 1:] for proc_id in range(count)]
    cluster = {"cluster_id": cluster_id, "owner": owner, "qdate": qdate,
               "batch_name": batch_name if isinstance(batch_name, str) else "",
               "cmd": cmd if isinstance(cmd, str) else "", "ad": ad_text(stored, lines),
               "total_submitted": procs, "completed": 0, "periodic": periodic}
    return cluster, rows


# A job with parents is queued Waiting (schedd.dependencies); the queue sets that itself.
_SUBMITTED = (JobStatus.IDLE, JobStatus.HELD, JobStatus.WAITING)

_JOB_COLUMNS = ("cluster_id", "proc_id", "owner", "status", "job_prio", "qdate",
                "entered_status", "retry_after", "ad")


def _row(values: Mapping[str, object]) -> tuple:
    return tuple(values[name] for name in _JOB_COLUMNS)


def _insert_jobs(connection: Connection, rows: Iterable[tuple]) -> None:
    """The bulk path of a big submit (rows are tuples in ``_JOB_COLUMNS`` order), inside
    the caller's transaction: COPY on PostgreSQL, the driver's own executemany on SQLite
    (SQLAlchemy's per-row handling of executemany would cost more than the insert), plain
    executemany elsewhere."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY jobs ({', '.join(_JOB_COLUMNS)}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row(values)
    elif dialect == "sqlite":
        marks = ", ".join("?" for _ in _JOB_COLUMNS)
        connection.connection.driver_connection.executemany(
            f"INSERT INTO jobs ({', '.join(_JOB_COLUMNS)}) VALUES ({marks})", rows)
    else:
        connection.execute(insert(Job), [dict(zip(_JOB_COLUMNS, values, strict=True))
                                         for values in rows])


# -- reading ---------------------------------------------------------------------------------


def _sql_term(term: classad.AttributeTerm, table) -> ColumnElement | None:
    """The SQL form of one indexed-attribute term, or None if it cannot be said exactly."""
    known = COLUMNS.get(term.attribute.lower())
    if known is None:
        return None
    column = getattr(table, known[1], None)
    if column is None:
        return None
    values = term.values
    if known[1] == "owner":
        if not all(isinstance(v, str) for v in values):
            return None
        if term.operator == "=?=":
            return column == values[0]
        if term.operator == "=!=":
            return column != values[0]
        # ClassAd == on strings ignores case.
        lowered = [v.lower() for v in values]
        if term.operator == "==":
            return func.lower(column).in_(lowered)
        if term.operator == "!=":
            return func.lower(column) != lowered[0]
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    if known[1] == "retry_after":
        return None  # often NULL, where ClassAd comparisons are undefined
    operator = {"=?=": "==", "=!=": "!="}.get(term.operator, term.operator)
    if operator == "==":
        return column.in_(values) if len(values) > 1 else column == values[0]
    return {"!=": column.__ne__, "<": column.__lt__, "<=": column.__le__, ">": column.__gt__,
            ">=": column.__ge__}[operator](values[0])


def sql_filter(constraint: ExprTree | None, table=Job) -> tuple[list[ColumnElement], bool]:
    """SQL conditions implied by ``constraint``, and whether they are all of it (so that
    the rows need no further evaluation)."""
    if constraint is None:
        return [], True
    terms = classad.attribute_terms(constraint)
    clauses = []
    exact = terms.complete
    for term in terms.terms:
        clause = _sql_term(term, table)
        if clause is None:
            exact = False
        else:
            clauses.append(clause)
    return clauses, exact


def job_id_filter(ids: Iterable[str], table=Job) -> ColumnElement:
    """Rows of the jobs named "cluster" or "cluster.proc"."""
    clauses = []
    for text in ids:
        cluster, _, proc = text.strip().partition(".")
        if proc:
            clauses.append(and_(table.cluster_id == int(cluster), table.proc_id == int(proc)))
        else:
            clauses.append(table.cluster_id == int(cluster))
    return or_(*clauses) if clauses else table.cluster_id.is_(None)


def iter_jobs(connection: Connection, constraint: ExprTree | None = None,
              where: Iterable[ColumnElement] = (), limit: int = 0,
              batch: int = 2000) -> Iterator[ClassAd]:
    """Job ads in id order for which ``constraint`` holds, read in batches."""
    clauses, exact = sql_filter(constraint)
    clauses += list(where)
    clusters = ClusterAds(connection)
    sent = 0
    for row in _rows_in_batches(connection, clauses, batch):
        ad = materialize(clusters.get(row.cluster_id), row)
        if exact or constraint is None or constraint.eval(ad) is True:
            yield ad
            sent += 1
            if limit and sent >= limit:
                return


Pairs = list[tuple[str, str]]


class _PairCache:
    """Wire pairs of cluster ads and of proc texts, made once per reader: the procs of a
    cluster mostly share their text (often empty), so sending a million jobs unparses a
    handful of ads, not a million."""

    def __init__(self, connection: Connection) -> None:
        self.clusters = ClusterAds(connection)
        self._cluster_pairs: dict[int, dict[str, tuple[str, str]]] = {}
        self._own: dict[str, dict[str, tuple[str, str] | None]] = {}

    def cluster(self, cluster_id: int) -> dict[str, tuple[str, str]]:
        pairs = self._cluster_pairs.get(cluster_id)
        if pairs is None:
            pairs = self._cluster_pairs[cluster_id] = {
                name.lower(): (name, text)
                for name, text in classad.ad_to_pairs(self.clusters.get(cluster_id))}
        return pairs

    def own(self, text: str) -> dict[str, tuple[str, str] | None]:
        pairs = self._own.get(text)
        if pairs is None:
            if len(self._own) > 10000:
                self._own.clear()
            pairs = self._own[text] = {
                name.lower(): None if value == _DELETED else (name, value)
                for name, value in classad.ad_to_pairs(parse_text(text))}
        return pairs


def _row_pairs(cache: _PairCache, row) -> dict[str, tuple[str, str] | None]:
    pairs: dict[str, tuple[str, str] | None] = dict(cache.cluster(row.cluster_id))
    if row.ad:
        pairs.update(cache.own(row.ad))
    for attribute, value in (("ClusterId", row.cluster_id), ("ProcId", row.proc_id),
                             ("Owner", row.owner), ("JobStatus", row.status),
                             ("JobPrio", row.job_prio), ("QDate", row.qdate),
                             ("EnteredCurrentStatus", row.entered_status),
                             ("RetryAfter", row.retry_after)):
        if value is not None:
            text = classad.quote(value) if isinstance(value, str) else str(value)
            pairs[attribute.lower()] = (attribute, text)
    return pairs


def iter_job_pairs(connection: Connection, constraint: ExprTree | None = None,
                   projection: Iterable[str] = (), limit: int = 0) -> Iterator[Pairs]:
    """Job ads as wire pairs (``classad.ad_to_pairs``), in id order: what a query sends.
    A constraint the columns answer whole needs no ad built at all."""
    clauses, exact = sql_filter(constraint)
    if not exact:
        for ad in iter_jobs(connection, constraint, limit=limit):
            yield _project(classad.ad_to_pairs(ad), projection)
        return
    cache = _PairCache(connection)
    wanted = [name.lower() for name in projection]
    for sent, row in enumerate(_rows_in_batches(connection, clauses), 1):
        pairs = _row_pairs(cache, row)
        if wanted:
            yield [pairs[name] for name in wanted if pairs.get(name) is not None]
        else:
            yield [pair for pair in pairs.values() if pair is not None]
        if limit and sent >= limit:
            return


def _project(pairs: Pairs, projection: Iterable[str]) -> Pairs:
    wanted = [name.lower() for name in projection]
    if not wanted:
        return pairs
    by_name = {name.lower(): (name, text) for name, text in pairs}
    return [by_name[name] for name in wanted if name in by_name]


def _rows_in_batches(connection: Connection, clauses: list[ColumnElement], batch: int = 2000):
    """The job rows matching ``clauses`` in id order, read a batch at a time (keyset
    paging, so a long read holds no cursor open between batches)."""
    last = (-1, -1)
    while True:
        query = (select(Job).where(*clauses)
                 .where(or_(Job.cluster_id > last[0],
                            and_(Job.cluster_id == last[0], Job.proc_id > last[1])))
                 .order_by(Job.cluster_id, Job.proc_id).limit(batch))
        rows = connection.execute(query).all()
        if not rows:
            return
        yield from rows
        last = (rows[-1].cluster_id, rows[-1].proc_id)


def job_rows(connection: Connection, where: Iterable[ColumnElement]):
    return connection.execute(select(Job).where(*where).order_by(Job.cluster_id, Job.proc_id))


def iter_history(connection: Connection, constraint: ExprTree | None = None, limit: int = 0,
                 where: Iterable[ColumnElement] = (), batch: int = 2000) -> Iterator[ClassAd]:
    """Jobs that left the queue, newest first."""
    clauses, exact = sql_filter(constraint, HistoryJob)
    clauses += list(where)
    last = None
    sent = 0
    while True:
        query = select(HistoryJob.id, HistoryJob.ad).where(*clauses)
        if last is not None:
            query = query.where(HistoryJob.id < last)
        rows = connection.execute(query.order_by(HistoryJob.id.desc()).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            ad = parse_text(row.ad)
            if exact or constraint is None or constraint.eval(ad) is True:
                yield ad
                sent += 1
                if limit and sent >= limit:
                    return
        last = rows[-1].id


def summarize(connection: Connection, constraint: ExprTree | None) -> tuple[
        list[ClusterSummary], dict[str, dict[int, int]]]:
    """Jobs counted by cluster and status (those matching ``constraint``), and every
    owner's counts by status."""
    clauses, exact = sql_filter(constraint)
    # cluster id -> [counts by status, least proc, greatest proc]
    found: dict[int, list] = {}

    def add(cluster_id: int, status: int, n: int, first: int, last: int) -> None:
        entry = found.setdefault(cluster_id, [{}, first, last])
        entry[0][status] = entry[0].get(status, 0) + n
        entry[1] = min(entry[1], first)
        entry[2] = max(entry[2], last)

    if exact:
        grouped = connection.execute(
            select(Job.cluster_id, Job.status, func.count(), func.min(Job.proc_id),
                   func.max(Job.proc_id)).where(*clauses).group_by(Job.cluster_id, Job.status))
        for cluster_id, status, n, first, last in grouped:
            add(cluster_id, status, n, first, last)
    else:
        for ad in iter_jobs(connection, constraint):
            proc = ad.eval("ProcId")
            add(ad.eval("ClusterId"), ad.eval("JobStatus"), 1, proc, proc)
    clusters = []
    if found:
        # Every cluster row, filtered here: an IN list of thousands of ids is what SQLite
        # limits, and the clusters are few beside the jobs.
        for c in connection.execute(select(Cluster).order_by(Cluster.cluster_id)):
            if c.cluster_id not in found:
                continue
            counts, first, last = found[c.cluster_id]
            clusters.append(ClusterSummary(c.cluster_id, c.owner, c.batch_name, c.qdate, c.cmd,
                                           c.total_submitted, counts, first, last, c.completed))
    return clusters, status_counts(connection)


def status_counts(connection: Connection) -> dict[str, dict[int, int]]:
    """Each owner's jobs by status: the Submitter ads' numbers."""
    owners: dict[str, dict[int, int]] = {}
    for owner, status, n in connection.execute(
            select(Job.owner, Job.status, func.count()).group_by(Job.owner, Job.status)):
        owners.setdefault(owner, {})[status] = n
    return owners


# -- changing --------------------------------------------------------------------------------


class Changeset:
    """The writes of one transaction, gathered per job and sent as a few executemany
    statements at ``flush()``: building a SQL statement per job would cost more than the
    job's own work when a request changes a big cluster."""

    def __init__(self, connection: Connection, now: int) -> None:
        self.connection = connection
        self.now = now
        self._updates: dict[tuple[str, ...], list[dict]] = {}
        self._history: list[dict] = []
        self._completed: dict[int, int] = {}
        self._periodic: set[int] = set()
        self._ended: list[tuple[JobKey, ClassAd]] = []

    def apply(self, key: JobKey, row, changes: Changes, ad: ClassAd) -> ClassAd:
        """Record ``changes`` to one job (``row`` is its current row, ``ad`` its whole ad);
        a job that reaches Completed or Removed moves to the history.  Returns the new ad;
        raises ValueError for a change the queue cannot hold."""
        columns: dict[str, object] = {}
        new_ad = applied(ad, changes)
        for name, value in changes.items():
            known = COLUMNS.get(name.lower())
            if known is not None:
                if known[1] in ("cluster_id", "proc_id", "owner"):
                    raise ValueError(f"{known[0]} cannot be changed")
                columns[known[1]] = None if value is None else _integer(known[0], value)
        status = columns.get("status", row.status)
        if status in FINISHED and row.status not in FINISHED:
            self._ended.append((key, new_ad))
        if status in FINISHED and not left_in_queue(new_ad):
            self._to_history(key, new_ad, status)
            return new_ad
        own = parse_text(row.ad)
        for name, value in changes.items():
            if name.lower() in COLUMNS:
                continue
            if value is None:
                own.pop(name, None)
                own[name] = ExprTree(_DELETED)
            else:
                own[name] = value
        if any(name in changes for name in PERIODIC_ATTRS):
            self._periodic.add(key.cluster_id)
        values = {"ad": ad_text(own), **columns}
        self._updates.setdefault(tuple(sorted(values)), []).append(
            {"key_cluster": key.cluster_id, "key_proc": key.proc_id, **values})
        return new_ad

    def _to_history(self, key: JobKey, ad: ClassAd, status: int) -> None:
        completion = ad.eval("CompletionDate") if "CompletionDate" in ad else self.now
        if not isinstance(completion, int) or isinstance(completion, bool) or completion <= 0:
            completion = self.now
        self._history.append({
            "cluster_id": key.cluster_id, "proc_id": key.proc_id, "owner": ad.eval("Owner"),
            "status": status, "qdate": ad.eval("QDate"), "completion_date": completion,
            "ad": ad_text(ad)})
        if status == JobStatus.COMPLETED:
            self._completed[key.cluster_id] = self._completed.get(key.cluster_id, 0) + 1

    def take_ended(self) -> list[tuple[JobKey, ClassAd]]:
        """The jobs that reached Completed or Removed in this changeset (each once), with
        their new ads: what their children's edges wait for (``schedd.dependency_store``),
        once ``flush`` has written them."""
        ended, self._ended = self._ended, []
        return ended

    def flush(self) -> None:
        for names, rows in self._updates.items():
            self.connection.execute(_update_statement(names), rows)
        if self._history:
            self.connection.execute(_TO_HISTORY, self._history)
            self.connection.execute(_DELETE_JOB, [
                {"key_cluster": row["cluster_id"], "key_proc": row["proc_id"]}
                for row in self._history])
        for cluster_id, count in self._completed.items():
            self.connection.execute(_COUNT_COMPLETED, {"key_cluster": cluster_id,
                                                       "count": count})
        for cluster_id in self._periodic:
            self.connection.execute(_MARK_PERIODIC, {"key_cluster": cluster_id})
        # A cluster whose last job left the queue goes too.
        for cluster_id in {row["cluster_id"] for row in self._history}:
            self.connection.execute(_DELETE_EMPTY_CLUSTER, {"key_cluster": cluster_id})
        self._updates.clear()
        self._history.clear()
        self._completed.clear()
        self._periodic.clear()


_THE_JOB = and_(Job.cluster_id == bindparam("key_cluster"), Job.proc_id == bindparam("key_proc"))
_THE_CLUSTER = Cluster.cluster_id == bindparam("key_cluster")
_TO_HISTORY = insert(HistoryJob)
_DELETE_JOB = delete(Job).where(_THE_JOB)
_COUNT_COMPLETED = update(Cluster).where(_THE_CLUSTER).values(
    completed=Cluster.completed + bindparam("count"))
_MARK_PERIODIC = update(Cluster).where(_THE_CLUSTER).values(periodic=True)
_DELETE_EMPTY_CLUSTER = delete(Cluster).where(
    _THE_CLUSTER, ~select(Job.proc_id).where(Job.cluster_id == Cluster.cluster_id).exists())
_UPDATES: dict[tuple[str, ...], object] = {}


def left_in_queue(ad: ClassAd) -> bool:
    """Whether a finished job stays in the queue: its LeaveJobInQueue (leave_in_queue) is
    true, or a number not zero, as HTCondor reads it; the job goes to the history once it
    is not.  A DAG node's job also stays while its node's POST script has to run
    (``DAGPostPending``: schedd.dag_store)."""
    if "DAGPostPending" in ad and ad.eval("DAGPostPending") is True:
        return True
    value = ad.eval("LeaveJobInQueue") if "LeaveJobInQueue" in ad else False
    if isinstance(value, float):
        return not -1.0 < value < 1.0
    return isinstance(value, int) and value != 0


def _update_statement(names: tuple[str, ...]):
    """The UPDATE of one job's ``names`` columns (built once per set of names)."""
    statement = _UPDATES.get(names)
    if statement is None:
        statement = _UPDATES[names] = update(Job).where(_THE_JOB).values(
            {name: bindparam(name) for name in names})
    return statement


def _integer(name: str, value: object) -> int:
    if isinstance(value, ExprTree):
        value = value.eval()
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    return value


def finished_jobs(connection: Connection, cluster_id: int) -> list[ClassAd]:
    """The latest history ad of each proc of a cluster that has no proc in the queue."""
    latest: dict[int, ClassAd] = {}
    for row in connection.execute(select(HistoryJob.proc_id, HistoryJob.ad)
                                  .where(HistoryJob.cluster_id == cluster_id)
                                  .order_by(HistoryJob.id)):
        latest[row.proc_id] = parse_text(row.ad)
    return [latest[proc] for proc in sorted(latest)]


def requeue_from_history(connection: Connection, cluster_id: int,
                         jobs: list[tuple[ClassAd, Changes]], completed: int) -> int:
    """Put finished procs of a cluster back in the queue, each with its changes applied
    (``roost retry``); ``completed`` procs stay done.  The cluster's ad is rebuilt from
    what the procs share."""
    if connection.scalar(select(func.count()).select_from(Job)
                         .where(Job.cluster_id == cluster_id)):
        raise ValueError(f"cluster {cluster_id} still has jobs in the queue")
    ads = []
    for ad, changes in jobs:
        ads.append(applied(ad, changes))
    first = ads[0]
    shared = {name for name in first if all(
        name in ad and str(ad.lookup(name)) == str(first.lookup(name)) for ad in ads[1:])}
    cluster_ad = ClassAd()
    for name in sorted(shared):
        cluster_ad[name] = first.lookup(name)
    connection.execute(insert(Cluster).values(
        cluster_id=cluster_id, owner=first.eval("Owner"), qdate=first.eval("QDate"),
        batch_name=_string(first, "JobBatchName"), cmd=_string(first, "Cmd"),
        ad=ad_text(_without_columns(cluster_ad)),
        total_submitted=_column_value(first, "TotalSubmitProcs", len(ads)), completed=completed,
        periodic=any(name in first for name in PERIODIC_ATTRS)))
    rows = []
    for ad in ads:
        own = ClassAd()
        for name in ad:
            if name not in shared:
                own[name] = ad.lookup(name)
        rows.append(_row({"cluster_id": cluster_id, "proc_id": ad.eval("ProcId"),
                          "owner": ad.eval("Owner"), "status": ad.eval("JobStatus"),
                          "job_prio": _column_value(ad, "JobPrio", 0), "qdate": ad.eval("QDate"),
                          "entered_status": ad.eval("EnteredCurrentStatus"),
                          "retry_after": None, "ad": ad_text(_without_columns(own))}))
    _insert_jobs(connection, rows)
    return len(rows)


def requeue(connection: Connection, jobs: list[tuple[ClassAd, Changes]]) -> int:
    """Put finished jobs (ads from the history, none of them in the queue) back, each with
    its changes applied: ``roost retry`` and ``roost rerun``.  A job whose cluster still
    has a row in the queue joins it, holding what differs from the cluster's ad; the jobs
    of a cluster that left the queue whole make it again (``requeue_from_history``)."""
    by_cluster: dict[int, list[tuple[ClassAd, Changes]]] = {}
    for ad, changes in jobs:
        by_cluster.setdefault(ad.eval("ClusterId"), []).append((ad, changes))
    for cluster_id, its in sorted(by_cluster.items()):
        procs = [ad.eval("ProcId") for ad, _ in its]
        if connection.scalar(select(func.count()).select_from(Job).where(
                Job.cluster_id == cluster_id, Job.proc_id.in_(procs))):
            raise ValueError(f"a job of cluster {cluster_id} to requeue is in the queue")
        leaving_completed = sum(ad.eval("JobStatus") == JobStatus.COMPLETED for ad, _ in its)
        text = connection.scalar(_CLUSTER_TEXT, {"cluster_id": cluster_id})
        if text is None:
            completed = sum(ad.eval("JobStatus") == JobStatus.COMPLETED
                            for ad in finished_jobs(connection, cluster_id))
            requeue_from_history(connection, cluster_id, its,
                                 completed=max(0, completed - leaving_completed))
            continue
        shared = cluster_ad(text)
        rows = []
        for ad, changes in its:
            new = applied(ad, changes)
            own = ClassAd()
            for name in new:
                if name.lower() in COLUMNS:
                    continue
                if name not in shared or str(shared.lookup(name)) != str(new.lookup(name)):
                    own[name] = new.lookup(name)
            for name in shared:
                if name not in new and name.lower() not in COLUMNS:
                    own[name] = ExprTree(_DELETED)
            rows.append(_row({"cluster_id": cluster_id, "proc_id": new.eval("ProcId"),
                              "owner": new.eval("Owner"), "status": new.eval("JobStatus"),
                              "job_prio": _column_value(new, "JobPrio", 0),
                              "qdate": new.eval("QDate"),
                              "entered_status": new.eval("EnteredCurrentStatus"),
                              "retry_after": None, "ad": ad_text(own)}))
        _insert_jobs(connection, rows)
        if leaving_completed:
            connection.execute(_COUNT_COMPLETED, {"key_cluster": cluster_id,
                                                  "count": -leaving_completed})
    return len(jobs)


def latest_history(connection: Connection, constraint: ExprTree | None) -> list[ClassAd]:
    """The latest history ad of each finished job that is not in the queue, for which
    ``constraint`` holds (``roost rerun``), in job id order."""
    clauses, exact = sql_filter(constraint, HistoryJob)
    latest: dict[tuple[int, int], ClassAd] = {}
    for row in connection.execute(select(HistoryJob.cluster_id, HistoryJob.proc_id,
                                         HistoryJob.ad).where(*clauses)
                                  .order_by(HistoryJob.id)):
        latest[(row.cluster_id, row.proc_id)] = row
    queued = set()
    for chunk in _key_chunks(sorted({c for c, _ in latest})):
        queued.update(connection.execute(select(Job.cluster_id, Job.proc_id)
                                         .where(Job.cluster_id.in_(chunk))).all())
    found = []
    for key in sorted(latest):
        if key in queued:
            continue
        ad = parse_text(latest[key].ad)
        if exact or constraint is None or constraint.eval(ad) is True:
            found.append(ad)
    return found


def _key_chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _string(ad: ClassAd, name: str) -> str:
    value = ad.eval(name) if name in ad else Value.Undefined
    return value if isinstance(value, str) else ""


def idle_job_for(connection: Connection, owner: str, now: int, accept, claim_id: str = ""
                 ) -> ClassAd | None:
    """The first of an owner's runnable idle jobs (by JobPrio, then cluster and proc) that
    ``accept(ad)`` takes and that no claim but ``claim_id`` holds (``ClaimRecord.job_id``).
    The procs of a cluster that hold nothing of their own share one ad, so one test serves
    them all.

    The first rows in that order are read first, which is all a claim reusing itself for
    the next job of a big cluster needs; only when none of them will do are all the
    owner's idle jobs looked at."""
    verdicts: dict[int, bool] = {}
    read = 0
    # Row by row: the first is usually the one.
    with connection.execute(_FIRST_IDLE, {"owner": owner.lower(), "now": now,
                                          "claim_id": claim_id}) as rows:
        for row in rows:
            read += 1
            if not row.ad and verdicts.get(row.cluster_id) is False:
                continue
            ad = materialize(cluster_ad(row.cluster_ad), row)
            taken = accept(ad)
            if not row.ad:
                verdicts[row.cluster_id] = taken
            if taken:
                return ad
    if read < _FIRST_ROWS:
        return None
    return _idle_job_by_cluster(connection, owner, now, accept, claim_id)


_FIRST_ROWS = 64  # rows idle_job_for reads before it looks at every idle job
# Whether a claim other than the one picking holds the job.  The index's condition is
# spelled out as a literal, so that the lookup goes through the claims' unique index (a
# partial one) instead of reading every claim for each row.
_HELD = exists().where(
    ClaimRecord.job_id != literal_column("''"),
    ClaimRecord.job_id == cast(Job.cluster_id, String) + "." + cast(Job.proc_id, String),
    ClaimRecord.claim_id != bindparam("claim_id"))
_FIRST_IDLE = (_JOB_AND_CLUSTER.where(
    Job.status == JobStatus.IDLE, func.lower(Job.owner) == bindparam("owner"),
    or_(Job.retry_after.is_(None), Job.retry_after <= bindparam("now")), ~_HELD)
    .order_by(Job.job_prio.desc(), Job.cluster_id, Job.proc_id).limit(_FIRST_ROWS))


def _idle_job_by_cluster(connection: Connection, owner: str, now: int, accept,
                         claim_id: str) -> ClassAd | None:
    for ad, count in idle_jobs(connection, owner, now):
        if not accept(ad):
            continue
        # The first job of the group that no other claim holds: a group of one is that
        # job; a bigger one is a cluster's procs that share its ad.
        cluster_id = ad.eval("ClusterId")
        same = Job.proc_id == ad.eval("ProcId") if count == 1 else Job.ad == ""
        row = connection.execute(
            select(Job).where(Job.cluster_id == cluster_id, Job.status == JobStatus.IDLE,
                              same, or_(Job.retry_after.is_(None), Job.retry_after <= now),
                              ~_HELD)
            .order_by(Job.proc_id).limit(1), {"claim_id": claim_id}).first()
        if row is not None:
            return ad if count == 1 else materialize(ClusterAds(connection).get(cluster_id),
                                                     row)
    return None


def idle_jobs(connection: Connection, owner: str, now: int) -> Iterator[tuple[ClassAd, int]]:
    """An owner's idle jobs that may run now (past any retry back-off), as (ad, count)
    pairs: a cluster's procs that hold nothing of their own come as one ad with their
    count, so a cluster of a million procs is one ad here, not a million."""
    ready = and_(Job.status == JobStatus.IDLE, func.lower(Job.owner) == owner.lower(),
                 or_(Job.retry_after.is_(None), Job.retry_after <= now))
    clusters = ClusterAds(connection)
    plain = connection.execute(
        select(Job.cluster_id, func.count(), func.min(Job.proc_id))
        .where(ready, Job.ad == "").group_by(Job.cluster_id).order_by(Job.cluster_id)).all()
    for cluster_id, count, first in plain:
        row = connection.execute(select(Job).where(Job.cluster_id == cluster_id,
                                                   Job.proc_id == first)).one()
        yield materialize(clusters.get(cluster_id), row), count
    for row in connection.execute(select(Job).where(ready, Job.ad != "")
                                  .order_by(Job.cluster_id, Job.proc_id)):
        yield materialize(clusters.get(row.cluster_id), row), 1
