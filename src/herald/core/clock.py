"""Time as Herald stores it: naive UTC, the same in SQLite and PostgreSQL."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def wire_time(value: datetime) -> str:
    """A stored time as the API writes it (DRF's form): ISO 8601 with microseconds, Z."""
    return value.isoformat(timespec="microseconds") + "Z"
