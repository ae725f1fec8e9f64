"""Who a query reaches (SPEC 2.2): the rules, on top of the set-based SQL.

Sources are read in order of how well they name an address: users first,
then customers' notification e-mails, then addresses given by hand. The
first spelling of an address is kept and later ones merge into it, compared
case-insensitively; excluded addresses go last, whatever added them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.orm import Session

from herald.addresses import email_key
from herald.models import User
from herald.recipients import repository
from herald.recipients.targeting import Targeting

NOTIFICATION_NAME = "Notification email for {}"

# How well a source names an address: a user's own name beats a label.
_USER, _LABEL, _BARE = 0, 1, 2


def _by_name(items: dict[str, str] | None) -> list[dict[str, str]]:
    ordered = sorted((items or {}).items(), key=lambda item: (item[1].casefold(), item[0]))
    return [{"uuid": uuid, "name": name} for uuid, name in ordered]


class Recipient:
    """One address and how it was reached. A plain slotted class: an all-users
    preview makes one per user, and a dataclass with two dict factories cost
    five times as much (bench/api_bench.py)."""

    __slots__ = ("email", "full_name", "rank", "customers", "offerings")

    def __init__(self, email: str, full_name: str, rank: int) -> None:
        self.email = email
        self.full_name = full_name
        self.rank = rank
        self.customers: dict[str, str] | None = None
        self.offerings: dict[str, str] | None = None

    def reached_through(
        self, customer_uuid: str, customer_name: str, offerings: dict[str, str] | None
    ) -> None:
        if self.customers is None:
            self.customers = {}
        self.customers[customer_uuid] = customer_name
        if offerings:
            if self.offerings is None:
                self.offerings = {}
            self.offerings.update(offerings)

    def as_json(self) -> dict[str, Any]:
        return {
            "full_name": self.full_name,
            "email": self.email,
            "offerings": _by_name(self.offerings),
            "customers": _by_name(self.customers),
        }


def _notification_rows(rows: Sequence[Any]) -> list[tuple[str, str, str]]:
    """(email, customer uuid, customer name) for each notification address."""
    result = []
    for uuid, name, emails_json in rows:
        for email in orjson.loads(emails_json):
            result.append((email, uuid, name))
    return result


def _named_addresses(
    session: Session, targeting: Targeting, me: User | None
) -> list[tuple[str, str, int]]:
    """Additional recipients and `send_to_me`, named after a user who has the address."""
    addresses = list(targeting.additional_recipients)
    if targeting.send_to_me and me is not None and me.email:
        addresses.append(me.email)
    if not addresses:
        return []
    names: dict[str, tuple[bool, str]] = {}
    for email, full_name, is_active in repository.users_with_addresses(
        session, [email_key(a) for a in addresses]
    ):
        key = email_key(email)
        # An active user's name wins over an inactive one's for a shared address.
        if key not in names or (is_active and not names[key][0]):
            names[key] = (bool(is_active), full_name)
    result = []
    for address in addresses:
        known = names.get(email_key(address))
        result.append((address, known[1] if known else "", _USER if known else _BARE))
    return result


def resolve_emails(session: Session, targeting: Targeting, me: User | None) -> list[str]:
    """The addresses a query reaches, once each, ordered by address."""
    by_key: dict[str, str] = {}
    customers = None
    if targeting.customers or targeting.offerings:
        customers = repository.target_customers(targeting.customers, targeting.offerings)
    if targeting.all_users:
        for email, _name in repository.all_user_addresses(session):
            by_key.setdefault(email.lower(), email)
    if customers is not None:
        for email, _name in repository.member_addresses(session, customers, with_customer=False):
            by_key.setdefault(email.lower(), email)
    if targeting.all_users or customers is not None:
        scope = None if targeting.all_users else customers
        for email, _uuid, _name in _notification_rows(
            repository.notification_addresses(session, scope)
        ):
            by_key.setdefault(email.lower(), email)
    for email, _name, _rank in _named_addresses(session, targeting, me):
        by_key.setdefault(email.lower(), email)
    for excluded in targeting.excluded_recipients:
        by_key.pop(email_key(excluded), None)
    return [by_key[key] for key in sorted(by_key)]


def resolve_recipients(session: Session, targeting: Targeting, me: User | None) -> list[Recipient]:
    """Who a query reaches and through what, sorted by full name, then address."""
    by_key: dict[str, Recipient] = {}

    def add(email: str, full_name: str, rank: int) -> Recipient:
        key = email.lower()
        recipient = by_key.get(key)
        if recipient is None:
            recipient = by_key[key] = Recipient(email, full_name, rank)
        elif rank < recipient.rank:
            recipient.full_name, recipient.rank = full_name, rank
        return recipient

    if targeting.all_users:
        for email, full_name in repository.all_user_addresses(session):
            add(email, full_name, _USER)

    customers = None
    customer_offerings: dict[str, dict[str, str]] = {}
    if targeting.customers or targeting.offerings:
        customers = repository.target_customers(targeting.customers, targeting.offerings)
        if targeting.offerings:
            for customer_uuid, offering_uuid, offering_name in repository.offerings_by_customer(
                session, customers, targeting.offerings
            ):
                customer_offerings.setdefault(customer_uuid, {})[offering_uuid] = offering_name
        for email, full_name, customer_uuid, customer_name in repository.member_addresses(
            session, customers, with_customer=True
        ):
            add(email, full_name, _USER).reached_through(
                customer_uuid, customer_name, customer_offerings.get(customer_uuid)
            )

    if targeting.all_users or customers is not None:
        scope = None if targeting.all_users else customers
        for email, customer_uuid, customer_name in _notification_rows(
            repository.notification_addresses(session, scope)
        ):
            add(email, NOTIFICATION_NAME.format(customer_name), _LABEL).reached_through(
                customer_uuid, customer_name, customer_offerings.get(customer_uuid)
            )

    for email, full_name, rank in _named_addresses(session, targeting, me):
        add(email, full_name, rank)
    for excluded in targeting.excluded_recipients:
        by_key.pop(email_key(excluded), None)
    return sorted(by_key.values(), key=lambda r: (r.full_name.casefold(), r.email.casefold()))
