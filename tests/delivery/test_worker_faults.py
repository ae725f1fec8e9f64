"""The worker against a transport that misbehaves on purpose, on a real database.

Each test injects one failure (an exception, a hang, a 4xx, a 5xx, a message
that no longer renders, a late outcome, a task that dies, a slow relay) and
checks what staff would see: every delivery ends in a recorded outcome with
the reason, and the rest of the queue keeps moving.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from herald.broadcasts.repository import MESSAGES
from herald.core.clock import utc_now
from herald.core.config import Settings
from herald.core.db import Database
from herald.delivery import outbox
from herald.delivery.transport import DeliveryError
from herald.delivery.worker import CACHED_MESSAGES, DeliveryWorker, WorkerCrashed
from tests.delivery.helpers import FAST, outbox_status
from tests.messages import send_message, to

URL = "/api/broadcast-messages/"
ADDRESSES = [f"user{n}@faults.example" for n in range(6)]

Behaviour = Callable[[str, int], Awaitable[str]]


class FaultyTransport:
    """Calls `behaviour(recipient, try number)` for each mail; counts the tries."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.tries: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.closed = False

    async def send(self, sender: str, recipient: str, data: bytes, name: str) -> str:
        self.tries[recipient] += 1
        reply = await self.behaviour(recipient, self.tries[recipient])
        self.accepted[recipient] += 1
        return reply

    async def close(self) -> None:
        self.closed = True


async def _accept(recipient: str, attempt: int) -> str:
    return "250 ok"


def _settings(database_url: str, **overrides: Any) -> Settings:
    values = {**FAST, "smtp_concurrency": 3, "max_attempts": 4, **overrides}
    return Settings(database_url=database_url, smtp_url="file:///nonexistent", **values)


def _send(api: httpx.Client, subject: str = "Faults", body: str = "Body", emails=ADDRESSES) -> str:
    return send_message(api, subject, body, to(emails))


def _run(worker: DeliveryWorker, until: Callable[[], bool], timeout: float = 30) -> None:
    """Run the worker until `until()` holds, then stop it as SIGTERM would."""

    async def main() -> None:
        task = asyncio.create_task(worker.run())
        deadline = asyncio.get_running_loop().time() + timeout
        while not until():
            if task.done():
                break
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)
        worker.stopping.set()
        await task

    asyncio.run(main())


def _rows(db: Database) -> list[Any]:
    with db.transaction(write=False) as session:
        return list(
            session.execute(
                text(
                    "SELECT email, status, attempts, last_error, lease_owner FROM deliveries"
                    " ORDER BY email"
                )
            )
        )


def _drained(db: Database) -> Callable[[], bool]:
    return lambda: outbox_status(db).get("pending", 0) == 0


def test_an_exception_from_the_transport_is_a_recorded_retry_and_logged(
    api: httpx.Client, db: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _send(api)

    async def disk_full_once(recipient: str, attempt: int) -> str:
        if attempt == 1:
            raise OSError(28, "No space left on device")
        return "250 ok"

    transport = FaultyTransport(disk_full_once)
    worker = DeliveryWorker(_settings(database_url), db, transport, MESSAGES)
    with caplog.at_level(logging.WARNING, logger="herald.delivery"):
        _run(worker, _drained(db))
    assert outbox_status(db) == {"sent": len(ADDRESSES)}
    assert all(row.attempts == 2 for row in _rows(db))
    assert transport.tries == Counter({address: 2 for address in ADDRESSES})
    deferred = [r for r in caplog.records if "deferred" in r.getMessage()]
    assert len(deferred) == len(ADDRESSES)
    assert "No space left on device" in deferred[0].getMessage()
    assert transport.closed


def test_more_exceptions_than_senders_do_not_stop_delivery(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    """Before, each exception killed a sender task silently; after three, nothing moved."""
    _send(api)

    async def broken_twice(recipient: str, attempt: int) -> str:
        if attempt <= 2:
            raise RuntimeError("a bug in a transport")
        return "250 ok"

    worker = DeliveryWorker(
        _settings(database_url, smtp_concurrency=2), db, FaultyTransport(broken_twice),
        MESSAGES,
    )  # fmt: skip
    _run(worker, _drained(db))
    assert outbox_status(db) == {"sent": len(ADDRESSES)}
    assert {row.last_error for row in _rows(db)} == {None}


def test_a_transport_that_hangs_is_given_up_on_and_retried(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    _send(api, emails=ADDRESSES[:2])

    async def hang_once(recipient: str, attempt: int) -> str:
        if attempt == 1:
            await asyncio.sleep(3600)
        return "250 ok"

    settings = _settings(database_url, smtp_timeout=0.1)  # the deadline is 5 × 0.1 s
    worker = DeliveryWorker(settings, db, FaultyTransport(hang_once), MESSAGES)
    _run(worker, _drained(db))
    assert outbox_status(db) == {"sent": 2}
    assert all(row.attempts == 2 for row in _rows(db))


def test_4xx_is_retried_and_5xx_fails_at_once_with_the_reply(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    _send(api, emails=ADDRESSES[:2])
    refused, greylisted = ADDRESSES[0], ADDRESSES[1]

    async def relay(recipient: str, attempt: int) -> str:
        if recipient == refused:
            raise DeliveryError("550 5.1.1 no such mailbox", permanent=True)
        if attempt < 3:
            raise DeliveryError("451 4.7.1 greylisted", permanent=False)
        return "250 ok"

    transport = FaultyTransport(relay)
    worker = DeliveryWorker(_settings(database_url), db, transport, MESSAGES)
    _run(worker, _drained(db))
    rows = {row.email: row for row in _rows(db)}
    assert (rows[refused].status, rows[refused].attempts) == ("failed", 1)
    assert rows[refused].last_error == "550 5.1.1 no such mailbox"
    assert (rows[greylisted].status, rows[greylisted].attempts) == ("sent", 3)
    assert transport.tries[refused] == 1


def test_a_temporary_failure_fails_once_attempts_run_out(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    _send(api, emails=ADDRESSES[:1])

    async def always_busy(recipient: str, attempt: int) -> str:
        raise DeliveryError("421 too busy", permanent=False)

    worker = DeliveryWorker(
        _settings(database_url, max_attempts=3), db, FaultyTransport(always_busy), MESSAGES
    )
    _run(worker, _drained(db))
    [row] = _rows(db)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "421 too busy (gave up after 3 attempts)"


def test_a_message_that_no_longer_renders_fails_alone_and_others_go_out(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    good = _send(api, subject="Good", emails=ADDRESSES[:3])
    broken = _send(
        api, subject="Broken", body="Dear {{ recipient.full_name }}", emails=ADDRESSES[3:]
    )
    # As if a later release had dropped a filter this stored body uses.
    with db.transaction() as session:
        session.execute(
            text("UPDATE broadcast_messages SET body = :b WHERE uuid = :u"),
            {"b": "Dear {{ recipient.full_name | removed_filter }}", "u": broken},
        )
    transport = FaultyTransport(_accept)
    worker = DeliveryWorker(_settings(database_url), db, transport, MESSAGES)
    _run(worker, _drained(db))
    rows = {row.email: row for row in _rows(db)}
    for address in ADDRESSES[:3]:
        assert rows[address].status == "sent"
    for address in ADDRESSES[3:]:
        row = rows[address]
        assert (row.status, row.attempts, row.lease_owner) == ("failed", 1, None)
        assert "cannot be rendered" in row.last_error
        assert "removed_filter" in row.last_error
    assert set(transport.accepted) == set(ADDRESSES[:3])
    assert good != broken


def test_a_late_outcome_never_overwrites_a_final_one(
    api: httpx.Client, db: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker whose lease expired and was taken over reports afterwards: not applied."""
    _send(api, emails=ADDRESSES[:1])

    async def taken_over_meanwhile(recipient: str, attempt: int) -> str:
        def another_worker_finished_it() -> None:
            with db.transaction() as session:
                session.execute(
                    text(
                        "UPDATE deliveries SET status = 'sent', reply = '250 by the other',"
                        " lease_owner = NULL, lease_expires_at = NULL"
                    )
                )

        await asyncio.to_thread(another_worker_finished_it)
        raise DeliveryError("550 late refusal", permanent=True)

    worker = DeliveryWorker(
        _settings(database_url), db, FaultyTransport(taken_over_meanwhile), MESSAGES
    )
    with caplog.at_level(logging.WARNING, logger="herald.delivery"):
        _run(worker, lambda: worker.stale_outcomes > 0)
    with db.transaction(write=False) as session:
        row = session.execute(
            text("SELECT status, reply, last_error, attempts FROM deliveries")
        ).one()
    assert tuple(row) == ("sent", "250 by the other", None, 0)
    assert worker.stale_outcomes == 1
    assert any("not recorded" in r.getMessage() for r in caplog.records)


def test_outcomes_are_guarded_by_the_lease_owner(db: Database, api: httpx.Client) -> None:
    """The outbox's own guard, statement by statement."""
    _send(api, emails=ADDRESSES[:1])
    now = utc_now()
    with db.transaction() as session:
        [first] = outbox.claim_due_deliveries(
            session, now, now, 10, "worker-a", MESSAGES.halted_ids()
        )
    later = now + timedelta(seconds=1)  # worker-a's lease has expired
    with db.transaction() as session:
        [second] = outbox.claim_due_deliveries(
            session, later, later + timedelta(minutes=5), 10, "worker-b", MESSAGES.halted_ids()
        )
        assert second.id == first.id
    with db.transaction() as session:
        sent = outbox.Outcome(first.id, outbox.SENT, "250 b")
        assert outbox.record_outcomes(session, [sent], later, "worker-b") == 1
    with db.transaction() as session:
        late = outbox.Outcome(first.id, outbox.FAILED, "550 a")
        assert outbox.record_outcomes(session, [late], later, "worker-a") == 0
    [row] = _rows(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


class Boom(BaseException):
    """Something no envelope should swallow: it must stop the worker loudly."""


def test_a_dead_sender_stops_the_worker_loudly_and_its_delivery_is_recorded(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    _send(api, emails=ADDRESSES[:1])

    async def explode(recipient: str, attempt: int) -> str:
        raise Boom("a sender task died")

    worker = DeliveryWorker(_settings(database_url), db, FaultyTransport(explode), MESSAGES)
    with pytest.raises(WorkerCrashed, match="a sender task died"):
        _run(worker, lambda: False)
    [row] = _rows(db)
    # The envelope recorded the attempt: retried later, by whichever worker comes next.
    assert (row.status, row.attempts, row.lease_owner) == ("pending", 1, None)
    assert row.last_error == "interrupted while sending"


def test_leases_are_renewed_while_a_slow_relay_holds_the_mail(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    """A lease shorter than one send no longer lets another worker take the mail."""
    _send(api, emails=ADDRESSES[:2])
    stolen: list[int] = []

    async def slow(recipient: str, attempt: int) -> str:
        for _ in range(5):  # 2.5 s on the wire, five leases long
            await asyncio.sleep(0.5)

            def other_worker_claims() -> None:
                now = utc_now()
                with db.transaction() as session:
                    got = outbox.claim_due_deliveries(
                        session, now, now, 10, "intruder", MESSAGES.halted_ids()
                    )
                stolen.extend(d.id for d in got)

            await asyncio.to_thread(other_worker_claims)
        return "250 ok"

    settings = _settings(database_url, lease_seconds=0.5)
    worker = DeliveryWorker(settings, db, FaultyTransport(slow), MESSAGES)
    _run(worker, _drained(db))
    assert stolen == []
    assert outbox_status(db) == {"sent": 2}


def test_worker_memory_is_bounded_whatever_the_number_of_messages(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    """More messages than the cache keeps, claimed together in one round (80 rows)."""
    count = 2 * CACHED_MESSAGES + 8
    for number in range(count):
        _send(api, subject=f"Message {number}", emails=ADDRESSES[number % 2 : number % 2 + 1])
    transport = FaultyTransport(_accept)
    settings = _settings(database_url, smtp_concurrency=20, lease_seconds=600)
    worker = DeliveryWorker(settings, db, transport, MESSAGES)
    _run(worker, _drained(db), timeout=20)
    assert outbox_status(db) == {"sent": count}
    assert len(worker.mail) <= CACHED_MESSAGES
    assert sum(transport.accepted.values()) == count
