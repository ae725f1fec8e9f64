"""What recipients get after deletes, outages and broken disks (SPEC 4), end to end.

A real `herald` worker (in a thread, stopped as SIGTERM stops it) sends
through a real SMTP server or the file transport; staff act through the API.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from herald.core.db import Database
from tests.delivery.helpers import WorkerThread, outbox_status, settings_for, wait_for
from tests.messages import send_message, to
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"


def _send(api: httpx.Client, subject: str, body: str, emails: list[str]) -> str:
    return send_message(api, subject, body, to(emails))


def test_a_recipient_never_gets_a_deleted_messages_content(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    """SQLite used to give a deleted message's id to the next message, and the
    worker's cache, keyed by that id, sent the first content to the second audience."""
    with WorkerThread(settings_for(database_url, sink.url)):
        first = _send(api, "First message", "First body", ["first@example.org"])
        wait_for(lambda: sink.count() == 1, 30, "the first mail")
        wait_for(lambda: outbox_status(db) == {"sent": 1}, 30, "the first outcome")
        assert api.delete(f"{URL}{first}/").status_code == 204
        second = _send(api, "Second message", "Second body", ["second@example.org"])
        wait_for(lambda: sink.count() == 2, 30, "the second mail")
    mail = {r.recipients[0]: r.message for r in sink.received}
    assert mail["second@example.org"]["Subject"] == "Second message"
    assert "Second body" in mail["second@example.org"].get_content()
    assert second in mail["second@example.org"]["Message-ID"]
    assert first not in mail["second@example.org"]["Message-ID"]
    with db.transaction(write=False) as session:
        ids = session.execute(text("SELECT id FROM broadcast_messages")).scalars().all()
    assert len(ids) == 1


def test_retry_failed_gives_a_fresh_budget_of_attempts(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    """After an outage used up every attempt, a retry into a greylisting relay delivers."""
    emails = [f"user{n}@grey.example" for n in range(3)]
    settings = settings_for(database_url, sink.url, max_attempts=2)
    for address in emails:
        sink.temporary[address] = 2  # the outage: refused on both attempts
    uuid = _send(api, "Outage", "Body", emails)
    with WorkerThread(settings):
        wait_for(lambda: outbox_status(db) == {"failed": 3}, 30, "every delivery to fail")
        for address in emails:
            sink.temporary[address] = 1  # greylisting: refused once, then accepted
        retried = api.post(f"{URL}{uuid}/retry-failed/")
        assert retried.json() == {"retried": 3}
        wait_for(lambda: outbox_status(db) == {"sent": 3}, 30, "every delivery after the retry")
    rows = api.get(f"{URL}{uuid}/deliveries/").json()
    assert {row["attempts"] for row in rows} == {2}
    assert sink.deliveries_per_address() == {address: 1 for address in emails}


def test_a_broken_mail_directory_defers_with_the_reason_and_recovers(
    api: httpx.Client,
    db: Database,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An OSError from the file transport (full disk, a path gone) is a recorded,
    logged temporary failure; once the disk is back, everything is written."""
    outbox_dir = tmp_path / "outbox"
    emails = [f"user{n}@disk.example" for n in range(4)]
    settings = settings_for(database_url, f"file://{outbox_dir}")
    with caplog.at_level(logging.WARNING, logger="herald.delivery"), WorkerThread(settings):
        wait_for(outbox_dir.exists, 10, "the worker to make its directory")
        shutil.rmtree(outbox_dir)
        outbox_dir.write_text("not a directory")  # every write now fails
        uuid = _send(api, "Disk", "Body", emails)

        def all_deferred() -> bool:
            rows = api.get(f"{URL}{uuid}/deliveries/").json()
            return all(row["last_error"] and row["attempts"] >= 1 for row in rows)

        wait_for(all_deferred, 30, "each delivery to record its failure")
        rows = api.get(f"{URL}{uuid}/deliveries/").json()
        assert {row["status"] for row in rows} == {"pending"}
        assert all("NotADirectoryError" in row["last_error"] for row in rows), rows
        outbox_dir.unlink()
        outbox_dir.mkdir()
        wait_for(lambda: outbox_status(db) == {"sent": 4}, 30, "every mail once the disk is back")
    assert len(list(outbox_dir.glob("*.eml"))) == 4
    logged = [r.getMessage() for r in caplog.records if "deferred" in r.getMessage()]
    assert logged and uuid in logged[0] and "NotADirectoryError" in logged[0]
