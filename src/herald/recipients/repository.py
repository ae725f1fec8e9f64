"""The SQL behind audience resolution: set-based queries, a handful per request.

However large the directory, resolving a query costs at most one query per
source (all users, members of the targeted customers, their notification
e-mails, the offerings of their resources, named addresses), never a query
per customer or per user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union
from sqlalchemy.orm import Session

from herald.clock import utc_now
from herald.models import Customer, CustomerRole, Offering, Project, ProjectRole, Resource, User

TERMINATED = "Terminated"


def _reachable_user() -> ColumnElement[bool]:
    return and_(User.is_active.is_(True), User.email != "")


def _in_force(expires: Any, now: Any) -> ColumnElement[bool]:
    """A role grant counts until it expires."""
    return or_(expires.is_(None), expires > now)


def customer_names(session: Session, uuids: Iterable[str]) -> dict[str, str]:
    wanted = list(uuids)
    if not wanted:
        return {}
    rows = session.connection().execute(
        select(Customer.uuid, Customer.name).where(Customer.uuid.in_(wanted))
    )
    return {uuid: name for uuid, name in rows}


def offering_names(session: Session, uuids: Iterable[str]) -> dict[str, str]:
    wanted = list(uuids)
    if not wanted:
        return {}
    rows = session.connection().execute(
        select(Offering.uuid, Offering.name).where(Offering.uuid.in_(wanted))
    )
    return {uuid: name for uuid, name in rows}


def _offering_set(offerings: Sequence[str]) -> Select[Any]:
    """The listed offerings and the offerings whose parent is listed."""
    return select(Offering.uuid).where(
        or_(Offering.uuid.in_(offerings), Offering.parent_uuid.in_(offerings))
    )


def _live_resources_of(offerings: Sequence[str]) -> ColumnElement[bool]:
    return and_(Resource.state != TERMINATED, Resource.offering_uuid.in_(_offering_set(offerings)))


def target_customers(customers: Sequence[str], offerings: Sequence[str]) -> Select[Any]:
    """The customers a query reaches through `customers` and `offerings`.

    Listed customers are always included in full. Offerings add the customers
    holding a live resource of them, only when no customer is listed (when
    some are, offerings can only narrow to customers that are listed anyway).
    """
    if customers:
        return select(Customer.uuid).where(Customer.uuid.in_(customers))
    return (
        select(Project.customer_uuid)
        .join(Resource, Resource.project_uuid == Project.uuid)
        .where(_live_resources_of(offerings))
        .distinct()
    )


def all_user_addresses(session: Session) -> Sequence[Any]:
    """(email, full_name) of every active user with an address."""
    return (
        session.connection()
        .execute(select(User.email, User.full_name).where(_reachable_user()))
        .all()
    )


def member_addresses(
    session: Session, customers: Select[Any], with_customer: bool
) -> Sequence[Any]:
    """Users holding a role in the customers or in any of their projects.

    Rows are (email, full_name) or, with_customer, (email, full_name,
    customer uuid, customer name): one row per customer the user was reached through.
    """
    now = utc_now()
    grants = union(
        select(
            CustomerRole.user_uuid.label("user_uuid"),
            CustomerRole.customer_uuid.label("customer_uuid"),
        ).where(CustomerRole.customer_uuid.in_(customers), _in_force(CustomerRole.expires, now)),
        select(
            ProjectRole.user_uuid.label("user_uuid"),
            Project.customer_uuid.label("customer_uuid"),
        )
        .join(Project, Project.uuid == ProjectRole.project_uuid)
        .where(Project.customer_uuid.in_(customers), _in_force(ProjectRole.expires, now)),
    ).subquery()
    statement: Any
    if with_customer:
        statement = (
            select(User.email, User.full_name, Customer.uuid, Customer.name)
            .join(grants, grants.c.user_uuid == User.uuid)
            .join(Customer, Customer.uuid == grants.c.customer_uuid)
        )
    else:
        statement = (
            select(User.email, User.full_name)
            .join(grants, grants.c.user_uuid == User.uuid)
            .distinct()
        )
    return session.connection().execute(statement.where(_reachable_user())).all()


def notification_addresses(session: Session, customers: Select[Any] | None) -> Sequence[Any]:
    """(uuid, name, notification_emails JSON) of the customers, or of all when None."""
    statement = select(Customer.uuid, Customer.name, Customer.notification_emails).where(
        Customer.notification_emails != "[]"
    )
    if customers is not None:
        statement = statement.where(Customer.uuid.in_(customers))
    return session.connection().execute(statement).all()


def offerings_by_customer(
    session: Session, customers: Select[Any], offerings: Sequence[str]
) -> Sequence[Any]:
    """(customer uuid, offering uuid, offering name) of the live resources of the offerings."""
    statement = (
        select(Project.customer_uuid, Offering.uuid, Offering.name)
        .join(Resource, Resource.project_uuid == Project.uuid)
        .join(Offering, Offering.uuid == Resource.offering_uuid)
        .where(_live_resources_of(offerings), Project.customer_uuid.in_(customers))
        .distinct()
    )
    return session.connection().execute(statement).all()


def users_with_addresses(session: Session, keys: Sequence[str]) -> Sequence[Any]:
    """(email, full_name, is_active) of users whose address matches one of the lower-cased keys."""
    if not keys:
        return []
    statement = select(User.email, User.full_name, User.is_active).where(
        func.lower(User.email).in_(list(keys))
    )
    return session.connection().execute(statement).all()
