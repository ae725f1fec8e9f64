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

from herald.auth.callers import Caller
from herald.bounces import repository as bounces
from herald.bounces.repository import BounceRecord
from herald.broadcasts import repository, sending
from herald.broadcasts.repository import EVERY_MESSAGE, MessageRecord, Visible
from herald.broadcasts.schemas import PAST_DATE, UNSET, MessageInput
from herald.broadcasts.sending import person_of
from herald.broadcasts.transitions import EDITABLE, RULES, Change
from herald.core import languages
from herald.core.clock import utc_now
from herald.core.errors import (
    Conflict,
    Invalid,
    NoRecipients,
    NotFound,
    WaitingForReview,
    WrongState,
)
from herald.core.models import (
    DeliveryProgress,
    DeliveryStatus,
    MessageState,
    ReviewAction,
    ReviewStatus,
    Steering,
    User,
)
from herald.core.text import (
    Translations,
    check_message_text,
    looks_like_html,
    read_translations,
    translations_json,
)
from herald.delivery import outbox
from herald.delivery.mail import (
    Person,
    PersonalisedMessage,
    clean_header,
    html_to_text,
    render_message,
)
from herald.personalisation import TemplateProblem
from herald.recipients.service import (
    Audience,
    ScopeLimit,
    check_targeting,
    outside_recipient,
    scoped_query,
)
from herald.recipients.targeting import Targeting, targeting_from_stored
from herald.roles.scopes import HeldScopes, Scope, choose
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


def visible_to(caller: Caller | None) -> Visible:
    """Which messages `caller` sees: staff all; a scoped sender those of the scopes
    they hold now (SPEC 9)."""
    if caller is None or caller.scopes is None:
        return EVERY_MESSAGE
    return Visible(tuple(caller.scopes.keys()))


def get_message(
    session: Session, uuid: str, caller: Caller | None = None, with_emails: bool = True
) -> MessageRecord:
    """The message, if `caller` may see it; any other is a 404, as if it did not exist.
    `with_emails=False`: its state and rules only (see repository.get_message)."""
    row: MessageRecord | None = repository.get_message(session, uuid, with_emails)
    if row is None:
        raise NotFound()
    if caller is not None and caller.scopes is not None and not _holds(caller.scopes, row):
        raise NotFound()
    return row


def _holds(held: HeldScopes, row: MessageRecord) -> bool:
    if row.scope_type is None:
        return False
    return (row.scope_type.value, row.scope_uuid) in set(held.keys())


def _scope_of(row: MessageRecord) -> Scope | None:
    if row.scope_type is None or row.scope_uuid is None:
        return None
    return Scope(row.scope_type, row.scope_uuid, row.scope_name)


def scope_limit(caller: Caller, row: MessageRecord | None = None) -> ScopeLimit | None:
    if caller.scopes is None:
        return None
    return ScopeLimit(caller.scopes, _scope_of(row) if row is not None else None)


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
    if data.translations is UNSET:
        # Its translations come along (SPEC 2.3), unless the request gave its own.
        data.translations = orjson.loads(template.translations or "{}")
    # What the template gave is checked as if it had been written here: a template
    # saved under older rules must not smuggle in what a request could not.
    errors: dict[str, Any] = {}
    check_message_text(data.subject, data.body, errors)
    if data.translations is not UNSET:
        read_translations({"translations": data.translations}, errors)
    if errors:
        raise Invalid(errors)


def create_message(session: Session, caller: Caller, data: MessageInput) -> MessageRecord:
    author = caller.user
    fill_from_template(session, data)
    targeting = data.targeting if data.targeting is not UNSET else Targeting()
    stored = check_targeting(session, targeting, "query", scope_limit(caller))
    scope: Scope | None = None
    if caller.scopes is not None:
        # A scoped sender's message is written in the one scope its query fits.
        scope, query_errors, scope_errors = choose(
            caller.scopes, scoped_query(targeting), data.scope
        )
        if query_errors or scope_errors:
            raise Invalid({"query": query_errors} if query_errors else {"scope": scope_errors})
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
            "scope_type": scope.type if scope else None,
            "scope_uuid": scope.uuid if scope else None,
            "scope_name": scope.name if scope else "",
            "translations": translations_json(
                data.translations if data.translations is not UNSET else {}
            ),
        },
    )
    return get_message(session, uuid)


def _conflict_or_missing(session: Session, uuid: str, valid: tuple[str, ...]) -> Exception:
    if repository.get_message(session, uuid) is None:
        return NotFound()
    return WrongState.valid_states(*valid)


def update_message(
    session: Session, caller: Caller, uuid: str, data: MessageInput
) -> MessageRecord:
    row = get_message(session, uuid, caller)
    if row.state not in EDITABLE:
        raise WrongState.valid_states(*EDITABLE)
    fill_from_template(session, data)
    values: dict[str, Any] = {}
    if row.review_status == ReviewStatus.WAITING:
        # An edit withdraws a request for review: what staff would approve changed.
        values["review_status"] = ReviewStatus.WITHDRAWN
    if caller.scopes is not None and caller.review and row.state == SCHEDULED:
        # Staff approved the day for what the message said then: changed, it waits
        # for a new review before it is scheduled again.
        values["state"] = DRAFT
    if data.subject is not UNSET:
        values["subject"] = data.subject
    if data.body is not UNSET:
        values["body"] = data.body
    if data.translations is not UNSET:
        values["translations"] = translations_json(data.translations)  # replaced whole
    if data.targeting is not UNSET:
        stored = check_targeting(session, data.targeting, "query", scope_limit(caller, row))
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


def delete_message(session: Session, caller: Caller, uuid: str) -> None:
    row = get_message(session, uuid, caller)
    if repository.delete_unless_delivering(session, row.id):
        return
    counts = outbox.delivery_counts(session, [row.id]).get(row.id, {})
    raise Conflict(
        f"Delivery of this message is still running: {counts.get(DeliveryStatus.PENDING, 0)} of "
        f"{sum(counts.values())} deliveries are pending."
    )


def schedule_message(session: Session, caller: Caller, uuid: str, today: date) -> bool:
    """Schedule the message; or, for a scoped sender under review, ask staff to
    (SPEC 9): True when that request is what happened."""
    row = get_message(session, uuid, caller)
    if row.state not in EDITABLE:
        raise WrongState.valid_states(*EDITABLE)
    if row.send_at is None:
        raise Invalid.field("send_at", "Set send_at to the day to send the message on.")
    if row.send_at < today:
        raise Invalid.field(
            "send_at", f"{PAST_DATE} Today is {today.isoformat()}; it is {row.send_at.isoformat()}."
        )
    if caller.scopes is not None and caller.review:
        request_review(session, caller, row, ReviewAction.SCHEDULE)
        return True
    if not repository.change_state(session, row.id, Change.SCHEDULE, {"state": SCHEDULED}, today):
        # Sent, deleted or its day cleared since it was read: say which.
        row = get_message(session, uuid)
        if row.review_status == ReviewStatus.WAITING:
            raise WaitingForReview()
        if row.state in RULES[Change.SCHEDULE].from_states:
            raise Invalid.field("send_at", "Set send_at to the day to send the message on.")
        raise WrongState.valid_states(*RULES[Change.SCHEDULE].from_states)
    return False


# --- staff review of scoped senders' sends (SPEC 9) ------------------------------


def request_review(
    session: Session, caller: Caller, row: MessageRecord, action: ReviewAction
) -> None:
    """Ask staff to send or schedule the message; it stays as it is meanwhile. What
    the action would refuse now (nobody reached) is refused now, not at approval."""
    if action == ReviewAction.SEND:
        audience = Audience(
            session, targeting_from_stored(orjson.loads(row.query)), _author(session, row)
        )
        if not audience.reaches_anyone():
            raise NoRecipients()
    values = {
        "review_status": ReviewStatus.WAITING,
        "review_action": action,
        "review_requested_by": caller.user.uuid,
        "review_requested_by_name": caller.user.full_name or caller.user.email,
        "review_requested": utc_now(),
        "review_decided_by": None,
        "review_decided_by_name": "",
        "review_decided": None,
        "review_note": None,
    }
    if not repository.change_state(session, row.id, Change.REQUEST_REVIEW, values):
        raise _conflict_or_missing(session, row.uuid, RULES[Change.REQUEST_REVIEW].from_states)


def _decided(by: User, status: ReviewStatus, note: str | None = None) -> dict[str, Any]:
    return {
        "review_status": status,
        "review_decided_by": by.uuid,
        "review_decided_by_name": by.full_name or by.email,
        "review_decided": utc_now(),
        "review_note": note,
    }


def _not_waiting(session: Session, uuid: str) -> Exception:
    if repository.get_message(session, uuid) is None:
        return NotFound()
    return WrongState.valid_review_statuses(ReviewStatus.WAITING)


def approve(session: Session, staff: User, uuid: str, today: date, batch: int) -> bool:
    """Carry out a waiting request as if its requester had asked (the audience
    resolved now); False when a send's audience is still being queued. A request
    no longer waiting (decided, withdrawn by an edit, approved by someone else a
    moment ago) is a 409: one outcome."""
    row = get_message(session, uuid)
    if row.review_status != ReviewStatus.WAITING:
        raise _not_waiting(session, uuid)
    decided = _decided(staff, ReviewStatus.APPROVED)
    if row.review_action == ReviewAction.SEND:
        try:
            return sending.send_message(
                session, uuid, today, batch, change=Change.APPROVE_SEND, also=decided
            )
        except WrongState:
            raise _not_waiting(session, uuid) from None
    if row.send_at is None or row.send_at < today:
        raise Invalid.field(
            "send_at", f"{PAST_DATE} The day asked for has passed; the sender sets a new one."
        )
    if not repository.change_state(
        session, row.id, Change.APPROVE_SCHEDULE, {"state": SCHEDULED, **decided}, today
    ):
        raise _not_waiting(session, uuid)
    return True


def reject(session: Session, staff: User, uuid: str, note: str) -> None:
    """Say no, with why: the message stays editable, its sender sees the note."""
    row = get_message(session, uuid)
    values = _decided(staff, ReviewStatus.REJECTED, note)
    if row.review_status != ReviewStatus.WAITING or not repository.change_state(
        session, row.id, Change.REJECT, values
    ):
        raise _not_waiting(session, uuid)


def retry_failed(session: Session, caller: Caller, uuid: str) -> int:
    """Put a sent message's failed deliveries back in the queue; returns how many.
    Not for a cancelled message: nothing of it is to be sent any more."""
    row = get_message(session, uuid, caller)
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
    session: Session,
    caller: Caller,
    uuid: str,
    statuses: list[DeliveryStatus],
    offset: int,
    limit: int,
    language: str | None = None,
) -> tuple[Sequence[Any], dict[int, BounceRecord]]:
    """A page of the message's deliveries that match, and the bounce of each bounced one."""
    row = get_message(session, uuid, caller, with_emails=False)
    rows = outbox.list_deliveries(session, row.id, statuses, offset, limit, language)
    bounced = [r.id for r in rows if r.status == DeliveryStatus.BOUNCED]
    return rows, bounces.latest_for_deliveries(session, bounced)


def count_deliveries(
    session: Session,
    caller: Caller,
    uuid: str,
    statuses: list[DeliveryStatus],
    language: str | None = None,
) -> int:
    """How many of its deliveries match; `language`: sent in that variant ("" : the
    default)."""
    row = get_message(session, uuid, caller, with_emails=False)
    return outbox.count_deliveries(session, row.id, statuses, language)


# --- previews and test sends -------------------------------------------------

MAX_TEST_ADDRESSES = 10


def _recipient(
    session: Session, row: MessageRecord, email: str | None
) -> tuple[str, Person, str | None] | None:
    """The message's recipient with this address (or its first, by name), as it
    reaches them now or, once its audience is queued, as it was queued; with the
    variant they get (SPEC 2.3), or, once queued, the variant they were sent."""
    if row.state == SENT and row.prepared:
        return outbox.person_of(session, row.id, email)
    audience = Audience(
        session, targeting_from_stored(orjson.loads(row.query)), _author(session, row)
    )
    found = audience.first() if email is None else audience.recipient(email)
    if found is None:
        return None
    return found.email, person_of(found), languages.choose(found.language, _variants(row))


def _variants(row: MessageRecord) -> Translations:
    return dict(orjson.loads(row.translations or "{}"))


def _in_variant(row: MessageRecord, language: str | None) -> tuple[Draft, str | None]:
    """The message's text in one variant, whole (None: the default)."""
    variant = _variants(row).get(language) if language else None
    if variant is None:
        return Draft(row.subject, row.body, row.send_at), None
    return Draft(variant["subject"], variant["body"], row.send_at), language


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
    # An unsaved text is one variant already (the console sends the tab being written).
    return {"email": address, "language": None, "subject": subject, "text": text, "html": html}


def preview_message(
    session: Session,
    caller: Caller,
    uuid: str,
    email: str | None,
    sender: str,
    language: str | None = None,
) -> dict[str, Any]:
    """One recipient's mail: in the variant they get, or (`language`) in the variant
    a reader of that language gets ("" : the default)."""
    row = get_message(session, uuid, caller, with_emails=False)
    found = _recipient(session, row, email)
    if found is None:
        if email is None:
            raise NoRecipients()
        raise Invalid.field("email", f"{email} is not among this message's recipients.")
    address, person, theirs = found
    wanted = theirs if language is None else languages.choose(language, _variants(row))
    text_of, shown = _in_variant(row, wanted)
    subject, text, html = _render(text_of, address, person, sender)
    return {"email": address, "language": shown, "subject": subject, "text": text, "html": html}


def test_mails(
    session: Session,
    caller: Caller,
    uuid: str,
    addresses: list[str],
    sender: str,
    language: str | None = None,
) -> list[tuple[str, bytes]]:
    """The message rendered for each test address, marked as a test in the subject,
    in the variant a reader of `language` gets (None or "": the default). Nothing
    about the message, its state or its deliveries changes. A scoped sender tests on
    their own address only (SPEC 9)."""
    row = get_message(session, uuid, caller, with_emails=False)
    text_of, shown = _in_variant(row, languages.choose(language, _variants(row)))
    if caller.scopes is not None:
        mine = caller.user.email.lower()
        others = [a for a in addresses if a.lower() != mine]
        if others or not mine:
            raise Invalid.field(
                "emails", f"You may send a test to your own address only ({caller.user.email})."
            )
    refuse_suppressed(session, addresses, "emails")
    mails = []
    for address in addresses:
        found = _recipient(session, row, address)
        person = found[1] if found else _stranger(session, address)
        subject, text, html = _render(text_of, address, person, sender)
        rendered = render_message(
            f"[TEST] {subject}", html or text, sender, html=html is not None, language=shown
        )
        mails.append((address, rendered.for_recipient(address, 0, row.uuid)))
    return mails
