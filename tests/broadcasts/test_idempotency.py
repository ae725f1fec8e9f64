"""`Idempotency-Key` (SPEC 1): a double click or a retried request never acts twice.
Through plain HTTP on both databases, concurrent requests included."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
from sqlalchemy import text

from herald.core.clock import utc_now
from herald.core.db import Database
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"
BODY = {"subject": "Once", "body": "Only once", "query": {"additional_recipients": ["a@x.example"]}}


def _messages(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(text("SELECT count(*) FROM broadcast_messages")).scalar_one())


def test_a_repeated_create_returns_the_first_answer(api: httpx.Client, db: Database) -> None:
    first = api.post(URL, json=BODY, headers={"Idempotency-Key": "create-1"})
    again = api.post(URL, json=BODY, headers={"Idempotency-Key": "create-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _messages(db) == 1
    other = api.post(URL, json=BODY, headers={"Idempotency-Key": "create-2"})
    assert other.status_code == 201 and other.json()["uuid"] != first.json()["uuid"]
    assert _messages(db) == 2


def test_the_same_key_for_another_request_is_409(api: httpx.Client, db: Database) -> None:
    api.post(URL, json=BODY, headers={"Idempotency-Key": "k"})
    changed = api.post(URL, json={**BODY, "subject": "Other"}, headers={"Idempotency-Key": "k"})
    assert changed.status_code == 409
    assert changed.json() == {"detail": "This Idempotency-Key was used for a different request."}
    assert _messages(db) == 1


def test_bad_keys_are_400_and_nothing_is_written(api: httpx.Client, db: Database) -> None:
    for bad in ("x" * 256, "tab\there", "é"):
        response = api.post(URL, json=BODY, headers={"Idempotency-Key": bad.encode("utf-8")})  # type: ignore[dict-item]
        assert response.status_code == 400, bad
        assert "Idempotency-Key" in response.json()
    assert _messages(db) == 0


def test_concurrent_requests_with_one_key_act_once(
    server_url: str, staff: dict[str, str], db: Database
) -> None:
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(8)

    def click() -> None:
        with httpx.Client(base_url=server_url, timeout=60) as client:
            barrier.wait()
            answers.append(
                client.post(
                    URL,
                    json=BODY,
                    headers={
                        "Authorization": f"Token {staff['token']}",
                        "Idempotency-Key": "double-click",
                    },
                )
            )

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    assert len({a.json()["uuid"] for a in answers}) == 1
    assert _messages(db) == 1


def test_a_retried_send_is_200_once_and_sends_once(api: httpx.Client, db: Database) -> None:
    uuid = api.post(URL, json=BODY).json()["uuid"]
    first = api.post(f"{URL}{uuid}/send/", headers={"Idempotency-Key": "send-1"})
    again = api.post(f"{URL}{uuid}/send/", headers={"Idempotency-Key": "send-1"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert api.post(f"{URL}{uuid}/send/").status_code == 409  # without a key: the state says no
    with db.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM deliveries")).scalar_one() == 1


def test_a_failed_request_leaves_no_trace(api: httpx.Client, db: Database) -> None:
    bad = api.post(URL, json={"subject": "", "body": "x"}, headers={"Idempotency-Key": "oops"})
    assert bad.status_code == 400
    fixed = api.post(URL, json=BODY, headers={"Idempotency-Key": "oops"})
    assert fixed.status_code == 201


def test_keys_belong_to_their_user_and_last_24_hours(
    api: httpx.Client, db: Database, server_url: str
) -> None:
    from herald.auth.tokens import create_token
    from herald.directory.staff import ensure_staff

    with db.transaction() as session:
        other = create_token(session, ensure_staff(session, "b@x.example", "B", support=True))
    mine = api.post(URL, json=BODY, headers={"Idempotency-Key": "shared"})
    theirs = httpx.post(
        f"{server_url}{URL}",
        json=BODY,
        headers={"Authorization": f"Token {other}", "Idempotency-Key": "shared"},
    )
    assert theirs.status_code == 201 and theirs.json()["uuid"] != mine.json()["uuid"]
    with db.transaction() as session:
        session.execute(
            text("UPDATE idempotency_keys SET created = :old"),
            {"old": utc_now() - timedelta(hours=25)},
        )
    later = api.post(URL, json=BODY, headers={"Idempotency-Key": "shared"})
    assert later.status_code == 201 and later.json()["uuid"] != mine.json()["uuid"]
    assert _messages(db) == 3


def test_templates_and_retry_failed_take_keys_too(api: httpx.Client, db: Database) -> None:
    template = {"name": "T", "subject": "S", "body": "B"}
    one = api.post(
        "/api/broadcast-message-templates/", json=template, headers={"Idempotency-Key": "t"}
    )
    two = api.post(
        "/api/broadcast-message-templates/", json=template, headers={"Idempotency-Key": "t"}
    )
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    uuid = api.post(URL, json=BODY).json()["uuid"]
    api.post(f"{URL}{uuid}/send/")
    with db.transaction() as session:
        session.execute(text("UPDATE deliveries SET status = 'failed'"))
    first = api.post(f"{URL}{uuid}/retry-failed/", headers={"Idempotency-Key": "r"})
    with db.transaction() as session:
        session.execute(text("UPDATE deliveries SET status = 'failed'"))
    again = api.post(f"{URL}{uuid}/retry-failed/", headers={"Idempotency-Key": "r"})
    assert first.json() == again.json() == {"retried": 1}
    with db.transaction(write=False) as session:
        assert session.execute(text("SELECT status FROM deliveries")).scalar_one() == "failed"


def test_a_repeated_test_send_mails_once(api: httpx.Client, db: Database, sink: SmtpSink) -> None:
    from tests.conftest import LiveServer  # noqa: F401 (the session server mails to files)

    uuid = api.post(URL, json=BODY).json()["uuid"]
    payload = {"emails": ["t@x.example"]}
    first = api.post(f"{URL}{uuid}/test-send/", json=payload, headers={"Idempotency-Key": "ts"})
    again = api.post(f"{URL}{uuid}/test-send/", json=payload, headers={"Idempotency-Key": "ts"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
