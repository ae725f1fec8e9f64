"""Message templates (Waldur's broadcast message templates): checked like a message."""

from __future__ import annotations

import uuid as uuid_lib
from typing import Any

from sqlalchemy.orm import Session

from herald.api.errors import NotFound, ValidationError
from herald.clock import utc_now
from herald.templates import repository
from herald.text import SUBJECT_MAX, check_placeholders, text_problem

NAME_MAX = 150
FIELDS = ("name", "subject", "body")


def parse_template_input(data: dict[str, Any], *, partial: bool) -> dict[str, str]:
    """name, subject and body, each a non-blank string; placeholders must render."""
    errors: dict[str, Any] = {}
    values: dict[str, str] = {}
    for name in FIELDS:
        if name not in data:
            if not partial:
                errors[name] = ["This field is required."]
            continue
        value = data[name]
        if value is None:
            errors[name] = ["This field may not be null."]
        elif not isinstance(value, str):
            errors[name] = ["Not a valid string."]
        elif problem := text_problem(value):
            errors[name] = [problem]
        elif not value.strip():
            errors[name] = ["This field may not be blank."]
        else:
            values[name] = value if name == "body" else value.strip()
    limits = {"name": NAME_MAX, "subject": SUBJECT_MAX}
    for name, limit in limits.items():
        if name in values and len(values[name]) > limit:
            errors[name] = [f"Ensure this field has no more than {limit} characters."]
    check_placeholders(values.get("subject"), values.get("body"), errors)
    if errors:
        raise ValidationError(errors)
    return values


def get_template(session: Session, uuid: str) -> Any:
    row = repository.get_template(session, uuid)
    if row is None:
        raise NotFound()
    return row


def create_template(session: Session, values: dict[str, str]) -> Any:
    uuid = uuid_lib.uuid4().hex
    repository.insert_template(session, {**values, "uuid": uuid, "created": utc_now()})
    return get_template(session, uuid)


def update_template(session: Session, uuid: str, values: dict[str, str]) -> Any:
    row = get_template(session, uuid)
    if values:
        repository.update_template(session, row.id, values)
    return get_template(session, uuid)


def delete_template(session: Session, uuid: str) -> None:
    repository.delete_template(session, get_template(session, uuid).id)
