"""Who a query reaches (SPEC 2.2), seen through the recipients preview and
through the `emails` of a created message, on a directory built for the test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from herald.core.db import Database
from tests.conftest import load_directory
from tests.factories import DirectoryBuilder


@pytest.fixture
def world(db: Database, staff: dict[str, str]) -> dict[str, str]:
    d = DirectoryBuilder()
    ids: dict[str, str] = {}
    ids["physics"] = physics = d.customer("Physics", ["it@physics.example"])
    ids["chemistry"] = chemistry = d.customer("Chemistry")
    ids["biology"] = biology = d.customer("Biology", ["helpdesk@bio.example"])
    ids["empty"] = d.customer("Empty Org")
    qcd = d.project("QCD", physics)
    optics = d.project("Optics", physics)
    catalysis = d.project("Catalysis", chemistry)
    genomics = d.project("Genomics", biology)
    ids["hpc"] = hpc = d.offering("HPC")
    ids["gpu"] = gpu = d.offering("HPC GPU partition", parent=hpc)
    ids["storage"] = storage = d.offering("Storage")
    ids["unused"] = d.offering("Unused")
    d.resource("qcd-gpu", qcd, gpu)
    d.resource("optics-store", optics, storage, state="Terminated")
    d.resource("cat-store", catalysis, storage, state="Creating")
    d.resource("gen-hpc", genomics, hpc, state="Erred")
    d.customer_role(d.user("olga", "olga@physics.example", full_name="Olga Owner"), physics)
    d.project_role(d.user("pavel", "pavel@physics.example", full_name="Pavel Admin"), qcd, "admin")
    d.project_role(d.user("mia", "mia@physics.example", full_name="Mia Member"), optics)
    d.project_role(d.user("ivan", "ivan@physics.example", active=False), qcd)
    d.project_role(d.user("nora", "", full_name="Nora Noemail"), optics)
    d.customer_role(d.user("carl", "carl@chem.example", full_name="Carl Chem"), chemistry)
    d.project_role(d.user("dina", "Dina@Chem.example", full_name="Dina Dev"), catalysis)
    # The same person under two accounts, addresses differing only in case.
    d.project_role(d.user("olga2", "OLGA@physics.example", full_name="Olga Owner"), catalysis)
    d.customer_role(d.user("eve", "eve@bio.example", full_name="Eve Bio"), biology, "support")
    d.user("lone", "lone@elsewhere.example", full_name="Lone User")
    load_directory(db, d.doc)
    return ids


def _preview(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/broadcast-messages/recipients/", params={"page_size": 300, **params})
    assert response.status_code == 200, response.text
    assert int(response.headers["X-Result-Count"]) == len(response.json())
    return response.json()


def _emails(rows: list[dict[str, Any]]) -> set[str]:
    return {row["email"].lower() for row in rows}


def _created_emails(api: httpx.Client, query: dict[str, Any]) -> list[str]:
    response = api.post(
        "/api/broadcast-messages/", json={"subject": "s", "body": "b", "query": query}
    )
    assert response.status_code == 201, response.text
    return response.json()["emails"]


PHYSICS_PEOPLE = {"olga@physics.example", "pavel@physics.example", "mia@physics.example"}


def test_customer_reaches_roles_in_it_and_its_projects_plus_notification_emails(
    api: httpx.Client, world: dict[str, str]
) -> None:
    rows = _preview(api, customers=world["physics"])
    assert _emails(rows) == PHYSICS_PEOPLE | {"it@physics.example"}
    by_email = {row["email"]: row for row in rows}
    assert by_email["it@physics.example"]["full_name"] == "Notification email for Physics"
    assert by_email["pavel@physics.example"]["customers"] == [
        {"uuid": world["physics"], "name": "Physics"}
    ]
    assert by_email["pavel@physics.example"]["offerings"] == []
    # inactive (ivan) and address-less (nora) members are never reached
    assert "ivan@physics.example" not in _emails(rows)
    assert all(row["email"] for row in rows)


def test_recipients_are_sorted_by_full_name_then_email(
    api: httpx.Client, world: dict[str, str]
) -> None:
    rows = _preview(api, customers=world["physics"])
    names = [row["full_name"] for row in rows]
    assert names == [
        "Mia Member",
        "Notification email for Physics",
        "Olga Owner",
        "Pavel Admin",
    ]


def test_offering_reaches_customers_with_live_resources_of_it_or_its_children(
    api: httpx.Client, world: dict[str, str]
) -> None:
    rows = _preview(api, offerings=world["hpc"])
    # Physics through its GPU-partition resource (a child of HPC), Biology through an
    # Erred (not terminated) HPC resource; Chemistry has no HPC resource at all.
    assert _emails(rows) == PHYSICS_PEOPLE | {
        "it@physics.example",
        "eve@bio.example",
        "helpdesk@bio.example",
    }
    by_email = {row["email"]: row for row in rows}
    assert by_email["olga@physics.example"]["offerings"] == [
        {"uuid": world["gpu"], "name": "HPC GPU partition"}
    ]
    assert by_email["eve@bio.example"]["offerings"] == [{"uuid": world["hpc"], "name": "HPC"}]
    assert by_email["eve@bio.example"]["customers"] == [
        {"uuid": world["biology"], "name": "Biology"}
    ]


def test_terminated_resources_do_not_count(api: httpx.Client, world: dict[str, str]) -> None:
    rows = _preview(api, offerings=world["storage"])
    # Optics' storage is Terminated: Physics is not reached. Chemistry's is Creating.
    assert _emails(rows) == {"carl@chem.example", "dina@chem.example", "olga@physics.example"}


def test_listed_customers_are_included_in_full_with_offerings(
    api: httpx.Client, world: dict[str, str]
) -> None:
    rows = _preview(api, customers=world["physics"], offerings=world["storage"])
    # Physics in full (union semantics) even though its storage is terminated;
    # Chemistry holds storage but is not among the listed customers.
    assert _emails(rows) == PHYSICS_PEOPLE | {"it@physics.example"}
    assert all(row["offerings"] == [] for row in rows)


def test_customers_and_offerings_accept_comma_separated_and_repeated_values(
    api: httpx.Client, world: dict[str, str]
) -> None:
    comma = _preview(api, customers=f"{world['physics']},{world['chemistry']}")
    repeated = _preview(api, customers=[world["physics"], world["chemistry"]])
    assert comma == repeated
    assert "carl@chem.example" in _emails(comma) and "olga@physics.example" in _emails(comma)


def test_all_users_is_every_active_address_plus_every_notification_email(
    api: httpx.Client, world: dict[str, str], staff: dict[str, str]
) -> None:
    rows = _preview(api, all_users="true")
    assert _emails(rows) == PHYSICS_PEOPLE | {
        "carl@chem.example",
        "dina@chem.example",
        "eve@bio.example",
        "lone@elsewhere.example",
        "it@physics.example",
        "helpdesk@bio.example",
        staff["email"],
    }
    head = api.head("/api/broadcast-messages/recipients/", params={"all_users": "1"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["X-Result-Count"]) == len(rows)


def test_addresses_are_compared_case_insensitively_and_appear_once(
    api: httpx.Client, world: dict[str, str]
) -> None:
    rows = _preview(
        api,
        customers=[world["physics"], world["chemistry"]],
        additional_recipients="DINA@chem.example",
    )
    emails = [row["email"].lower() for row in rows]
    assert len(emails) == len(set(emails))
    olga = [row for row in rows if row["email"].lower() == "olga@physics.example"]
    assert len(olga) == 1
    # reached as a member of both customers, listed once with both
    assert {c["name"] for c in olga[0]["customers"]} == {"Physics", "Chemistry"}


def test_additional_recipients_carry_a_users_name_when_one_has_the_address(
    api: httpx.Client, world: dict[str, str]
) -> None:
    rows = _preview(
        api, additional_recipients=["Lone@Elsewhere.example", "stranger@outside.example"]
    )
    assert {(r["full_name"], r["email"]) for r in rows} == {
        ("Lone User", "Lone@Elsewhere.example"),
        ("", "stranger@outside.example"),
    }
    assert all(r["customers"] == [] and r["offerings"] == [] for r in rows)


def test_excluded_recipients_are_removed_last_whatever_added_them(
    api: httpx.Client, world: dict[str, str]
) -> None:
    rows = _preview(
        api,
        customers=world["physics"],
        additional_recipients="extra@outside.example",
        excluded_recipients="OLGA@PHYSICS.EXAMPLE,it@physics.example,extra@outside.example",
    )
    assert _emails(rows) == {"pavel@physics.example", "mia@physics.example"}


def test_send_to_me_adds_the_requesting_staff_address(
    api: httpx.Client, world: dict[str, str], staff: dict[str, str]
) -> None:
    rows = _preview(api, send_to_me="true")
    assert [(r["full_name"], r["email"]) for r in rows] == [("Stella Staff", staff["email"])]
    assert _preview(api, send_to_me="false") == []


def test_created_message_emails_match_the_preview(
    api: httpx.Client, world: dict[str, str], staff: dict[str, str]
) -> None:
    query = {
        "offerings": [world["hpc"]],
        "additional_recipients": ["lone@elsewhere.example"],
        "excluded_recipients": ["eve@bio.example"],
        "send_to_me": True,
    }
    emails = _created_emails(api, query)
    preview = _preview(
        api,
        offerings=world["hpc"],
        additional_recipients="lone@elsewhere.example",
        excluded_recipients="eve@bio.example",
        send_to_me="true",
    )
    assert len(emails) == len(set(e.lower() for e in emails))
    assert {e.lower() for e in emails} == _emails(preview)
    assert staff["email"] in emails and "eve@bio.example" not in emails


def test_a_customer_with_nobody_reaches_nobody(api: httpx.Client, world: dict[str, str]) -> None:
    assert _preview(api, customers=world["empty"]) == []
    assert _preview(api, offerings=world["unused"]) == []


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"customers": "not-a-uuid"}, "customers"),
        ({"customers": "0" * 32}, "customers"),
        ({"offerings": "f" * 32}, "offerings"),
        ({"all_users": "maybe"}, "all_users"),
        ({"send_to_me": "2"}, "send_to_me"),
        ({"additional_recipients": "not an address"}, "additional_recipients"),
        ({"excluded_recipients": "a@b@c"}, "excluded_recipients"),
    ],
)
def test_bad_preview_parameters_are_400_naming_the_parameter(
    api: httpx.Client, world: dict[str, str], params: dict[str, str], key: str
) -> None:
    response = api.get("/api/broadcast-messages/recipients/", params=params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [key]
    assert list(params.values())[0].split(",")[0] in str(body[key])


def test_preview_pages_and_selects_fields(api: httpx.Client, world: dict[str, str]) -> None:
    everyone = _preview(api, all_users="true")
    page2 = api.get(
        "/api/broadcast-messages/recipients/",
        params={"all_users": "true", "page": 2, "page_size": 3, "field": ["email", "full_name"]},
    )
    assert page2.status_code == 200
    assert page2.json() == [
        {"full_name": r["full_name"], "email": r["email"]} for r in everyone[3:6]
    ]
    assert 'rel="prev"' in page2.headers["Link"] and 'rel="next"' in page2.headers["Link"]
    past = api.get("/api/broadcast-messages/recipients/", params={"all_users": "true", "page": 99})
    assert past.status_code == 404 and past.json() == {"detail": "Invalid page."}
