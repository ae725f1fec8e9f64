"""The audit trail (SPEC 8): who, when, what and from where, for every change a person
makes, written in the transaction of the change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from herald.core.db import Database
from tests.cli import herald
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"


def _entries(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = api.get("/api/audit/", params={"page_size": 100, **params})
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_every_change_is_recorded_with_who_what_and_from_where(
    api: httpx.Client, staff: dict[str, str]
) -> None:
    body = {"subject": "S", "body": "B", "query": {"additional_recipients": ["a@x.example"]}}
    uuid = api.post(URL, json=body).json()["uuid"]
    assert api.patch(f"{URL}{uuid}/", json={"subject": "S2"}).status_code == 200
    assert api.post(f"{URL}{uuid}/send/").status_code == 200
    assert api.post(f"{URL}{uuid}/retry-failed/").status_code == 200
    template = api.post("/api/broadcast-message-templates/",
                        json={"name": "T", "subject": "s", "body": "b"}).json()["uuid"]  # fmt: skip
    assert api.delete(f"/api/broadcast-message-templates/{template}/").status_code == 204
    assert api.post("/api/suppressions/", json={"email": "z@x.example"}).status_code == 201
    assert api.delete("/api/suppressions/z@x.example/").status_code == 204

    history = _entries(api, object=uuid, o="created")
    assert [e["action"] for e in history] == [
        "message.create", "message.update", "message.send", "message.retry-failed",
    ]  # fmt: skip
    first = history[0]
    assert first["user"] == {"uuid": staff["uuid"], "full_name": "Stella Staff",
                             "email": "staff@herald.example"}  # fmt: skip
    assert first["client"] == "127.0.0.1" and first["object_type"] == "message"
    assert history[3]["detail"] == {"retried": 0}
    actions = [e["action"] for e in _entries(api)]
    assert actions[:4] == [
        "suppression.remove", "suppression.add", "template.delete", "template.create",
    ]  # fmt: skip
    assert [e["action"] for e in _entries(api, action="message.send")] == ["message.send"]
    assert len(_entries(api, user=staff["uuid"])) == 8
    assert _entries(api, created_from="2000-01-01", created_to="2000-01-02") == []
    assert api.get("/api/audit/", params={"created_from": "yesterday"}).status_code == 400


def test_a_refused_change_leaves_no_entry_and_an_entry_cannot_fail_alone(
    api: httpx.Client, db: Database
) -> None:
    empty = {"subject": "S", "body": "B", "query": {"additional_recipients": []}}
    uuid = api.post(URL, json=empty).json()["uuid"]
    assert api.post(f"{URL}{uuid}/send/").status_code == 400  # nobody to send to
    assert [e["action"] for e in _entries(api, object=uuid)] == ["message.create"]
    # The trail refuses to write: then the change it would record is not made either.
    with db.transaction() as session:
        if db.is_sqlite:
            session.execute(text(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit_entries "
                "BEGIN SELECT RAISE(ABORT, 'the audit trail is down'); END"))  # fmt: skip
        else:
            session.execute(text(
                "CREATE FUNCTION no_audit() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'the audit trail is down'; END $$ LANGUAGE plpgsql"))  # fmt: skip
            session.execute(text(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit_entries "
                "FOR EACH ROW EXECUTE FUNCTION no_audit()"))  # fmt: skip
    try:
        try:  # an internal failure: a 500, or the connection closed on it
            status = api.post(URL, json={**empty, "subject": "Unrecorded"}).status_code
        except httpx.TransportError:
            status = 599
        assert status >= 500
        # A new connection: the server closed the one the failure happened on.
        listed = httpx.get(f"{api.base_url}{URL}".replace("//api", "/api"), headers=api.headers,
                           params={"page_size": 300}).json()  # fmt: skip
        assert [m for m in listed if m["subject"] == "Unrecorded"] == []
    finally:
        with db.transaction() as session:
            session.execute(
                text("DROP TRIGGER no_audit" + ("" if db.is_sqlite else " ON audit_entries"))
            )
            if not db.is_sqlite:
                session.execute(text("DROP FUNCTION no_audit()"))


def test_only_staff_read_the_trail(anonymous: httpx.Client, db: Database) -> None:
    from tests.bounces.test_bounce_api import _token_for

    support = _token_for(db, "sam@uni.example", support=True)
    answer = anonymous.get("/api/audit/", headers={"Authorization": f"Token {support}"})
    assert answer.status_code == 403


def test_command_line_changes_are_the_operators_and_prune_keeps_400_days(
    api: httpx.Client, database_url: str, db: Database
) -> None:
    made = herald(database_url, "create-staff", "--email", "ops@herald.example",
                  "--full-name", "Ops")  # fmt: skip
    assert made.returncode == 0, made.stderr
    [entry] = _entries(api, action="token.create")
    assert entry["user"]["full_name"] == "the operator" and entry["client"] == "command line"
    assert entry["detail"]["email"] == "ops@herald.example"
    with db.transaction() as session:
        session.execute(text("UPDATE audit_entries SET created = '2020-01-01 00:00:00'"))
    pruned = herald(database_url, "prune")
    assert pruned.returncode == 0 and "removed 1 audit entries older than 400 days" in pruned.stdout
    assert _entries(api) == []


@pytest.mark.parametrize("action", ["message.test-send"])
def test_a_test_send_is_recorded_with_its_addresses(
    api: httpx.Client, live_server: Any, sink: SmtpSink, action: str
) -> None:
    before = live_server.app.state.settings
    live_server.app.state.settings = before.model_copy(update={"smtp_url": sink.url})
    try:
        body = {"subject": "S", "body": "B", "query": {"additional_recipients": ["a@x.example"]}}
        uuid = api.post(URL, json=body).json()["uuid"]
        sent = api.post(f"{URL}{uuid}/test-send/", json={"emails": ["me@x.example"]})
        assert sent.status_code == 200, sent.text
    finally:
        live_server.app.state.settings = before
    [entry] = _entries(api, action=action)
    assert entry["object_uuid"] == uuid and entry["detail"] == {"emails": ["me@x.example"]}


def test_the_api_and_the_command_line_record_the_same_detail_for_a_suppression(
    api: httpx.Client, database_url: str
) -> None:
    """Issue 23: the CLI's suppression.add had no note. Recorded by the service now,
    whoever asks: only the actor and client differ."""
    by_api = api.post("/api/suppressions/", json={"email": "a@x.example", "note": "left"})
    assert by_api.status_code == 201, by_api.text
    by_cli = herald(database_url, "suppressions", "add", "b@x.example", "--note", "left")
    assert by_cli.returncode == 0, by_cli.stderr
    assert api.delete("/api/suppressions/a@x.example/").status_code == 204
    assert herald(database_url, "suppressions", "remove", "b@x.example").returncode == 0
    for action in ("suppression.add", "suppression.remove"):
        cli, web = _entries(api, action=action)  # newest first
        assert cli["client"] == "command line" and web["client"] != "command line"
        assert cli["detail"].keys() == web["detail"].keys(), action
        assert cli["detail"]["email"] == "b@x.example" and web["detail"]["email"] == "a@x.example"
    cli_add, web_add = _entries(api, action="suppression.add")
    assert cli_add["detail"]["note"] == web_add["detail"]["note"] == "left"
