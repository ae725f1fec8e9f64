"""Who may send to whom beyond staff (SPEC 9): the scopes a user holds now.

One rule in one place. A *provider scope* is held by an active user with the
customer role `owner` or `service_manager` (in force) in a customer that
provides at least one offering; it covers the offerings whose `customer` is
that provider, and the offerings without a customer whose parent is one of
them. An *organisation scope* is held by an owner (in force) of a customer, and
covers that customer. Which kinds count is HERALD_SCOPED_SENDERS.

`held_scopes` reads them in one statement; the audience resolver
(recipients/service.py `check_targeting`) is what applies them to a query, so
the create, the update, the preview, its count, the send and the scheduler
cannot disagree.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, literal, null, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from herald.core.models import Customer, CustomerRole, Offering
from herald.roles.repository import in_force


class ScopeType(StrEnum):
    PROVIDER = "provider"  # a service provider's offerings
    ORGANISATION = "organisation"  # an organisation (customer) of the portal


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


def held_scopes(
    session: Session, user_uuid: str, now: datetime, kinds: Collection[ScopeType]
) -> HeldScopes:
    """The scopes `user_uuid` holds at `now` among `kinds`, in one statement: the
    grants in force, each with the offerings its customer provides (directly, or
    as the parent of an offering that names no provider)."""
    if not kinds:
        return HeldScopes()
    roles = set()
    if ScopeType.PROVIDER in kinds:
        roles.update(PROVIDER_ROLES)
    if ScopeType.ORGANISATION in kinds:
        roles.update(ORGANISATION_ROLES)
    grants = (
        select(CustomerRole.customer_uuid, CustomerRole.role)
        .where(
            CustomerRole.user_uuid == user_uuid,
            CustomerRole.role.in_(sorted(roles)),
            in_force(CustomerRole.expires, now),
        )
        .subquery()
    )
    parent = aliased(Offering)
    provided = union_all(
        select(Offering.customer_uuid.label("provider"), Offering.uuid.label("offering")).where(
            Offering.customer_uuid.is_not(None)
        ),
        select(parent.customer_uuid.label("provider"), Offering.uuid.label("offering"))
        .join(parent, parent.uuid == Offering.parent_uuid)
        .where(Offering.customer_uuid.is_(None), parent.customer_uuid.is_not(None)),
    ).subquery()
    statement = (
        select(
            grants.c.customer_uuid,
            grants.c.role,
            Customer.name,
            provided.c.offering if ScopeType.PROVIDER in kinds else literal(None).label("o"),
        )
        .join(Customer, Customer.uuid == grants.c.customer_uuid)
        .outerjoin(
            provided,
            and_(
                provided.c.provider == grants.c.customer_uuid,
                or_(*(grants.c.role == role for role in PROVIDER_ROLES)),
            )
            if ScopeType.PROVIDER in kinds
            else null().is_not(None),
        )
    )
    names: dict[str, str] = {}
    offerings: dict[str, set[str]] = {}
    owners: set[str] = set()
    for customer_uuid, role, name, offering in session.connection().execute(statement):
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
