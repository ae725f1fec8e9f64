"""The SQL behind audience resolution (SPEC 2.2): one statement, set-based.

`candidates` lists every (address, name) a query's sources give: all users,
the members of the targeted customers, their notification e-mails, and the
addresses named by hand (additional recipients, `send_to_me`). `audience`
keeps one row per address key (the lower-cased address) after the
exclusions: the best-named row, by rank (a user's own name beats a
notification label, which beats a bare address), then by source order. The
count, the addresses, a page of the preview and the deliveries queued at
send all read that one statement, so they cannot disagree; the database does
the work, whatever the size of the directory, never a loop per user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Subquery

from herald.core.clock import utc_now
from herald.core.db import json_array, json_strings
from herald.core.languages import variant_of
from herald.core.models import (
    Customer,
    Offering,
    Project,
    Resource,
    User,
)
from herald.roles.repository import member_grants, organisations_of

TERMINATED = "Terminated"
NOTIFICATION_NAME = "Notification email for "

# How well a source names an address: a user's own name beats a label, which beats nothing.
RANK_USER, RANK_LABEL, RANK_BARE = 0, 1, 2


def _reachable_user() -> ColumnElement[bool]:
    return and_(User.is_active.is_(True), User.email != "")


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


# --- the audience ------------------------------------------------------------


@dataclass(frozen=True)
class AudienceQuery:
    """What the SQL needs of a query: the targeting, resolved to plain values."""

    all_users: bool
    customers: tuple[str, ...]
    offerings: tuple[str, ...]
    named: tuple[str, ...]  # additional recipients and the requester's own address
    excluded: tuple[str, ...]
    # Only the readers of this language (SPEC 2.3): a lower-case tag, "" for those
    # without one; None: everyone.
    language: str | None = None

    @property
    def targets_customers(self) -> bool:
        return bool(self.customers or self.offerings)


@dataclass(frozen=True)
class KeyRange:
    """Address keys above `after` and up to `until` (None: no bound)."""

    after: str | None = None
    until: str | None = None

    def applied(self, key: ColumnElement[str]) -> list[ColumnElement[bool]]:
        conditions = []
        if self.after is not None:
            conditions.append(key > self.after)
        if self.until is not None:
            conditions.append(key <= self.until)
        return conditions


EVERYTHING = KeyRange()


def _source(
    key: ColumnElement[str],
    email: Any,
    name: Any,
    rank: Any,
    order: int,
    keys: KeyRange,
    language: Any = None,
) -> Select[Any]:
    """One source's rows. `language`: the reader's tag (SPEC 2.3); "" for a source
    whose addresses are nobody's (notification e-mails)."""
    return select(
        key.label("key"),
        email.label("email"),
        cast(name, String).label("name"),
        rank.label("rank"),
        literal(order).label("src"),
        cast(language if language is not None else literal(""), String).label("language"),
    ).where(*keys.applied(key))


def _member_grants(customers: Select[Any]) -> CompoundSelect[Any]:
    """(user uuid, customer uuid) of the role grants in force in the customers or their projects."""
    return member_grants(utc_now(), customers=customers)


def _notifications(session: Session, query: AudienceQuery) -> tuple[Any, Subquery] | None:
    """The customers whose notification e-mails a query reaches, each address as a row."""
    if not (query.all_users or query.targets_customers):
        return None
    addresses = json_strings(session, Customer.notification_emails)
    statement = (
        select(Customer.uuid, Customer.name, addresses.c.value)
        .select_from(Customer)
        .join(addresses, literal(True))
        .where(Customer.notification_emails != "[]")
    )
    if not query.all_users:
        statement = statement.where(
            Customer.uuid.in_(target_customers(query.customers, query.offerings))
        )
    rows = statement.subquery()
    return rows.c.value, rows


def candidates(session: Session, query: AudienceQuery, keys: KeyRange) -> Subquery:
    """Every address a query's sources give, with its key, name, rank and source, before
    duplicates and exclusions are removed."""

    def users(order: int) -> Select[Any]:
        """Reachable users as a source: their address, name and language."""
        return _source(
            func.lower(User.email), User.email, User.full_name, literal(RANK_USER), order, keys,
            User.preferred_language,
        ).where(_reachable_user())  # fmt: skip

    sources: list[Select[Any]] = []
    if query.all_users:
        sources.append(users(0))
    if query.targets_customers:
        members = _member_grants(target_customers(query.customers, query.offerings)).subquery()
        sources.append(users(1).where(User.uuid.in_(select(members.c.user_uuid))))
    notifications = _notifications(session, query)
    if notifications is not None:
        value, rows = notifications
        sources.append(
            _source(
                func.lower(value),
                value,
                literal(NOTIFICATION_NAME) + rows.c.name,
                literal(RANK_LABEL),
                2,
                keys,
            ).select_from(rows)
        )
    if query.named:
        named = json_strings(session, _json_list(query.named))

        # A user with the address names it (and reads in their language); an active
        # user before an inactive one.
        def owners(column: Any) -> Any:
            return (
                select(column)
                .where(func.lower(User.email) == func.lower(named.c.value))
                .order_by(User.is_active.desc(), User.uuid)
                .limit(1)
                .scalar_subquery()
            )

        owner = owners(User.full_name)
        sources.append(
            _source(
                func.lower(named.c.value),
                named.c.value,
                func.coalesce(owner, ""),
                case((owner.is_(None), RANK_BARE), else_=RANK_USER),
                3,
                keys,
                func.coalesce(owners(User.preferred_language), ""),
            ).select_from(named)
        )
    if not sources:
        sources.append(
            _source(literal(""), literal(""), literal(""), literal(0), 0, keys, literal("")).where(
                literal(False)
            )
        )
    rows = union_all(*sources).subquery("candidates")
    if not query.excluded:
        return rows
    excluded = json_strings(session, _json_list(query.excluded))
    return (
        select(rows)
        .where(rows.c.key.not_in(select(func.lower(excluded.c.value))))
        .subquery("included")
    )


def _json_list(values: Sequence[str]) -> Any:
    return literal(orjson.dumps(list(values)).decode(), String)


def _best_first(rows: Any) -> tuple[Any, ...]:
    """Which of the rows of one address key is the audience's: the one rule, read by
    the window below and by DISTINCT ON in `addresses_json`."""
    return (rows.c.rank, rows.c.src, rows.c.email, rows.c.name)


def audience(session: Session, query: AudienceQuery, keys: KeyRange = EVERYTHING) -> Subquery:
    """One row per address key: (key, email, full_name, rank), the best-named spelling:
    by rank, then source, then address and name (so the choice never varies).

    Most keys come from one row only; choosing among rows (a window over them) is
    done only for the keys that several rows give, which are few: ranking every
    row cost twice as much (bench/api_bench.py, 10k users)."""
    rows = (
        select(candidates(session, query, keys))
        .cte("candidate_rows")
        .prefix_with("MATERIALIZED")  # read twice below: resolve the sources once
    )
    shared_keys = (
        select(rows.c.key.label("key"))
        .group_by(rows.c.key)
        .having(func.count() > 1)
        .cte("shared_keys")
        .prefix_with("MATERIALIZED")  # read twice below too: counted once
    )
    shared = select(shared_keys.c.key)
    alone = select(rows.c.key, rows.c.email, rows.c.name, rows.c.rank, rows.c.language).where(
        rows.c.key.not_in(shared)
    )
    best = func.row_number().over(partition_by=rows.c.key, order_by=_best_first(rows)).label("n")
    ranked = (
        select(rows.c.key, rows.c.email, rows.c.name, rows.c.rank, rows.c.language, best)
        .where(rows.c.key.in_(shared))
        .subquery("ranked")
    )
    chosen = select(
        ranked.c.key, ranked.c.email, ranked.c.name, ranked.c.rank, ranked.c.language
    ).where(ranked.c.n == 1)
    both = union_all(alone, chosen).subquery("chosen")
    statement = select(
        both.c.key, both.c.email, both.c.name.label("full_name"), both.c.rank, both.c.language
    )
    if query.language is not None:
        statement = statement.where(both.c.language == query.language)
    return statement.subquery("audience")


def count(session: Session, query: AudienceQuery) -> int:
    if query.language is not None:
        # Whose language it is depends on which row of a key wins: the audience's.
        everyone = audience(session, query)
        return int(session.connection().execute(select(func.count()).select_from(everyone))
                   .scalar() or 0)  # fmt: skip
    rows = candidates(session, query, EVERYTHING)
    return int(session.connection().execute(select(func.count(distinct(rows.c.key)))).scalar() or 0)


def variant_counts(
    session: Session, query: AudienceQuery, variants: Sequence[str]
) -> dict[str | None, int]:
    """How many readers get each variant (None: the default), by the rule the send
    queues with (`variant_of`), in one grouped pass over the audience."""
    everyone = audience(session, query)
    chosen = variant_of(everyone.c.language, variants).label("variant")
    statement = select(chosen, func.count()).select_from(everyone).group_by(chosen)
    return {variant: int(n) for variant, n in session.connection().execute(statement)}


def reaches_anyone(session: Session, query: AudienceQuery) -> bool:
    rows = candidates(session, query, EVERYTHING)
    return session.connection().execute(select(rows.c.key).limit(1)).first() is not None


def addresses_json(session: Session, query: AudienceQuery) -> str:
    """The addresses, ordered by key, as a JSON array built by the database."""
    if session.get_bind().dialect.name == "postgresql":
        # Only the addresses are wanted: DISTINCT ON keeps the best row of each key
        # in one sorted pass, where the audience's CTEs, grouping and window took
        # twice as long (a million users: 5.4 s -> 2.5 s).
        rows = candidates(session, query, EVERYTHING)
        ordered = (
            select(rows.c.key, rows.c.email)
            .distinct(rows.c.key)
            .order_by(rows.c.key, *_best_first(rows))
            .subquery("ordered")
        )
    else:
        everyone = audience(session, query)
        ordered = (
            select(everyone.c.key, everyone.c.email).order_by(everyone.c.key).subquery("ordered")
        )
    text = (
        session.connection()
        .execute(select(json_array(session, ordered.c.email, ordered.c.key)))
        .scalar()
    )
    return str(text) if text else "[]"


def addresses(session: Session, query: AudienceQuery) -> list[str]:
    rows = audience(session, query)
    return list(session.connection().execute(select(rows.c.email).order_by(rows.c.key)).scalars())


def page(
    session: Session, query: AudienceQuery, offset: int, limit: int | None, email_key: str | None
) -> Sequence[Any]:
    """(key, email, full_name, rank, total) by name, then address; with `email_key`, that
    one row. `total` counts the whole audience, in the same pass as the page."""
    rows = audience(session, query)
    statement = select(
        rows.c.key,
        rows.c.email,
        rows.c.full_name,
        rows.c.rank,
        rows.c.language,
        func.count().over().label("total"),
    )
    if email_key is not None:
        statement = statement.where(rows.c.key == email_key)
    statement = statement.order_by(
        func.lower(rows.c.full_name), func.lower(rows.c.email), rows.c.key
    ).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return session.connection().execute(statement).all()


def in_range(session: Session, query: AudienceQuery, keys: KeyRange) -> Select[Any]:
    """SQL: (key, email, full_name, language) of the audience within a key range, for
    queueing."""
    rows = audience(session, query, keys)
    return select(rows.c.key, rows.c.email, rows.c.full_name, rows.c.language)


def rows_in_range(session: Session, query: AudienceQuery, keys: KeyRange) -> Sequence[Any]:
    return session.connection().execute(in_range(session, query, keys)).all()


def key_bound(session: Session, after: str | None, size: int) -> str | None:
    """The `size`-th user address key above `after`: where a batch of about `size`
    addresses ends. None when fewer are left (the last batch takes the rest)."""
    key = func.lower(User.email)
    statement = select(key).where(User.email != "").order_by(key).offset(size - 1).limit(1)
    if after is not None:
        statement = statement.where(key > after)
    found = session.connection().execute(statement).scalar()
    return str(found) if found is not None else None


def reached_through(
    session: Session, query: AudienceQuery, keys: Sequence[str] | KeyRange
) -> Sequence[Any]:
    """(key, customer uuid, customer name) through which the audience's addresses were
    reached: memberships of targeted customers, and notification e-mails."""
    statements: list[Select[Any]] = []
    if query.targets_customers:
        members = _member_grants(target_customers(query.customers, query.offerings)).subquery()
        user_key = func.lower(User.email)
        statements.append(
            select(user_key.label("key"), Customer.uuid, Customer.name)
            .join(members, members.c.user_uuid == User.uuid)
            .join(Customer, Customer.uuid == members.c.customer_uuid)
            .where(_reachable_user(), *_keys_filter(user_key, keys))
        )
    notifications = _notifications(session, query)
    if notifications is not None:
        value, rows = notifications
        notified_key = func.lower(value)
        statements.append(
            select(notified_key.label("key"), rows.c.uuid, rows.c.name)
            .select_from(rows)
            .where(*_keys_filter(notified_key, keys))
        )
    if not statements:
        return []
    return session.connection().execute(union(*statements)).all()


def _keys_filter(key: ColumnElement[str], keys: Sequence[str] | KeyRange) -> list[Any]:
    if isinstance(keys, KeyRange):
        return keys.applied(key)
    return [key.in_(list(keys))]


def memberships(session: Session, key: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(full name, [(customer uuid, name)]) of the directory user with this address key
    (an active one first) and the customers they hold a role in, directly or through
    a project; None when no user has the address."""
    user = (
        session.connection()
        .execute(
            select(User.uuid, User.full_name)
            .where(func.lower(User.email) == key)
            .order_by(User.is_active.desc(), User.uuid)
            .limit(1)
        )
        .first()
    )
    if user is None:
        return None
    customers = organisations_of(session, [user.uuid], utc_now()).get(user.uuid, [])
    return user.full_name, customers
