"""The SQL for messages (their deliveries are the outbox's: delivery/outbox.py).

State changes are compare-and-set: each UPDATE or DELETE names the states it
may start from and the caller checks the row count, so two requests racing
on one message cannot both win.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, not_, select, update
from sqlalchemy.orm import Session

from herald.delivery import outbox
from herald.delivery.worker import MessageContent
from herald.models import BroadcastMessage, MessageState

_COLUMNS = (
    BroadcastMessage.id,
    BroadcastMessage.uuid,
    BroadcastMessage.created,
    BroadcastMessage.subject,
    BroadcastMessage.body,
    BroadcastMessage.query,
    BroadcastMessage.author_uuid,
    BroadcastMessage.author_full_name,
    BroadcastMessage.emails,
    BroadcastMessage.state,
    BroadcastMessage.send_at,
)
_ORDER_COLUMNS = {
    "created": BroadcastMessage.created,
    "subject": BroadcastMessage.subject,
    "author_full_name": BroadcastMessage.author_full_name,
}


def _filters(states: Sequence[str], subject: str | None) -> list[Any]:
    conditions: list[Any] = []
    if states:
        conditions.append(BroadcastMessage.state.in_(states))
    if subject:
        conditions.append(BroadcastMessage.subject.icontains(subject, autoescape=True))
    return conditions


def count_messages(session: Session, states: Sequence[str], subject: str | None) -> int:
    statement = select(func.count()).select_from(BroadcastMessage).where(*_filters(states, subject))
    return int(session.connection().execute(statement).scalar() or 0)


def list_messages(
    session: Session,
    states: Sequence[str],
    subject: str | None,
    ordering: Sequence[str],
    offset: int,
    limit: int,
) -> Sequence[Any]:
    order_by: list[Any] = []
    for name in ordering:
        column = _ORDER_COLUMNS[name.lstrip("-")]
        order_by.append(column.desc() if name.startswith("-") else column.asc())
    # A unique last key keeps pages stable when the named keys tie.
    last_descending = bool(ordering) and ordering[-1].startswith("-")
    order_by.append(BroadcastMessage.id.desc() if last_descending else BroadcastMessage.id.asc())
    statement = (
        select(*_COLUMNS)
        .where(*_filters(states, subject))
        .order_by(*order_by)
        .offset(offset)
        .limit(limit)
    )
    # Core rows, not ORM ones: a page is read-only and this is the hottest query.
    return session.connection().execute(statement).all()


def get_message(session: Session, uuid: str) -> Any:
    return session.execute(select(*_COLUMNS).where(BroadcastMessage.uuid == uuid)).first()


def insert_message(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(BroadcastMessage).values(**values))


def update_in_states(
    session: Session, message_id: int, states: Sequence[str], values: dict[str, Any]
) -> bool:
    """Apply `values` only if the message is still in one of `states`."""
    statement = (
        update(BroadcastMessage)
        .where(BroadcastMessage.id == message_id, BroadcastMessage.state.in_(states))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]


def delete_unless_delivering(session: Session, message_id: int) -> bool:
    """Delete the message unless it is SENT and some of its mail is still pending."""
    statement = (
        delete(BroadcastMessage)
        .where(
            BroadcastMessage.id == message_id,
            not_(and_(BroadcastMessage.state == MessageState.SENT, outbox.delivering(message_id))),
        )
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]


def due_scheduled_messages(session: Session, today: date) -> list[str]:
    statement = (
        select(BroadcastMessage.uuid)
        .where(BroadcastMessage.state == MessageState.SCHEDULED, BroadcastMessage.send_at <= today)
        .order_by(BroadcastMessage.send_at, BroadcastMessage.id)
    )
    return list(session.scalars(statement))


def message_contents(session: Session, uuids: Collection[str]) -> dict[str, MessageContent]:
    """What the delivery worker needs to build the mail of these messages, by UUID."""
    statement = select(
        BroadcastMessage.uuid,
        BroadcastMessage.subject,
        BroadcastMessage.body,
        BroadcastMessage.send_at,
    ).where(BroadcastMessage.uuid.in_(list(uuids)))
    return {row.uuid: MessageContent(*row) for row in session.execute(statement)}


def sent_before(when: datetime) -> Any:
    """SQL: the ids of the messages sent before `when`."""
    return select(BroadcastMessage.id).where(BroadcastMessage.sent < when)


def count_by_state(session: Session) -> dict[MessageState, int]:
    statement = select(BroadcastMessage.state, func.count()).group_by(BroadcastMessage.state)
    counts = {state: 0 for state in MessageState}
    for state, count in session.connection().execute(statement):
        counts[MessageState(state)] = int(count)
    return counts
