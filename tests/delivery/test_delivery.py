"""Delivery through a real SMTP server (aiosmtpd): SPEC 4 and the delivery issue."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from herald.core.db import Database
from tests.delivery.helpers import (
    WorkerThread,
    outbox_status,
    pending_count,
    settings_for,
    wait_for,
)
from tests.messages import send_message
from tests.smtp_sink import SmtpSink, free_port

URL = "/api/broadcast-messages/"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"
PHYSICS_ADDRESSES = {
    "it@physics.example",
    "mia@physics.example",
    "olga@physics.example",
    "pavel@physics.example",
}

# A message's `delivery` counts, all zero: tests name only the ones they expect.
NOTHING_ELSE = dict.fromkeys(
    ("total", "pending", "sent", "failed", "cancelled", "bounced", "suppressed"), 0
)


def _send(
    api: httpx.Client, subject: str = "Maintenance", body: str = "Down 8-12.", **query: Any
) -> str:
    return send_message(api, subject, body, query or {"customers": [PHYSICS]})


def _deliveries(api: httpx.Client, uuid: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"{URL}{uuid}/deliveries/", params={"page_size": 300, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_one_mail_per_recipient_with_the_right_headers(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, example: None
) -> None:
    uuid = _send(api, subject="Maintenance on Monday", body="The cluster is down from 8 to 12.\n")
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: pending_count(db) == 0, 30, "the outbox to drain")
    assert sink.count() == 4
    ids = set()
    for item in sink.received:
        assert len(item.recipients) == 1
        message = item.message
        assert message["To"] == item.recipients[0]
        assert message["From"] == "herald@portal.example"
        assert message["Subject"] == "Maintenance on Monday"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["Date"] and message["Message-ID"]
        assert message["Bcc"] is None and message["Cc"] is None
        assert message.get_content_type() == "text/plain"
        # SMTP lines end in CRLF
        assert message.get_content().replace("\r\n", "\n") == "The cluster is down from 8 to 12.\n"
        ids.add(message["Message-ID"])
    assert len(ids) == 4
    assert {r.recipients[0] for r in sink.received} == PHYSICS_ADDRESSES

    rows = _deliveries(api, uuid)
    assert {r["email"] for r in rows} == PHYSICS_ADDRESSES
    assert all(r["status"] == "sent" and r["attempts"] == 1 and r["sent_at"] for r in rows)
    with db.transaction(write=False) as session:
        replies = [r[0] for r in session.execute(text("SELECT reply FROM deliveries"))]
    assert all(reply.startswith("2.0.0 Ok: queued as M") for reply in replies), replies
    message = api.get(f"{URL}{uuid}/").json()
    assert message["delivery"] == {**NOTHING_ELSE, "status": "done", "total": 4, "sent": 4}
    # finished: now it may be deleted
    assert api.delete(f"{URL}{uuid}/").status_code == 204


def test_html_body_goes_as_html_with_a_plain_text_rendering(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    body = (
        "<h1>Maintenance</h1><p>The <b>cluster</b> is down.</p>"
        '<ul><li>From 8</li><li>to 12</li></ul><p>See <a href="https://status.example">status</a>'
        "</p><script>alert(1)</script>"
    )
    _send(api, body=body, additional_recipients=["one@example.org"])
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() == 1, 30, "the mail")
    message = sink.received[0].message
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    text_part = plain.get_content().replace("\r\n", "\n")
    assert "The cluster is down." in text_part
    assert "- From 8\n- to 12" in text_part
    assert "status (https://status.example)" in text_part
    assert "<" not in text_part and "alert" not in text_part
    assert html.get_content().replace("\r\n", "\n").strip() == body


def test_a_subject_cannot_inject_a_header(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    _send(
        api,
        subject="Hello\r\nBcc: victim@evil.example\r\nX-Injected: yes",
        additional_recipients=["one@example.org"],
    )
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() == 1, 30, "the mail")
    item = sink.received[0]
    assert item.recipients == ["one@example.org"]
    message = item.message
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert message["Subject"] == "Hello Bcc: victim@evil.example X-Injected: yes"


def test_an_address_with_a_line_break_is_refused_at_the_api(api: httpx.Client) -> None:
    response = api.post(
        URL,
        json={
            "subject": "s",
            "body": "b",
            "query": {"additional_recipients": ["one@example.org\r\nBcc: victim@evil.example"]},
        },
    )
    assert response.status_code == 400
    assert "additional_recipients" in response.json()["query"]


def test_temporary_refusals_are_retried_until_delivered(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, example: None
) -> None:
    for address in PHYSICS_ADDRESSES:
        sink.temporary[address] = 2  # greylisted twice, then accepted
    uuid = _send(api)
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: pending_count(db) == 0, 30, "the outbox to drain")
    rows = _deliveries(api, uuid)
    assert all(r["status"] == "sent" and r["attempts"] == 3 for r in rows), rows
    assert sink.deliveries_per_address() == {address: 1 for address in PHYSICS_ADDRESSES}
    assert all(sink.rcpt_attempts[a] == 3 for a in PHYSICS_ADDRESSES)


def test_a_server_that_is_down_and_comes_up_later_gets_everything(
    api: httpx.Client, db: Database, database_url: str, example: None
) -> None:
    port = free_port()
    uuid = _send(api)
    settings = settings_for(database_url, f"smtp://127.0.0.1:{port}", retry_base=0.2, retry_max=0.5)
    with WorkerThread(settings):
        wait_for(
            lambda: all(r["attempts"] >= 2 for r in _deliveries(api, uuid)),
            30,
            "two refused connection attempts",
        )
        rows = _deliveries(api, uuid)
        assert all(r["status"] == "pending" for r in rows)
        assert all("Connect" in (r["last_error"] or "") for r in rows), rows
        late = SmtpSink(port).start()
        try:
            wait_for(lambda: pending_count(db) == 0, 30, "the outbox to drain")
        finally:
            late.stop()
    assert late.deliveries_per_address() == {address: 1 for address in PHYSICS_ADDRESSES}
    assert all(r["status"] == "sent" for r in _deliveries(api, uuid))


def test_a_permanent_refusal_fails_at_once_with_the_reason(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, example: None
) -> None:
    sink.permanent.add("mia@physics.example")
    uuid = _send(api)
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: pending_count(db) == 0, 30, "the outbox to drain")
        failed = _deliveries(api, uuid, status="failed")
        assert [(r["email"], r["attempts"]) for r in failed] == [("mia@physics.example", 1)]
        assert failed[0]["last_error"].startswith("550 5.1.1")
        assert len(_deliveries(api, uuid, status="sent")) == 3
        message = api.get(f"{URL}{uuid}/").json()
        assert message["delivery"] == {
            **NOTHING_ELSE,
            "status": "done",
            "total": 4,
            "sent": 3,
            "failed": 1,
        }
        # no further attempts on their own
        attempts_before = sink.rcpt_attempts["mia@physics.example"]
        import time

        time.sleep(1.0)
        assert sink.rcpt_attempts["mia@physics.example"] == attempts_before == 1

        # staff put it back; the address now works
        sink.permanent.clear()
        retried = api.post(f"{URL}{uuid}/retry-failed/")
        assert retried.status_code == 200 and retried.json() == {"retried": 1}
        wait_for(lambda: pending_count(db) == 0, 30, "the retried delivery")
    mia = _deliveries(api, uuid, status="sent", field="attempts")
    assert len(mia) == 4
    assert outbox_status(db) == {"sent": 4}


def test_retry_failed_and_deliveries_need_a_sent_message(api: httpx.Client) -> None:
    created = api.post(URL, json={"subject": "s", "body": "b"}).json()
    response = api.post(f"{URL}{created['uuid']}/retry-failed/")
    assert response.status_code == 409
    assert response.json() == {"detail": "Valid states for operation: Sent."}
    assert _deliveries(api, created["uuid"]) == []
    assert api.get(f"{URL}{'0' * 32}/deliveries/").status_code == 404
    bad = api.get(f"{URL}{created['uuid']}/deliveries/", params={"status": "lost"})
    assert bad.status_code == 400 and list(bad.json()) == ["status"]


def test_scheduled_today_goes_out_within_two_intervals_and_a_future_day_does_not(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, example: None
) -> None:
    interval = 1.0
    today = datetime.date.today()
    tomorrow = today + datetime.timedelta(days=1)

    def schedule(day: datetime.date) -> str:
        payload = {"subject": str(day), "body": "b", "query": {"customers": [PHYSICS]}}
        created = api.post(URL, json={**payload, "send_at": day.isoformat()}).json()
        assert api.post(f"{URL}{created['uuid']}/schedule/").status_code == 200
        return created["uuid"]

    future = schedule(tomorrow)
    with WorkerThread(settings_for(database_url, sink.url, scheduler_interval=interval)):
        due = schedule(today)
        took = wait_for(
            lambda: api.get(f"{URL}{due}/").json()["state"] == "SENT", 2 * interval, "the send"
        )
        wait_for(lambda: sink.count() == 4, 30, "the mail")
        assert took < 2 * interval
        import time

        time.sleep(2 * interval)
    assert api.get(f"{URL}{future}/").json()["state"] == "SCHEDULED"
    assert {item.message["Subject"] for item in sink.received} == {str(today)}


def test_file_transport_writes_one_eml_file_per_recipient(
    api: httpx.Client, db: Database, database_url: str, tmp_path: Path, example: None
) -> None:
    uuid = _send(api, subject="To files")
    outbox_dir = tmp_path / "outbox"
    with WorkerThread(settings_for(database_url, f"file://{outbox_dir}")):
        wait_for(lambda: pending_count(db) == 0, 30, "the outbox to drain")
    files = sorted(outbox_dir.glob("*.eml"))
    assert len(files) == 4 and all(f.name.startswith(uuid) for f in files)
    import email
    import email.policy

    recipients = {
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["To"] for f in files
    }
    assert recipients == PHYSICS_ADDRESSES
    rows = _deliveries(api, uuid)
    assert all(r["status"] == "sent" for r in rows)
