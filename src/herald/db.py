"""Engines, sessions and the one-transaction-per-unit-of-work rule.

SQLite is the embedded default and PostgreSQL the scale-out database; both
go through the same code. Writes are always one transaction.

SQLite has a single writer: a transaction that reads and then writes can
fail with SQLITE_BUSY when another writer got in between, so every write
transaction on SQLite starts with BEGIN IMMEDIATE and waits its turn
(busy_timeout) instead. Reads use a plain BEGIN and see a consistent
snapshot under WAL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

WRITE_OPTION = "herald_write"


def normalize_url(url: str) -> str:
    """Accept the plain `postgresql://` form operators write and pick psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _make_engine(url: str) -> Engine:
    if not is_sqlite(url):
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=False)

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        writes = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


class Database:
    """One engine per process, with a session factory for reads and one for writes."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = is_sqlite(self.url)
        self.engine = _make_engine(self.url)
        writer = self.engine.execution_options(**{WRITE_OPTION: True})
        reader = self.engine
        if not self.is_sqlite:
            # Under READ COMMITTED every statement takes its own snapshot anyway,
            # so a read transaction's BEGIN and COMMIT bought nothing but two
            # round trips per request (a fifth of a list request's time).
            reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reads = sessionmaker(reader, expire_on_commit=False)
        self._writes = sessionmaker(writer, expire_on_commit=False)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        session = (self._writes if write else self._reads)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
