"""The rules of a broadcast message: who it reaches, and DRAFT → SCHEDULED → SENT.

Services never commit; the caller's transaction does (one per request or job).
"""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from herald.api.pagination import PageRequest
from herald.bounces import repository as bounces
from herald.bounces.repository import BounceRecord
from herald.broadcasts import repository
from herald.broadcasts.repository import MessageRecord
from herald.broadcasts.schemas import PAST_DATE, UNSET, MessageInput
from herald.broadcasts.sending import person_of
from herald.broadcasts.transitions import EDITABLE, RULES, Change
from herald.core.clock import utc_now
from herald.core.errors import Conflict, Invalid, NoRecipients, NotFound, WrongState
from herald.core.models import DeliveryProgress, DeliveryStatus, MessageState, Steering, User
from herald.core.text import check_message_text, looks_like_html
from herald.delivery import outbox
from herald.delivery.mail import (
    Person,
    PersonalisedMessage,
    clean_header,
    html_to_text,
    render_message,
)
from herald.personalisation import TemplateProblem
from herald.recipients.service import Audience, check_targeting, outside_recipient
from herald.recipients.targeting import Targeting, targeting_from_stored
from herald.suppressions.service import refuse_suppressed
from herald.templates import repository as template_repository

DRAFT, SCHEDULED, SENT = MessageState.DRAFT, MessageState.SCHEDULED, MessageState.SENT
RETRYABLE = (
    DeliveryProgress.PREPARING,
    DeliveryProgress.SENDING,
    DeliveryProgress.PAUSED,
    DeliveryProgress.DONE,
)


def _author(session: Session, row: MessageRecord) -> User | None:
    return session.get(User, row.author_uuid) if row.author_uuid else None


def delivery_counts(session: Session, rows: Sequence[Any]) -> dict[int, dict[DeliveryStatus, int]]:
    """The outbox counts of the sent messages among `rows`, in one query."""
    sent = [row.id for row in rows if row.state == SENT]
    return outbox.delivery_counts(session, sent) if sent else {}


def get_message(session: Session, uuid: str) -> MessageRecord:
    row: MessageRecord | None = repository.get_message(session, uuid)
    if row is None:
        raise NotFound()
    return row


def fill_from_template(session: Session, data: MessageInput) -> None:
    """A template fills the subject or body a create, PUT or PATCH left out; the one
    place a template becomes a message's text."""
    if data.template is None:
        return
    template = template_repository.get_template(session, data.template)
    if template is None:
        raise Invalid.field("template", f"Unknown template: {data.template}.")
    if data.subject is UNSET:
        data.subject = template.subject
    if data.body is UNSET:
        data.body = template.body
    # What the template gave is checked as if it had been written here: a template
    # saved under older rules must not smuggle in what a request could not.
    errors: dict[str, Any] = {}
    check_message_text(data.subject, data.body, errors)
    if errors:
        raise Invalid(errors)


def create_message(session: Session, author: User, data: MessageInput) -> MessageRecord:
    fill_from_template(session, data)
    targeting = data.targeting if data.targeting is not UNSET else Targeting()
    stored = check_targeting(session, targeting, "query")
    # `send_to_me` means the author: the one person a scheduled send can name.
    emails = Audience(session, targeting, author).addresses_json()
    uuid = uuid_lib.uuid4().hex
    repository.insert_message(
        session,
        {
            "uuid": uuid,
            "created": utc_now(),
            "subject": data.subject,
            "body": data.body,
            "query": orjson.dumps(stored).decode(),
            "emails": emails,
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
    return WrongState.valid_states(*valid)


def update_message(session: Session, uuid: str, data: MessageInput) -> MessageRecord:
    row = get_message(session, uuid)
    if row.state not in EDITABLE:
        raise WrongState.valid_states(*EDITABLE)
    fill_from_template(session, data)
    values: dict[str, Any] = {}
    if data.subject is not UNSET:
        values["subject"] = data.subject
    if data.body is not UNSET:
        values["body"] = data.body
    if data.targeting is not UNSET:
        stored = check_targeting(session, data.targeting, "query")
        values["query"] = orjson.dumps(stored).decode()
        values["emails"] = Audience(session, data.targeting, _author(session, row)).addresses_json()
    if data.send_at is not UNSET:
        values["send_at"] = data.send_at
        if data.send_at is None:
            # A scheduled message without a day is a draft again.
            values["state"] = DRAFT
    if values and not repository.change_state(session, row.id, Change.EDIT, values):
        raise _conflict_or_missing(session, uuid, EDITABLE)
    return get_message(session, uuid)


def delete_message(session: Session, uuid: str) -> None:
    row = get_message(session, uuid)
    if repository.delete_unless_delivering(session, row.id):
        return
    counts = outbox.delivery_counts(session, [row.id]).get(row.id, {})
    raise Conflict(
        f"Delivery of this message is still running: {counts.get(DeliveryStatus.PENDING, 0)} of "
        f"{sum(counts.values())} deliveries are pending."
    )


def schedule_message(session: Session, uuid: str, today: date) -> None:
    row = get_message(session, uuid)
    if row.state not in EDITABLE:
        raise WrongState.valid_states(*EDITABLE)
    if row.send_at is None:
        raise Invalid.field("send_at", "Set send_at to the day to send the message on.")
    if row.send_at < today:
        raise Invalid.field(
            "send_at", f"{PAST_DATE} Today is {today.isoformat()}; it is {row.send_at.isoformat()}."
        )
    if not repository.change_state(session, row.id, Change.SCHEDULE, {"state": SCHEDULED}, today):
        # Sent, deleted or its day cleared since it was read: say which.
        row = get_message(session, uuid)
        if row.state in RULES[Change.SCHEDULE].from_states:
            raise Invalid.field("send_at", "Set send_at to the day to send the message on.")
        raise WrongState.valid_states(*RULES[Change.SCHEDULE].from_states)


def retry_failed(session: Session, uuid: str) -> int:
    """Put a sent message's failed deliveries back in the queue; returns how many.
    Not for a cancelled message: nothing of it is to be sent any more."""
    row = get_message(session, uuid)
    if row.state != SENT:
        raise WrongState.valid_states(SENT)
    if row.steering == Steering.CANCELLED:
        raise WrongState.valid_delivery_statuses(*RETRYABLE)
    retried = outbox.retry_failed(session, row.id, utc_now())
    if retried and not repository.lock_unless_cancelled(session, row.id):
        # Cancelled meanwhile (cancel won the row): this transaction rolls back.
        raise WrongState.valid_delivery_statuses(*RETRYABLE)
    return retried


def prune_deliveries(session: Session, sent_before: datetime) -> int:
    """Forget who got the messages sent before a moment (the messages themselves stay)."""
    return outbox.prune_finished(session, repository.sent_before(sent_before))


def deliveries_page(
    session: Session, uuid: str, statuses: list[DeliveryStatus], pages: PageRequest
) -> tuple[int, Sequence[Any], dict[int, BounceRecord]]:
    """How many deliveries match, the requested page of them (a page past the end is
    404), and the bounce of each bounced one."""
    row = get_message(session, uuid)
    total = outbox.count_deliveries(session, row.id, statuses)
    pages.check(total)
    rows = outbox.list_deliveries(session, row.id, statuses, pages.offset, pages.page_size)
    bounced = [r.id for r in rows if r.status == DeliveryStatus.BOUNCED]
    return total, rows, bounces.latest_for_deliveries(session, bounced)


def count_deliveries(session: Session, uuid: str, statuses: list[DeliveryStatus]) -> int:
    return outbox.count_deliveries(session, get_message(session, uuid).id, statuses)


# --- previews and test sends -------------------------------------------------

MAX_TEST_ADDRESSES = 10


def _recipient(
    session: Session, row: MessageRecord, email: str | None
) -> tuple[str, Person] | None:
    """The message's recipient with this address (or its first, by name), as it
    reaches them now or, once its audience is queued, as it was queued."""
    if row.state == SENT and row.prepared:
        return outbox.person_of(session, row.id, email)
    audience = Audience(
        session, targeting_from_stored(orjson.loads(row.query)), _author(session, row)
    )
    found = audience.first() if email is None else audience.recipient(email)
    return (found.email, person_of(found)) if found else None


def _stranger(session: Session, address: str) -> Person:
    """An address the message does not reach: who the directory says it is."""
    return person_of(outside_recipient(session, address))


def _render(row: Any, address: str, person: Person, sender: str) -> tuple[str, str, str | None]:
    """Subject, plain text and HTML (or None) of the message as `address` gets it:
    the same rendering, sandbox and limits as delivery. `row` has subject, body, send_at."""
    message = PersonalisedMessage(sender, row.subject, row.body, row.send_at)
    try:
        subject, body = message.render_for(address, person)
    except TemplateProblem as problem:
        raise Invalid({"detail": f"The message cannot be rendered: {problem}"}) from problem
    if looks_like_html(row.body):
        return clean_header(subject), html_to_text(body), body
    return clean_header(subject), body, None


@dataclass(frozen=True)
class Draft:
    """A subject and body not saved yet, as the compose screen has them."""

    subject: str
    body: str
    send_at: date | None = None


def render_draft(
    session: Session,
    draft: Draft,
    targeting: Targeting,
    email: str | None,
    me: User,
    sender: str,
) -> dict[str, Any]:
    """An unsaved message as one recipient would get it; nothing is written.

    The recipient is `email` (with the name and organisations the query
    reaches them through, if it does), else the query's first recipient, else
    the requesting staff member."""
    audience = Audience(session, targeting, me)
    found = audience.first() if email is None else audience.recipient(email)
    if found is not None:
        address, person = found.email, person_of(found)
    elif email is not None:
        address, person = email, _stranger(session, email)
    else:
        address, person = me.email, Person(me.full_name)
    subject, text, html = _render(draft, address, person, sender)
    return {"email": address, "subject": subject, "text": text, "html": html}


def preview_message(session: Session, uuid: str, email: str | None, sender: str) -> dict[str, Any]:
    row = get_message(session, uuid)
    found = _recipient(session, row, email)
    if found is None:
        if email is None:
            raise NoRecipients()
        raise Invalid.field("email", f"{email} is not among this message's recipients.")
    address, person = found
    subject, text, html = _render(row, address, person, sender)
    return {"email": address, "subject": subject, "text": text, "html": html}


def test_mails(
    session: Session, uuid: str, addresses: list[str], sender: str
) -> list[tuple[str, bytes]]:
    """The message rendered for each test address, marked as a test in the subject.
    Nothing about the message, its state or its deliveries changes."""
    row = get_message(session, uuid)
    refuse_suppressed(session, addresses, "emails")
    mails = []
    for address in addresses:
        found = _recipient(session, row, address)
        person = found[1] if found else _stranger(session, address)
        subject, text, html = _render(row, address, person, sender)
        rendered = render_message(f"[TEST] {subject}", html or text, sender, html=html is not None)
        mails.append((address, rendered.for_recipient(address, 0, row.uuid)))
    return mails
