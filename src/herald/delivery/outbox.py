"""The SQL of the outbox: claiming due deliveries under a lease, recording outcomes.

A delivery is due when it is `pending`, its back-off has passed and no live
lease holds it. Claiming sets the lease in the same statement that picks the
rows; on PostgreSQL the pick is `FOR UPDATE SKIP LOCKED`, so several workers
never take the same row; SQLite has one writer at a time. A worker that dies
leaves its leases to expire, and the rows become due again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from herald.models import BroadcastMessage, Delivery

PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUSES = (PENDING, SENT, FAILED)
_TABLE = cast(Table, Delivery.__table__)


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    message_id: int
    email: str
    attempts: int
    # Set for personalised messages only (see broadcasts.service.send_message).
    full_name: str | None = None
    customers: str | None = None  # JSON array of names
    offerings: str | None = None


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: str  # SENT, FAILED, or PENDING for "try again at retry_at"
    detail: str  # the server's reply, or the error
    retry_at: datetime | None = None


def _due(now: datetime) -> Any:
    return and_(
        Delivery.status == PENDING,
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < now),
    )


def claim_due_deliveries(
    session: Session, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedDelivery]:
    picked = (
        select(Delivery.id)
        .where(_due(now))
        # No ORDER BY: any due rows will do, and the scan stops at the limit.
        # Ordered, every claim read and sorted all pending rows (8 ms per claim
        # of a 20,000-row send on PostgreSQL, hundreds of claims per send).
        # Unordered, rows come in about the order they were queued.
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it (one writer)
        .scalar_subquery()
    )
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(picked))
        .values(lease_expires_at=lease_until)
        .returning(
            Delivery.id,
            Delivery.message_id,
            Delivery.email,
            Delivery.attempts,
            Delivery.full_name,
            Delivery.customers,
            Delivery.offerings,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(statement).all()
    return sorted((ClaimedDelivery(*row) for row in rows), key=lambda d: d.id)


def record_outcomes(session: Session, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Write what happened to each mail, in one statement per kind of outcome."""
    sent = [o for o in outcomes if o.status == SENT]
    failed = [o for o in outcomes if o.status == FAILED]
    again = [o for o in outcomes if o.status == PENDING]
    if session.get_bind().dialect.name == "postgresql":
        _record_postgresql(session, sent, failed, again, now)
        return
    by_id = _TABLE.c.id == bindparam("b_id")
    common = {"attempts": _TABLE.c.attempts + 1, "lease_expires_at": None}
    if sent:
        session.execute(
            update(_TABLE)
            .where(by_id)
            .values(
                status=SENT, sent_at=now, reply=bindparam("b_detail"), last_error=None, **common
            ),
            [{"b_id": o.delivery_id, "b_detail": o.detail} for o in sent],
        )
    if failed:
        session.execute(
            update(_TABLE)
            .where(by_id)
            .values(status=FAILED, last_error=bindparam("b_detail"), **common),
            [{"b_id": o.delivery_id, "b_detail": o.detail} for o in failed],
        )
    if again:
        session.execute(
            update(_TABLE)
            .where(by_id)
            .values(
                last_error=bindparam("b_detail"), next_attempt_at=bindparam("b_retry"), **common
            ),
            [{"b_id": o.delivery_id, "b_detail": o.detail, "b_retry": o.retry_at} for o in again],
        )


# On PostgreSQL each kind of outcome is one UPDATE joined to arrays of ids and
# details: a row-by-row executemany cost the worker a quarter of its CPU there.
_PG_SENT = text(
    "UPDATE deliveries AS d SET status = 'sent', sent_at = :now, reply = v.detail,"
    " last_error = NULL, attempts = d.attempts + 1, lease_expires_at = NULL"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:details AS text[])) AS v(id, detail)"
    " WHERE d.id = v.id"
)
_PG_FAILED = text(
    "UPDATE deliveries AS d SET status = 'failed', last_error = v.detail,"
    " attempts = d.attempts + 1, lease_expires_at = NULL"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:details AS text[])) AS v(id, detail)"
    " WHERE d.id = v.id"
)
_PG_AGAIN = text(
    "UPDATE deliveries AS d SET last_error = v.detail, next_attempt_at = v.retry,"
    " attempts = d.attempts + 1, lease_expires_at = NULL"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:details AS text[]),"
    " CAST(:retries AS timestamp[])) AS v(id, detail, retry)"
    " WHERE d.id = v.id"
)


def _record_postgresql(
    session: Session,
    sent: list[Outcome],
    failed: list[Outcome],
    again: list[Outcome],
    now: datetime,
) -> None:
    def arrays(items: list[Outcome]) -> dict[str, Any]:
        return {"ids": [o.delivery_id for o in items], "details": [o.detail for o in items]}

    if sent:
        session.execute(_PG_SENT, {**arrays(sent), "now": now})
    if failed:
        session.execute(_PG_FAILED, arrays(failed))
    if again:
        session.execute(_PG_AGAIN, {**arrays(again), "retries": [o.retry_at for o in again]})


def release(session: Session, delivery_ids: Sequence[int]) -> None:
    """Give back claimed deliveries that were never tried (a clean stop)."""
    if delivery_ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(delivery_ids)), Delivery.status == PENDING)
            .values(lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


def message_contents(session: Session, message_ids: Sequence[int]) -> dict[int, Any]:
    """(uuid, subject, body, send_at) of the messages, by id."""
    statement = select(
        BroadcastMessage.id,
        BroadcastMessage.uuid,
        BroadcastMessage.subject,
        BroadcastMessage.body,
        BroadcastMessage.send_at,
    ).where(BroadcastMessage.id.in_(list(message_ids)))
    return {row.id: row for row in session.execute(statement)}


def delivery_counts(session: Session, message_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{message id: {status: count}} for a page of messages, in one grouped query."""
    if not message_ids:
        return {}
    statement = (
        select(Delivery.message_id, Delivery.status, func.count())
        .where(Delivery.message_id.in_(list(message_ids)))
        .group_by(Delivery.message_id, Delivery.status)
    )
    result: dict[int, dict[str, int]] = {}
    for message_id, status, count in session.connection().execute(statement):
        result.setdefault(message_id, {})[status] = int(count)
    return result


def count_deliveries(session: Session, message_id: int, statuses: Sequence[str]) -> int:
    statement = select(func.count()).select_from(Delivery).where(Delivery.message_id == message_id)
    if statuses:
        statement = statement.where(Delivery.status.in_(statuses))
    return int(session.scalar(statement) or 0)


def list_deliveries(
    session: Session, message_id: int, statuses: Sequence[str], offset: int, limit: int
) -> Sequence[Any]:
    statement = (
        select(
            Delivery.email,
            Delivery.status,
            Delivery.attempts,
            Delivery.last_error,
            Delivery.sent_at,
        )
        .where(Delivery.message_id == message_id)
        .order_by(Delivery.email, Delivery.id)
        .offset(offset)
        .limit(limit)
    )
    if statuses:
        statement = statement.where(Delivery.status.in_(statuses))
    return session.connection().execute(statement).all()


def retry_failed(session: Session, message_id: int, now: datetime) -> int:
    """Put a message's failed deliveries back in the queue, due now."""
    statement = (
        update(Delivery)
        .where(Delivery.message_id == message_id, Delivery.status == FAILED)
        .values(status=PENDING, next_attempt_at=now, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def people_of(session: Session, message_id: int) -> Sequence[Any]:
    """(email, full_name, customers, offerings) of a sent message's deliveries, by name."""
    statement = (
        select(Delivery.email, Delivery.full_name, Delivery.customers, Delivery.offerings)
        .where(Delivery.message_id == message_id)
        .order_by(func.lower(func.coalesce(Delivery.full_name, "")), func.lower(Delivery.email))
    )
    return session.execute(statement).all()
