"""Waldur's templates resource, through waldur-api-client 8.0.8 and plain HTTP."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from waldur_api_client.api.broadcast_message_templates import (
    broadcast_message_templates_count,
    broadcast_message_templates_create,
    broadcast_message_templates_destroy,
    broadcast_message_templates_list,
    broadcast_message_templates_partial_update,
    broadcast_message_templates_retrieve,
    broadcast_message_templates_update,
)
from waldur_api_client.client import AuthenticatedClient
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models.message_template_request import MessageTemplateRequest
from waldur_api_client.models.patched_message_template_request import (
    PatchedMessageTemplateRequest,
)

from herald.core.db import Database
from tests.snapshots import snapshot

URL = "/api/broadcast-message-templates/"


def test_templates_crud_through_the_generated_client(
    waldur: AuthenticatedClient, server_url: str
) -> None:
    created = broadcast_message_templates_create.sync(
        client=waldur,
        body=MessageTemplateRequest(
            name="Maintenance", subject="Maintenance on {{ message.send_at }}", body="Dear all"
        ),
    )
    assert created.name == "Maintenance"
    assert created.url == f"{server_url}{URL}{created.uuid.hex}/"
    for name in ("Outage", "New offering"):
        broadcast_message_templates_create.sync(
            client=waldur, body=MessageTemplateRequest(name=name, subject="s", body="b")
        )
    names = [t.name for t in broadcast_message_templates_list.sync(client=waldur)]
    assert names == ["Maintenance", "New offering", "Outage"]
    found = broadcast_message_templates_list.sync(client=waldur, name="OUT")
    assert [t.name for t in found] == ["Outage"]
    assert broadcast_message_templates_count.sync(client=waldur) == 3
    fetched = broadcast_message_templates_retrieve.sync(uuid=str(created.uuid), client=waldur)
    assert fetched.subject == "Maintenance on {{ message.send_at }}"
    updated = broadcast_message_templates_update.sync(
        uuid=str(created.uuid),
        client=waldur,
        body=MessageTemplateRequest(name="Maintenance window", subject="s2", body="b2"),
    )
    assert (updated.name, updated.subject, updated.body) == ("Maintenance window", "s2", "b2")
    patched = broadcast_message_templates_partial_update.sync(
        uuid=str(created.uuid), client=waldur, body=PatchedMessageTemplateRequest(body="b3")
    )
    assert (patched.name, patched.body) == ("Maintenance window", "b3")
    deleted = broadcast_message_templates_destroy.sync_detailed(
        uuid=str(created.uuid), client=waldur
    )
    assert deleted.status_code == 204
    with pytest.raises(UnexpectedStatus) as raised:
        broadcast_message_templates_retrieve.sync(uuid=str(created.uuid), client=waldur)
    assert raised.value.status_code == 404


def test_template_ordering_pages_and_head(api: httpx.Client) -> None:
    for name in ("b", "a", "c"):
        api.post(URL, json={"name": name, "subject": "s", "body": "b"})
    assert [t["name"] for t in api.get(URL, params={"o": "-name"}).json()] == ["c", "b", "a"]
    page = api.get(URL, params={"page_size": 2, "page": 2})
    assert [t["name"] for t in page.json()] == ["c"]
    assert page.headers["X-Result-Count"] == "3" and 'rel="prev"' in page.headers["Link"]
    assert api.head(URL).headers["X-Result-Count"] == "3"
    assert api.get(URL, params={"o": "subject"}).status_code == 400


@pytest.mark.parametrize(
    ("payload", "field", "start"),
    [
        ({"name": "n", "subject": "s"}, "body", "This field is required."),
        ({"name": " ", "subject": "s", "body": "b"}, "name", "This field may not be blank."),
        ({"name": "n", "subject": "Hi {{ oops", "body": "b"}, "subject", "Line 1:"),
        ({"name": "n", "subject": "s", "body": "a\n{{ recipient.password }}"}, "body", "Line 2:"),
    ],
)
def test_invalid_templates_are_400_and_write_nothing(
    api: httpx.Client, db: Database, payload: dict[str, str], field: str, start: str
) -> None:
    before = snapshot(db)
    response = api.post(URL, json=payload)
    assert response.status_code == 400
    assert response.json()[field][0].startswith(start)
    assert snapshot(db) == before


def test_templates_are_staff_only(anonymous: httpx.Client, db: Database) -> None:
    assert anonymous.get(URL).status_code == 401


def test_a_message_created_from_a_template(api: httpx.Client) -> None:
    template = api.post(
        URL, json={"name": "t", "subject": "From the template", "body": "Template body"}
    ).json()
    both = api.post("/api/broadcast-messages/", json={"template": template["uuid"], "query": None})
    assert both.status_code == 201
    assert (both.json()["subject"], both.json()["body"]) == ("From the template", "Template body")
    own_subject = api.post(
        "/api/broadcast-messages/", json={"template": template["uuid"], "subject": "Mine"}
    ).json()
    assert (own_subject["subject"], own_subject["body"]) == ("Mine", "Template body")
    unknown = api.post("/api/broadcast-messages/", json={"template": "0" * 32})
    assert unknown.status_code == 400
    assert unknown.json() == {"template": [f"Unknown template: {'0' * 32}."]}
    missing = api.post("/api/broadcast-messages/", json={"subject": "s"})
    assert missing.json() == {"body": ["This field is required."]}


def test_a_template_fills_a_put_and_a_patch_as_it_fills_a_create(api: httpx.Client) -> None:
    """One rule for `template` on create, PUT and PATCH: it fills what the request
    leaves out; an unknown one is a 400 and changes nothing."""
    messages = "/api/broadcast-messages/"
    template = api.post(
        URL, json={"name": "t", "subject": "From the template", "body": "Template body"}
    ).json()
    uuid = api.post(messages, json={"subject": "Old", "body": "Old body"}).json()["uuid"]
    put = api.put(f"{messages}{uuid}/", json={"template": template["uuid"], "subject": "Mine"})
    assert put.status_code == 200, put.text
    assert (put.json()["subject"], put.json()["body"]) == ("Mine", "Template body")
    api.patch(f"{messages}{uuid}/", json={"subject": "Old", "body": "Old body"})
    patched = api.patch(f"{messages}{uuid}/", json={"template": template["uuid"]})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["subject"], patched.json()["body"]) == (
        "From the template",
        "Template body",
    )
    for method in ("PUT", "PATCH"):
        unknown = api.request(method, f"{messages}{uuid}/", json={"template": "0" * 32})
        assert unknown.status_code == 400, method
        assert unknown.json() == {"template": [f"Unknown template: {'0' * 32}."]}
        bad = api.request(method, f"{messages}{uuid}/", json={"template": "nope"})
        assert bad.json() == {"template": ['"nope" is not a valid UUID.']}
    unchanged = api.get(f"{messages}{uuid}/").json()
    assert (unchanged["subject"], unchanged["body"]) == ("From the template", "Template body")
    # PUT without a template still needs both.
    assert api.put(f"{messages}{uuid}/", json={"subject": "s"}).json() == {
        "body": ["This field is required."]
    }


def test_a_template_body_has_the_messages_limit_and_fills_nothing_longer(
    api: httpx.Client, db: Database
) -> None:
    """One limit per field, wherever the text arrives from: a template's body is held
    to a message's, and a message filled from a template stored under older rules
    is refused like one that wrote that body itself."""
    too_long = "x" * 1_040_000
    refused = api.post(URL, json={"name": "Huge", "subject": "s", "body": too_long})
    assert refused.status_code == 400
    assert refused.json() == {"body": ["Ensure this field has no more than 1000000 characters."]}
    created = api.post(URL, json={"name": "Fine", "subject": "s", "body": "short"}).json()
    with db.transaction() as session:  # as a template saved before the limit existed
        session.execute(text("UPDATE broadcast_message_templates SET body = :b"), {"b": too_long})
    message = api.post(
        "/api/broadcast-messages/",
        json={"template": created["uuid"], "query": {"additional_recipients": ["a@b.example"]}},
    )
    assert message.status_code == 400
    assert message.json() == {"body": ["Ensure this field has no more than 1000000 characters."]}
    assert int(api.head("/api/broadcast-messages/").headers["X-Result-Count"]) == 0
