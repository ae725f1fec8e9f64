"""SQL on the audit trail (its one owner)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session

from herald.core.db import rowcount
from herald.core.models import AuditEntry


@dataclass(frozen=True)
class EntryRecord:
    uuid: str
    created: datetime
    user_uuid: str | None
    user_full_name: str
    user_email: str
    action: str
    object_type: str
    object_uuid: str | None
    client: str
    detail: str  # JSON text


_COLUMNS = (
    AuditEntry.uuid,
    AuditEntry.created,
    AuditEntry.user_uuid,
    AuditEntry.user_full_name,
    AuditEntry.user_email,
    AuditEntry.action,
    AuditEntry.object_type,
    AuditEntry.object_uuid,
    AuditEntry.client,
    AuditEntry.detail,
)


def add(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(AuditEntry).values(**values))


@dataclass(frozen=True)
class Filters:
    object_uuid: str | None = None
    user_uuid: str | None = None
    action: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.object_uuid:
            found.append(AuditEntry.object_uuid == self.object_uuid)
        if self.user_uuid:
            found.append(AuditEntry.user_uuid == self.user_uuid)
        if self.action:
            found.append(AuditEntry.action == self.action)
        if self.created_from:
            found.append(AuditEntry.created >= self.created_from)
        if self.created_before:
            found.append(AuditEntry.created < self.created_before)
        return found


def count(session: Session, filters: Filters) -> int:
    statement = select(func.count()).select_from(AuditEntry).where(*filters.conditions())
    return int(session.scalar(statement) or 0)


def page(
    session: Session, filters: Filters, offset: int, limit: int, oldest_first: bool = False
) -> list[EntryRecord]:
    order = (
        (AuditEntry.created, AuditEntry.id)
        if oldest_first
        else (AuditEntry.created.desc(), AuditEntry.id.desc())
    )
    statement = (
        select(*_COLUMNS).where(*filters.conditions()).order_by(*order).offset(offset).limit(limit)
    )
    return [EntryRecord(**row._mapping) for row in session.execute(statement)]


def prune(session: Session, before: datetime) -> int:
    return rowcount(session.execute(delete(AuditEntry).where(AuditEntry.created < before)))
