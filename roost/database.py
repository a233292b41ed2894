"""SQL engines the daemons share: SQLite tuned so that a commit is on disk before the
daemon answers (WAL mode, ``synchronous=FULL``), any other URL (PostgreSQL) as given."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event


def open_engine(url: str) -> Engine:
    """An engine on ``url``: ``sqlite_engine`` for SQLite, else with pre-ping."""
    if url.startswith("sqlite"):
        return sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def sqlite_engine(url: str) -> Engine:
    database = url.partition(":///")[2]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Daemons serve calls on many threads and do their own locking around writes.
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
        # Straight to the driver: a schedd begins a few transactions per job it runs.
        connection.connection.driver_connection.execute("BEGIN")

    return engine
