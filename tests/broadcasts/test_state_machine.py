"""DRAFT → SCHEDULED → SENT (SPEC 3.4–3.8): the 409 rules, the outbox, and the send race."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import httpx
from sqlalchemy import text

from herald.core.db import Database
from tests.conftest import load_directory
from tests.messages import create_message
from tests.snapshots import snapshot

URL = "/api/broadcast-messages/"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"
TODAY = datetime.date.today()
TOMORROW = TODAY + datetime.timedelta(days=1)


def _create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    return create_message(api, "s", "b", **{"query": {"customers": [PHYSICS]}, **fields})


def _get(api: httpx.Client, uuid: str) -> dict[str, Any]:
    return api.get(f"{URL}{uuid}/").json()


def _outbox(db: Database, uuid: str) -> list[tuple[str, str, int]]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            text(
                "SELECT d.email, d.status, d.attempts FROM deliveries d "
                "JOIN broadcast_messages m ON m.id = d.message_id WHERE m.uuid = :uuid "
                "ORDER BY d.email"
            ),
            {"uuid": uuid},
        )
        return [tuple(row) for row in rows]


def test_send_freezes_emails_and_queues_one_pending_delivery_each(
    api: httpx.Client, db: Database, example: None
) -> None:
    message = _create(api)
    response = api.post(f"{URL}{message['uuid']}/send/")
    assert response.status_code == 200 and response.content == b""
    sent = _get(api, message["uuid"])
    assert sent["state"] == "SENT"
    assert sent["send_at"] == TODAY.isoformat()
    assert _outbox(db, message["uuid"]) == [(email, "pending", 0) for email in sent["emails"]]
    assert len(sent["emails"]) == 4


def test_send_resolves_the_audience_again_at_the_moment_of_sending(
    api: httpx.Client, db: Database, example: None
) -> None:
    message = _create(api)
    assert "newcomer@physics.example" not in message["emails"]
    load_directory(
        db,
        {
            "users": [{"uuid": "a" * 32, "username": "new", "email": "newcomer@physics.example"}],
            "customer_roles": [{"user": "a" * 32, "customer": PHYSICS, "role": "support"}],
        },
    )
    api.post(f"{URL}{message['uuid']}/send/")
    sent = _get(api, message["uuid"])
    assert "newcomer@physics.example" in sent["emails"]
    assert ("newcomer@physics.example", "pending", 0) in _outbox(db, message["uuid"])


def test_a_message_without_recipients_cannot_be_sent(api: httpx.Client, db: Database) -> None:
    message = _create(api, query=None)
    before = snapshot(db)
    response = api.post(f"{URL}{message['uuid']}/send/")
    assert response.status_code == 400
    assert response.json() == {"detail": "The message has no recipients."}
    assert snapshot(db) == before
    assert _get(api, message["uuid"])["state"] == "DRAFT"


def test_sent_messages_cannot_be_changed(api: httpx.Client, db: Database, example: None) -> None:
    message = _create(api)
    api.post(f"{URL}{message['uuid']}/send/")
    before = snapshot(db)
    conflict = {"detail": "Valid states for operation: Draft, Scheduled."}
    for method, path, body in (
        ("PATCH", "", {"subject": "changed"}),
        ("PUT", "", {"subject": "changed", "body": "b"}),
        ("POST", "send/", None),
        ("POST", "schedule/", None),
    ):
        response = api.request(method, f"{URL}{message['uuid']}/{path}", json=body)
        assert response.status_code == 409, (method, path)
        assert response.json() == conflict
    assert snapshot(db) == before


def test_deleting_a_sent_message_with_pending_delivery_is_409(
    api: httpx.Client, db: Database, example: None
) -> None:
    message = _create(api)
    api.post(f"{URL}{message['uuid']}/send/")
    response = api.delete(f"{URL}{message['uuid']}/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Delivery of this message is still running: 4 of 4 deliveries are pending."
    }
    with db.transaction() as session:
        session.execute(text("UPDATE deliveries SET status = 'sent'"))
    assert api.delete(f"{URL}{message['uuid']}/").status_code == 204
    assert _outbox(db, message["uuid"]) == []


def test_schedule_needs_a_send_at_today_or_later(
    api: httpx.Client, db: Database, example: None
) -> None:
    message = _create(api)
    response = api.post(f"{URL}{message['uuid']}/schedule/")
    assert response.status_code == 400 and list(response.json()) == ["send_at"]
    assert _get(api, message["uuid"])["state"] == "DRAFT"

    api.patch(f"{URL}{message['uuid']}/", json={"send_at": TOMORROW.isoformat()})
    assert api.post(f"{URL}{message['uuid']}/schedule/").status_code == 200
    assert _get(api, message["uuid"])["state"] == "SCHEDULED"
    # scheduling again is allowed
    assert api.post(f"{URL}{message['uuid']}/schedule/").status_code == 200

    # a stored day that has since passed
    with db.transaction() as session:
        session.execute(
            text("UPDATE broadcast_messages SET send_at = :day, state = 'DRAFT'"),
            {"day": TODAY - datetime.timedelta(days=2)},
        )
    response = api.post(f"{URL}{message['uuid']}/schedule/")
    assert response.status_code == 400 and "today or later" in response.json()["send_at"][0]


def test_editing_a_scheduled_message(api: httpx.Client, example: None) -> None:
    message = _create(api, send_at=TOMORROW.isoformat())
    uuid = message["uuid"]
    api.post(f"{URL}{uuid}/schedule/")
    later = (TOMORROW + datetime.timedelta(days=3)).isoformat()
    moved = api.patch(f"{URL}{uuid}/", json={"send_at": later}).json()
    assert moved["state"] == "SCHEDULED" and moved["send_at"] == later
    retitled = api.patch(f"{URL}{uuid}/", json={"subject": "  new  "}).json()
    assert retitled["subject"] == "new" and retitled["state"] == "SCHEDULED"
    unscheduled = api.patch(f"{URL}{uuid}/", json={"send_at": None}).json()
    assert unscheduled["state"] == "DRAFT" and unscheduled["send_at"] is None


def test_changing_the_query_re_resolves_emails(api: httpx.Client, example: None) -> None:
    message = _create(api)
    changed = api.patch(
        f"{URL}{message['uuid']}/",
        json={"query": {"additional_recipients": ["someone@else.example"]}},
    ).json()
    assert changed["emails"] == ["someone@else.example"]
    kept = api.put(
        f"{URL}{message['uuid']}/", json={"subject": "only text", "body": "changes"}
    ).json()
    assert kept["emails"] == ["someone@else.example"]


def test_sending_a_scheduled_message_now_keeps_its_day(api: httpx.Client, example: None) -> None:
    message = _create(api, send_at=TOMORROW.isoformat())
    api.post(f"{URL}{message['uuid']}/schedule/")
    assert api.post(f"{URL}{message['uuid']}/send/").status_code == 200
    sent = _get(api, message["uuid"])
    assert sent["state"] == "SENT" and sent["send_at"] == TOMORROW.isoformat()


def test_twelve_concurrent_sends_one_wins(
    server_url: str, staff: dict[str, str], db: Database, example: None
) -> None:
    headers = {"Authorization": f"Token {staff['token']}"}
    with httpx.Client(base_url=server_url, headers=headers) as client:
        message = _create(client, query={"all_users": True})
    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def send() -> None:
        with httpx.Client(base_url=server_url, headers=headers, timeout=60) as client:
            barrier.wait()
            statuses.append(client.post(f"{URL}{message['uuid']}/send/").status_code)

    threads = [threading.Thread(target=send) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 11
    outbox = _outbox(db, message["uuid"])
    emails = [email for email, _status, _attempts in outbox]
    # 8 active users with an address, 1 notification e-mail, the staff user
    assert len(emails) == len(set(emails)) == 10
