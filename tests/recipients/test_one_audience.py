"""One audience (SPEC 2.2, 4.1): over generated directories and queries, the
preview's addresses, its count, a message's stored `emails` and the deliveries
queued at send are the same set, and equal to a reference model of the rules
written here independently of Herald's SQL."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from herald.auth.callers import Caller
from herald.broadcasts import sending
from herald.broadcasts.schemas import MessageInput
from herald.broadcasts.service import create_message
from herald.core.db import Database
from herald.core.models import Base, User
from herald.directory.importer import import_document
from herald.recipients.service import Audience
from herald.recipients.targeting import Targeting, make_targeting

LOCALS = ["ann", "bob", "cy", "dee"]
DOMAINS = ["a.example", "b.example"]
PAST, FUTURE = "2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"
STATES = ["OK", "Creating", "Terminated", "Erred"]


def _hex(kind: str, n: int) -> str:
    return f"{kind}{n:x}".encode().hex().ljust(32, "0")[:32]


@st.composite
def addresses(draw: Any) -> str:
    local = draw(st.sampled_from(LOCALS))
    domain = draw(st.sampled_from(DOMAINS))
    address = f"{local}@{domain}"
    # Mixed case: the same address spelled differently must still count once.
    return draw(st.sampled_from([address, address.upper(), address.capitalize()]))


@dataclass
class World:
    doc: dict[str, Any]
    customers: list[str]
    offerings: list[str]


@st.composite
def worlds(draw: Any) -> World:
    n_users = draw(st.integers(1, 7))
    users = []
    for n in range(n_users):
        email = draw(st.one_of(st.just(""), addresses()))
        users.append(
            {
                "uuid": _hex("u", n),
                "username": f"user{n}",
                "email": email,
                "full_name": draw(st.sampled_from(["", "Ann A", "Bob B", "Cy C"])),
                "is_active": draw(st.booleans()),
                "is_staff": n == 0,
                "is_support": False,
            }
        )
    users[0]["is_active"] = True  # the staff member who asks
    customers = [
        {
            "uuid": _hex("c", n),
            "name": f"Org {n}",
            "notification_emails": draw(st.lists(addresses(), max_size=2, unique_by=str.lower)),
        }
        for n in range(draw(st.integers(1, 3)))
    ]
    projects = [
        {
            "uuid": _hex("p", n),
            "name": f"P{n}",
            "customer": draw(st.sampled_from(customers))["uuid"],
        }
        for n in range(draw(st.integers(0, 3)))
    ]
    offerings: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 3))):
        parent = draw(st.one_of(st.none(), st.sampled_from(offerings))) if offerings else None
        offerings.append(
            {"uuid": _hex("o", n), "name": f"Off {n}", "parent": parent and parent["uuid"]}
        )
    resources = []
    if projects:
        for n in range(draw(st.integers(0, 4))):
            resources.append(
                {
                    "uuid": _hex("r", n),
                    "project": draw(st.sampled_from(projects))["uuid"],
                    "offering": draw(st.sampled_from(offerings))["uuid"],
                    "state": draw(st.sampled_from(STATES)),
                }
            )
    customer_roles = {}
    for _ in range(draw(st.integers(0, 5))):
        user, customer = draw(st.sampled_from(users)), draw(st.sampled_from(customers))
        customer_roles[(user["uuid"], customer["uuid"])] = {
            "user": user["uuid"],
            "customer": customer["uuid"],
            "role": "owner",
            "expires": draw(st.sampled_from([None, PAST, FUTURE])),
        }
    project_roles = {}
    if projects:
        for _ in range(draw(st.integers(0, 5))):
            user, project = draw(st.sampled_from(users)), draw(st.sampled_from(projects))
            project_roles[(user["uuid"], project["uuid"])] = {
                "user": user["uuid"],
                "project": project["uuid"],
                "role": "member",
                "expires": draw(st.sampled_from([None, PAST, FUTURE])),
            }
    doc = {
        "users": users,
        "customers": customers,
        "projects": projects,
        "offerings": offerings,
        "resources": resources,
        "customer_roles": list(customer_roles.values()),
        "project_roles": list(project_roles.values()),
    }
    return World(doc, [c["uuid"] for c in customers], [o["uuid"] for o in offerings])


@st.composite
def queries(draw: Any, world: World) -> Targeting:
    # As a request writes it (every key given), so the stored query says it all.
    return make_targeting(
        {
            "customers": draw(st.lists(st.sampled_from(world.customers), unique=True)),
            "offerings": draw(st.lists(st.sampled_from(world.offerings), unique=True)),
            "all_users": draw(st.booleans()),
            "additional_recipients": draw(st.lists(addresses(), max_size=3, unique_by=str.lower)),
            "excluded_recipients": draw(st.lists(addresses(), max_size=2, unique_by=str.lower)),
            "send_to_me": draw(st.booleans()),
        }
    )


def reference(doc: dict[str, Any], query: Targeting, me: str) -> set[str]:
    """SPEC 2.2, read literally: the lower-cased addresses a query reaches."""
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    users = {u["uuid"]: u for u in doc["users"]}

    def reachable(user: dict[str, Any]) -> bool:
        return bool(user["is_active"] and user["email"])

    def in_force(grant: dict[str, Any]) -> bool:
        expires = grant.get("expires")
        return expires is None or datetime.datetime.fromisoformat(expires) > now

    found: set[str] = set()
    if query.all_users:
        found |= {u["email"].lower() for u in users.values() if reachable(u)}
        for customer in doc["customers"]:
            found |= {e.lower() for e in customer["notification_emails"]}
    if query.customers:
        targeted = set(query.customers)
    elif query.offerings:
        wanted = set(query.offerings) | {
            o["uuid"] for o in doc["offerings"] if o["parent"] in query.offerings
        }
        project_customer = {p["uuid"]: p["customer"] for p in doc["projects"]}
        targeted = {
            project_customer[r["project"]]
            for r in doc["resources"]
            if r["offering"] in wanted and r["state"] != "Terminated"
        }
    else:
        targeted = set()
    project_customer = {p["uuid"]: p["customer"] for p in doc["projects"]}
    for grant in doc["customer_roles"]:
        if grant["customer"] in targeted and in_force(grant) and reachable(users[grant["user"]]):
            found.add(users[grant["user"]]["email"].lower())
    for grant in doc["project_roles"]:
        if (
            project_customer[grant["project"]] in targeted
            and in_force(grant)
            and reachable(users[grant["user"]])
        ):
            found.add(users[grant["user"]]["email"].lower())
    for customer in doc["customers"]:
        if customer["uuid"] in targeted:
            found |= {e.lower() for e in customer["notification_emails"]}
    found |= {a.lower() for a in query.additional_recipients}
    if query.send_to_me and me:
        found.add(me.lower())
    return found - {a.lower() for a in query.excluded_recipients}


def _empty(db: Database) -> None:
    with db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(text(f"DELETE FROM {table.name}"))


@pytest.mark.parametrize("batch", [2, 5000])
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_preview_count_emails_and_deliveries_agree(
    database: Database, batch: int, data: st.DataObject
) -> None:
    world = data.draw(worlds())
    query = data.draw(queries(world))
    _empty(database)
    with database.transaction() as session:
        import_document(session, world.doc)
    expected = None
    with database.transaction() as session:
        me = session.get(User, world.doc["users"][0]["uuid"])
        assert me is not None
        expected = reference(world.doc, query, me.email)
        audience = Audience(session, query, me)
        previewed = [r.email.lower() for r in audience.recipients()]
        assert len(previewed) == len(set(previewed)), "the preview names an address twice"
        assert set(previewed) == expected
        assert audience.count() == len(expected)
        assert audience.reaches_anyone() == bool(expected)
        if not expected:
            return
        message = create_message(
            session, Caller(me), MessageInput(subject="s", body="b", targeting=query, send_at=None)
        )
        stored = orjson.loads(message.emails)
        assert sorted(e.lower() for e in stored) == sorted(expected)
        uuid = message.uuid
        message_id = message.id
    # Sent in batches of `batch` address keys: 2 forces many key ranges.
    with database.transaction() as session:
        done = sending.send_message(session, uuid, datetime.date.today(), batch)
    if not done:
        sending.prepare_message(database, message_id, batch)
    with database.transaction(write=False) as session:
        queued = [
            row[0]
            for row in session.execute(
                text("SELECT email FROM deliveries WHERE message_id = :m"), {"m": message_id}
            )
        ]
        emails = orjson.loads(
            session.execute(
                text("SELECT emails FROM broadcast_messages WHERE id = :m"), {"m": message_id}
            ).scalar_one()
        )
    assert len(queued) == len(expected), "an address was queued twice, or not at all"
    assert {q.lower() for q in queued} == expected
    assert sorted(emails) == sorted(queued)
