"""Who may send to whom beyond staff (SPEC 9): the scopes a user holds now.

One rule in one place. A *provider scope* is held by an active user with the
customer role `owner` or `service_manager` (in force) in a customer that
provides at least one offering; it covers the offerings whose `customer` is
that provider, and the offerings without a customer whose parent is in the
scope (at any depth). An *organisation scope* is held by an owner (in force) of a customer, and
covers that customer. Which kinds count is HERALD_SCOPED_SENDERS.

`held_scopes` reads them in one statement; the audience resolver
(recipients/service.py `check_targeting`) is what applies them to a query, so
the create, the update, the preview, its count, the send and the scheduler
cannot disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Select, and_, bindparam, literal, select
from sqlalchemy.orm import Session, aliased

from herald.core.models import Customer, CustomerRole, Offering, ScopeType
from herald.roles.repository import in_force

PROVIDER_ROLES = ("owner", "service_manager")
ORGANISATION_ROLES = ("owner",)


@dataclass(frozen=True)
class Scope:
    type: ScopeType
    uuid: str  # the provider's or the organisation's customer UUID
    name: str


@dataclass(frozen=True)
class HeldScopes:
    """The scopes a user holds now, and what each covers."""

    scopes: tuple[Scope, ...] = ()
    # Provider UUID -> the offerings in that provider scope.
    offerings: dict[str, frozenset[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.scopes)

    def find(self, kind: ScopeType, uuid: str) -> Scope | None:
        return next((s for s in self.scopes if s.type == kind and s.uuid == uuid), None)

    def keys(self) -> list[tuple[str, str]]:
        """(type, uuid) of every scope held: what a message's scope is matched against."""
        return [(s.type.value, s.uuid) for s in self.scopes]


@functools.cache
def _held_statement(kinds: frozenset[ScopeType]) -> Select[Any]:
    """The one statement behind `held_scopes`, built once per kinds (bound parameters
    `user_uuid` and `now`): built anew per request it cost more than it ran."""
    roles: set[str] = set()
    if ScopeType.PROVIDER in kinds:
        roles.update(PROVIDER_ROLES)
    if ScopeType.ORGANISATION in kinds:
        roles.update(ORGANISATION_ROLES)
    grants = (
        select(CustomerRole.customer_uuid, CustomerRole.role)
        .where(
            CustomerRole.user_uuid == bindparam("user_uuid"),
            CustomerRole.role.in_(sorted(roles)),
            in_force(CustomerRole.expires, bindparam("now", type_=DateTime())),
        )
        .cte("grants")
    )
    named = select(grants.c.customer_uuid, grants.c.role, Customer.name).join(
        Customer, Customer.uuid == grants.c.customer_uuid
    )
    if ScopeType.PROVIDER not in kinds:
        return named.add_columns(literal(None).label("offering"))
    # The offerings of the providers among those grants: their own, and those without
    # a provider below one of them (any depth), by a recursive CTE seeded by the index
    # on offerings.customer_uuid.
    provider_grants = select(grants.c.customer_uuid).where(grants.c.role.in_(PROVIDER_ROLES))
    provided = (
        select(Offering.customer_uuid.label("provider"), Offering.uuid.label("offering"))
        .where(Offering.customer_uuid.in_(provider_grants))
        .cte("provided", recursive=True)
    )
    child = aliased(Offering)
    provided = provided.union(
        select(provided.c.provider, child.uuid).where(
            child.parent_uuid == provided.c.offering, child.customer_uuid.is_(None)
        )
    )
    return named.add_columns(provided.c.offering).outerjoin(
        provided,
        and_(
            provided.c.provider == grants.c.customer_uuid,
            grants.c.role.in_(PROVIDER_ROLES),
        ),
    )


def held_scopes(
    session: Session, user_uuid: str, now: datetime, kinds: Collection[ScopeType]
) -> HeldScopes:
    """The scopes `user_uuid` holds at `now` among `kinds`, in one statement: the
    grants in force, each with the offerings its customer provides."""
    if not kinds:
        return HeldScopes()
    statement = _held_statement(frozenset(kinds))
    rows = session.connection().execute(statement, {"user_uuid": user_uuid, "now": now})
    names: dict[str, str] = {}
    offerings: dict[str, set[str]] = {}
    owners: set[str] = set()
    for customer_uuid, role, name, offering in rows:
        names[customer_uuid] = name
        if role in ORGANISATION_ROLES:
            owners.add(customer_uuid)
        if offering is not None:
            offerings.setdefault(customer_uuid, set()).add(offering)
    scopes: list[Scope] = []
    if ScopeType.PROVIDER in kinds:
        scopes += [Scope(ScopeType.PROVIDER, uuid, names[uuid]) for uuid in offerings]
    if ScopeType.ORGANISATION in kinds:
        scopes += [Scope(ScopeType.ORGANISATION, uuid, names[uuid]) for uuid in owners]
    scopes.sort(key=lambda s: (s.type.value, s.name.casefold(), s.uuid))
    return HeldScopes(tuple(scopes), {k: frozenset(v) for k, v in offerings.items()})


# --- what a scoped query may name ------------------------------------------------

NOT_YOURS = {
    "offerings": "Not one of your offerings: {}.",
    "customers": "Not one of your organisations: {}.",
}


@dataclass(frozen=True)
class ScopedQuery:
    """The parts of a query the scope rule reads (recipients/targeting.py Targeting)."""

    offerings: tuple[str, ...]
    customers: tuple[str, ...]
    all_users: bool
    additional_recipients: tuple[str, ...]


def fitting(held: HeldScopes, query: ScopedQuery) -> tuple[list[Scope], dict[str, list[str]]]:
    """The held scopes the query fits, and what it names outside them (field -> errors).

    A scoped sender may name offerings of one provider scope, or customers of one
    organisation scope (not both), plus `excluded_recipients` and `send_to_me`;
    never `all_users` or `additional_recipients`."""
    errors: dict[str, list[str]] = {}
    if query.all_users:
        errors["all_users"] = ["Only staff send to all users."]
    if query.additional_recipients:
        errors["additional_recipients"] = [
            "Only staff add addresses by hand; name your offerings or organisations."
        ]
    if query.offerings and query.customers:
        errors["customers"] = [
            "A message is for one provider's offerings or one organisation, not both."
        ]
    providers = [s for s in held.scopes if s.type == ScopeType.PROVIDER]
    organisations = [s for s in held.scopes if s.type == ScopeType.ORGANISATION]
    candidates = list(held.scopes)
    if query.offerings:
        outside = [o for o in query.offerings
                   if not any(o in held.offerings.get(p.uuid, ()) for p in providers)]  # fmt: skip
        if outside:
            errors["offerings"] = [NOT_YOURS["offerings"].format(o) for o in outside]
        wanted = set(query.offerings)
        candidates = [p for p in providers if wanted <= held.offerings.get(p.uuid, frozenset())]
        if not outside and not candidates:
            errors["offerings"] = [
                "These offerings belong to different providers; a message is for one "
                "provider's offerings."
            ]
    if query.customers:
        owned = {s.uuid for s in organisations}
        outside = [c for c in query.customers if c not in owned]
        if outside:
            errors["customers"] = [NOT_YOURS["customers"].format(c) for c in outside]
        candidates = [s for s in organisations if set(query.customers) == {s.uuid}]
        if not outside and not candidates:
            errors["customers"] = ["A message is for one organisation; name one."]
    return candidates, errors


def choose(
    held: HeldScopes, query: ScopedQuery, wanted: tuple[ScopeType, str] | None
) -> tuple[Scope | None, dict[str, list[str]], list[str]]:
    """The one scope a new message is written in: (scope, query errors, scope errors).
    When the query fits several (only `send_to_me`, say), `wanted` must say which."""
    candidates, errors = fitting(held, query)
    if errors:
        return None, errors, []
    if wanted is not None:
        found = next((s for s in candidates if (s.type, s.uuid) == wanted), None)
        if found is None:
            held_one = held.find(*wanted) is not None
            return (
                None,
                {},
                [
                    "The query does not fit this scope."
                    if held_one
                    else f"Not one of your scopes: {wanted[0].value} {wanted[1]}."
                ],
            )
        return found, {}, []
    if len(candidates) == 1:
        return candidates[0], {}, []
    return (
        None,
        {},
        [
            "You send for several providers or organisations: give scope as "
            '{"type": "provider" or "organisation", "uuid": ...}.'
        ],
    )


def still_fits(held: HeldScopes, query: ScopedQuery, scope: Scope) -> dict[str, list[str]]:
    """Errors when an updated query no longer fits the message's own scope."""
    candidates, errors = fitting(held, query)
    if errors:
        return errors
    if all((s.type, s.uuid) != (scope.type, scope.uuid) for s in candidates):
        field = "offerings" if scope.type == ScopeType.PROVIDER else "customers"
        return {field: [f"The message is for {scope.name}; name only what that covers."]}
    return {}
