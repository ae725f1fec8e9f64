"""Checks made before anything is started: a configuration that cannot work is
refused with one line that says what to do, never found out by the first user."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from herald.core.config import Settings
from herald.core.db import NO_SCHEMA, Database, missing_sqlite_file
from herald.delivery.transport import transport_from_url


class ConfigurationError(Exception):
    """A configuration that cannot work; its text is the one line an operator sees."""


def check_configuration(settings: Settings) -> None:
    """Refuse, with one line, a configuration that cannot work."""
    try:
        transport_from_url(settings.smtp_url)
    except (ValueError, OSError) as exc:
        raise ConfigurationError(f"HERALD_SMTP_URL cannot be used: {exc}") from exc
    if path := missing_sqlite_file(settings.database_url):
        raise ConfigurationError(f"{NO_SCHEMA} (there is no database at {path})")
    database = Database(settings.database_url)
    try:
        problem = database.schema_problem()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigurationError(
            f"cannot reach the database {database.display_url}: {reason}"
        ) from exc
    finally:
        database.dispose()
    if problem:
        raise ConfigurationError(problem)
