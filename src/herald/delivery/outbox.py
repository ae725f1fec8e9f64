"""The outbox: every statement on the `deliveries` table lives here.

A delivery is one message to one address. It is due when it is `pending`,
its back-off has passed and no live lease holds it. Claiming sets the lease
and its owner (one worker run) in the statement that picks the rows; on
PostgreSQL the pick is `FOR UPDATE SKIP LOCKED`, so several workers never
take the same row; SQLite has one writer at a time. A worker that dies
leaves its leases to expire, and the rows become due again.

Outcomes are guarded: one is written only where the row is still `pending`
and still leased by the worker that reports it, so a late answer from a
worker whose lease expired can never overwrite a final status. The worker
renews the leases it holds while it holds them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

import orjson
from sqlalchemy import (
    DateTime,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from herald.core.addresses import email_key
from herald.core.db import json_array, rowcount
from herald.core.languages import variant_of
from herald.core.models import Delivery, DeliveryStatus
from herald.delivery.mail import Person
from herald.suppressions import repository as suppressions

PENDING, SENT, FAILED = DeliveryStatus.PENDING, DeliveryStatus.SENT, DeliveryStatus.FAILED
CANCELLED = DeliveryStatus.CANCELLED
BOUNCED, SUPPRESSED = DeliveryStatus.BOUNCED, DeliveryStatus.SUPPRESSED
STATUSES = tuple(DeliveryStatus)
_TABLE = cast(Table, Delivery.__table__)
# Rows are written in batches so a 100,000-address send does not build one giant statement.
_BATCH = 5000


# --- the frozen recipient: one codec for the three columns -------------------


def person_columns(person: Person) -> dict[str, str]:
    """A recipient's name and organisations as stored on the delivery at send time."""
    return {
        "full_name": person.full_name,
        "customers": orjson.dumps(list(person.customers)).decode(),
        "offerings": orjson.dumps(list(person.offerings)).decode(),
    }


def person_from_columns(
    full_name: str | None, customers: str | None, offerings: str | None
) -> Person | None:
    """The recipient frozen on a delivery, or None for a message without placeholders."""
    if full_name is None and customers is None and offerings is None:
        return None
    return Person(
        full_name or "",
        tuple(orjson.loads(customers or "[]")),
        tuple(orjson.loads(offerings or "[]")),
    )


# --- typed rows crossing into the worker ---------------------------------------


@dataclass(frozen=True)
class MessageContent:
    """What the worker needs of a message to build its mail."""

    uuid: str
    subject: str
    body: str
    send_at: date | None
    # Its translations (SPEC 2.3): tag -> (subject, body).
    variants: dict[str, tuple[str, str]] = field(default_factory=dict)

    def variant(self, language: str | None) -> tuple[str, str] | None:
        """The subject and body of one variant (None: the default), whole; None when
        the message has no such variant."""
        if language is None:
            return self.subject, self.body
        return self.variants.get(language)


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    message_uuid: str
    email: str
    attempts: int  # tries before this one
    person: Person | None = None  # set for personalised messages only
    language: str | None = None  # the variant it is sent in (SPEC 2.3); None: the default


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: DeliveryStatus  # SENT, FAILED, or PENDING for "try again at retry_at"
    detail: str  # the server's reply, or the error
    retry_at: datetime | None = None

    def __post_init__(self) -> None:
        # A relay's reply may hold anything (NUL, lone surrogates from a Latin-1
        # decode): stored as it is, PostgreSQL would refuse the whole round of
        # outcomes, over and over. Keep it readable and storable, and short.
        safe = self.detail.replace("\x00", "\\0")
        safe = safe.encode("utf-8", "backslashreplace").decode("utf-8")[:2000]
        object.__setattr__(self, "detail", safe)


# --- queueing (the sender's transaction) ---------------------------------------


def queue_deliveries(
    session: Session,
    message_id: int,
    message_uuid: str,
    people: Sequence[tuple[str, Person, str | None]],
    now: datetime,
    status: DeliveryStatus = PENDING,
) -> int:
    """One row per (address, who they are, the variant they read) of a personalised
    message, the person frozen on the row, in the caller's transaction; a suppressed
    address is queued as `suppressed`. Returns how many."""
    for start in range(0, len(people), _BATCH):
        rows = []
        chunk = people[start : start + _BATCH]
        suppressed = suppressions.suppressed_among(session, {email_key(e) for e, _, _ in chunk})
        for email, person, language in chunk:
            row: dict[str, Any] = {
                "message_id": message_id,
                "message_uuid": message_uuid,
                "email": email,
                "status": SUPPRESSED if email_key(email) in suppressed else status,
                "attempts": 0,
                "next_attempt_at": now,
                "language": language,
            }
            row.update(person_columns(person))
            rows.append(row)
        session.execute(insert(_TABLE), rows)
    return len(people)


def queue_selected(
    session: Session,
    message_id: int,
    message_uuid: str,
    addresses: Select[Any],
    now: datetime,
    status: DeliveryStatus = PENDING,
    variants: Collection[str] = (),
) -> int:
    """One row per address that `addresses` (a query with `key`, `email` and
    `language` columns) yields, inserted by the database itself: no address passes
    through Python. A suppressed address is queued as `suppressed` (one primary-key
    probe each); each row records the variant its reader gets (SPEC 2.3), chosen
    in the same statement."""
    rows = addresses.subquery("addresses")
    source = select(
        literal(message_id),
        literal(message_uuid),
        rows.c.email,
        case(
            (suppressions.is_suppressed(rows.c.key), literal(SUPPRESSED.value)),
            else_=literal(status.value),
        ),
        literal(0),
        literal(now, DateTime),
        variant_of(rows.c.language, variants),
    )
    statement = insert(_TABLE).from_select(
        ["message_id", "message_uuid", "email", "status", "attempts", "next_attempt_at",
         "language"],
        source,
    )  # fmt: skip
    return rowcount(session.execute(statement))


def addresses_json(session: Session, message_id: int) -> Any:
    """SQL: the message's delivery addresses, ordered by key, as a JSON array (text)."""
    key = func.lower(Delivery.email)
    ordered = (
        select(key.label("key"), Delivery.email)
        .where(Delivery.message_id == message_id)
        .order_by(key)
        .subquery("ordered")
    )
    return select(json_array(session, ordered.c.email, ordered.c.key)).scalar_subquery()


def messages_with(status: DeliveryStatus) -> Select[Any]:
    """SQL: the ids of the messages with at least one delivery in `status`."""
    return select(Delivery.message_id).where(Delivery.status == status)


def cancel_unleased(session: Session, message_ids: Sequence[int], now: datetime) -> int:
    """Cancel the pending deliveries of these messages that no worker holds: never sent.
    A held one is queued in a worker (which gives it back when it sees the
    cancellation) or on the wire (which keeps the relay's answer)."""
    if not message_ids:
        return 0
    statement = (
        update(Delivery)
        .where(
            Delivery.message_id.in_(list(message_ids)),
            Delivery.status == PENDING,
            or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < now),
        )
        .values(status=CANCELLED, lease_expires_at=None, lease_owner=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(statement))


def held_deliveries(session: Session, message_id: int, now: datetime) -> int:
    """How many of the message's pending deliveries a live worker holds right now."""
    statement = (
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.message_id == message_id,
            Delivery.status == PENDING,
            Delivery.lease_expires_at >= now,
        )
    )
    return int(session.connection().execute(statement).scalar() or 0)


def delivering(message_id: Any) -> Any:
    """SQL: whether any delivery of the message is still pending (for a guarded delete)."""
    return exists().where(Delivery.message_id == message_id, Delivery.status == PENDING)


# --- the worker's statements ---------------------------------------------------


def _due(now: datetime) -> Any:
    return and_(
        Delivery.status == PENDING,
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < now),
    )


def claim_due_deliveries(
    session: Session,
    now: datetime,
    lease_until: datetime,
    limit: int,
    owner: str,
    halted_messages: Select[Any],
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries, none of a message in `halted_messages`
    (SQL: ids of the messages staff paused or cancelled)."""
    picked = (
        select(Delivery.id)
        .where(_due(now), Delivery.message_id.not_in(halted_messages))
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
        .values(lease_expires_at=lease_until, lease_owner=owner)
        .returning(
            Delivery.id,
            Delivery.message_uuid,
            Delivery.email,
            Delivery.attempts,
            Delivery.full_name,
            Delivery.customers,
            Delivery.offerings,
            Delivery.language,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = [
        ClaimedDelivery(
            row.id, row.message_uuid, row.email, row.attempts,
            person_from_columns(row.full_name, row.customers, row.offerings), row.language,
        )
        for row in session.execute(statement)
    ]  # fmt: skip
    claimed = _without_suppressed(session, claimed, owner)
    return sorted(claimed, key=lambda d: d.id)


def _without_suppressed(
    session: Session, claimed: list[ClaimedDelivery], owner: str
) -> list[ClaimedDelivery]:
    """Deliveries queued before their address was suppressed are never sent: marked
    `suppressed` here, in the claim's transaction, and left out of the claim."""
    if not claimed:
        return claimed
    suppressed = suppressions.suppressed_among(session, {email_key(d.email) for d in claimed})
    if not suppressed:
        return claimed
    dropped = [d.id for d in claimed if email_key(d.email) in suppressed]
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(dropped), Delivery.lease_owner == owner)
        .values(status=SUPPRESSED, lease_expires_at=None, lease_owner=None)
        .execution_options(synchronize_session=False)
    )
    return [d for d in claimed if email_key(d.email) not in suppressed]


def renew_leases(
    session: Session, delivery_ids: Iterable[int], owner: str, lease_until: datetime
) -> int:
    """Extend the leases this worker still holds (queued or on the wire); returns how many."""
    ids = list(delivery_ids)
    if not ids:
        return 0
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == PENDING, Delivery.lease_owner == owner)
        .values(lease_expires_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(statement))


def record_outcomes(
    session: Session, outcomes: Sequence[Outcome], now: datetime, owner: str
) -> int:
    """Write what happened to each mail, in one statement per kind of outcome.

    Only rows still pending and leased by `owner` are written; returns how
    many were. The rest are stale (the lease expired and another worker took
    the row, or it was already final) and are left exactly as they are."""
    sent = [o for o in outcomes if o.status == SENT]
    failed = [o for o in outcomes if o.status == FAILED]
    again = [o for o in outcomes if o.status == PENDING]
    if session.get_bind().dialect.name == "postgresql":
        return _record_postgresql(session, sent, failed, again, now, owner)
    guarded = and_(
        _TABLE.c.id == bindparam("b_id"),
        _TABLE.c.status == PENDING,
        _TABLE.c.lease_owner == bindparam("b_owner"),
    )
    common = {"attempts": _TABLE.c.attempts + 1, "lease_expires_at": None, "lease_owner": None}
    applied = 0
    for items, values in (
        (
            sent,
            {"status": SENT, "sent_at": now, "reply": bindparam("b_detail"), "last_error": None},
        ),
        (failed, {"status": FAILED, "last_error": bindparam("b_detail")}),
        (again, {"last_error": bindparam("b_detail"), "next_attempt_at": bindparam("b_retry")}),
    ):
        if items:
            result = session.execute(
                update(_TABLE).where(guarded).values(**values, **common),
                [
                    {"b_id": o.delivery_id, "b_detail": o.detail, "b_retry": o.retry_at,
                     "b_owner": owner}
                    for o in items
                ],
            )  # fmt: skip
            applied += rowcount(result)
    return applied


# On PostgreSQL each kind of outcome is one UPDATE joined to arrays of ids and
# details: a row-by-row executemany cost the worker a quarter of its CPU there.
_PG_GUARD = " WHERE d.id = v.id AND d.status = :pending AND d.lease_owner = :owner"
_PG_DONE = "attempts = d.attempts + 1, lease_expires_at = NULL, lease_owner = NULL"
_PG_SENT = text(
    f"UPDATE deliveries AS d SET status = :sent, sent_at = :now, reply = v.detail,"
    f" last_error = NULL, {_PG_DONE}"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:details AS text[])) AS v(id, detail)" + _PG_GUARD
)
_PG_FAILED = text(
    f"UPDATE deliveries AS d SET status = :failed, last_error = v.detail, {_PG_DONE}"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:details AS text[])) AS v(id, detail)" + _PG_GUARD
)
_PG_AGAIN = text(
    f"UPDATE deliveries AS d SET last_error = v.detail, next_attempt_at = v.retry, {_PG_DONE}"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:details AS text[]),"
    " CAST(:retries AS timestamp[])) AS v(id, detail, retry)" + _PG_GUARD
)


# The statuses the statements above name, bound like any value.
_PG_STATUSES = {"pending": PENDING.value, "sent": SENT.value, "failed": FAILED.value}


def _record_postgresql(
    session: Session,
    sent: list[Outcome],
    failed: list[Outcome],
    again: list[Outcome],
    now: datetime,
    owner: str,
) -> int:
    def arrays(items: list[Outcome]) -> dict[str, Any]:
        return {
            "ids": [o.delivery_id for o in items],
            "details": [o.detail for o in items],
            "owner": owner,
            **_PG_STATUSES,
        }

    applied = 0
    if sent:
        applied += rowcount(session.execute(_PG_SENT, {**arrays(sent), "now": now}))
    if failed:
        applied += rowcount(session.execute(_PG_FAILED, arrays(failed)))
    if again:
        retries = [o.retry_at for o in again]
        applied += rowcount(session.execute(_PG_AGAIN, {**arrays(again), "retries": retries}))
    return int(applied)


def release(session: Session, delivery_ids: Sequence[int], owner: str) -> None:
    """Give back claimed deliveries that were never tried (a clean stop)."""
    if delivery_ids:
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(list(delivery_ids)),
                Delivery.status == PENDING,
                Delivery.lease_owner == owner,
            )
            .values(lease_expires_at=None, lease_owner=None)
            .execution_options(synchronize_session=False)
        )


# --- what staff see and do -----------------------------------------------------


def delivery_counts(
    session: Session, message_ids: Sequence[int]
) -> dict[int, dict[DeliveryStatus, int]]:
    """{message id: {status: count}} for a page of messages, in one grouped query."""
    if not message_ids:
        return {}
    statement = (
        select(Delivery.message_id, Delivery.status, func.count())
        .where(Delivery.message_id.in_(list(message_ids)))
        .group_by(Delivery.message_id, Delivery.status)
    )
    result: dict[int, dict[DeliveryStatus, int]] = {}
    for message_id, status, count in session.connection().execute(statement):
        result.setdefault(message_id, {})[DeliveryStatus(status)] = int(count)
    return result


def queue_stats(
    session: Session, now: datetime
) -> tuple[dict[DeliveryStatus, int], datetime | None]:
    """Deliveries by status across all messages, and when the oldest due one became due."""
    counts = {status: 0 for status in DeliveryStatus}
    statement = select(Delivery.status, func.count()).group_by(Delivery.status)
    for status, count in session.connection().execute(statement):
        counts[DeliveryStatus(status)] = int(count)
    oldest = (
        session.connection()
        .execute(
            select(func.min(Delivery.next_attempt_at)).where(
                Delivery.status == PENDING, Delivery.next_attempt_at <= now
            )
        )
        .scalar()
    )
    return counts, oldest


def _in_variant(language: str | None) -> list[Any]:
    """Only the deliveries sent in one variant: a tag, or "" for the default."""
    if language is None:
        return []
    return [Delivery.language.is_(None) if language == "" else Delivery.language == language]


def count_deliveries(
    session: Session,
    message_id: int,
    statuses: Sequence[DeliveryStatus],
    language: str | None = None,
) -> int:
    statement = select(func.count()).select_from(Delivery).where(Delivery.message_id == message_id)
    if statuses:
        statement = statement.where(Delivery.status.in_(statuses))
    statement = statement.where(*_in_variant(language))
    return int(session.scalar(statement) or 0)


def list_deliveries(
    session: Session,
    message_id: int,
    statuses: Sequence[DeliveryStatus],
    offset: int,
    limit: int,
    language: str | None = None,
) -> Sequence[Any]:
    statement = (
        select(
            Delivery.id,
            Delivery.email,
            Delivery.status,
            Delivery.attempts,
            Delivery.last_error,
            Delivery.sent_at,
            Delivery.language,
        )
        .where(Delivery.message_id == message_id, *_in_variant(language))
        .order_by(Delivery.email, Delivery.id)
        .offset(offset)
        .limit(limit)
    )
    if statuses:
        statement = statement.where(Delivery.status.in_(statuses))
    return session.connection().execute(statement).all()


def retry_failed(session: Session, message_id: int, now: datetime) -> int:
    """Put a message's failed deliveries back in the queue, due now, each with a
    fresh budget of attempts (a relay outage may have used the old one up)."""
    statement = (
        update(Delivery)
        .where(Delivery.message_id == message_id, Delivery.status == FAILED)
        .values(
            status=PENDING, attempts=0, next_attempt_at=now, lease_expires_at=None, lease_owner=None
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(statement))


def prune_finished(session: Session, message_ids: Any) -> int:
    """Delete the finished (sent or failed) deliveries of these messages (ids, or a
    subquery of ids); pending ones stay, since they are still to be sent."""
    statement = delete(Delivery).where(
        Delivery.message_id.in_(message_ids), Delivery.status != PENDING
    )
    return rowcount(session.execute(statement))


def person_of(
    session: Session, message_id: int, email: str | None
) -> tuple[str, Person, str | None] | None:
    """(address, who they are, the variant sent) of one of a message's deliveries: the
    one to `email`, or the first by name."""
    statement = select(
        Delivery.email, Delivery.full_name, Delivery.customers, Delivery.offerings,
        Delivery.language,
    )  # fmt: skip
    statement = statement.where(Delivery.message_id == message_id)
    if email is not None:
        statement = statement.where(func.lower(Delivery.email) == email_key(email))
    statement = statement.order_by(
        func.lower(func.coalesce(Delivery.full_name, "")), func.lower(Delivery.email)
    ).limit(1)
    row = session.execute(statement).first()
    if row is None:
        return None
    person = person_from_columns(row.full_name, row.customers, row.offerings) or Person()
    return row.email, person, row.language


# --- bounces (SPEC 4.2) -------------------------------------------------------


@dataclass(frozen=True)
class BouncedDelivery:
    id: int
    email: str
    message_uuid: str


def delivery_by_id(session: Session, delivery_id: int) -> BouncedDelivery | None:
    row = session.execute(
        select(Delivery.id, Delivery.email, Delivery.message_uuid).where(Delivery.id == delivery_id)
    ).first()
    return BouncedDelivery(row.id, row.email, row.message_uuid) if row is not None else None


def delivery_to(session: Session, message_uuid: str, email: str) -> BouncedDelivery | None:
    """One message's delivery to an address (a bounce reported by webhook)."""
    row = session.execute(
        select(Delivery.id, Delivery.email, Delivery.message_uuid)
        .where(
            Delivery.message_uuid == message_uuid, func.lower(Delivery.email) == email_key(email)
        )
        .limit(1)
    ).first()
    return BouncedDelivery(row.id, row.email, row.message_uuid) if row is not None else None


def mark_bounced(session: Session, delivery_id: int, reason: str) -> bool:
    """A mail the relay accepted came back: `bounced`, with the code and diagnostic.
    Only a sent delivery bounces (a late report never revives a cancelled one)."""
    statement = (
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_([SENT, BOUNCED]))
        .values(status=BOUNCED, last_error=reason[:2000])
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(statement)) > 0
