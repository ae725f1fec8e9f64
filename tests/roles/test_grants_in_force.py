"""A role grant counts until it expires, wherever membership is asked (roles/repository.py):
the audience of a query, a recipient's organisations outside it, and the users
behind a suppressed address."""

from __future__ import annotations

import httpx

from herald.core.db import Database
from tests.conftest import load_directory
from tests.factories import DirectoryBuilder

URL = "/api/broadcast-messages/"
PAST, FUTURE = "2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"


def _directory(db: Database) -> dict[str, str]:
    d = DirectoryBuilder()
    eve = d.user("eve", "eve@lab.example", full_name="Eve Expired")
    physics, old_lab, gone_lab = d.customer("Physics"), d.customer("Old Lab"), d.customer("Gone")
    d.customer_role(eve, old_lab, "owner", expires=PAST)
    d.project_role(eve, d.project("Optics", physics), "member", expires=FUTURE)
    d.project_role(eve, d.project("Archive", gone_lab), "member", expires=PAST)
    load_directory(db, d.doc)
    return {"physics": physics, "old_lab": old_lab, "gone": gone_lab}


def test_a_suppressions_users_show_only_the_organisations_in_force(
    api: httpx.Client, db: Database
) -> None:
    _directory(db)
    added = api.post("/api/suppressions/", json={"email": "eve@lab.example", "note": "left"})
    assert added.status_code == 201, added.text
    [user] = added.json()["users"]
    assert [c["name"] for c in user["customers"]] == ["Physics"]
    listed = api.get("/api/suppressions/").json()
    assert [c["name"] for c in listed[0]["users"][0]["customers"]] == ["Physics"]


def test_the_audience_and_a_recipient_outside_it_agree_with_the_report(
    api: httpx.Client, db: Database
) -> None:
    customers = _directory(db)
    reached = api.get(
        f"{URL}recipients/", params={"customers": [customers["old_lab"], customers["gone"]]}
    )
    assert reached.status_code == 200 and reached.json() == []
    physics = api.get(f"{URL}recipients/", params={"customers": customers["physics"]}).json()
    assert [(r["email"], [c["name"] for c in r["customers"]]) for r in physics] == [
        ("eve@lab.example", ["Physics"])
    ]
    # Rendered for Eve though the query does not reach her: her organisations in force.
    rendered = api.post(
        f"{URL}render/",
        json={
            "subject": "For {{ recipient.customers }}",
            "body": "b",
            "query": {"additional_recipients": ["someone@else.example"]},
            "email": "eve@lab.example",
        },
    )
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["subject"] == "For Physics"
