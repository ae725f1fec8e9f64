"""The SQL of role grants in force (SPEC 5: a grant counts only until it expires).

Who belongs to which customer is asked in three places (the audience of a
query, the organisations of a recipient outside it, the users behind a
suppressed address). They all read `member_grants`, so an expired grant is
gone everywhere at the same moment; an expired role once still showed
under a suppression's users because that report had its own join.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Select, or_, select, union
from sqlalchemy.orm import Session

from herald.core.models import Customer, CustomerRole, Project, ProjectRole


def in_force(expires: Any, now: datetime | Any) -> ColumnElement[bool]:
    """A role grant counts until it expires."""
    return or_(expires.is_(None), expires > now)


def member_grants(
    now: datetime,
    *,
    customers: Select[Any] | None = None,
    users: Collection[str] | None = None,
) -> CompoundSelect[Any]:
    """(user_uuid, customer_uuid) of the grants in force that make a user a member of
    a customer: a role in the customer itself or in one of its projects. Narrowed to
    `customers` (a select of their UUIDs) and/or `users` (their UUIDs)."""
    direct = select(
        CustomerRole.user_uuid.label("user_uuid"),
        CustomerRole.customer_uuid.label("customer_uuid"),
    ).where(in_force(CustomerRole.expires, now))
    through_projects = (
        select(
            ProjectRole.user_uuid.label("user_uuid"),
            Project.customer_uuid.label("customer_uuid"),
        )
        .join(Project, Project.uuid == ProjectRole.project_uuid)
        .where(in_force(ProjectRole.expires, now))
    )
    if customers is not None:
        direct = direct.where(CustomerRole.customer_uuid.in_(customers))
        through_projects = through_projects.where(Project.customer_uuid.in_(customers))
    if users is not None:
        direct = direct.where(CustomerRole.user_uuid.in_(list(users)))
        through_projects = through_projects.where(ProjectRole.user_uuid.in_(list(users)))
    return union(direct, through_projects)


def organisations_of(
    session: Session, users: Collection[str], now: datetime
) -> Mapping[str, list[tuple[str, str]]]:
    """Each user's customers as (uuid, name), ordered by name, through grants in force;
    a user with none is absent."""
    if not users:
        return {}
    grants = member_grants(now, users=users).subquery()
    statement = select(grants.c.user_uuid, Customer.uuid, Customer.name).join(
        Customer, Customer.uuid == grants.c.customer_uuid
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for user_uuid, customer_uuid, name in session.connection().execute(statement):
        found.setdefault(user_uuid, []).append((customer_uuid, name))
    for customers in found.values():
        customers.sort(key=lambda item: (item[1].casefold(), item[0]))
    return found
