"""A job is held by one claim at most: a unique index on the claims' jobs.

A queue written before this revision may have two claims naming one job (the race this
index closes); all but one of them forget it, so that the index can be made: a recovered
claim without a job takes the owner's next one, and the job runs where its remaining
claim says.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE claims SET job_id = '' WHERE job_id != '' AND claim_id NOT IN "
               "(SELECT MIN(claim_id) FROM claims WHERE job_id != '' GROUP BY job_id)")
    op.create_index("ix_claims_job_id", "claims", ["job_id"], unique=True,
                    sqlite_where=sa.text("job_id != ''"),
                    postgresql_where=sa.text("job_id != ''"))


def downgrade() -> None:
    op.drop_index("ix_claims_job_id", table_name="claims")
