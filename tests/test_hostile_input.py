"""Hostile and careless input (part of the hostile-input issue): bodies read only after
the token, size limits, deep JSON, exotic addresses, protective headers, and relay
replies no database could store."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from herald.broadcasts.repository import MESSAGES
from herald.core.db import Database
from herald.delivery.worker import DeliveryWorker
from tests.conftest import load_directory
from tests.delivery.helpers import WorkerThread, outbox_status, settings_for, wait_for
from tests.delivery.test_worker_faults import FaultyTransport, _run, _settings
from tests.factories import DirectoryBuilder
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"
MB = 1024 * 1024


def test_a_large_body_from_a_made_up_token_is_refused_before_it_is_read(
    anonymous: httpx.Client,
) -> None:
    """401, not 413: the token was checked before a byte of the body was read."""
    response = anonymous.post(
        URL,
        content=b'{"subject": "' + b"x" * (3 * MB) + b'"}',
        headers={"Authorization": "Token " + "0" * 40, "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


def test_a_body_over_the_limit_is_413_and_nothing_is_written(
    api: httpx.Client, db: Database
) -> None:
    big = {"subject": "Big", "body": "x" * (2 * MB)}
    response = api.post(URL, json=big)
    assert response.status_code == 413
    assert "HERALD_MAX_BODY_BYTES" in response.json()["detail"]
    with db.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM broadcast_messages")).scalar_one() == 0


def test_a_message_body_over_a_million_characters_is_400(api: httpx.Client) -> None:
    response = api.post(URL, json={"subject": "Long", "body": "x" * 1_000_001})
    assert response.status_code == 400
    assert response.json() == {"body": ["Ensure this field has no more than 1000000 characters."]}


def test_deeply_nested_json_is_400_not_500(api: httpx.Client) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    response = api.post(URL, content=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "nests too deeply" in response.json()["detail"]


@pytest.mark.parametrize("address", ["\u212aelvin@example.org", "\u017fam@example.org",
                                     "\u0131van@example.org", "jos\u00e9@example.org"])  # fmt: skip
def test_addresses_are_ascii(api: httpx.Client, address: str) -> None:
    response = api.post(
        URL, json={"subject": "s", "body": "b", "query": {"additional_recipients": [address]}}
    )
    assert response.status_code == 400
    assert "ASCII" in json.dumps(response.json())


def test_protective_headers(anonymous: httpx.Client, api: httpx.Client) -> None:
    console = anonymous.get("/")
    assert "frame-ancestors 'none'" in console.headers["Content-Security-Policy"]
    assert console.headers["X-Frame-Options"] == "DENY"
    assert console.headers["Referrer-Policy"] == "no-referrer"
    assert console.headers["X-Content-Type-Options"] == "nosniff"
    docs = anonymous.get("/api/docs/")
    assert "default-src 'self'" in docs.headers["Content-Security-Policy"]
    listed = api.get(URL)
    assert listed.headers["Cache-Control"] == "no-store"
    assert listed.headers["X-Content-Type-Options"] == "nosniff"


def test_relay_replies_in_any_encoding_are_stored(
    api: httpx.Client, db: Database, database_url: str
) -> None:
    created = api.post(
        URL, json={"subject": "s", "body": "b", "query": {"additional_recipients": ["a@x.example"]}}
    ).json()
    api.post(f"{URL}{created['uuid']}/send/")

    async def odd_reply(recipient: str, attempt: int) -> str:
        await asyncio.sleep(0)
        return "250 ok\x00 caf\xe9 " + b"\xff".decode("utf-8", "surrogateescape")

    worker = DeliveryWorker(_settings(database_url), db, FaultyTransport(odd_reply), MESSAGES)
    _run(worker, lambda: outbox_status(db).get("pending", 0) == 0, timeout=20)
    with db.transaction(write=False) as session:
        reply = session.execute(text("SELECT reply FROM deliveries")).scalar_one()
    assert outbox_status(db) == {"sent": 1}
    assert reply.startswith("250 ok\\0 café ")


PHISH = '<a href="https://phish.example/reset">Reset your password</a>'


def _message_to_a_markup_name(api: httpx.Client, db: Database, body: str) -> str:
    """A message to a directory user whose name looks like a phishing link; its uuid."""
    directory = DirectoryBuilder()
    directory.user("mallory", "mallory@uni.example", full_name=PHISH)
    load_directory(db, directory.doc)
    created = api.post(
        URL,
        json={"subject": "Notice", "body": body,
              "query": {"additional_recipients": ["mallory@uni.example"]}},
    ).json()  # fmt: skip
    return str(created["uuid"])


def _mail_for_a_markup_name(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink, body: str
) -> Any:
    uuid = _message_to_a_markup_name(api, db, body)
    assert api.post(f"{URL}{uuid}/send/").status_code == 200
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() == 1, 30, "the mail")
    return sink.received[0].message


def test_directory_data_never_turns_plain_text_into_html(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    """Before, a name that looked like markup made the mail multipart with a live link."""
    mail = _mail_for_a_markup_name(api, db, database_url, sink, "Dear {{ recipient.full_name }},")
    assert mail.get_content_type() == "text/plain"
    assert PHISH in mail.get_content()  # shown as the text it is


def test_directory_data_is_escaped_in_html_mail(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    mail = _mail_for_a_markup_name(
        api, db, database_url, sink, "<p>Dear {{ recipient.full_name }},</p>"
    )
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert 'href="https://phish.example' not in html
    assert "&lt;a href=" in html


def test_a_test_send_of_a_plain_message_stays_plain(
    api: httpx.Client, db: Database, sink: SmtpSink, server_url: str
) -> None:
    uuid = _message_to_a_markup_name(api, db, "Dear {{ recipient.full_name }},")
    preview = api.post(f"{URL}{uuid}/preview/", json={"email": "mallory@uni.example"})
    assert preview.json()["html"] is None and PHISH in preview.json()["text"]


def test_a_405_names_every_method_of_the_path(api: httpx.Client) -> None:
    """Starlette named only the first route's methods: GET, without POST."""
    for path, methods in (
        (URL, {"GET", "HEAD", "POST"}),
        (f"{URL}render/", {"POST"}),
        (f"{URL}{'a' * 32}/", {"GET", "PUT", "PATCH", "DELETE"}),
    ):
        response = api.request("OPTIONS", path)
        assert response.status_code == 405
        assert set(response.headers["Allow"].split(", ")) == methods, path


def test_an_address_with_a_local_part_over_64_characters_is_400(api: httpx.Client) -> None:
    """RFC 5321's limit: relays refuse such addresses, so Herald does when they are written."""
    long_local = "a" * 65 + "@example.org"
    response = api.post(
        URL, json={"subject": "s", "body": "b", "query": {"additional_recipients": [long_local]}}
    )
    assert response.status_code == 400 and "additional_recipients" in response.json()["query"]
    assert api.post(
        URL, json={"subject": "s", "body": "b",
                   "query": {"additional_recipients": ["a" * 64 + "@example.org"]}},
    ).status_code == 201  # fmt: skip
