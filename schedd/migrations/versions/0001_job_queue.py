"""The job queue: the header, clusters, jobs and history.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_header",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_cluster_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_header")),
    )
    op.create_table(
        "clusters",
        sa.Column("cluster_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("qdate", sa.BigInteger(), nullable=False),
        sa.Column("batch_name", sa.String(length=255), nullable=False),
        sa.Column("cmd", sa.Text(), nullable=False),
        sa.Column("ad", sa.Text(), nullable=False),
        sa.Column("total_submitted", sa.BigInteger(), nullable=False),
        sa.Column("completed", sa.BigInteger(), nullable=False),
        sa.Column("periodic", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id", name=op.f("pk_clusters")),
    )
    op.create_index(op.f("ix_clusters_owner"), "clusters", ["owner"])
    op.create_table(
        "jobs",
        sa.Column("cluster_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("proc_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("job_prio", sa.BigInteger(), nullable=False),
        sa.Column("qdate", sa.BigInteger(), nullable=False),
        sa.Column("entered_status", sa.BigInteger(), nullable=False),
        sa.Column("retry_after", sa.BigInteger(), nullable=True),
        sa.Column("ad", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["cluster_id"], ["clusters.cluster_id"],
                                name=op.f("fk_jobs_cluster_id_clusters")),
        sa.PrimaryKeyConstraint("cluster_id", "proc_id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_cluster_status", "jobs", ["cluster_id", "status", "proc_id"])
    op.create_index("ix_jobs_status_owner", "jobs", ["status", "owner"])
    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("cluster_id", sa.BigInteger(), nullable=False),
        sa.Column("proc_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("qdate", sa.BigInteger(), nullable=False),
        sa.Column("completion_date", sa.BigInteger(), nullable=False),
        sa.Column("ad", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    op.create_index("ix_history_cluster_id_proc_id", "history", ["cluster_id", "proc_id"])
    op.create_index(op.f("ix_history_completion_date"), "history", ["completion_date"])
    op.create_index(op.f("ix_history_owner"), "history", ["owner"])


def downgrade() -> None:
    op.drop_table("history")
    op.drop_table("jobs")
    op.drop_table("clusters")
    op.drop_table("queue_header")
