"""The SQL of idempotency keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from herald.core.db import rowcount
from herald.core.models import IdempotencyKey


def claim(session: Session, user_uuid: str, key: str, fingerprint: str, now: datetime) -> bool:
    """Take the key for this request; False if it is already taken.

    On PostgreSQL a concurrent claim of the same key waits here until the
    first request's transaction ends (ON CONFLICT waits for the row it
    conflicts with), then sees its answer; SQLite has one writer at a time."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(IdempotencyKey)
        .values(user_uuid=user_uuid, key=key, fingerprint=fingerprint, created=now)
        .on_conflict_do_nothing(index_elements=["user_uuid", "key"])
        .returning(IdempotencyKey.key)
    )
    # RETURNING, not the row count: psycopg reports -1 for this statement.
    return session.execute(statement).first() is not None


def get(session: Session, user_uuid: str, key: str) -> IdempotencyKey | None:
    statement = select(IdempotencyKey).where(
        IdempotencyKey.user_uuid == user_uuid, IdempotencyKey.key == key
    )
    return session.scalars(statement).first()


def take_over(session: Session, user_uuid: str, key: str, fingerprint: str, now: datetime) -> None:
    """Reuse an expired or abandoned key for a new request."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_uuid == user_uuid, IdempotencyKey.key == key)
        .values(fingerprint=fingerprint, created=now, status_code=None, media_type=None, body=None)
        .execution_options(synchronize_session=False)
    )


def store(
    session: Session,
    user_uuid: str,
    key: str,
    status_code: int,
    media_type: str | None,
    body: bytes,
) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_uuid == user_uuid, IdempotencyKey.key == key)
        .values(status_code=status_code, media_type=media_type, body=body)
        .execution_options(synchronize_session=False)
    )


def forget_before(session: Session, cutoff: datetime) -> int:
    statement = delete(IdempotencyKey).where(IdempotencyKey.created < cutoff)
    return rowcount(session.execute(statement))
