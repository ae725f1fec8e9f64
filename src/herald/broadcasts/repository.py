"""The SQL for messages (their deliveries are the outbox's: delivery/outbox.py).

State changes are compare-and-set: each UPDATE or DELETE names the states it
may start from and the caller checks the row count, so two requests racing
on one message cannot both win.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    not_,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from herald.broadcasts.transitions import RULES, Change, ReviewGate
from herald.core.db import rowcount, text_bytes
from herald.core.models import (
    BroadcastMessage,
    DeliveryProgress,
    DeliveryStatus,
    MessageState,
    ReviewAction,
    ReviewStatus,
    ScopeType,
    Steering,
)
from herald.delivery import outbox
from herald.delivery.outbox import MessageContent


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A message as its rules and its answers read it (not an ORM object: read-only)."""

    id: int
    uuid: str
    created: datetime
    subject: str
    body: str
    query: str  # JSON text, spliced into answers unparsed
    author_uuid: str | None
    author_full_name: str
    state: MessageState
    send_at: date | None
    prepared: bool
    steering: Steering | None
    # A scoped sender's message (SPEC 9), and its last review.
    scope_type: ScopeType | None
    scope_uuid: str | None
    scope_name: str
    review_status: ReviewStatus | None
    review_action: ReviewAction | None
    review_requested_by: str | None
    review_requested_by_name: str
    review_requested: datetime | None
    review_decided_by: str | None
    review_decided_by_name: str
    review_decided: datetime | None
    review_note: str | None
    translations: str  # JSON text (SPEC 2.3), "{}" for none
    # JSON text. None on a page of a list for a message whose addresses are too many
    # to carry along (INLINE_EMAILS_BYTES): read on its own when a client asks.
    emails: str | None = None


@dataclass(frozen=True, slots=True)
class PreparationRecord:
    """What queueing the next batch of a send needs of its message."""

    id: int
    uuid: str
    subject: str
    body: str
    query: str
    author_uuid: str | None
    prepared: bool
    prepare_cursor: str | None
    steering: Steering | None
    translations: str  # JSON text (SPEC 2.3): read with the row it is locked with


_COLUMNS = (
    BroadcastMessage.id,
    BroadcastMessage.uuid,
    BroadcastMessage.created,
    BroadcastMessage.subject,
    BroadcastMessage.body,
    BroadcastMessage.query,
    BroadcastMessage.author_uuid,
    BroadcastMessage.author_full_name,
    BroadcastMessage.state,
    BroadcastMessage.send_at,
    BroadcastMessage.prepared,
    BroadcastMessage.steering,
    BroadcastMessage.scope_type,
    BroadcastMessage.scope_uuid,
    BroadcastMessage.scope_name,
    BroadcastMessage.review_status,
    BroadcastMessage.review_action,
    BroadcastMessage.review_requested_by,
    BroadcastMessage.review_requested_by_name,
    BroadcastMessage.review_requested,
    BroadcastMessage.review_decided_by,
    BroadcastMessage.review_decided_by_name,
    BroadcastMessage.review_decided,
    BroadcastMessage.review_note,
    BroadcastMessage.translations,
    BroadcastMessage.emails,
)
# A page of messages carries the `emails` of the messages with up to this many bytes
# of them (about 2,000 addresses): a page of 300 holds under 20 MB of addresses,
# however large its messages. A message to a million people holds 28 MB of them.
INLINE_EMAILS_BYTES = 64 * 1024
_PAGE_COLUMNS = tuple(column for column in _COLUMNS if column is not BroadcastMessage.emails)
_ORDER_COLUMNS = {
    "created": BroadcastMessage.created,
    "subject": BroadcastMessage.subject,
    "author_full_name": BroadcastMessage.author_full_name,
}


# `delivery=` filter values: a delivery status (SPEC 4.1), or `failed` for the
# messages with at least one failed delivery.
FAILURES = "failed"


def _in_progress(progress: str) -> Any:
    """SQL: the messages whose `delivery.status` is `progress` (or that have failures)."""
    sent = BroadcastMessage.state == MessageState.SENT
    steered = BroadcastMessage.steering.is_not(None)
    pending = BroadcastMessage.id.in_(outbox.messages_with(DeliveryStatus.PENDING))
    return {
        DeliveryProgress.IDLE: BroadcastMessage.state != MessageState.SENT,
        DeliveryProgress.PREPARING: and_(sent, ~steered, BroadcastMessage.prepared.is_(False)),
        DeliveryProgress.SENDING: and_(
            sent, ~steered, BroadcastMessage.prepared.is_(True), pending
        ),
        DeliveryProgress.PAUSED: BroadcastMessage.steering == Steering.PAUSED,
        DeliveryProgress.CANCELLED: BroadcastMessage.steering == Steering.CANCELLED,
        DeliveryProgress.DONE: and_(sent, ~steered, BroadcastMessage.prepared.is_(True), ~pending),
        FAILURES: BroadcastMessage.id.in_(outbox.messages_with(DeliveryStatus.FAILED)),
    }[progress]


@dataclass(frozen=True)
class Visible:
    """Which messages a caller may see: None for staff (all); else the (type, uuid)
    of the scopes they hold now (SPEC 9)."""

    scopes: tuple[tuple[str, str], ...] | None = None

    def condition(self) -> Any:
        if self.scopes is None:
            return None
        if not self.scopes:
            return BroadcastMessage.id.is_(None)  # holds nothing: sees nothing
        return tuple_(BroadcastMessage.scope_type, BroadcastMessage.scope_uuid).in_(
            list(self.scopes)
        )


EVERY_MESSAGE = Visible()


def _filters(
    states: Sequence[str],
    subject: str | None,
    deliveries: Sequence[str] = (),
    reviews: Sequence[str] = (),
    visible: Visible = EVERY_MESSAGE,
) -> list[Any]:
    conditions: list[Any] = []
    if (limit := visible.condition()) is not None:
        conditions.append(limit)
    if reviews:
        conditions.append(BroadcastMessage.review_status.in_(list(reviews)))
    if deliveries:
        conditions.append(or_(*(_in_progress(value) for value in deliveries)))
    if states:
        conditions.append(BroadcastMessage.state.in_(states))
    if subject:
        conditions.append(BroadcastMessage.subject.icontains(subject, autoescape=True))
    return conditions


def count_messages(
    session: Session,
    states: Sequence[str],
    subject: str | None,
    deliveries: Sequence[str] = (),
    reviews: Sequence[str] = (),
    visible: Visible = EVERY_MESSAGE,
) -> int:
    statement = (
        select(func.count())
        .select_from(BroadcastMessage)
        .where(*_filters(states, subject, deliveries, reviews, visible))
    )
    return int(session.connection().execute(statement).scalar() or 0)


def list_messages(
    session: Session,
    states: Sequence[str],
    subject: str | None,
    ordering: Sequence[str],
    offset: int,
    limit: int,
    deliveries: Sequence[str] = (),
    reviews: Sequence[str] = (),
    visible: Visible = EVERY_MESSAGE,
) -> list[MessageRecord]:
    order_by: list[Any] = []
    for name in ordering:
        column = _ORDER_COLUMNS[name.lstrip("-")]
        order_by.append(column.desc() if name.startswith("-") else column.asc())
    # A unique last key keeps pages stable when the named keys tie.
    last_descending = bool(ordering) and ordering[-1].startswith("-")
    order_by.append(BroadcastMessage.id.desc() if last_descending else BroadcastMessage.id.asc())
    statement = (
        select(
            *_PAGE_COLUMNS,
            case(
                (
                    text_bytes(session, BroadcastMessage.emails) <= INLINE_EMAILS_BYTES,
                    BroadcastMessage.emails,
                ),
                else_=null(),
            ).label("emails"),
        )
        .where(*_filters(states, subject, deliveries, reviews, visible))
        .order_by(*order_by)
        .offset(offset)
        .limit(limit)
    )
    # Core rows, not ORM ones: a page is read-only and this is the hottest query.
    return [MessageRecord(**row._mapping) for row in session.connection().execute(statement)]


def message_emails(session: Session, message_ids: Sequence[int]) -> dict[int, str]:
    """The `emails` (JSON text) of these messages by id; a message deleted meanwhile is absent."""
    statement = select(BroadcastMessage.id, BroadcastMessage.emails).where(
        BroadcastMessage.id.in_(list(message_ids))
    )
    return {row.id: row.emails for row in session.connection().execute(statement)}


def get_message(session: Session, uuid: str, with_emails: bool = True) -> MessageRecord | None:
    """The message; without its `emails` (None) when only its state and rules are
    wanted: a message to a million people carries 28 MB of them."""
    columns = _COLUMNS if with_emails else _PAGE_COLUMNS
    row = session.execute(select(*columns).where(BroadcastMessage.uuid == uuid)).first()
    return MessageRecord(**row._mapping) if row is not None else None


def insert_message(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(BroadcastMessage).values(**values))


def change_state(
    session: Session,
    message_id: int,
    change: Change,
    values: dict[str, Any],
    today: date | None = None,
) -> bool:
    """Apply `values` only if the message still meets `change`'s rule (transitions.py):
    one of its states and, for a change that needs it, its day against `today`;
    in one statement."""
    rule = RULES[change]
    conditions = [BroadcastMessage.id == message_id, BroadcastMessage.state.in_(rule.from_states)]
    if rule.review == ReviewGate.NOT_WAITING:
        # Nothing sends or schedules a message waiting for review (SPEC 9).
        conditions.append(
            or_(
                BroadcastMessage.review_status.is_(None),
                BroadcastMessage.review_status != ReviewStatus.WAITING,
            )
        )
    elif rule.review == ReviewGate.WAITING:
        conditions.append(BroadcastMessage.review_status == ReviewStatus.WAITING)
    if rule.due_only or rule.day_to_come:
        if today is None:
            raise ValueError(f"{change} needs today's date")
        if rule.due_only:
            conditions.append(BroadcastMessage.send_at <= today)
        if rule.day_to_come:
            conditions.append(BroadcastMessage.send_at >= today)
    statement = (
        update(BroadcastMessage)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(statement)) == 1


def delete_unless_delivering(session: Session, message_id: int) -> bool:
    """Delete the message unless it is SENT and its delivery still runs or is paused:
    some mail pending, or its audience still being queued. A cancelled one may go."""
    running = or_(BroadcastMessage.prepared.is_(False), outbox.delivering(message_id))
    statement = (
        delete(BroadcastMessage)
        .where(
            BroadcastMessage.id == message_id,
            not_(
                and_(
                    BroadcastMessage.state == MessageState.SENT,
                    or_(
                        BroadcastMessage.steering.is_(None),
                        BroadcastMessage.steering != Steering.CANCELLED,
                    ),
                    running,
                )
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(statement)) == 1


def due_scheduled_messages(session: Session, today: date) -> list[str]:
    """The messages the scheduler should send: a list to work through, not a promise;
    each send checks again (`change_state` with Change.SEND_DUE)."""
    rule = RULES[Change.SEND_DUE]
    statement = (
        select(BroadcastMessage.uuid)
        .where(
            BroadcastMessage.state.in_(rule.from_states),
            BroadcastMessage.send_at <= today,
            or_(
                BroadcastMessage.review_status.is_(None),
                BroadcastMessage.review_status != ReviewStatus.WAITING,
            ),
        )
        .order_by(BroadcastMessage.send_at, BroadcastMessage.id)
    )
    return list(session.scalars(statement))


class Messages:
    """What the delivery worker may know of messages (delivery/worker.py MessageSource):
    given to it by whoever composes the delivery process, so that the outbox
    layer never reaches into the messages' own table."""

    def contents(self, session: Session, uuids: Collection[str]) -> dict[str, MessageContent]:
        """What the worker needs to build the mail of these messages, by UUID."""
        statement = select(
            BroadcastMessage.uuid,
            BroadcastMessage.subject,
            BroadcastMessage.body,
            BroadcastMessage.send_at,
            BroadcastMessage.translations,
        ).where(BroadcastMessage.uuid.in_(list(uuids)))
        # Subject, body and every variant in one read of one row: a delivery's mail is
        # one whole variant, never a subject of one and a body of another.
        return {
            row.uuid: MessageContent(
                row.uuid, row.subject, row.body, row.send_at, _variants(row.translations)
            )
            for row in session.execute(statement)
        }

    def halted(self, session: Session, uuids: Collection[str]) -> set[str]:
        """Which of these messages staff paused or cancelled."""
        statement = select(BroadcastMessage.uuid).where(
            BroadcastMessage.uuid.in_(list(uuids)), BroadcastMessage.steering.is_not(None)
        )
        return set(session.execute(statement).scalars())

    def halted_ids(self) -> Select[Any]:
        """SQL: the ids of the messages staff paused or cancelled (few: an indexed column)."""
        return select(BroadcastMessage.id).where(BroadcastMessage.steering.is_not(None))


MESSAGES = Messages()


def _variants(translations: str | None) -> dict[str, tuple[str, str]]:
    return {
        tag: (variant["subject"], variant["body"])
        for tag, variant in orjson.loads(translations or "{}").items()
    }


def steer(
    session: Session, message_id: int, allowed: Sequence[Steering | None], to: Steering | None
) -> bool:
    """Set a SENT message's steering, only from one of `allowed` (compare-and-set)."""
    conditions = [BroadcastMessage.steering.in_([a for a in allowed if a is not None])]
    if None in allowed:
        conditions.append(BroadcastMessage.steering.is_(None))
    statement = (
        update(BroadcastMessage)
        .where(
            BroadcastMessage.id == message_id,
            BroadcastMessage.state == MessageState.SENT,
            or_(*conditions),
        )
        .values(steering=to)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(statement)) == 1


def lock_unless_cancelled(session: Session, message_id: int) -> bool:
    """Lock the message's row if it is not cancelled: a change to its deliveries that
    a cancellation must not cross (retry-failed) waits for, or sees, the cancel."""
    statement = (
        update(BroadcastMessage)
        .where(
            BroadcastMessage.id == message_id,
            or_(
                BroadcastMessage.steering.is_(None),
                BroadcastMessage.steering != Steering.CANCELLED,
            ),
        )
        .values(steering=BroadcastMessage.steering)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(statement)) == 1


def lock_for_preparation(session: Session, message_id: int) -> PreparationRecord | None:
    """The message's preparation state, its row locked until the transaction ends, so
    that two processes preparing it take turns and each batch is queued once."""
    statement = (
        select(
            BroadcastMessage.id,
            BroadcastMessage.uuid,
            BroadcastMessage.subject,
            BroadcastMessage.body,
            BroadcastMessage.query,
            BroadcastMessage.author_uuid,
            BroadcastMessage.prepared,
            BroadcastMessage.prepare_cursor,
            BroadcastMessage.steering,
            BroadcastMessage.translations,
        )
        .where(BroadcastMessage.id == message_id, BroadcastMessage.state == MessageState.SENT)
        .with_for_update()
    )
    row = session.execute(statement).first()
    return PreparationRecord(**row._mapping) if row is not None else None


def update_preparation(session: Session, message_id: int, values: dict[str, Any]) -> None:
    """Advance a preparation (its row is locked by lock_for_preparation)."""
    session.execute(
        update(BroadcastMessage)
        .where(BroadcastMessage.id == message_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def unprepared_messages(session: Session) -> list[int]:
    """Ids of the sent messages whose audience is still being queued, oldest first."""
    statement = (
        select(BroadcastMessage.id)
        .where(BroadcastMessage.state == MessageState.SENT, BroadcastMessage.prepared.is_(False))
        .order_by(BroadcastMessage.id)
    )
    return list(session.scalars(statement))


def cancelled_messages(session: Session) -> list[int]:
    statement = select(BroadcastMessage.id).where(BroadcastMessage.steering == Steering.CANCELLED)
    return list(session.scalars(statement))


def sent_before(when: datetime) -> Any:
    """SQL: the ids of the messages sent before `when`."""
    return select(BroadcastMessage.id).where(BroadcastMessage.sent < when)


def count_by_state(session: Session) -> dict[MessageState, int]:
    statement = select(BroadcastMessage.state, func.count()).group_by(BroadcastMessage.state)
    counts = {state: 0 for state in MessageState}
    for state, count in session.connection().execute(statement):
        counts[MessageState(state)] = int(count)
    return counts


def reviews_waiting(session: Session) -> tuple[int, datetime | None]:
    """How many requests for review wait, and since when the oldest (SPEC 9)."""
    row = (
        session.connection()
        .execute(
            select(func.count(), func.min(BroadcastMessage.review_requested)).where(
                BroadcastMessage.review_status == ReviewStatus.WAITING
            )
        )
        .one()
    )
    return int(row[0] or 0), row[1]
