"""Hostile templates and text through every door: each a 400 naming the field and the line,
answered at once, nothing written; stored ones outside the grammar fail only their own
deliveries at send time, with the reason, while other mail keeps moving. On both databases."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from herald.broadcasts.repository import MESSAGES
from herald.core.db import Database
from herald.delivery.worker import DeliveryWorker
from tests.conftest import load_directory
from tests.delivery.helpers import outbox_status
from tests.delivery.test_worker_faults import FaultyTransport, _accept, _run, _settings
from tests.factories import DirectoryBuilder

URL = "/api/broadcast-messages/"
TEMPLATES = "/api/broadcast-message-templates/"
BOMB = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}ok"
HOSTILE = {
    "cpu bomb": (BOMB, "Line 1: loops go over"),
    "guarded bomb": (
        'Hi\n{% if recipient.email != "sample@example.org" %}' + BOMB + "{% endif %}",
        "Line 2: loops go over",
    ),
    "method call": ("{{ [].pop() }}", "Line 1: calling functions or methods is not allowed"),
    "format bomb": ("{{ '{0:>1000000000}'.format(1) }}", "Line 1: calling functions"),
    "percent bomb": ("{{ '%0400000000d' % 1 }}", "Line 1: arithmetic is not allowed"),
    "ljust bomb": ("{% set x = 'x'.ljust(1000000000) %}ok", "Line 1: {% set %} is not allowed"),
    "deep brackets": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nests too deeply"),
    "deep ifs": ("{% if 1 %}" * 1000 + "x" + "{% endif %}" * 1000, "nests too deeply"),
    "macro": ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "macros are not allowed"),
    "mutation": ("{% if recipient.customers.append(1) %}{% endif %}", "calling functions"),
}


def _doors(api: httpx.Client) -> dict[str, Any]:
    """Every request that takes a body or subject with placeholders: name -> send(body)."""
    message = api.post(URL, json={"subject": "Draft", "body": "Hello"}).json()["uuid"]
    template = api.post(TEMPLATES, json={"name": "T", "subject": "S", "body": "B"}).json()["uuid"]
    return {
        "create": lambda b: api.post(URL, json={"subject": "s", "body": b}),
        "put": lambda b: api.put(f"{URL}{message}/", json={"subject": "s", "body": b}),
        "patch": lambda b: api.patch(f"{URL}{message}/", json={"body": b}),
        "render": lambda b: api.post(f"{URL}render/", json={"subject": "s", "body": b}),
        "template": lambda b: api.post(TEMPLATES, json={"name": "n", "subject": "s", "body": b}),
        "template put": lambda b: api.put(
            f"{TEMPLATES}{template}/", json={"name": "T", "subject": "s", "body": b}
        ),
        "template patch": lambda b: api.patch(f"{TEMPLATES}{template}/", json={"body": b}),
        "subject": lambda b: api.post(URL, json={"subject": b[:1000], "body": "b"}),
    }


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_templates_are_400_at_every_door_and_nothing_changes(
    api: httpx.Client, db: Database, case: str
) -> None:
    template, expected = HOSTILE[case]
    for door, send in _doors(api).items():
        if door == "subject" and len(template) > 1000:
            continue
        started = time.monotonic()
        response = send(template)
        assert response.status_code == 400, (door, response.text)
        field = "subject" if door == "subject" else "body"
        assert list(response.json()) == [field], (door, response.json())
        assert expected in response.json()[field][0], (door, response.json())
        # Refused on the syntax tree: nothing ran. A generous ceiling, not a benchmark.
        assert time.monotonic() - started < 5, door
    with db.transaction(write=False) as session:
        bodies = session.execute(text("SELECT body FROM broadcast_messages")).scalars().all()
        templates = (
            session.execute(text("SELECT body FROM broadcast_message_templates")).scalars().all()
        )
    assert bodies == ["Hello"] and templates == ["B"]


SURROGATE = "\ud800"
JSON = "application/json"


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        (
            URL,
            {
                "subject": "s",
                "body": "b",
                "query": {"additional_recipients": [f"a{SURROGATE}@x.org"]},
            },
            "query",
        ),  # noqa: E501
        (URL, {"subject": "s", "body": "b", "query": {"customers": [f"{SURROGATE}" * 3]}}, "query"),
        (URL, {"subject": "s", "body": "b", "query": {f"k{SURROGATE}": 1}}, "query"),
        (URL, {"subject": f"s{SURROGATE}", "body": "b"}, "subject"),
        (URL, {"subject": "s", "body": "b", f"x{SURROGATE}": 1}, None),  # even unknown keys
        (f"{URL}render/", {"subject": "s", "body": "b", "email": f"{SURROGATE}@x.org"}, "email"),
        (TEMPLATES, {"name": f"n{SURROGATE}", "subject": "s", "body": "b"}, "name"),
    ],
)
def test_lone_surrogates_anywhere_are_400_not_500(
    api: httpx.Client, path: str, payload: dict[str, Any], field: str | None
) -> None:
    # json.dumps escapes the surrogate as \ud800, as a hostile client would send it.
    response = api.post(path, content=json.dumps(payload), headers={"Content-Type": JSON})
    assert response.status_code == 400, response.text
    if field:
        assert field in response.json(), response.json()


def test_a_lone_surrogate_in_a_path_or_query_string_is_not_a_500(api: httpx.Client) -> None:
    for url in (f"{URL}%ED%A0%80/", f"{URL}?state=%ED%A0%80", f"{TEMPLATES}%ED%A0%80/",
                f"{URL}?customer_uuid=%ED%A0%80", f"{URL}?q=%ED%A0%80"):  # fmt: skip
        response = api.get(url)
        assert response.status_code < 500, (url, response.text)


def test_a_stored_guarded_bomb_fails_its_own_deliveries_and_others_go_out(
    api: httpx.Client, db: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Written before the grammar existed: the worker refuses to run it, with the reason."""

    def send(subject: str, emails: list[str]) -> str:
        created = api.post(URL, json={"subject": subject, "body": "Hello {{ recipient.email }}",
                                      "query": {"additional_recipients": emails}})  # fmt: skip
        assert api.post(f"{URL}{created.json()['uuid']}/send/").status_code == 200
        return str(created.json()["uuid"])

    good = send("Good", ["a@good.example", "b@good.example"])
    bad = send("Bad", ["c@bad.example"])
    with db.transaction() as session:
        session.execute(
            text("UPDATE broadcast_messages SET body = :b WHERE uuid = :u"),
            {"b": HOSTILE["guarded bomb"][0], "u": bad},
        )
    transport = FaultyTransport(_accept)
    worker = DeliveryWorker(_settings(database_url), db, transport, MESSAGES)
    with caplog.at_level(logging.WARNING, logger="herald.delivery"):
        _run(worker, lambda: outbox_status(db).get("pending", 0) == 0, timeout=20)
    assert sorted(transport.accepted) == ["a@good.example", "b@good.example"]
    with db.transaction(write=False) as session:
        row = session.execute(
            text("SELECT status, last_error FROM deliveries WHERE email = 'c@bad.example'")
        ).one()
    assert row.status == "failed"
    assert "cannot be rendered" in row.last_error and "Line 2: loops go over" in row.last_error
    assert any("c@bad.example" in r.getMessage() for r in caplog.records)
    assert good != bad


def test_a_copy_that_fails_for_one_recipient_fails_that_delivery_alone(
    api: httpx.Client, db: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A branch the write-time samples never take, failing on one person's data: that
    delivery fails with the line and the reason, logged; the others go out."""
    directory = DirectoryBuilder()
    ana = directory.user("ana", "ana@two.example")
    ben = directory.user("ben", "ben@one.example")
    first, second = directory.customer("Alpha"), directory.customer("Beta")
    for user, customers in ((ana, (first, second)), (ben, (first,))):
        for customer in customers:
            directory.customer_role(user, customer)
    load_directory(db, directory.doc)
    body = "Hello\n{% if recipient.customers | length > 1 %}{{ recipient.customers[1] | round }}"
    body += "{% endif %}"  # Ana is reached through two customers, Ben through one
    query = {"customers": [first, second]}
    created = api.post(URL, json={"subject": "S", "body": body, "query": query})
    assert created.status_code == 201, created.text  # both samples render
    assert api.post(f"{URL}{created.json()['uuid']}/send/").status_code == 200
    transport = FaultyTransport(_accept)
    worker = DeliveryWorker(_settings(database_url), db, transport, MESSAGES)
    with caplog.at_level(logging.WARNING, logger="herald.delivery"):
        _run(worker, lambda: outbox_status(db).get("pending", 0) == 0, timeout=20)
    assert list(transport.accepted) == ["ben@one.example"]
    with db.transaction(write=False) as session:
        row = session.execute(
            text("SELECT status, last_error FROM deliveries WHERE email = 'ana@two.example'")
        ).one()
    assert row.status == "failed" and "Line 2: cannot be rendered" in row.last_error
    assert any("ana@two.example" in r.getMessage() for r in caplog.records)
