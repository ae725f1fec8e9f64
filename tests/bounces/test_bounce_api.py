"""The bounce webhook, the bounces and suppressions APIs and CLI, and what a suppression
does to sends, previews and test-sends (SPEC 4.2), against the real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from herald.core.db import Database
from tests.cli import herald
from tests.conftest import LiveServer, load_directory
from tests.delivery.helpers import WorkerThread, settings_for, wait_for
from tests.factories import DirectoryBuilder
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"
WEBHOOK_TOKEN = "relay-webhook-token-0123456789"


@pytest.fixture
def webhook(live_server: LiveServer) -> Iterator[str]:
    """The server with HERALD_BOUNCE_WEBHOOK_TOKEN set, for this test."""
    before = live_server.app.state.settings
    live_server.app.state.settings = before.model_copy(
        update={"bounce_webhook_token": WEBHOOK_TOKEN}
    )
    yield WEBHOOK_TOKEN
    live_server.app.state.settings = before


def _report(
    anonymous: httpx.Client, body: Any, token: str = WEBHOOK_TOKEN, **headers: str
) -> httpx.Response:
    return anonymous.post(
        "/api/bounces/", content=json.dumps(body), headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers
        },
    )  # fmt: skip


def _token_for(db: Database, email: str, **flags: bool) -> str:
    from herald.auth.tokens import create_token
    from herald.directory.repository import find_user_by_email

    builder = DirectoryBuilder()
    builder.user(email.partition("@")[0], email, **flags)  # type: ignore[arg-type]
    load_directory(db, builder.doc)
    with db.transaction() as session:
        found = find_user_by_email(session, email)
        assert found is not None
        return create_token(session, found)


def _message(api: httpx.Client, addresses: list[str]) -> str:
    body = {"subject": "S", "body": "B", "query": {"additional_recipients": addresses}}
    created = api.post(URL, json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["uuid"])


def test_a_relay_reports_a_hard_bounce_by_webhook(
    anonymous: httpx.Client, api: httpx.Client, webhook: str
) -> None:
    answer = _report(
        anonymous, {"email": "Gone@Old.example", "kind": "hard", "reason": "550 5.1.1"}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["suppressed"] is True and answer.json()["source"] == "webhook"
    [suppression] = api.get("/api/suppressions/").json()
    assert (suppression["email"], suppression["reason"]) == ("Gone@Old.example", "hard")
    assert suppression["bounce"]["diagnostic"] == "550 5.1.1"
    assert api.get("/api/bounces/", params={"email": "gone@old"}).json()[0]["kind"] == "hard"


def test_soft_bounces_suppress_only_at_the_limit(
    anonymous: httpx.Client, api: httpx.Client, webhook: str
) -> None:
    for number in (1, 2):
        answer = _report(anonymous, {"email": "full@box.example", "kind": "soft"})
        assert answer.json()["suppressed"] is False, number
    assert api.get("/api/suppressions/").json() == []
    assert _report(anonymous, {"email": "full@box.example", "kind": "soft"}).json()["suppressed"]
    [suppression] = api.get("/api/suppressions/").json()
    assert suppression["reason"] == "soft"
    assert api.head("/api/bounces/", params={"kind": "soft"}).headers["X-Result-Count"] == "3"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"kind": "hard"}, "email", "required"),
        ({"email": "not an address", "kind": "hard"}, "email", "valid email"),
        ({"email": "a@b.example", "kind": "bounced"}, "kind", "hard, soft, complaint"),
        ({"email": "a@b.example", "kind": "hard", "message_uuid": "nope"}, "message_uuid", "UUID"),
        ({"email": "a@b.example", "kind": "hard", "reason": 5}, "reason", "string"),
        ({"email": "a@b.example", "kind": "hard", "extra": 1}, "extra", "Unknown field"),
    ],
)
def test_a_malformed_report_is_a_400_naming_the_field_and_writes_nothing(
    anonymous: httpx.Client, api: httpx.Client, webhook: str, body: Any, field: str, words: str
) -> None:
    answer = _report(anonymous, body)
    assert answer.status_code == 400, answer.text
    assert words in " ".join(answer.json()[field])
    assert api.get("/api/bounces/").json() == []


def test_the_webhook_refuses_other_tokens_and_non_staff(
    anonymous: httpx.Client, db: Database, webhook: str
) -> None:
    body = {"email": "a@b.example", "kind": "hard"}
    assert _report(anonymous, body, token="guess").status_code == 401
    support = _token_for(db, "sam@uni.example", support=True)
    assert _report(anonymous, body, token=support).status_code == 403
    assert _report(anonymous, "[not json", token=WEBHOOK_TOKEN).status_code == 400


def test_a_retried_report_with_its_idempotency_key_is_recorded_once(
    anonymous: httpx.Client, api: httpx.Client, webhook: str
) -> None:
    body = {"email": "a@b.example", "kind": "soft"}
    first = _report(anonymous, body, **{"Idempotency-Key": "r-1"})
    again = _report(anonymous, body, **{"Idempotency-Key": "r-1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["uuid"] == again.json()["uuid"]
    assert api.head("/api/bounces/").headers["X-Result-Count"] == "1"


def test_a_reported_bounce_marks_the_delivery_and_shows_on_the_message(
    anonymous: httpx.Client,
    api: httpx.Client,
    database_url: str,
    sink: SmtpSink,
    webhook: str,
) -> None:
    uuid = _message(api, ["a@x.example", "b@x.example"])
    with WorkerThread(settings_for(database_url, sink.url)):
        assert api.post(f"{URL}{uuid}/send/").status_code == 200
        wait_for(lambda: len(sink.received) == 2, 30, "two mails")
        wait_for(
            lambda: api.get(f"{URL}{uuid}/").json()["delivery"]["status"] == "done", 30, "done"
        )
    report = {"email": "B@x.example", "kind": "complaint", "reason": "spam", "message_uuid": uuid}
    assert _report(anonymous, report).status_code == 202
    delivery = api.get(f"{URL}{uuid}/").json()["delivery"]
    assert (delivery["sent"], delivery["bounced"]) == (1, 1)
    [bounced] = api.get(f"{URL}{uuid}/deliveries/", params={"status": "bounced"}).json()
    assert bounced["email"] == "b@x.example"
    assert bounced["bounce"]["kind"] == "complaint" and bounced["bounce"]["diagnostic"] == "spam"
    assert (
        api.get("/api/bounces/", params={"message_uuid": uuid}).json()[0]["email"] == "b@x.example"
    )


def test_staff_read_the_raw_notification_support_do_not(
    anonymous: httpx.Client, api: httpx.Client, db: Database, webhook: str
) -> None:
    uuid = _report(anonymous, {"email": "a@b.example", "kind": "hard"}).json()["uuid"]
    assert '"kind": "hard"' in api.get(f"/api/bounces/{uuid}/").json()["raw"]
    support = _token_for(db, "sam@uni.example", support=True)
    seen = anonymous.get(f"/api/bounces/{uuid}/", headers={"Authorization": f"Token {support}"})
    assert seen.status_code == 200 and "raw" not in seen.json()
    assert api.get("/api/bounces/0123456789abcdef0123456789abcdef/").status_code == 404


def test_suppressions_by_hand_with_the_users_and_organisations_to_ask(
    api: httpx.Client, example: None
) -> None:
    added = api.post("/api/suppressions/", json={"email": "OLGA@physics.example", "note": "left"})
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["reason"], body["note"], body["created_by"]) == (
        "manual",
        "left",
        body["created_by"],
    )
    [user] = body["users"]
    assert user["full_name"] == "Olga Owner"
    assert [c["name"] for c in user["customers"]] == ["Physics Institute"]
    again = api.post("/api/suppressions/", json={"email": "olga@physics.example"})
    assert again.status_code == 200 and again.json()["note"] == "left"  # unchanged
    assert api.post("/api/suppressions/", json={"email": "x"}).json()["email"]
    assert (
        api.get("/api/suppressions/", params={"reason": "manual"}).headers["X-Result-Count"] == "1"
    )
    assert api.get("/api/suppressions/", params={"reason": "bogus"}).status_code == 400
    assert api.delete("/api/suppressions/olga@physics.example/").status_code == 204
    gone = api.delete("/api/suppressions/olga@physics.example/")
    assert gone.status_code == 404 and "is not suppressed" in gone.json()["detail"]


def test_a_suppressed_address_is_counted_marked_and_never_mailed(
    api: httpx.Client, database_url: str, sink: SmtpSink
) -> None:
    addresses = ["keep@x.example", "stop@x.example", "late@x.example"]
    assert api.post("/api/suppressions/", json={"email": "stop@x.example"}).status_code == 201
    preview = api.get(f"{URL}recipients/", params={"additional_recipients": ",".join(addresses)})
    assert [r["email"] for r in preview.json() if r.get("suppressed")] == ["stop@x.example"]
    uuid = _message(api, addresses)
    assert api.post(f"{URL}{uuid}/send/").status_code == 200
    # Suppressed after it was queued, before a worker claimed it: still never mailed.
    assert api.post("/api/suppressions/", json={"email": "late@x.example"}).status_code == 201
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(
            lambda: api.get(f"{URL}{uuid}/").json()["delivery"]["status"] == "done", 30, "done"
        )
    delivery = api.get(f"{URL}{uuid}/").json()["delivery"]
    assert (delivery["total"], delivery["sent"], delivery["suppressed"]) == (3, 1, 2)
    assert [m.recipients for m in sink.received] == [["keep@x.example"]]

    test_send = api.post(f"{URL}{uuid}/test-send/", json={"emails": ["stop@x.example"]})
    assert test_send.status_code == 400
    assert "stop@x.example is suppressed" in test_send.json()["emails"][0]
    assert len(sink.received) == 1


def test_the_suppressions_command_line(database_url: str, db: Database, example: None) -> None:
    added = herald(database_url, "suppressions", "add", "olga@physics.example", "--note", "left")
    assert added.returncode == 0 and "suppressed olga@physics.example" in added.stdout
    listed = herald(database_url, "suppressions", "list")
    assert (
        "olga@physics.example" in listed.stdout
        and "Olga Owner (Physics Institute)" in listed.stdout
    )
    bad = herald(database_url, "suppressions", "add", "not-an-address")
    assert bad.returncode == 2 and "email" in bad.stderr
    removed = herald(database_url, "suppressions", "remove", "olga@physics.example")
    assert removed.returncode == 0
    again = herald(database_url, "suppressions", "remove", "olga@physics.example")
    assert again.returncode == 2 and "is not suppressed" in again.stderr


def test_a_bounce_address_without_a_secret_key_stops_the_start(database_url: str) -> None:
    started = herald(
        database_url, "worker", env={"HERALD_BOUNCE_ADDRESS": "bounces@mail.example.org"}
    )
    assert started.returncode != 0
    assert "HERALD_SECRET_KEY is not set" in started.stderr
    mailbox = {"HERALD_BOUNCE_IMAP_URL": "imaps://u:p@imap.example.org/INBOX"}
    mailbox_only = herald(database_url, "worker", env=mailbox)
    assert mailbox_only.returncode != 0
    assert "HERALD_BOUNCE_ADDRESS is not" in mailbox_only.stderr
    fetch = herald(database_url, "bounces", "fetch", env=mailbox)
    assert fetch.returncode == 2 and "HERALD_SECRET_KEY must be set" in fetch.stderr
