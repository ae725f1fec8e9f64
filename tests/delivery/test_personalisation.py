"""Placeholders rendered per recipient at delivery, in a sandbox, to a real SMTP server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from herald.core.db import Database
from tests.conftest import EXAMPLE_DIRECTORY, LiveServer, load_directory
from tests.delivery.helpers import (
    WorkerThread,
    outbox_status,
    pending_count,
    settings_for,
    wait_for,
)
from tests.messages import send_message
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"
HPC = "8b3649ffd4fd5962b2e8216e8a027776"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"


@pytest.fixture
def example(db: Database) -> None:
    """The shared example directory (overriding conftest's) plus one member
    whose name is markup, to prove HTML bodies escape it."""
    document = json.loads(EXAMPLE_DIRECTORY.read_text())
    document["users"].append(
        {
            "uuid": "e" * 32,
            "username": "x",
            "email": "xss@physics.example",
            "full_name": "<script>alert(1)</script>",
        }
    )
    document["project_roles"].append(
        {"user": "e" * 32, "project": "ff8b86dd65a2588e9d48178c370aadab", "role": "member"}
    )
    load_directory(db, document)


def _send(api: httpx.Client, subject: str, body: str, query: dict[str, Any]) -> str:
    return send_message(api, subject, body, query)


def _text(item: Any) -> str:
    part = item.message.get_body(preferencelist=("plain",))
    return str(part.get_content()).replace("\r\n", "\n")


def test_each_recipient_gets_their_own_name_and_nobody_elses(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, example: None
) -> None:
    _send(
        api,
        "News for {{ recipient.full_name }}",
        "Dear {{ recipient.full_name | default('colleague', true) }},\n"
        "you use {{ recipient.offerings }} at {{ recipient.customers }}.\n"
        "{{ message.subject }} - {{ recipient.email }}\n",
        {"offerings": [HPC]},
    )
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: pending_count(db) == 0, 30, "the outbox to drain")
    by_address = {item.recipients[0]: item for item in sink.received}
    names = {
        "olga@physics.example": "Olga Owner",
        "pavel@physics.example": "Pavel Projectadmin",
        "mia@physics.example": "Mia Member",
    }
    for address, name in names.items():
        item = by_address[address]
        assert item.message["Subject"] == f"News for {name}"
        text = _text(item)
        assert text.startswith(
            f"Dear {name},\nyou use HPC cluster: GPU partition at Physics Institute."
        )
        assert address in text
        others = set(names.values()) - {name}
        assert not any(other in text for other in others)
    notification = _text(by_address["it@physics.example"])
    assert notification.startswith("Dear Notification email for Physics Institute,")
    assert outbox_status(db) == {"sent": len(sink.received)}


def test_names_are_escaped_in_html_bodies(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, example: None
) -> None:
    _send(
        api,
        "Hello",
        "<p>Dear {{ recipient.full_name }}</p>",
        {"additional_recipients": ["xss@physics.example"]},
    )
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() == 1, 30, "the mail")
    html = sink.received[0].message.get_body(preferencelist=("html",)).get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "<script>alert(1)</script>" in _text(sink.received[0])  # plain text is not HTML


def test_plain_text_goes_out_byte_for_byte(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    body = "50% off {not a placeholder} and { braces } stay as written.\n"
    _send(api, "Plain {subject}", body, {"additional_recipients": ["one@example.org"]})
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() == 1, 30, "the mail")
    assert sink.received[0].message["Subject"] == "Plain {subject}"
    assert _text(sink.received[0]) == body


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("subject", "Hi {{ recipient.__class__ }}", "Line 1: recipient has no field '__class__'"),
        ("body", "a\n{{ ''.__class__.__mro__ }}", "Line 2: only recipient, message and loop"),
        ("body", "{{ recipient.full_name.__globals__ }}", "Line 1: only recipient, message"),
        ("body", "{{ range(10**9) | list }}", "Line 1: calling functions or methods is not"),
        ("body", "{{ 'x' * 10**9 }}", "Line 1: arithmetic is not allowed"),
        ("body", "{{ 10 ** 100000 }}", "Line 1: arithmetic is not allowed"),
        ("body", "{{ 'x' | center(10**9) }}", "Line 1: No filter named 'center'."),
        ("body", "{{ lipsum(10**6) }}", "Line 1: calling functions"),
        ("body", "ok\nok\n{% for x in y %}", "Line 3: {% for %} is never closed"),
        ("body", "{{ recipent.full_name }}", "Line 1: unknown variable 'recipent'"),
        ("body", "{{ recipient.full_name | safe }}", "Line 1: No filter named 'safe'."),
        (
            "body",
            "x\n{% for c in recipient.customers %}{{ c }}" + "y" * 10_000 + "{% endfor %}",
            "Line 2: this template could print 507,502 characters",
        ),
    ],
)
def test_sandbox_escapes_are_refused_when_written(
    api: httpx.Client, field: str, text: str, expected: str
) -> None:
    payload = {"subject": "s", "body": "b", field: text}
    response = api.post(URL, json=payload)
    assert response.status_code == 400, response.text
    assert list(response.json()) == [field]
    assert response.json()[field][0].startswith(expected), response.json()


def test_preview_shows_one_recipients_mail(api: httpx.Client, example: None) -> None:
    created = api.post(
        URL,
        json={
            "subject": "For {{ recipient.full_name }}",
            "body": "<p>Hi {{ recipient.full_name }}</p>",
            "query": {"customers": [PHYSICS]},
        },
    ).json()
    first = api.post(f"{URL}{created['uuid']}/preview/", json={})
    assert first.status_code == 200
    # first by name: "<" sorts before letters; the HTML escapes the name
    assert first.json()["email"] == "xss@physics.example"
    assert first.json()["subject"] == "For <script>alert(1)</script>"
    assert first.json()["html"] == "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert first.json()["text"] == "Hi <script>alert(1)</script>\n"
    mia = api.post(f"{URL}{created['uuid']}/preview/", json={"email": "mia@physics.example"})
    assert mia.json()["html"] == "<p>Hi Mia Member</p>"
    chosen = api.post(f"{URL}{created['uuid']}/preview/", json={"email": "OLGA@physics.example"})
    assert chosen.json()["subject"] == "For Olga Owner"
    stranger = api.post(f"{URL}{created['uuid']}/preview/", json={"email": "who@nowhere.example"})
    assert stranger.status_code == 400 and "email" in stranger.json()


def test_test_send_marks_the_subject_and_changes_nothing(
    api: httpx.Client, db: Database, live_server: LiveServer, sink: SmtpSink, example: None
) -> None:
    created = api.post(
        URL,
        json={
            "subject": "Hello {{ recipient.full_name }}",
            "body": "b",
            "query": {"customers": [PHYSICS]},
        },
    ).json()
    # the live server mails to files by default; point its test sends at the sink
    settings = live_server.app.state.settings
    original, settings.smtp_url = settings.smtp_url, sink.url
    try:
        response = api.post(
            f"{URL}{created['uuid']}/test-send/",
            json={"emails": ["olga@physics.example", "tester@example.org"]},
        )
    finally:
        settings.smtp_url = original
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["sent", "sent"]
    subjects = {item.recipients[0]: item.message["Subject"] for item in sink.received}
    assert subjects == {
        "olga@physics.example": "[TEST] Hello Olga Owner",
        "tester@example.org": "[TEST] Hello",  # unknown to the directory: no name
    }
    after = api.get(f"{URL}{created['uuid']}/").json()
    assert after["state"] == "DRAFT" and after["delivery"]["total"] == 0
    assert outbox_status(db) == {}
    too_many = api.post(
        f"{URL}{created['uuid']}/test-send/", json={"emails": [f"a{n}@x.org" for n in range(11)]}
    )
    assert too_many.status_code == 400
