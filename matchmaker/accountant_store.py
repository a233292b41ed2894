"""The accountant on disk: one ``accounts`` table, rewritten whole after every cycle.

``AccountantStore(url).save(accountant)`` writes every submitter's record in one
transaction; ``load(now)`` reads them back and ages them to ``now`` as HTCondor's
negotiator does at start-up (``Accountant::Initialize`` calls ``UpdatePriorities``): the
time the negotiator was down decays the priorities and charges what was in use when it
stopped (claims outlive a negotiator restart).

SQLite (the default, ``<home>/matchmaker/accountant.db``) runs in WAL mode with
``synchronous=FULL``, like the schedd's queue, so a save that returned is on disk.  Any
other URL (PostgreSQL) is used as given.  The table is created on first use; there is no
migration tool: a change of the table goes with a new ``SCHEMA_VERSION`` and code that
upgrades the old one.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Double,
    MetaData,
    String,
    delete,
    insert,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from matchmaker.accountant import (
    DEFAULT_HALF_LIFE,
    DEFAULT_PRIO_FACTOR,
    SNAPSHOT_VERSION,
    Accountant,
)
from roost.database import open_engine

# Schema version 1: the table ``accounts`` below.
SCHEMA_VERSION = 1


class _Base(DeclarativeBase):
    metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"})


class AccountRow(_Base):
    """One submitter's record (``Account``), and the accountant's time as of the save."""

    __tablename__ = "accounts"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    real_priority: Mapped[float] = mapped_column(Double)
    factor: Mapped[float | None] = mapped_column(Double, nullable=True)  # NULL: the default
    resources_in_use: Mapped[float] = mapped_column(Double)
    weighted_hours: Mapped[float] = mapped_column(Double)
    begin_usage: Mapped[float | None] = mapped_column(Double, nullable=True)
    last_usage: Mapped[float | None] = mapped_column(Double, nullable=True)
    floor: Mapped[float] = mapped_column(Double)
    ceiling: Mapped[float] = mapped_column(Double)
    # The accountant's last update, the same in every row of a save.  (With no rows there
    # is nothing to age, so the time is not needed.)
    last_update: Mapped[float] = mapped_column(Double)


_TABLE = AccountRow.__table__
_COLUMNS = tuple(column.name for column in _TABLE.columns if column.name != "last_update")


def default_url(home: Path) -> str:
    """``sqlite:///<home>/matchmaker/accountant.db``, its directory created."""
    directory = home / "matchmaker"
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'accountant.db'}"


class AccountantStore:
    """The accountant's records in the database at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        _Base.metadata.create_all(self.engine)

    def load(
        self,
        now: float,
        *,
        half_life: float = DEFAULT_HALF_LIFE,
        default_factor: float = DEFAULT_PRIO_FACTOR,
    ) -> Accountant:
        """The saved accountant aged to ``now`` (a new one at ``now`` if nothing is saved)."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(_TABLE)).mappings().all()
        if not rows:
            return Accountant(half_life=half_life, default_factor=default_factor, now=now)
        snapshot = {
            "version": SNAPSHOT_VERSION,
            "last_update": max(row["last_update"] for row in rows),
            "accounts": [{column: row[column] for column in _COLUMNS} for row in rows],
        }
        accountant = Accountant.restore(
            snapshot, half_life=half_life, default_factor=default_factor)
        held = {row["name"]: row["resources_in_use"] for row in rows}
        accountant.update(held, now)
        return accountant

    def save(self, accountant: Accountant) -> None:
        """Replace the stored records with ``accountant``'s, in one durable transaction."""
        snapshot = accountant.snapshot()
        last_update = snapshot["last_update"]
        rows = [{**account, "last_update": last_update} for account in snapshot["accounts"]]
        with self.engine.begin() as connection:
            connection.execute(delete(_TABLE))
            if rows:
                connection.execute(insert(_TABLE), rows)

    def close(self) -> None:
        self.engine.dispose()


