"""Message templates (Waldur's broadcast message templates): checked like a message."""

from __future__ import annotations

import uuid as uuid_lib
from typing import Any

from sqlalchemy.orm import Session

from herald.core.clock import utc_now
from herald.core.errors import Invalid, NotFound
from herald.core.text import (
    MISSING,
    check_message_text,
    read_text,
    read_translations,
    translations_json,
)
from herald.templates import repository
from herald.templates.repository import TemplateRecord

FIELDS = ("name", "subject", "body")


def parse_template_input(data: dict[str, Any], *, partial: bool) -> dict[str, str]:
    """name, subject and body, each a non-blank string; placeholders must render;
    translations as on a message (SPEC 2.3), replaced whole when given."""
    errors: dict[str, Any] = {}
    values: dict[str, str] = {}
    for name in FIELDS:
        value = read_text(data, name, not partial, errors)
        if value is not MISSING:
            values[name] = value
    translations = read_translations(data, errors)
    if translations is not MISSING:
        values["translations"] = translations_json(translations)
    check_message_text(values.get("subject"), values.get("body"), errors)
    if errors:
        raise Invalid(errors)
    return values


def get_template(session: Session, uuid: str) -> TemplateRecord:
    row = repository.get_template(session, uuid)
    if row is None:
        raise NotFound()
    return row


def create_template(session: Session, values: dict[str, str]) -> TemplateRecord:
    uuid = uuid_lib.uuid4().hex
    repository.insert_template(session, {**values, "uuid": uuid, "created": utc_now()})
    return get_template(session, uuid)


def update_template(session: Session, uuid: str, values: dict[str, str]) -> TemplateRecord:
    row = get_template(session, uuid)
    if values:
        repository.update_template(session, row.id, values)
    return get_template(session, uuid)


def delete_template(session: Session, uuid: str) -> None:
    repository.delete_template(session, get_template(session, uuid).id)
