"""Dependencies between jobs: a row per edge from a child cluster to a parent cluster
or proc (``schedd.models.JobEdge``).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_edges",
        sa.Column("child_cluster", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("parent_cluster", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("parent_proc", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("need_success", sa.Boolean(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("child_cluster", "parent_cluster", "parent_proc",
                                name=op.f("pk_job_edges")),
    )
    op.create_index("ix_job_edges_parent_cluster_parent_proc", "job_edges",
                    ["parent_cluster", "parent_proc"])


def downgrade() -> None:
    op.drop_index("ix_job_edges_parent_cluster_parent_proc", table_name="job_edges")
    op.drop_table("job_edges")
