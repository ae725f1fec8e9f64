"""Who a query reaches (SPEC 2.2): the one resolver.

The rules live in one SQL statement (`repository.audience`); this module
gives it the views its callers need, each as cheap as it can be: a count
(the HEAD of the preview), whether anybody at all is reached (send), the
addresses as JSON (a message's `emails`), a page of named recipients with
the organisations and offerings they were reached through (the preview,
renders), and the rows of one range of address keys (queueing at send).
Addresses are compared one way everywhere: by their lower-cased form, the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from herald.core.addresses import email_key
from herald.core.errors import Invalid
from herald.core.models import User
from herald.recipients import repository
from herald.recipients.repository import EVERYTHING, AudienceQuery, KeyRange
from herald.recipients.targeting import Targeting, stored_form
from herald.roles.scopes import HeldScopes, Scope, ScopedQuery, fitting, still_fits
from herald.suppressions import repository as suppressions


def _by_name(items: dict[str, str] | None) -> list[dict[str, str]]:
    ordered = sorted((items or {}).items(), key=lambda item: (item[1].casefold(), item[0]))
    return [{"uuid": uuid, "name": name} for uuid, name in ordered]


class Recipient:
    """One address and how it was reached. A plain slotted class: a preview page or
    a batch of queued deliveries makes one per address."""

    __slots__ = ("email", "full_name", "customers", "offerings", "suppressed", "language")

    def __init__(self, email: str, full_name: str, language: str = "") -> None:
        self.email = email
        self.full_name = full_name
        # Their own language tag (SPEC 2.3), lower-case; "" for none.
        self.language = language
        self.customers: dict[str, str] | None = None
        self.offerings: dict[str, str] | None = None
        # On the suppression list: counted, never mailed (SPEC 4.2); set by the preview.
        self.suppressed = False

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
        result: dict[str, Any] = {
            "full_name": self.full_name,
            "email": self.email,
            "offerings": _by_name(self.offerings),
            "customers": _by_name(self.customers),
            "language": self.language or None,
        }
        if self.suppressed:  # Waldur's shape otherwise: the mark only where it applies
            result["suppressed"] = True
        return result


class Audience:
    """Who one query reaches, asked of the database in the way each caller needs."""

    def __init__(
        self, session: Session, targeting: Targeting, me: User | None, language: str | None = None
    ) -> None:
        """`language`: only the readers of that tag ("" : those without one)."""
        named = list(targeting.additional_recipients)
        if targeting.send_to_me and me is not None and me.email:
            named.append(me.email)
        self.session = session
        self.query = AudienceQuery(
            all_users=targeting.all_users,
            customers=targeting.customers,
            offerings=targeting.offerings,
            named=tuple(named),
            excluded=targeting.excluded_recipients,
            language=language,
        )

    def count(self) -> int:
        return repository.count(self.session, self.query)

    def variant_counts(self, variants: Sequence[str]) -> dict[str | None, int]:
        """Readers per variant of a message with these translations (None: default)."""
        return repository.variant_counts(self.session, self.query, variants)

    def reaches_anyone(self) -> bool:
        return repository.reaches_anyone(self.session, self.query)

    def addresses(self) -> list[str]:
        """Every address, once, ordered by key."""
        return repository.addresses(self.session, self.query)

    def addresses_json(self) -> str:
        """`addresses()` as a JSON array, built by the database (a million addresses
        never become a million Python strings)."""
        return repository.addresses_json(self.session, self.query)

    def recipients(self, offset: int = 0, limit: int | None = None) -> list[Recipient]:
        """Named recipients sorted by full name, then address: the preview's order."""
        return self.page(offset, limit)[1]

    def page(self, offset: int, limit: int | None) -> tuple[int, list[Recipient]]:
        """How many the query reaches, and a page of them in the preview's order: one
        pass over the audience (a second, cheaper one only for a page past the end)."""
        rows = repository.page(self.session, self.query, offset, limit, None)
        total = int(rows[0].total) if rows else self.count()
        named = self._named(rows, [row.key for row in rows])
        suppressed = suppressions.suppressed_among(self.session, {row.key for row in rows})
        for row, person in zip(rows, named, strict=True):
            person.suppressed = row.key in suppressed
        return total, named

    def recipient(self, email: str) -> Recipient | None:
        """The recipient with this address, if the query reaches it."""
        key = email_key(email)
        rows = repository.page(self.session, self.query, 0, 1, key)
        found = self._named(rows, [key])
        return found[0] if found else None

    def first(self) -> Recipient | None:
        found = self.recipients(0, 1)
        return found[0] if found else None

    def batch_end(self, after: str | None, size: int) -> str | None:
        """Where a batch of about `size` addresses after key `after` ends (None: the rest)."""
        return repository.key_bound(self.session, after, size)

    def in_range(self, keys: KeyRange) -> Select[Any]:
        """SQL: (key, email, full_name) of the addresses in a key range, to queue them."""
        return repository.in_range(self.session, self.query, keys)

    def recipients_in_range(self, keys: KeyRange) -> list[Recipient]:
        """Named recipients in a key range, ordered by key (queueing personalised mail)."""
        rows = sorted(repository.rows_in_range(self.session, self.query, keys), key=_key)
        return self._named(rows, keys)

    def _named(self, rows: Sequence[Any], keys: Sequence[str] | KeyRange) -> list[Recipient]:
        if not rows:
            return []
        people = {row.key: Recipient(row.email, row.full_name, row.language or "") for row in rows}
        query = self.query
        if query.targets_customers or query.all_users:
            offerings_of: dict[str, dict[str, str]] = {}
            if query.offerings:
                customers = repository.target_customers(query.customers, query.offerings)
                for customer_uuid, offering_uuid, name in repository.offerings_by_customer(
                    self.session, customers, query.offerings
                ):
                    offerings_of.setdefault(customer_uuid, {})[offering_uuid] = name
            for key, customer_uuid, customer_name in repository.reached_through(
                self.session, query, keys
            ):
                person = people.get(key)
                if person is not None:
                    person.reached_through(
                        customer_uuid, customer_name, offerings_of.get(customer_uuid)
                    )
        return [people[row.key] for row in rows]


def outside_recipient(session: Session, email: str) -> Recipient:
    """Someone a query does not reach (a test address, an address typed into a
    preview before any recipients are chosen): named, with their organisations,
    as the directory knows them, so placeholders preview as they would for them."""
    recipient = Recipient(email, "")
    found = repository.memberships(session, email_key(email))
    if found is not None:
        recipient.full_name = found[0]
        for customer_uuid, name in found[1]:
            recipient.reached_through(customer_uuid, name, None)
    return recipient


@dataclass(frozen=True)
class ScopeLimit:
    """What a scoped sender's query may name (SPEC 9): within the scopes they hold,
    and, once a message has one, within that message's scope."""

    held: HeldScopes
    scope: Scope | None = None


def scoped_query(targeting: Targeting) -> ScopedQuery:
    return ScopedQuery(
        targeting.offerings,
        targeting.customers,
        targeting.all_users,
        targeting.additional_recipients,
    )


def check_targeting(
    session: Session, targeting: Targeting, field: str | None, limit: ScopeLimit | None = None
) -> dict[str, Any]:
    """Every customer and offering a query names must exist, and, for a scoped sender,
    be theirs to name (roles/scopes.py, the one rule): whatever asks, a create, an
    update or a preview and its count, the same answer. Returns the stored form (names
    beside the UUIDs). Errors go under `field` (`query` in a message body)."""
    customers = repository.customer_names(session, targeting.customers)
    offerings = repository.offering_names(session, targeting.offerings)
    errors: dict[str, Any] = {}
    for key, names, known in (
        ("customers", targeting.customers, customers),
        ("offerings", targeting.offerings, offerings),
    ):
        unknown = [uuid for uuid in names if uuid not in known]
        if unknown:
            kind = key[:-1]
            errors[key] = [f"Unknown {kind}: {uuid}." for uuid in unknown]
    if not errors and limit is not None:
        query = scoped_query(targeting)
        if limit.scope is not None:
            errors = dict(still_fits(limit.held, query, limit.scope))
        else:
            errors = dict(fitting(limit.held, query)[1])
    if errors:
        raise Invalid({field: errors} if field else errors)
    return stored_form(targeting, customers, offerings)


def _key(row: Any) -> str:
    return str(row.key)


__all__ = [
    "EVERYTHING",
    "ScopeLimit",
    "scoped_query",
    "Audience",
    "KeyRange",
    "Recipient",
    "check_targeting",
    "outside_recipient",
]
