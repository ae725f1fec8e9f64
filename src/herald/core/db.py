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

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    LargeBinary,
    TableValuedAlias,
    Text,
    cast,
    create_engine,
    event,
    func,
    inspect,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger("herald.db")

WRITE_OPTION = "herald_write"
# How long a request may wait on the database before it becomes a 503, in
# seconds. PostgreSQL: a silently black-holed server is noticed by the TCP
# user time-out (unacknowledged data) and keepalives (no answer while idle);
# a server that answers but is stuck by the statement and lock time-outs;
# a full pool by the pool time-out. SQLite: the busy time-out on its lock.
CONNECT_TIMEOUT = 5
NETWORK_TIMEOUT = 5
STATEMENT_TIMEOUT = 10
POOL_TIMEOUT = 5
# The longest a request or job may hold a PostgreSQL connection before it is cut
# off (Watchdog): within the 10 s promised for a 503, for a server that keeps the
# connection open and never answers.
HELD_DEADLINE = 8.0
# The delivery process's jobs may take longer (the last batch of a million-address
# preparation builds `emails` in one statement); still never wait for ever.
JOB_STATEMENT_TIMEOUT = 60
JOB_HELD_DEADLINE = 90.0


def normalize_url(url: str) -> str:
    """Accept the plain `postgresql://` form operators write and pick psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


NO_SCHEMA = 'the database has no schema yet: run "herald migrate"'


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite database file that does not exist yet, else None.
    Connecting would create it empty; only `herald migrate` should."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database or "")
    return None if path.exists() else str(path)


# Where the default database was written while a package move had renamed it
# (SPEC 6 says var/herald.db); SQLite's write-ahead log and shared memory beside it.
MISNAMED_DEFAULT = "./var/herald.core.db"
_SQLITE_COMPANIONS = ("", "-wal", "-shm")


class TwoDefaultDatabases(Exception):
    """Both var/herald.db and the misnamed var/herald.core.db exist: which holds the
    data is the operator's call, never a guess."""


def adopt_misnamed_default(url: str, default: str) -> str | None:
    """With the default database in use (`url == default`), move a database left at
    var/herald.core.db by the releases that misnamed the default to var/herald.db,
    so an upgraded install opens its own data rather than an empty database.
    Returns a line saying what was moved, None when nothing was; raises
    TwoDefaultDatabases when both files exist."""
    if url != default:
        return None
    misnamed = Path(MISNAMED_DEFAULT)
    if not misnamed.exists():
        return None
    proper = Path(make_url(default).database or "")
    if proper.exists():
        raise TwoDefaultDatabases(
            f"there are two databases, {proper} (the default) and {misnamed} (written by "
            f"releases that misnamed the default): Herald uses {proper}. Keep the one with "
            f"your messages: move the other aside (with its -wal and -shm files), and if "
            f"you keep {misnamed}, move it to {proper}"
        )
    for suffix in _SQLITE_COMPANIONS:
        source = Path(f"{misnamed}{suffix}")
        if source.exists():
            source.rename(f"{proper}{suffix}")
    return f"moved the database {misnamed} to {proper}, the default's name (SPEC 6)"


def _postgresql_options(statement_timeout: float | None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT,
        "keepalives": 1,
        "keepalives_idle": NETWORK_TIMEOUT,
        "keepalives_interval": 1,
        "keepalives_count": NETWORK_TIMEOUT,
        "tcp_user_timeout": NETWORK_TIMEOUT * 1000,  # milliseconds
    }
    if statement_timeout:
        milliseconds = int(statement_timeout * 1000)
        options["options"] = (
            f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
            f" -c idle_in_transaction_session_timeout={milliseconds * 6}"
        )
    return options


class Watchdog:
    """Cuts a PostgreSQL connection that has been checked out longer than a deadline.

    The server's statement time-out and the TCP time-outs cannot help when the
    server, or a proxy in front of it, keeps the connection open and takes
    bytes without ever answering (a frozen host, a black-holing proxy): the
    kernel acknowledges everything and libpq waits forever. So a thread looks
    every half second and shuts down the socket of any connection held past
    its deadline; the blocked call then fails, and the request is a 503."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._held: dict[int, tuple[float, int]] = {}  # id(connection) -> (deadline, fd)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        fd = dbapi_connection.pgconn.socket
        with self._lock:
            self._held[id(dbapi_connection)] = (time.monotonic() + self.seconds, fd)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, daemon=True, name="db-watchdog")
                self._thread.start()

    def checkin(self, dbapi_connection: Any, _record: Any) -> None:
        with self._lock:
            self._held.pop(id(dbapi_connection), None)

    def _watch(self) -> None:
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            with self._lock:
                late = [key for key, (deadline, _fd) in self._held.items() if deadline < now]
                cut = [self._held.pop(key)[1] for key in late]
            for fd in cut:
                logger.warning(
                    "a database connection gave no answer within %.0f s: cut off", self.seconds
                )
                # A duplicate of the descriptor: shutting it down ends the
                # connection for libpq too, and closing it leaves libpq's own.
                with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as duplicate:
                    duplicate.shutdown(socket.SHUT_RDWR)


def _make_engine(url: str, statement_timeout: float | None, held_deadline: float) -> Engine:
    if not is_sqlite(url):
        engine = create_engine(
            url,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=False,
            pool_timeout=POOL_TIMEOUT,
            connect_args=_postgresql_options(statement_timeout),
        )
        if statement_timeout:
            watchdog = Watchdog(held_deadline)
            event.listen(engine, "checkout", watchdog.checkout)
            event.listen(engine, "checkin", watchdog.checkin)
        return engine

    database = make_url(url).database
    if database and database != ":memory:":
        # Made for a first run; if it cannot be, connecting says why (a 503, /ready).
        with contextlib.suppress(OSError):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    busy = statement_timeout or 60
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        writes = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


# --- JSON in SQL: the two databases spell it differently ---------------------


def json_strings(session: Session, array: Any) -> TableValuedAlias:
    """A table (column `value`) of the strings in a JSON array: a bound list, or a
    column holding JSON text (then correlated to its row, like a lateral join)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.json_each(array).table_valued("value")
    return func.json_array_elements_text(cast(array, JSON)).table_valued("value")


def json_array(session: Session, value: Any, order_by: Any) -> Any:
    """SQL: the aggregate JSON array (text) of `value` over the rows, ordered by `order_by`."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite 3.40 has no ORDER BY inside an aggregate; the rows arrive in
        # the order of the subquery they come from, which callers order.
        return func.json_group_array(value)
    return cast(func.json_agg(aggregate_order_by(value, order_by)), Text)


def rowcount(result: Any) -> int:
    """How many rows an UPDATE or DELETE touched (the compare-and-set verdict).
    `Session.execute` is typed as returning a plain Result, which has no rowcount."""
    return int(result.rowcount)


def text_bytes(session: Session, column: Any) -> Any:
    """SQL: the size in bytes of a text column. On PostgreSQL `octet_length` reads
    only a large value's header, not the value."""
    if session.get_bind().dialect.name == "sqlite":
        return func.length(cast(column, LargeBinary))
    return func.octet_length(column)


class Database:
    """One engine per process, with a session factory for reads and one for writes."""

    def __init__(
        self,
        url: str,
        *,
        statement_timeout: float | None = STATEMENT_TIMEOUT,
        held_deadline: float = HELD_DEADLINE,
    ) -> None:
        """`statement_timeout=None` for long maintenance work (migrations, imports);
        `held_deadline`: how long a connection may be held before the watchdog cuts it
        (with a statement time-out only)."""
        self.url = normalize_url(url)
        self.display_url = make_url(self.url).render_as_string(hide_password=True)
        self.is_sqlite = is_sqlite(self.url)
        self.engine = _make_engine(self.url, statement_timeout, held_deadline)
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

    def schema_revision(self) -> str | None:
        """The migration the database is at, or None when it has no schema.
        Raises SQLAlchemyError when the database cannot be reached."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def schema_problem(self) -> str | None:
        """Why this database cannot be served yet (no schema, or an older one), or None."""
        from herald.core.models import SCHEMA_HEAD

        current = self.schema_revision()
        if current is None:
            return NO_SCHEMA
        if current != SCHEMA_HEAD:
            return (
                f"the database schema is at revision {current}, this Herald needs {SCHEMA_HEAD}: "
                'run "herald migrate"'
            )
        return None

    def dispose(self) -> None:
        self.engine.dispose()
