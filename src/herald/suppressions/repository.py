"""SQL on the suppressions table (its one owner).

Addresses are keyed by their lower-cased form, the key every other table
compares by, so a lookup is one primary-key probe and a batch of queued
deliveries is checked by one join.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from herald.core.clock import utc_now
from herald.core.db import rowcount
from herald.core.models import Suppression, SuppressionReason, User
from herald.roles.repository import organisations_of


@dataclass(frozen=True)
class SuppressionRecord:
    key: str
    email: str
    reason: SuppressionReason
    note: str
    bounce_id: int | None
    created: datetime
    created_by: str | None
    created_by_name: str  # who added it by hand, by name ("" when Herald did)


_COLUMNS = (
    Suppression.key,
    Suppression.email,
    Suppression.reason,
    Suppression.note,
    Suppression.bounce_id,
    Suppression.created,
    Suppression.created_by,
    Suppression.created_by_name,
)


def _record(row: Any) -> SuppressionRecord:
    return SuppressionRecord(
        row.key, row.email, row.reason, row.note, row.bounce_id, row.created, row.created_by,
        row.created_by_name,
    )  # fmt: skip


def get(session: Session, key: str) -> SuppressionRecord | None:
    row = session.execute(select(*_COLUMNS).where(Suppression.key == key)).first()
    return _record(row) if row is not None else None


def add(
    session: Session,
    key: str,
    email: str,
    reason: SuppressionReason,
    now: datetime,
    *,
    note: str = "",
    bounce_id: int | None = None,
    created_by: str | None = None,
    created_by_name: str = "",
) -> bool:
    """Suppress an address unless it already is; True when this added it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Suppression)
        .values(
            key=key,
            email=email,
            reason=reason,
            note=note,
            bounce_id=bounce_id,
            created=now,
            created_by=created_by,
            created_by_name=created_by_name,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        # RETURNING, not rowcount: PostgreSQL's driver reports no count for
        # INSERT … ON CONFLICT here.
        .returning(Suppression.key)
    )
    return session.execute(statement).first() is not None


def remove(session: Session, key: str) -> bool:
    return rowcount(session.execute(delete(Suppression).where(Suppression.key == key))) > 0


def _filters(email: str | None, reason: SuppressionReason | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if email:
        conditions.append(Suppression.key.contains(email.lower(), autoescape=True))
    if reason is not None:
        conditions.append(Suppression.reason == reason)
    return conditions


def count(
    session: Session, email: str | None = None, reason: SuppressionReason | None = None
) -> int:
    statement = select(func.count()).select_from(Suppression).where(*_filters(email, reason))
    return int(session.scalar(statement) or 0)


def page(
    session: Session,
    email: str | None,
    reason: SuppressionReason | None,
    offset: int,
    limit: int | None,
) -> list[SuppressionRecord]:
    """Newest first, then by address."""
    statement = (
        select(*_COLUMNS)
        .where(*_filters(email, reason))
        .order_by(Suppression.created.desc(), Suppression.key)
        .offset(offset)
        .limit(limit)
    )
    return [_record(row) for row in session.execute(statement)]


def suppressed_among(session: Session, keys: Collection[str]) -> set[str]:
    """Which of these address keys are suppressed (one indexed probe each)."""
    if not keys:
        return set()
    found: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):  # within every database's parameter limit
        chunk = ordered[start : start + 500]
        found.update(session.scalars(select(Suppression.key).where(Suppression.key.in_(chunk))))
    return found


def is_suppressed(key: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: whether the address key `key` (a column of the caller's query) is suppressed."""
    return exists().where(Suppression.key == key)


@dataclass(frozen=True)
class Member:
    """A directory user with a suppressed address, and where to find them."""

    key: str
    uuid: str
    username: str
    full_name: str
    is_active: bool
    customers: tuple[tuple[str, str], ...]  # (uuid, name), by name


def users_of(session: Session, keys: Sequence[str]) -> dict[str, list[Member]]:
    """The directory's users holding each address, with the organisations they
    belong to (role grants in force, roles/repository.py), for a report staff can act on."""
    if not keys:
        return {}
    user_key = func.lower(User.email)
    users = session.execute(
        select(user_key.label("key"), User.uuid, User.username, User.full_name, User.is_active)
        .where(user_key.in_(list(keys)))
        .order_by(User.full_name, User.uuid)
    ).all()
    organisations = organisations_of(session, [u.uuid for u in users], utc_now())
    found: dict[str, list[Member]] = {}
    for user in users:
        customers = organisations.get(user.uuid, [])
        found.setdefault(user.key, []).append(
            Member(
                user.key, user.uuid, user.username, user.full_name, user.is_active, tuple(customers)
            )
        )
    return found
