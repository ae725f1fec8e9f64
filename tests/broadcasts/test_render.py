"""`POST /api/broadcast-messages/render/`: an unsaved message as one recipient gets it,
for the compose screen's live preview. Same rendering as delivery; nothing written."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from herald.core.db import Database

URL = "/api/broadcast-messages/render/"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"


def test_renders_for_the_first_recipient_of_the_query(api: httpx.Client, example: None) -> None:
    response = api.post(
        URL,
        json={
            "subject": "For {{ recipient.full_name }}",
            "body": "<p>Dear {{ recipient.full_name }} of {{ recipient.customers }}</p>",
            "query": {"customers": [PHYSICS]},
        },
    )
    assert response.status_code == 200, response.text
    rendered = response.json()
    assert rendered["email"] == "mia@physics.example"  # the first by full name (Mia Member)
    assert rendered["html"].startswith("<p>Dear ")
    assert "Physics Institute" in rendered["text"]


def test_renders_for_a_chosen_recipient_with_their_name(api: httpx.Client, example: None) -> None:
    response = api.post(
        URL,
        json={
            "subject": "Hi {{ recipient.full_name }}",
            "body": "Plain {{ recipient.email }}",
            "query": {"customers": [PHYSICS]},
            "email": "MIA@physics.example",
        },
    )
    assert response.json() == {
        "email": "mia@physics.example",
        "language": None,  # an unsaved text is one variant (SPEC 2.3)
        "subject": "Hi Mia Member",
        "text": "Plain mia@physics.example",
        "html": None,
    }


def test_without_a_query_it_renders_for_the_staff_member(
    api: httpx.Client, staff: dict[str, str]
) -> None:
    rendered = api.post(URL, json={"subject": "S", "body": "To {{ recipient.full_name }}"}).json()
    assert rendered["email"] == staff["email"] and rendered["text"] == "To Stella Staff"


def test_placeholder_mistakes_name_the_field_and_line(api: httpx.Client) -> None:
    response = api.post(URL, json={"subject": "ok", "body": "line one\n{{ recipent.full_name }}"})
    assert response.status_code == 400
    assert response.json()["body"][0].startswith("Line 2: unknown variable 'recipent'")
    missing = api.post(URL, json={"body": "x"})
    assert missing.status_code == 400 and "subject" in missing.json()
    unknown = api.post(URL, json={"subject": "s", "body": "b", "query": {"customers": ["0" * 32]}})
    assert unknown.status_code == 400 and "query" in unknown.json()


def test_nothing_is_written(api: httpx.Client, db: Database, example: None) -> None:
    api.post(URL, json={"subject": "s", "body": "b", "query": {"all_users": True}})
    with db.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM broadcast_messages")).scalar_one() == 0


def test_documented_in_the_openapi_document(anonymous: httpx.Client) -> None:
    schema = anonymous.get("/api/schema/").json()
    operation = schema["paths"]["/api/broadcast-messages/render/"]["post"]
    assert operation["operationId"] == "broadcast_messages_render"
    assert "RenderRequest" in schema["components"]["schemas"]


def test_a_message_without_a_day_renders_its_day_empty_never_none(
    api: httpx.Client, staff: dict[str, str]
) -> None:
    """Issue 23: `{{ message.send_at }}` of a message with no day read "None" in
    previews and test mails. Empty, and the day as YYYY-MM-DD when it has one."""
    body = {"subject": "On [{{ message.send_at }}]", "body": "Day: [{{ message.send_at }}]"}
    rendered = api.post(URL, json=body).json()
    assert (rendered["subject"], rendered["text"]) == ("On []", "Day: []")
    query = {"additional_recipients": ["reader@example.org"]}
    created = api.post(
        "/api/broadcast-messages/", json={**body, "send_at": "2099-03-04", "query": query}
    )
    preview = api.post(f"/api/broadcast-messages/{created.json()['uuid']}/preview/", json={})
    assert preview.json()["subject"] == "On [2099-03-04]"
    api.patch(f"/api/broadcast-messages/{created.json()['uuid']}/", json={"send_at": None})
    preview = api.post(f"/api/broadcast-messages/{created.json()['uuid']}/preview/", json={})
    assert "None" not in preview.json()["subject"] + preview.json()["text"]
