"""Crashes and scale-out: real `herald worker` processes, killed and doubled."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from herald.core.db import Database
from tests.conftest import load_directory
from tests.delivery.helpers import (
    leased_count,
    outbox_status,
    pending_count,
    wait_for,
    worker_process,
)
from tests.factories import DirectoryBuilder
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"


def _everyone_message(api: httpx.Client, db: Database, users: int) -> list[str]:
    directory = DirectoryBuilder()
    for number in range(users):
        directory.user(f"user{number}", f"user{number}@uni{number % 7}.example")
    load_directory(db, directory.doc)
    created = api.post(
        URL, json={"subject": "All", "body": "Hello all", "query": {"all_users": True}}
    )
    assert created.status_code == 201
    uuid = created.json()["uuid"]
    assert api.post(f"{URL}{uuid}/send/").status_code == 200
    emails: list[str] = api.get(f"{URL}{uuid}/").json()["emails"]
    assert len(emails) == users + 1  # and the staff user
    return emails


def test_a_worker_killed_mid_send_loses_nobody_and_repeats_at_most_what_it_held(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, tmp_path: Path
) -> None:
    emails = _everyone_message(api, db, 2000)
    log = tmp_path / "worker.log"
    settings = {"smtp_concurrency": 20, "lease_seconds": 2}
    first = worker_process(database_url, sink.url, log, **settings)
    try:
        wait_for(lambda: sink.count() >= 400, 60, "the first 400 mails")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    in_flight = leased_count(db)
    delivered_before_restart = sink.count()
    assert delivered_before_restart < len(emails), "the kill came too late to test anything"
    print(f"killed after {delivered_before_restart} mails with {in_flight} deliveries in flight")

    second = worker_process(database_url, sink.url, log, **settings)
    try:
        wait_for(lambda: pending_count(db) == 0, 120, "the outbox to drain after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()

    per_address = sink.deliveries_per_address()
    assert set(per_address) == {e.lower() for e in emails}, "someone lost their mail"
    repeats = sum(per_address.values()) - len(per_address)
    print(f"{repeats} repeats, bound {in_flight}")
    assert repeats <= in_flight
    assert outbox_status(db) == {"sent": len(emails)}


def test_two_workers_deliver_each_address_exactly_once(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, tmp_path: Path
) -> None:
    emails = _everyone_message(api, db, 5000)
    log = tmp_path / "workers.log"
    workers = [worker_process(database_url, sink.url, log, smtp_concurrency=10) for _ in range(2)]
    try:
        wait_for(lambda: pending_count(db) == 0, 180, "the outbox to drain")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(30) for worker in workers]
    assert codes == [0, 0], log.read_text()
    per_address = sink.deliveries_per_address()
    assert len(per_address) == len(emails)
    assert set(per_address.values()) == {1}
    assert outbox_status(db) == {"sent": len(emails)}


def test_a_stopped_worker_gives_back_what_it_had_not_sent(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, tmp_path: Path
) -> None:
    emails = _everyone_message(api, db, 500)
    log = tmp_path / "worker.log"
    # one mail a second: SIGTERM arrives with most of the claimed batch untried
    worker = worker_process(database_url, sink.url, log, smtp_concurrency=5, smtp_rate=20)
    wait_for(lambda: sink.count() >= 5, 60, "the first mails")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0, log.read_text()
    assert leased_count(db) == 0, "a clean stop leaves no delivery held"
    sent = outbox_status(db).get("sent", 0)
    assert sent == sink.count() < len(emails)
