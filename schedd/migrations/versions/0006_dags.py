"""DAGs: a row per DAG (``schedd.models.DagRecord``) and per node (``DagNodeRecord``).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dags",
        sa.Column("dag_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("dag_file", sa.Text(), nullable=False),
        sa.Column("parent_dag", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("max_jobs", sa.Integer(), nullable=False),
        sa.Column("max_idle", sa.Integer(), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("return_value", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("submitted", sa.BigInteger(), nullable=False),
        sa.Column("ended", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_dags")),
    )
    op.create_index("ix_dags_owner", "dags", ["owner"])
    op.create_table(
        "dag_nodes",
        sa.Column("cluster_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("dag_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=255), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("unless_exit", sa.Integer(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("pre", sa.Text(), nullable=False),
        sa.Column("post", sa.Text(), nullable=False),
        sa.Column("pre_skip", sa.Integer(), nullable=True),
        sa.Column("abort_value", sa.Integer(), nullable=True),
        sa.Column("abort_return", sa.Integer(), nullable=True),
        sa.Column("noop", sa.Boolean(), nullable=False),
        sa.Column("directory", sa.Text(), nullable=False),
        sa.Column("return_value", sa.Integer(), nullable=True),
        sa.Column("pre_return", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id", name=op.f("pk_dag_nodes")),
    )
    op.create_index("ix_dag_nodes_dag_id_phase", "dag_nodes", ["dag_id", "phase"])


def downgrade() -> None:
    op.drop_index("ix_dag_nodes_dag_id_phase", table_name="dag_nodes")
    op.drop_table("dag_nodes")
    op.drop_index("ix_dags_owner", table_name="dags")
    op.drop_table("dags")
