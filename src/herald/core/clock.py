"""Time as Herald stores it: naive UTC, the same in SQLite and PostgreSQL."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
