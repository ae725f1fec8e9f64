"""The wire rules of SPEC 1 and 3 over plain HTTP: every 4xx, clear, and nothing half-written."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest

from herald.core.db import Database
from tests.snapshots import snapshot

URL = "/api/broadcast-messages/"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"
TODAY = datetime.date.today()


def _create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post(URL, json={"subject": "s", "body": "b", "query": None, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_message_representation(api: httpx.Client, example: None) -> None:
    message = _create(api, query={"customers": [PHYSICS], "send_to_me": True})
    assert list(message) == [
        "uuid",
        "created",
        "subject",
        "body",
        "query",
        "author_full_name",
        "emails",
        "state",
        "send_at",
        "delivery",
        "scope",  # SPEC 9: null for a staff message
        "review",
        "translations",  # SPEC 2.3: {} for none
    ]
    assert (message["scope"], message["review"], message["translations"]) == (None, None, {})
    assert message["delivery"] == {
        "status": "idle",
        "total": 0,
        "pending": 0,
        "sent": 0,
        "failed": 0,
        "cancelled": 0,
        "bounced": 0,
        "suppressed": 0,
    }
    assert len(message["uuid"]) == 32 and int(message["uuid"], 16) >= 0
    assert message["created"].endswith("Z")
    assert message["query"] == {
        "customers": [{"uuid": PHYSICS, "name": "Physics Institute"}],
        "all_users": False,
        "send_to_me": True,
    }
    assert message["state"] == "DRAFT" and message["send_at"] is None


def test_query_given_as_the_string_null_means_no_targeting(api: httpx.Client) -> None:
    assert _create(api, query="null")["query"] == {"all_users": False}
    response = api.post(URL, json={"subject": "s", "body": "b"})
    assert response.status_code == 201 and response.json()["emails"] == []


def test_dashed_and_uppercase_uuids_are_accepted_in_paths_and_bodies(
    api: httpx.Client, example: None
) -> None:
    dashed_customer = "886363AE-12B3-583B-B0EE-DEDE4A502B63"
    message = _create(api, query={"customers": [dashed_customer]})
    assert message["query"]["customers"][0]["uuid"] == PHYSICS
    hexed = message["uuid"]
    dashed = f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}".upper()
    assert api.get(f"{URL}{dashed}/").json()["uuid"] == hexed


def test_paths_without_the_final_slash_are_served_the_same(api: httpx.Client) -> None:
    message = _create(api)
    assert api.get(f"/api/broadcast-messages/{message['uuid']}").json() == message
    created = api.post("/api/broadcast-messages", json={"subject": "x", "body": "y"})
    assert created.status_code == 201


@pytest.mark.parametrize("bad", ["nothex", "1234", "0" * 31, "g" * 32])
def test_unparseable_path_uuid_is_404(api: httpx.Client, bad: str) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = api.request(method, f"{URL}{bad}/", json={})
        assert response.status_code == 404, (method, response.text)
        assert response.json() == {"detail": "Not found."}
    assert api.post(f"{URL}{bad}/send/").status_code == 404


def test_unknown_message_is_404(api: httpx.Client) -> None:
    missing = "0" * 32
    assert api.get(f"{URL}{missing}/").json() == {"detail": "Not found."}
    assert api.post(f"{URL}{missing}/schedule/").status_code == 404
    assert api.delete(f"{URL}{missing}/").status_code == 404


def test_method_not_served_is_405(api: httpx.Client) -> None:
    response = api.put(URL, json={})
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PUT" not allowed.'}
    message = _create(api)
    response = api.get(f"{URL}{message['uuid']}/send/")
    assert response.json() == {"detail": 'Method "GET" not allowed.'}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, {"subject": ["This field is required."], "body": ["This field is required."]}),
        ({"subject": "   ", "body": "b"}, {"subject": ["This field may not be blank."]}),
        ({"subject": None, "body": "b"}, {"subject": ["This field may not be null."]}),
        ({"subject": 5, "body": "b"}, {"subject": ["Not a valid string."]}),
        ({"subject": "s", "body": ""}, {"body": ["This field may not be blank."]}),
        (
            {"subject": "x" * 1001, "body": "b"},
            {"subject": ["Ensure this field has no more than 1000 characters."]},
        ),
        (
            {"subject": "s", "body": "b", "send_at": "26/11/2026"},
            {"send_at": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
        (
            {"subject": "s", "body": "b", "query": {"customers": ["nope"]}},
            {"query": {"customers": {"0": ['"nope" is not a valid UUID.']}}},
        ),
        (
            {"subject": "s", "body": "b", "query": {"customers": ["0" * 32]}},
            {"query": {"customers": [f"Unknown customer: {'0' * 32}."]}},
        ),
        (
            {"subject": "s", "body": "b", "query": {"offerings": "abc"}},
            {"query": {"offerings": ['Expected a list of offering UUIDs but got "str".']}},
        ),
        (
            {"subject": "s", "body": "b", "query": {"all_users": "yes"}},
            {"query": {"all_users": ["Must be a valid boolean."]}},
        ),
        (
            {"subject": "s", "body": "b", "query": {"additional_recipients": ["ok@x.org", "bad"]}},
            {"query": {"additional_recipients": {"1": ['"bad": Enter a valid email address.']}}},
        ),
        (
            {"subject": "s", "body": "b", "query": {"everyone": True}},
            {
                "query": {
                    "everyone": [
                        "Unknown field. Known fields: customers, offerings, all_users, "
                        "additional_recipients, excluded_recipients, send_to_me."
                    ]
                }
            },
        ),
        (
            {"subject": "s", "body": "b", "query": [1, 2]},
            {
                "query": [
                    "Expected an object with customers, offerings, all_users, "
                    "additional_recipients, excluded_recipients and send_to_me, or null; "
                    'got "list".'
                ]
            },
        ),
    ],
)
def test_invalid_create_is_400_naming_the_field_and_writes_nothing(
    api: httpx.Client, db: Database, payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = snapshot(db)
    response = api.post(URL, json=payload)
    assert response.status_code == 400
    assert response.json() == expected
    assert snapshot(db) == before


def test_past_send_at_is_400_on_create_and_update(api: httpx.Client, db: Database) -> None:
    yesterday = (TODAY - datetime.timedelta(days=1)).isoformat()
    response = api.post(URL, json={"subject": "s", "body": "b", "send_at": yesterday})
    assert response.status_code == 400 and "send_at" in response.json()
    message = _create(api)
    before = snapshot(db)
    response = api.patch(f"{URL}{message['uuid']}/", json={"send_at": yesterday})
    assert response.status_code == 400 and "today or later" in response.json()["send_at"][0]
    assert snapshot(db) == before
    assert _create(api, send_at=TODAY.isoformat())["send_at"] == TODAY.isoformat()


@pytest.mark.parametrize(
    ("content", "content_type", "status", "detail_start"),
    [
        (b'{"subject": "s",', "application/json", 400, "JSON parse error"),
        (
            b'{"subject": "a", "subject": "b", "body": "x"}',
            "application/json",
            400,
            'JSON parse error - key "subject" is repeated',
        ),  # noqa: E501
        (b"\xff\xfe", "application/json", 400, "JSON parse error"),
        (b"subject=s&body=b", "text/plain", 415, 'Unsupported media type "text/plain"'),
    ],
)
def test_malformed_bodies_are_clear_4xx(
    api: httpx.Client,
    db: Database,
    content: bytes,
    content_type: str,
    status: int,
    detail_start: str,
) -> None:
    before = snapshot(db)
    response = api.post(URL, content=content, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.json()["detail"].startswith(detail_start)
    assert snapshot(db) == before


def test_non_object_body_is_400(api: httpx.Client) -> None:
    response = api.post(URL, json=["subject"])
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


def test_pagination_headers_and_bounds(api: httpx.Client, server_url: str) -> None:
    for number in range(25):
        _create(api, subject=f"m{number:02}")
    response = api.get(URL, params={"page": 2, "page_size": 10, "subject": "m"})
    assert response.status_code == 200
    assert response.headers["X-Result-Count"] == "25"
    links = response.headers["Link"]
    assert links.split(", ") == [
        f'<{server_url}{URL}?page_size=10&subject=m&page={page}>; rel="{rel}"'
        for rel, page in (("first", 1), ("prev", 1), ("next", 3), ("last", 3))
    ]
    assert len(response.json()) == 10

    default = api.get(URL)
    assert len(default.json()) == 10
    assert 'rel="prev"' not in default.headers["Link"]
    capped = api.get(URL, params={"page_size": 100000})
    assert len(capped.json()) == 25
    assert api.get(URL, params={"page_size": "abc"}).status_code == 200
    assert len(api.get(URL, params={"page_size": "-3"}).json()) == 10
    for bad_page in ("0", "-1", "x", "4"):
        response = api.get(URL, params={"page": bad_page})
        assert response.status_code == 404
        assert response.json() == {"detail": "Invalid page."}
    last = api.get(URL, params={"page": 3})
    assert len(last.json()) == 5 and 'rel="next"' not in last.headers["Link"]


def test_empty_list_is_page_one_with_no_rows(api: httpx.Client) -> None:
    response = api.get(URL)
    assert response.status_code == 200 and response.json() == []
    assert response.headers["X-Result-Count"] == "0"


def test_head_counts_with_filters_and_no_body(api: httpx.Client) -> None:
    _create(api, subject="Alpha")
    _create(api, subject="beta")
    response = api.head(URL, params={"subject": "ALP"})
    assert response.status_code == 200
    assert response.headers["X-Result-Count"] == "1"
    assert response.content == b""


def test_filters_and_ordering(api: httpx.Client) -> None:
    first = _create(api, subject="b-first")
    _create(api, subject="A-second")
    api.post(f"{URL}{first['uuid']}/send/")  # no recipients: stays a draft
    subjects = [m["subject"] for m in api.get(URL, params={"o": "subject"}).json()]
    assert subjects == ["A-second", "b-first"]
    subjects = [m["subject"] for m in api.get(URL, params={"o": "-subject"}).json()]
    assert subjects == ["b-first", "A-second"]
    assert [m["subject"] for m in api.get(URL, params={"o": "created"}).json()] == [
        "b-first",
        "A-second",
    ]
    both = api.get(URL, params=[("state", "DRAFT"), ("state", "SENT")]).json()
    assert len(both) == 2
    assert api.get(URL, params={"subject": "%"}).json() == []  # LIKE wildcards are literal


@pytest.mark.parametrize(
    ("params", "key"),
    [({"state": "BOGUS"}, "state"), ({"o": "body"}, "o"), ({"o": "-uuid"}, "o")],
)
def test_invalid_filter_values_are_400_naming_the_parameter(
    api: httpx.Client, params: dict[str, str], key: str
) -> None:
    response = api.get(URL, params=params)
    assert response.status_code == 400
    assert list(response.json()) == [key]
    assert params[key] in response.json()[key][0]


def test_field_selection_on_retrieve_and_list(api: httpx.Client) -> None:
    message = _create(api)
    one = api.get(f"{URL}{message['uuid']}/", params=[("field", "state"), ("field", "bogus")])
    assert one.json() == {"state": "DRAFT"}
    everything = api.get(f"{URL}{message['uuid']}/", params={"field": "bogus"})
    assert everything.json() == message
    listed = api.get(URL, params=[("field", "uuid"), ("field", "subject")]).json()
    assert listed == [{"uuid": message["uuid"], "subject": "s"}]


def test_openapi_document_describes_the_api(anonymous: httpx.Client) -> None:
    schema = anonymous.get("/api/schema/").json()
    paths = schema["paths"]
    assert set(paths) >= {
        "/api/broadcast-messages/",
        "/api/broadcast-messages/recipients/",
        "/api/broadcast-messages/{uuid}/",
        "/api/broadcast-messages/{uuid}/schedule/",
        "/api/broadcast-messages/{uuid}/send/",
    }
    recipients = paths["/api/broadcast-messages/recipients/"]["get"]
    body = recipients["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert body["items"]["$ref"].endswith("/RecipientOut")
    names = {p["name"] for p in recipients["parameters"]}
    assert names >= {"customers", "offerings", "all_users", "page", "page_size", "field"}
    create = paths["/api/broadcast-messages/"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == schema["components"]["schemas"]["BroadcastMessageRequest"]  # written out
    assert set(body["required"]) == {"subject", "body"}
    assert create["responses"]["201"]["links"]["broadcast_messages_send"]["parameters"] == {
        "uuid": "$response.body#/uuid"
    }
    # what really happens, and nothing that does not (FastAPI's 422 is never answered)
    assert set(create["responses"]) == {"201", "400", "401", "403", "409", "413", "415"}
    send = paths["/api/broadcast-messages/{uuid}/send/"]["post"]
    assert "content" not in send["responses"]["200"]  # no body
    assert "Idempotency-Key" in send["description"]
    head = paths["/api/broadcast-messages/"]["head"]
    assert all("content" not in r for r in head["responses"].values())
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 200 and "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert anonymous.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (b'{"subject": "a\\u0000b", "body": "x"}', "subject", "Null characters are not allowed."),
        (b'{"subject": "s", "body": "x\\u0000"}', "body", "Null characters are not allowed."),
        (
            b'{"subject": "\\ud800", "body": "x"}',
            "subject",
            "Not valid Unicode text (a lone surrogate escape).",
        ),
    ],
)
def test_text_no_database_can_store_is_400_not_500(
    api: httpx.Client, db: Database, content: bytes, field: str, message: str
) -> None:
    before = snapshot(db)
    response = api.post(URL, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert snapshot(db) == before


def test_a_subject_filter_with_a_nul_is_400(api: httpx.Client) -> None:
    response = api.get(URL, params={"subject": "a\x00b"})
    assert response.status_code == 400
    assert response.json() == {"subject": ["Null characters are not allowed."]}


def test_oversized_lists_in_a_query_are_400(api: httpx.Client, db: Database) -> None:
    before = snapshot(db)
    many = [f"{n:032x}" for n in range(10_001)]
    response = api.post(URL, json={"subject": "s", "body": "b", "query": {"customers": many}})
    assert response.status_code == 400
    assert response.json() == {
        "query": {"customers": ["Ensure this field has no more than 10000 elements."]}
    }
    assert snapshot(db) == before


HUGE_PAGES = ("9223372036854775808", "999999999999999999999999999999", "1e3", "١")


@pytest.mark.parametrize(
    "path",
    [
        URL,
        "/api/broadcast-messages/recipients/?all_users=true",
        "/api/broadcast-message-templates/",
        "/api/audit/",
        "/api/bounces/",
        "/api/suppressions/",
        "/api/customers/",
    ],
)
def test_a_page_no_list_can_have_is_a_404_on_get_and_head(
    api: httpx.Client, example: None, path: str
) -> None:
    """SPEC 1: a page past the end is 404 "Invalid page.", however large its number
    (a number past 64 bits was a 500, and HEAD dropped the connection)."""
    for page in HUGE_PAGES:
        separator = "&" if "?" in path else "?"
        got = api.get(f"{path}{separator}page={page}")
        assert got.status_code == 404, (path, page, got.text)
        assert got.json() == {"detail": "Invalid page."}
        head = api.head(f"{path}{separator}page={page}")
        assert head.status_code == 404, (path, page)
