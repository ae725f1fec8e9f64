"""SQL on the bounces table (its one owner)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from herald.core.models import Bounce, BounceKind, BounceSource


@dataclass(frozen=True)
class BounceRecord:
    id: int
    uuid: str
    delivery_id: int | None
    message_uuid: str | None
    email: str
    kind: BounceKind
    code: str
    diagnostic: str
    received: datetime
    source: BounceSource


_COLUMNS = (
    Bounce.id,
    Bounce.uuid,
    Bounce.delivery_id,
    Bounce.message_uuid,
    Bounce.email,
    Bounce.kind,
    Bounce.code,
    Bounce.diagnostic,
    Bounce.received,
    Bounce.source,
)


def _record(row: Any) -> BounceRecord:
    return BounceRecord(*row[: len(_COLUMNS)])


@dataclass(frozen=True)
class NewBounce:
    uuid: str
    delivery_id: int | None
    message_uuid: str | None
    email: str
    key: str
    kind: BounceKind
    code: str
    diagnostic: str
    received: datetime
    source: BounceSource
    notification: str
    raw: bytes


def insert(session: Session, bounce: NewBounce) -> int | None:
    """Record a bounce; None when this notification was recorded before (read
    again after a crash between recording it and moving it out of the mailbox)."""
    dialect = session.get_bind().dialect.name
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert_(Bounce)
        .values(**bounce.__dict__)
        .on_conflict_do_nothing(index_elements=["notification"])
        .returning(Bounce.id)
    )
    return session.execute(statement).scalar()


def soft_bounces_since(session: Session, key: str, since: datetime) -> int:
    statement = select(func.count()).where(
        Bounce.key == key, Bounce.kind == BounceKind.SOFT, Bounce.received >= since
    )
    return int(session.scalar(statement) or 0)


def _filters(email: str | None, kind: BounceKind | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if email:
        conditions.append(Bounce.key.contains(email.lower(), autoescape=True))
    if kind is not None:
        conditions.append(Bounce.kind == kind)
    return conditions


def count(
    session: Session,
    email: str | None = None,
    kind: BounceKind | None = None,
    message_uuid: str | None = None,
) -> int:
    statement = select(func.count()).select_from(Bounce).where(*_filters(email, kind))
    if message_uuid is not None:
        statement = statement.where(Bounce.message_uuid == message_uuid)
    return int(session.scalar(statement) or 0)


def page(
    session: Session,
    email: str | None,
    kind: BounceKind | None,
    message_uuid: str | None,
    offset: int,
    limit: int,
) -> list[BounceRecord]:
    """Newest first."""
    statement = (
        select(*_COLUMNS)
        .where(*_filters(email, kind))
        .order_by(Bounce.received.desc(), Bounce.id.desc())
        .offset(offset)
        .limit(limit)
    )
    if message_uuid is not None:
        statement = statement.where(Bounce.message_uuid == message_uuid)
    return [_record(row) for row in session.execute(statement)]


def get(session: Session, uuid: str) -> tuple[BounceRecord, bytes] | None:
    row = session.execute(select(*_COLUMNS, Bounce.raw).where(Bounce.uuid == uuid)).first()
    return (_record(row), bytes(row.raw)) if row is not None else None


def by_id(session: Session, bounce_id: int) -> BounceRecord | None:
    row = session.execute(select(*_COLUMNS).where(Bounce.id == bounce_id)).first()
    return _record(row) if row is not None else None


def by_ids(session: Session, bounce_ids: Sequence[int]) -> dict[int, BounceRecord]:
    """The bounces with these ids (the causes of a page of suppressions), in one query."""
    if not bounce_ids:
        return {}
    statement = select(*_COLUMNS).where(Bounce.id.in_(list(bounce_ids)))
    return {record.id: record for record in map(_record, session.execute(statement))}


def latest_for_deliveries(session: Session, delivery_ids: Sequence[int]) -> dict[int, BounceRecord]:
    """The newest bounce of each of these deliveries (a page of a message's deliveries)."""
    if not delivery_ids:
        return {}
    statement = (
        select(*_COLUMNS)
        .where(Bounce.delivery_id.in_(list(delivery_ids)))
        .order_by(Bounce.received, Bounce.id)
    )
    found: dict[int, BounceRecord] = {}
    for row in session.execute(statement):
        record = _record(row)
        if record.delivery_id is not None:
            found[record.delivery_id] = record  # the newest wins
    return found


def totals_by_kind(session: Session) -> dict[BounceKind, int]:
    counts = {kind: 0 for kind in BounceKind}
    for kind, number in session.execute(select(Bounce.kind, func.count()).group_by(Bounce.kind)):
        counts[BounceKind(kind)] = int(number)
    return counts
