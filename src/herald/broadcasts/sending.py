"""Sending a message at any size, and steering the send (SPEC 3.8, 4.1).

`send_message` answers at once whatever the audience: it flips the state
(compare-and-set: one winner among concurrent sends), checks that somebody
is reached, and queues the first batch of addresses in the same
transaction, so a small message is wholly queued when the answer comes.
The rest is queued by `prepare_batch`, one transaction per batch of address
keys, run right after the answer by the process that answered and by every
delivery process (which also finishes a preparation whose process died). Each
batch locks the message's row and advances its `prepare_cursor` (the last
address key queued) in the same transaction as the rows it inserts, so
whatever dies and whoever prepares, every address is queued exactly once.
When the last batch is in, `emails` becomes exactly the list queued.

Pause and cancel are a column on the message (`steering`): the workers claim
nothing of a halted message and take its deliveries out of their queues,
preparation goes on (so `emails` and the total stay whole), and cancelling
turns every delivery no worker holds into `cancelled`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import orjson
from sqlalchemy import func
from sqlalchemy.orm import Session

from herald.broadcasts import repository
from herald.broadcasts.repository import MessageRecord
from herald.broadcasts.transitions import RULES, Change
from herald.core.clock import utc_now
from herald.core.db import Database
from herald.core.errors import NoRecipients, NotFound, WaitingForReview, WrongState
from herald.core.languages import choose
from herald.core.models import (
    BroadcastMessage,
    DeliveryProgress,
    DeliveryStatus,
    MessageState,
    ReviewStatus,
    Steering,
    User,
)
from herald.delivery import outbox
from herald.delivery.mail import Person
from herald.personalisation import is_template
from herald.recipients.service import Audience, KeyRange, Recipient
from herald.recipients.targeting import targeting_from_stored

logger = logging.getLogger("herald.sending")

# Addresses queued inside the send request itself: enough that a typical
# message is wholly queued when the answer comes, few enough that the answer
# never waits long (about 0.1 s on these machines).
FIRST_BATCH = 5_000
PERSONALISED_BATCH = 5_000
# How long pause and cancel wait for the workers to give back what they hold of
# the message, so that nothing of it starts after the answer.
SETTLE_SECONDS = 5.0


def _author(session: Session, author_uuid: str | None) -> User | None:
    return session.get(User, author_uuid) if author_uuid else None


def person_of(recipient: Recipient) -> Person:
    """Who a resolved recipient is, for placeholders: the names they were reached through."""
    customers = sorted((recipient.customers or {}).values(), key=str.casefold)
    offerings = sorted((recipient.offerings or {}).values(), key=str.casefold)
    return Person(recipient.full_name, tuple(customers), tuple(offerings))


# --- send ---------------------------------------------------------------------


def send_message(
    session: Session,
    uuid: str,
    today: date,
    batch: int = FIRST_BATCH,
    change: Change = Change.SEND,
    also: Mapping[str, Any] | None = None,
) -> bool:
    """Mark the message SENT and queue its first batch, in the caller's transaction.

    `change` is who sends (transitions.py): a person (DRAFT or SCHEDULED) or the
    scheduler (only SCHEDULED and due, checked in the same statement that flips it).
    Concurrent sends: the state flip is compare-and-set, so exactly one gets
    past it (the others wait for its row lock, then find the state changed).
    Raises NoRecipients when nobody is reached (the flip rolls back with it).
    Returns whether the whole audience is queued already."""
    found = repository.get_message(session, uuid, with_emails=False)
    if found is None:
        raise NotFound()
    flipped = repository.change_state(
        session,
        found.id,
        change,
        {
            "state": MessageState.SENT,
            "sent": utc_now(),
            "send_at": func.coalesce(BroadcastMessage.send_at, today),
            "prepared": False,
            "prepare_cursor": None,
            "steering": None,
            **(also or {}),  # an approval's decision, written in the same statement
        },
        today,
    )
    if not flipped:
        current = repository.get_message(session, uuid, with_emails=False)
        if current is None:
            raise NotFound()
        if current.review_status == ReviewStatus.WAITING and current.state != MessageState.SENT:
            raise WaitingForReview()
        raise WrongState.valid_states(*RULES[change].from_states)
    # Read again now that the flip holds the row: an edit that landed between the
    # first read and the flip is what is sent.
    row = repository.get_message(session, uuid, with_emails=False)
    assert row is not None  # locked by the flip, in this transaction
    audience = Audience(
        session, targeting_from_stored(orjson.loads(row.query)), _author(session, row.author_uuid)
    )
    if not audience.reaches_anyone():
        raise NoRecipients()
    return _queue_batch(session, row.id, min(batch, FIRST_BATCH))


def _queue_batch(session: Session, message_id: int, size: int) -> bool:
    """Queue the next batch of the message's audience; True once it is all queued."""
    message = repository.lock_for_preparation(session, message_id)
    if message is None or message.prepared:
        return True  # deleted meanwhile, or another process finished it
    audience = Audience(
        session,
        targeting_from_stored(orjson.loads(message.query)),
        _author(session, message.author_uuid),
    )
    # The variants as this batch reads them, from the row it holds locked: a message
    # being sent cannot be edited, so every batch reads the same (SPEC 2.3).
    variants = orjson.loads(message.translations or "{}")
    personalised = any(
        is_template(text)
        for text in (
            message.subject,
            message.body,
            *(t for v in variants.values() for t in v.values()),
        )
    )
    if personalised:
        # Built row by row in Python (names and organisations frozen on each):
        # smaller batches keep the delivery process's memory flat.
        size = min(size, PERSONALISED_BATCH)
    until = audience.batch_end(message.prepare_cursor, size)
    keys = KeyRange(after=message.prepare_cursor, until=until)
    now = utc_now()
    status = (
        DeliveryStatus.CANCELLED
        if message.steering == Steering.CANCELLED
        else DeliveryStatus.PENDING
    )
    if personalised:
        # Placeholders need each recipient's name and organisations: frozen with
        # the address, so the mail says what the preview said.
        people = [
            (r.email, person_of(r), choose(r.language, variants))
            for r in audience.recipients_in_range(keys)
        ]
        outbox.queue_deliveries(session, message.id, message.uuid, people, now, status)
    else:
        outbox.queue_selected(
            session, message.id, message.uuid, audience.in_range(keys), now, status, variants
        )
    if until is not None:
        repository.update_preparation(session, message.id, {"prepare_cursor": until})
        return False
    # The last batch: `emails` becomes exactly the list queued.
    repository.update_preparation(
        session,
        message.id,
        {
            "prepared": True,
            "prepare_cursor": None,
            "emails": outbox.addresses_json(session, message.id),
        },
    )
    return True


def prepare_batch(database: Database, message_id: int, size: int) -> bool:
    """One batch of one message's preparation, in its own transaction."""
    with database.transaction() as session:
        return _queue_batch(session, message_id, size)


def prepare_message(
    database: Database, message_id: int, size: int, progress: Callable[[], None] | None = None
) -> None:
    """Queue the rest of one message's audience, batch by batch."""
    started = time.monotonic()
    while not prepare_batch(database, message_id, size):
        if progress is not None:
            progress()
    if progress is not None:
        progress()
    logger.info("message %d prepared in %.1f s", message_id, time.monotonic() - started)


def prepare_by_uuid(database: Database, uuid: str, size: int) -> None:
    with database.transaction(write=False) as session:
        row = repository.get_message(session, uuid, with_emails=False)
    if row is not None and not row.prepared:
        prepare_message(database, row.id, size)


def prepare_unprepared(
    database: Database, size: int, progress: Callable[[], None] | None = None
) -> int:
    """Finish every preparation still open (a process died during one, or the
    answering process handed it on); returns how many messages were prepared.
    Also cancels the deliveries of cancelled messages that a worker gave back
    or that a dead worker's expired lease let go."""
    with database.transaction(write=False) as session:
        waiting = repository.unprepared_messages(session)
        cancelled = repository.cancelled_messages(session)
    for message_id in waiting:
        prepare_message(database, message_id, size, progress)
    if cancelled:
        with database.transaction() as session:
            outbox.cancel_unleased(session, cancelled, utc_now())
    return len(waiting)


# --- where a send stands ---------------------------------------------------------


def progress(row: MessageRecord, counts: Mapping[DeliveryStatus, int] | None) -> DeliveryProgress:
    """`delivery.status` of a message (row with state, prepared, steering)."""
    if row.state != MessageState.SENT:
        return DeliveryProgress.IDLE
    if row.steering == Steering.CANCELLED:
        return DeliveryProgress.CANCELLED
    if row.steering == Steering.PAUSED:
        return DeliveryProgress.PAUSED
    if not row.prepared:
        return DeliveryProgress.PREPARING
    if (counts or {}).get(DeliveryStatus.PENDING, 0):
        return DeliveryProgress.SENDING
    return DeliveryProgress.DONE


# --- pause, resume, cancel ----------------------------------------------------------

PAUSABLE = (DeliveryProgress.PREPARING, DeliveryProgress.SENDING)
RESUMABLE = (DeliveryProgress.PAUSED,)
CANCELLABLE = (DeliveryProgress.PREPARING, DeliveryProgress.SENDING, DeliveryProgress.PAUSED)


def _steer(
    session: Session,
    uuid: str,
    valid: tuple[DeliveryProgress, ...],
    allowed: tuple[Steering | None, ...],
    to: Steering | None,
) -> int:
    row = repository.get_message(session, uuid, with_emails=False)
    if row is None:
        raise NotFound()
    counts = outbox.delivery_counts(session, [row.id]).get(row.id, {})
    if progress(row, counts) not in valid or not repository.steer(session, row.id, allowed, to):
        raise WrongState.valid_delivery_statuses(*valid)
    return int(row.id)


def pause(session: Session, uuid: str) -> int:
    """From preparing or sending: nothing more of it is claimed. Returns the message id."""
    return _steer(session, uuid, PAUSABLE, (None,), Steering.PAUSED)


def resume(session: Session, uuid: str) -> int:
    return _steer(session, uuid, RESUMABLE, (Steering.PAUSED,), None)


def cancel(session: Session, uuid: str) -> int:
    """From preparing, sending or paused: what no worker holds is cancelled now."""
    message_id = _steer(session, uuid, CANCELLABLE, (None, Steering.PAUSED), Steering.CANCELLED)
    outbox.cancel_unleased(session, [message_id], utc_now())
    return message_id


def settle(
    database: Database, message_id: int, cancelled: bool, seconds: float = SETTLE_SECONDS
) -> bool:
    """After a pause or cancel is committed: wait until no worker holds a delivery of
    the message (queued ones are given back within a keeper round, those on the
    wire once the relay answers), so that none starts after the answer; then
    cancel what was given back. False when a holder did not let go in time
    (a dead worker's lease, a relay slower than `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        with database.transaction(write=False) as session:
            held = outbox.held_deliveries(session, message_id, utc_now())
        if not held or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if cancelled:
        with database.transaction() as session:
            outbox.cancel_unleased(session, [message_id], utc_now())
    if held:
        logger.warning(
            "message %d: %d deliveries still held by a worker %.0f s after it was %s",
            message_id,
            held,
            seconds,
            "cancelled" if cancelled else "paused",
        )
    return not held
