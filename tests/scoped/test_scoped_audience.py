"""One scope rule (SPEC 9), over generated directories: what a scoped sender may name is
exactly what a reference model of SPEC 9, written here, allows; and what they reach
is the audience staff would get for the same query (the reference of SPEC 2.2)."""

from __future__ import annotations

import datetime
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from herald.core.db import Database
from herald.core.errors import Invalid
from herald.core.models import ScopeType, User
from herald.directory.importer import import_document
from herald.recipients.service import Audience, ScopeLimit, check_targeting
from herald.recipients.targeting import make_targeting
from herald.roles.scopes import held_scopes
from tests.recipients.test_one_audience import World, _empty, addresses, reference, worlds

NOW = datetime.datetime(2026, 12, 1)
KINDS = frozenset({ScopeType.PROVIDER, ScopeType.ORGANISATION})


@st.composite
def federations(draw: Any) -> World:
    """A world whose offerings name providers and whose grants carry every customer role."""
    world = draw(worlds())
    for offering in world.doc["offerings"]:
        offering["customer"] = draw(st.one_of(st.none(), st.sampled_from(world.customers)))
    for grant in world.doc["customer_roles"]:
        grant["role"] = draw(st.sampled_from(["owner", "service_manager", "support"]))
    return world


def reference_scopes(doc: dict[str, Any], user: str) -> tuple[dict[str, set[str]], set[str]]:
    """SPEC 9 read literally: {provider: its offerings} and the organisations owned."""

    def in_force(grant: dict[str, Any]) -> bool:
        expires = grant.get("expires")
        return expires is None or datetime.datetime.fromisoformat(expires) > NOW.replace(
            tzinfo=datetime.UTC
        )

    grants = [g for g in doc["customer_roles"] if g["user"] == user and in_force(g)]
    offerings = {o["uuid"]: o for o in doc["offerings"]}

    def provider_of(uuid: str) -> str | None:
        offering = offerings[uuid]
        if offering["customer"] is not None:
            return str(offering["customer"])
        return provider_of(offering["parent"]) if offering["parent"] else None

    providers: dict[str, set[str]] = {}
    for grant in grants:
        if grant["role"] in ("owner", "service_manager"):
            mine = {o for o in offerings if provider_of(o) == grant["customer"]}
            if mine:
                providers[grant["customer"]] = mine
    owned = {g["customer"] for g in grants if g["role"] == "owner"}
    return providers, owned


def reference_fits(query: Any, providers: dict[str, set[str]], owned: set[str]) -> bool:
    if query.all_users or query.additional_recipients:
        return False
    if query.offerings and query.customers:
        return False
    if query.offerings:
        return any(set(query.offerings) <= offerings for offerings in providers.values())
    if query.customers:
        return len(set(query.customers)) == 1 and query.customers[0] in owned
    return bool(providers or owned)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_scoped_query_is_allowed_as_spec_9_says_and_reaches_what_staff_would(
    database: Database, data: st.DataObject
) -> None:
    world = data.draw(federations())
    # Mostly someone with a customer role: the interesting senders.
    granted = [u for u in world.doc["users"]
               if any(g["user"] == u["uuid"] for g in world.doc["customer_roles"])]  # fmt: skip
    sender = data.draw(st.sampled_from(granted or world.doc["users"]))
    query = make_targeting(
        {
            "customers": data.draw(st.lists(st.sampled_from(world.customers), unique=True)),
            "offerings": data.draw(st.lists(st.sampled_from(world.offerings), unique=True)),
            "all_users": data.draw(st.sampled_from([False, False, False, True])),
            "additional_recipients": data.draw(
                st.sampled_from([[], [], []]) | st.lists(addresses(), max_size=1)
            ),
            "excluded_recipients": data.draw(st.lists(addresses(), max_size=1)),
            "send_to_me": data.draw(st.booleans()),
        }
    )
    _empty(database)
    with database.transaction() as session:
        import_document(session, world.doc)
    providers, owned = reference_scopes(world.doc, sender["uuid"])
    with database.transaction(write=False) as session:
        held = held_scopes(session, sender["uuid"], NOW, KINDS)
        assert {s.uuid: set(held.offerings[s.uuid]) for s in held.scopes
                if s.type == ScopeType.PROVIDER} == providers  # fmt: skip
        assert {s.uuid for s in held.scopes if s.type == ScopeType.ORGANISATION} == owned
        if not held:
            event("holds no scope")
            return  # no scope held: refused at the door (403), whatever the query
        try:
            check_targeting(session, query, "query", ScopeLimit(held))
            allowed = True
        except Invalid:
            allowed = False
        assert allowed == reference_fits(query, providers, owned)
        event("allowed" if allowed else "refused")
        if allowed:
            me = session.get(User, sender["uuid"])
            assert me is not None
            reached = {r.email.lower() for r in Audience(session, query, me).recipients()}
            assert reached == reference(world.doc, query, me.email)
