"""Alembic's entry point for the job queue: run by ``schedd.database.upgrade``, which hands
over its connection in ``config.attributes["connection"]``."""

from alembic import context

from schedd.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
