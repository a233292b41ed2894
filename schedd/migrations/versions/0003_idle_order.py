"""An index in the order claims take idle jobs: JobPrio (highest first), cluster, proc.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_status_job_prio_cluster_id_proc_id", "jobs",
                    ["status", sa.text("job_prio DESC"), "cluster_id", "proc_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status_job_prio_cluster_id_proc_id", table_name="jobs")
