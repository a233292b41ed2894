"""The queue's schema: one migration head, models and migrations agree, SQLite tuned."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from schedd.database import alembic_config, heads, open_database


def test_one_head():
    assert len(heads()) == 1


def test_models_and_migrations_agree(database_url):
    engine = open_database(database_url)
    try:
        with engine.begin() as connection:
            # Raises if autogenerate would find anything to change.
            command.check(alembic_config(connection))
            assert set(inspect(connection).get_table_names()) >= {
                "queue_header", "clusters", "jobs", "history", "alembic_version"}
    finally:
        engine.dispose()


def test_opening_again_upgrades_nothing(database_url):
    for _ in range(2):
        engine = open_database(database_url)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == heads()[0]
        engine.dispose()


def test_sqlite_is_durable_wal(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'q.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
