"""The SQL of message templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from herald.core.models import MessageTemplate


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    id: int
    uuid: str
    name: str
    subject: str
    body: str
    translations: str  # JSON text (SPEC 2.3)


_COLUMNS = (
    MessageTemplate.id,
    MessageTemplate.uuid,
    MessageTemplate.name,
    MessageTemplate.subject,
    MessageTemplate.body,
    MessageTemplate.translations,
)


def _named(name: str | None) -> list[Any]:
    return [MessageTemplate.name.icontains(name, autoescape=True)] if name else []


def count_templates(session: Session, name: str | None) -> int:
    statement = select(func.count()).select_from(MessageTemplate).where(*_named(name))
    return int(session.scalar(statement) or 0)


def list_templates(
    session: Session, name: str | None, descending: bool, offset: int, limit: int
) -> list[TemplateRecord]:
    order = MessageTemplate.name.desc() if descending else MessageTemplate.name.asc()
    statement = (
        select(*_COLUMNS)
        .where(*_named(name))
        .order_by(order, MessageTemplate.id)
        .offset(offset)
        .limit(limit)
    )
    return [TemplateRecord(**row._mapping) for row in session.execute(statement)]


def get_template(session: Session, uuid: str) -> TemplateRecord | None:
    row = session.execute(select(*_COLUMNS).where(MessageTemplate.uuid == uuid)).first()
    return TemplateRecord(**row._mapping) if row is not None else None


def insert_template(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(MessageTemplate).values(**values))


def update_template(session: Session, template_id: int, values: dict[str, Any]) -> None:
    session.execute(
        update(MessageTemplate).where(MessageTemplate.id == template_id).values(**values)
    )


def delete_template(session: Session, template_id: int) -> None:
    session.execute(delete(MessageTemplate).where(MessageTemplate.id == template_id))
