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
from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).with_name("migrations")


def default_url(home: Path) -> str:
    return f"sqlite:///{home / 'schedd' / 'queue.db'}"


def open_database(url: str) -> Engine:
    """An engine on the queue at ``url``, its schema upgraded to the newest revision."""
    if url.startswith("sqlite"):
        engine = sqlite_engine(url)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    upgrade(engine)
    return engine


def sqlite_engine(url: str) -> Engine:
    database = url.partition(":///")[2]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # The schedd serves calls on many threads and does its own locking around writes.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def tune(dbapi_connection, _record) -> None:
        # pysqlite's own transaction handling would defer BEGIN; SQLAlchemy's events below
        # make BEGIN explicit so a write transaction takes its lock at its start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection) -> None:
        connection.exec_driver_sql("BEGIN")

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
