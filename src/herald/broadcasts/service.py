"""The rules of a broadcast message: who it reaches, and DRAFT → SCHEDULED → SENT.

Services never commit; the caller's transaction does (one per request or job).
"""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Row
from sqlalchemy.orm import Session

from herald.api.errors import Conflict, NotFound, ValidationError
from herald.api.pagination import PageRequest
from herald.broadcasts import repository
from herald.broadcasts.schemas import PAST_DATE, UNSET, MessageInput
from herald.clock import utc_now
from herald.delivery import outbox
from herald.models import User
from herald.recipients import repository as directory_lookup
from herald.recipients.service import resolve_emails
from herald.recipients.targeting import Targeting, stored_form, targeting_from_stored

DRAFT, SCHEDULED, SENT = "DRAFT", "SCHEDULED", "SENT"
EDITABLE = (DRAFT, SCHEDULED)


def check_targeting(session: Session, targeting: Targeting, field: str | None) -> dict[str, Any]:
    """Every customer and offering a query names must exist; returns the stored form."""
    customers = directory_lookup.customer_names(session, targeting.customers)
    offerings = directory_lookup.offering_names(session, targeting.offerings)
    errors: dict[str, Any] = {}
    for key, names, known in (
        ("customers", targeting.customers, customers),
        ("offerings", targeting.offerings, offerings),
    ):
        unknown = [uuid for uuid in names if uuid not in known]
        if unknown:
            kind = key[:-1]
            errors[key] = [f"Unknown {kind}: {uuid}." for uuid in unknown]
    if errors:
        raise ValidationError({field: errors} if field else errors)
    return stored_form(targeting, customers, offerings)


def _author(session: Session, row: Row[Any]) -> User | None:
    return session.get(User, row.author_uuid) if row.author_uuid else None


def _emails_json(emails: list[str]) -> str:
    return orjson.dumps(emails).decode()


def delivery_counts(session: Session, rows: Sequence[Any]) -> dict[int, dict[str, int]]:
    """The outbox counts of the sent messages among `rows`, in one query."""
    sent = [row.id for row in rows if row.state == SENT]
    return outbox.delivery_counts(session, sent) if sent else {}


def get_message(session: Session, uuid: str) -> Row[Any]:
    row = repository.get_message(session, uuid)
    if row is None:
        raise NotFound()
    return row


def create_message(session: Session, author: User, data: MessageInput) -> Row[Any]:
    targeting = data.targeting if data.targeting is not UNSET else Targeting()
    stored = check_targeting(session, targeting, "query")
    # `send_to_me` means the author: the one person a scheduled send can name.
    emails = resolve_emails(session, targeting, author)
    uuid = uuid_lib.uuid4().hex
    repository.insert_message(
        session,
        {
            "uuid": uuid,
            "created": utc_now(),
            "subject": data.subject,
            "body": data.body,
            "query": orjson.dumps(stored).decode(),
            "emails": _emails_json(emails),
            "author_uuid": author.uuid,
            "author_full_name": author.full_name,
            "state": DRAFT,
            "send_at": data.send_at if data.send_at is not UNSET else None,
        },
    )
    return get_message(session, uuid)


def _conflict_or_missing(session: Session, uuid: str, valid: tuple[str, ...]) -> Exception:
    if repository.get_message(session, uuid) is None:
        return NotFound()
    return Conflict.valid_states(*valid)


def update_message(session: Session, uuid: str, data: MessageInput) -> Row[Any]:
    row = get_message(session, uuid)
    if row.state not in EDITABLE:
        raise Conflict.valid_states(*EDITABLE)
    values: dict[str, Any] = {}
    if data.subject is not UNSET:
        values["subject"] = data.subject
    if data.body is not UNSET:
        values["body"] = data.body
    if data.targeting is not UNSET:
        stored = check_targeting(session, data.targeting, "query")
        values["query"] = orjson.dumps(stored).decode()
        values["emails"] = _emails_json(
            resolve_emails(session, data.targeting, _author(session, row))
        )
    if data.send_at is not UNSET:
        values["send_at"] = data.send_at
        if data.send_at is None:
            # A scheduled message without a day is a draft again.
            values["state"] = DRAFT
    if values and not repository.update_in_states(session, row.id, EDITABLE, values):
        raise _conflict_or_missing(session, uuid, EDITABLE)
    return get_message(session, uuid)


def delete_message(session: Session, uuid: str) -> None:
    row = get_message(session, uuid)
    if repository.delete_unless_delivering(session, row.id):
        return
    counts = outbox.delivery_counts(session, [row.id]).get(row.id, {})
    raise Conflict(
        f"Delivery of this message is still running: {counts.get('pending', 0)} of "
        f"{sum(counts.values())} deliveries are pending."
    )


def schedule_message(session: Session, uuid: str, today: date) -> None:
    row = get_message(session, uuid)
    if row.state not in EDITABLE:
        raise Conflict.valid_states(*EDITABLE)
    if row.send_at is None:
        raise ValidationError.field("send_at", "Set send_at to the day to send the message on.")
    if row.send_at < today:
        raise ValidationError.field(
            "send_at", f"{PAST_DATE} Today is {today.isoformat()}; it is {row.send_at.isoformat()}."
        )
    if not repository.update_in_states(session, row.id, EDITABLE, {"state": SCHEDULED}):
        raise _conflict_or_missing(session, uuid, EDITABLE)


def retry_failed(session: Session, uuid: str) -> int:
    """Put a sent message's failed deliveries back in the queue; returns how many."""
    row = get_message(session, uuid)
    if row.state != SENT:
        raise Conflict.valid_states(SENT)
    return outbox.retry_failed(session, row.id, utc_now())


def deliveries_page(
    session: Session, uuid: str, statuses: list[str], pages: PageRequest
) -> tuple[int, Sequence[Any]]:
    """How many deliveries match, and the requested page of them (a page past the end is 404)."""
    row = get_message(session, uuid)
    total = outbox.count_deliveries(session, row.id, statuses)
    pages.check(total)
    return total, outbox.list_deliveries(session, row.id, statuses, pages.offset, pages.page_size)


def count_deliveries(session: Session, uuid: str, statuses: list[str]) -> int:
    return outbox.count_deliveries(session, get_message(session, uuid).id, statuses)


def send_message(session: Session, uuid: str, today: date) -> int:
    """Freeze the audience, queue one delivery per address and mark the message SENT.

    All of it happens in the caller's transaction: the state flip comes first
    and is compare-and-set, so of concurrent sends exactly one gets past it
    (the others wait for its row lock, then find the state changed).
    Returns the number of deliveries queued.
    """
    row = get_message(session, uuid)
    now = utc_now()
    flipped = repository.update_in_states(
        session,
        row.id,
        EDITABLE,
        {"state": SENT, "sent": now, "send_at": row.send_at or today},
    )
    if not flipped:
        raise _conflict_or_missing(session, uuid, EDITABLE)
    targeting = targeting_from_stored(orjson.loads(row.query))
    emails = resolve_emails(session, targeting, _author(session, row))
    if not emails:
        # Raising rolls the state flip back with everything else.
        raise ValidationError({"detail": "The message has no recipients."})
    repository.update_in_states(session, row.id, (SENT,), {"emails": _emails_json(emails)})
    repository.queue_deliveries(session, row.id, emails, now)
    return len(emails)
