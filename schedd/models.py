"""The job queue's tables, as SQLAlchemy 2 typed models.

A job's attributes live as ClassAd text in old syntax (one ``Name = expression`` line
each).  A cluster's shared attributes are stored once, in ``clusters.ad``; a job row holds
only what differs from its cluster (often nothing), so a cluster of a million procs is a
million small rows, not a million copies of the ad: HTCondor's late materialization.  The
attributes that queries filter and sort on are columns copied from the ad and indexed; the
column is authoritative for its attribute, which the ad text never repeats.

Changes to these models go with a new Alembic revision in ``schedd/migrations/versions``;
a test fails when the models and the migrations disagree.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class QueueHeader(Base):
    """HTCondor's header ad ``0.0``: one row holding the next cluster id."""

    __tablename__ = "queue_header"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_cluster_id: Mapped[int] = mapped_column(BigInteger)


class Cluster(Base):
    """A cluster ad (HTCondor's ``N.-1``): the attributes every proc shares."""

    __tablename__ = "clusters"

    cluster_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    qdate: Mapped[int] = mapped_column(BigInteger)
    batch_name: Mapped[str] = mapped_column(String(255), default="")
    cmd: Mapped[str] = mapped_column(Text, default="")
    ad: Mapped[str] = mapped_column(Text)
    total_submitted: Mapped[int] = mapped_column(BigInteger)
    completed: Mapped[int] = mapped_column(BigInteger, default=0)
    # Whether a job of the cluster may carry a periodic policy expression, so that the
    # periodic sweep reads only those jobs.
    periodic: Mapped[bool] = mapped_column(Boolean, default=False)


class Job(Base):
    """A proc in the queue: its indexed attributes and what differs from its cluster."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_owner", "status", "owner"),
        Index("ix_jobs_cluster_status", "cluster_id", "status", "proc_id"),
    )

    cluster_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("clusters.cluster_id"), primary_key=True, autoincrement=False)
    proc_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(255))
    status: Mapped[int] = mapped_column(Integer)
    job_prio: Mapped[int] = mapped_column(BigInteger, default=0)
    qdate: Mapped[int] = mapped_column(BigInteger)
    entered_status: Mapped[int] = mapped_column(BigInteger)
    # An idle job that failed waits out its back-off until then (seconds since the epoch).
    retry_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ad: Mapped[str] = mapped_column(Text, default="")


# The order a claim takes its owner's idle jobs in (schedd.queue_store.idle_job_for): read
# along this index, the next job is found without sorting every idle job for each one.
Index("ix_jobs_status_job_prio_cluster_id_proc_id", Job.status, Job.job_prio.desc(),
      Job.cluster_id, Job.proc_id)


class HistoryJob(Base):
    """A job that left the queue (completed or removed), with its whole ad."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_cluster_id_proc_id", "cluster_id", "proc_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    cluster_id: Mapped[int] = mapped_column(BigInteger)
    proc_id: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[int] = mapped_column(Integer)
    qdate: Mapped[int] = mapped_column(BigInteger)
    completion_date: Mapped[int] = mapped_column(BigInteger, index=True)
    ad: Mapped[str] = mapped_column(Text)


class ClaimRecord(Base):
    """A slot the schedd holds a claim on, and the job it runs there, so that a schedd
    that restarts reconnects to its running jobs instead of losing them.

    The record's job is the claim's from the moment it is picked (in the same transaction:
    ``JobQueue.idle_job_for``) until the claim takes another or is dropped, and no other
    claim picks it meanwhile; the unique index makes two claims holding one job impossible
    whatever the schedd's threads or restarts do."""

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_job_id", "job_id", unique=True,
                            sqlite_where=text("job_id != ''"),
                            postgresql_where=text("job_id != ''")),)

    claim_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    startd_address: Mapped[str] = mapped_column(String(255))
    slot_name: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(255))
    slot_ad: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str] = mapped_column(String(64), default="")  # "" between jobs
    lease: Mapped[int] = mapped_column(Integer)


class JobEdge(Base):
    """A dependency: the jobs of cluster ``child_cluster`` wait for a parent, a whole
    cluster (``parent_proc`` -1: one edge however many procs it has) or one proc.

    ``state`` is what the parent's ending made of the edge: pending, met (the parent ended
    as ``need_success`` asks: with success, or in any way) or failed (it ended otherwise,
    so the child can never run and is blocked).  Edges outlive the clusters they join,
    so that ``roost retry`` of a parent can make its blocked children wait again."""

    __tablename__ = "job_edges"
    __table_args__ = (Index("ix_job_edges_parent_cluster_parent_proc", "parent_cluster",
                            "parent_proc"),)

    child_cluster: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                               autoincrement=False)
    parent_cluster: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                autoincrement=False)
    parent_proc: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    need_success: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[int] = mapped_column(Integer)  # schedd.dependencies: PENDING, MET, FAILED


class DagRecord(Base):
    """A DAG (``roost dag submit``): its nodes are clusters (``DagNodeRecord``) joined by
    edges (``JobEdge``); what is kept here is the DAG's own: its throttles, and how it
    ended.  Its id is drawn from the cluster ids, as a DAGMan job's cluster id is."""

    __tablename__ = "dags"

    dag_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))  # its batch name: "file.dag+ID"
    dag_file: Mapped[str] = mapped_column(Text)
    parent_dag: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # a SUBDAG's
    status: Mapped[str] = mapped_column(String(16))  # schedd.dag_store: RUNNING, ...
    max_jobs: Mapped[int] = mapped_column(Integer, default=0)  # 0: no limit
    max_idle: Mapped[int] = mapped_column(Integer, default=0)
    categories: Mapped[str] = mapped_column(Text, default="")  # JSON: category -> MAXJOBS
    return_value: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    submitted: Mapped[int] = mapped_column(BigInteger)
    ended: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DagNodeRecord(Base):
    """A node of a DAG: its cluster, where it stands (``phase``), and what DAGMan keeps of
    a node (scripts, retries, category, priority, ABORT-DAG-ON)."""

    __tablename__ = "dag_nodes"
    __table_args__ = (Index("ix_dag_nodes_dag_id_phase", "dag_id", "phase"),)

    cluster_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    dag_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    phase: Mapped[str] = mapped_column(String(16))  # schedd.dag_store: WAITING, READY, ...
    category: Mapped[str] = mapped_column(String(255), default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    unless_exit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    retries: Mapped[int] = mapped_column(Integer, default=0)  # used so far
    pre: Mapped[str] = mapped_column(Text, default="")  # JSON of the script, "" for none
    post: Mapped[str] = mapped_column(Text, default="")
    pre_skip: Mapped[int | None] = mapped_column(Integer, nullable=True)
    abort_value: Mapped[int | None] = mapped_column(Integer, nullable=True)
    abort_return: Mapped[int | None] = mapped_column(Integer, nullable=True)
    noop: Mapped[bool] = mapped_column(Boolean, default=False)
    directory: Mapped[str] = mapped_column(Text, default="")
    return_value: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pre_return: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")  # how it failed
