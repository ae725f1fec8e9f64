"""What went wrong, in one line an operator can act on (SPEC 6).

Every `herald` command fails with one such line and exit status 2; the
traceback is shown only with `--debug`. The words say what to do next.
"""

from __future__ import annotations

import re

from pydantic import ValidationError as SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from herald.core.db import NO_SCHEMA
from herald.directory.sync import MassRemoval
from herald.directory.waldur import WaldurError
from herald.entry.preflight import ConfigurationError


def _where(url: str | None) -> str:
    if not url:
        return "the database"
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "the database"
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite database {parsed.database}"
    return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}"


def _scheme(url: str | None) -> str:
    return f"{(url or '').partition(':')[0]}://" if url and ":" in url else "no scheme"


def explain(exc: BaseException, database_url: str | None = None) -> str | None:
    """One line for a failure we understand, or None for one we do not."""
    if isinstance(exc, ConfigurationError | WaldurError | MassRemoval):
        return str(exc)
    if isinstance(exc, SettingsError):
        problems = []
        for error in exc.errors():
            name = "HERALD_" + "_".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}: {error['msg']}")
        return "bad setting " + "; ".join(problems) + " (check the environment and .env)"
    if isinstance(exc, ArgumentError) and "URL" in str(exc):
        return f"HERALD_DATABASE_URL cannot be read: {exc}"
    if isinstance(exc, NoSuchModuleError):
        return (
            f"HERALD_DATABASE_URL names a database Herald cannot use ({_scheme(database_url)}): "
            "write sqlite:///PATH or postgresql://USER@HOST:PORT/NAME"
        )
    if isinstance(exc, DBAPIError | OperationalError | ProgrammingError):
        return _database_problem(exc, database_url)
    return None


def _database_problem(exc: DBAPIError, database_url: str | None) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    where = _where(database_url)
    if re.search(r"no such table|relation .* does not exist|UndefinedTable", text):
        return NO_SCHEMA
    missing = re.search(r'database "([^"]+)" does not exist', text)
    if missing:
        name = missing.group(1)
        return (
            f'the PostgreSQL database "{name}" does not exist: create it with '
            f'`createdb {name}` (or CREATE DATABASE {name};), then run "herald migrate"'
        )
    if re.search(r"unable to open database file", text):
        return f"cannot open {where}: check that its folder exists and is writable"
    if re.search(r"Connection refused|could not connect|timeout expired|Name or service", text):
        return f"cannot reach {where} ({first}): is it running, and is HERALD_DATABASE_URL right?"
    if re.search(r"password authentication failed|no pg_hba.conf entry", text):
        return f"{where} refused the login ({first}): check the user and password in the URL"
    return f"the database failed: {first}"
