"""The job queue's database: opening it, tuning SQLite, and upgrading the schema.

SQLite (the default, under the roost home) runs in WAL mode with ``synchronous=FULL``, so a
committed transaction is on disk before the schedd answers: acknowledged means durable.
PostgreSQL is used by URL (``schedd.database_url``), with its own durable commits.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from roost.database import open_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def default_url(home: Path) -> str:
    return f"sqlite:///{home / 'schedd' / 'queue.db'}"


def open_database(url: str) -> Engine:
    """An engine on the queue at ``url``, its schema upgraded to the newest revision."""
    engine = open_engine(url)
    upgrade(engine)
    return engine


def alembic_config(connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (a new database gets every table)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")


def heads() -> list[str]:
    """The newest revisions of the migration scripts (one, unless they have branched)."""
    return list(ScriptDirectory.from_config(alembic_config(None)).get_heads())
