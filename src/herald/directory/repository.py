"""The SQL for the directory: bulk upserts by key, lookups, removal of what a file omits."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from herald.core.db import rowcount
from herald.core.models import (
    ApiToken,
    Base,
    Customer,
    CustomerRole,
    Offering,
    Project,
    ProjectRole,
    Resource,
    User,
    WaldurToken,
)

MODELS: dict[str, type[Base]] = {
    "users": User,
    "customers": Customer,
    "projects": Project,
    "offerings": Offering,
    "resources": Resource,
    "customer_roles": CustomerRole,
    "project_roles": ProjectRole,
}
# Large enough to amortise round trips, small enough for SQLite's variable limit.
CHUNK = 500


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def upsert(session: Session, section: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows, or update the ones whose key exists; grants are just inserted once."""
    if not rows:
        return
    model = MODELS[section]
    table = cast(Table, model.__table__)
    keys = [column.name for column in table.primary_key.columns]
    statement = _insert(session)(table)
    others = [name for name in rows[0] if name not in keys]
    if others:
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: statement.excluded[name] for name in others}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    session.execute(statement, list(rows))


def existing_uuids(session: Session, section: str, uuids: Iterable[str]) -> set[str]:
    model = MODELS[section]
    column = model.__table__.c.uuid
    wanted = list(uuids)
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


def rows_by_key(
    session: Session, section: str
) -> tuple[dict[str, int], dict[Any, tuple[Any, ...]]]:
    """Every row of a section as a tuple of its values, by its key (UUID, or a grant's
    user, target and role), with the position of each column: to compare a file
    with. Tuples, not dicts: a 100,000-user directory is held whole here."""
    table = cast(Table, MODELS[section].__table__)
    keys = [column.name for column in table.primary_key.columns]
    names = [column.name for column in table.columns]
    position = {name: n for n, name in enumerate(names)}
    key_at = [position[k] for k in keys]
    result: dict[Any, tuple[Any, ...]] = {}
    for row in session.connection().execute(select(*table.columns)):
        values = tuple(row)
        key = values[key_at[0]] if len(key_at) == 1 else tuple(values[i] for i in key_at)
        result[key] = values
    return position, result


def users_holding_tokens(session: Session) -> set[str]:
    return set(session.scalars(select(ApiToken.user_uuid).distinct()))


def local_users(session: Session) -> set[str]:
    """Herald's own operators (`herald create-staff`), whom no import named."""
    return set(session.scalars(select(User.uuid).where(User.local)))


def deactivate_users(session: Session, uuids: Iterable[str]) -> int:
    """Users who left the portal: inactive, so their tokens are refused at once."""
    wanted = list(uuids)
    changed = 0
    for start in range(0, len(wanted), CHUNK):
        changed += rowcount(
            session.execute(
                update(User)
                .where(User.uuid.in_(wanted[start : start + CHUNK]))
                .values(is_active=False)
                .execution_options(synchronize_session=False)
            )
        )
    return changed


def delete_keys(session: Session, section: str, keys: Iterable[Any]) -> int:
    table = cast(Table, MODELS[section].__table__)
    columns = list(table.primary_key.columns)
    doomed = list(keys)
    for start in range(0, len(doomed), CHUNK):
        chunk = doomed[start : start + CHUNK]
        if len(columns) == 1:
            session.execute(delete(table).where(columns[0].in_(chunk)))
        else:
            session.execute(delete(table).where(tuple_(*columns).in_(chunk)))
    return len(doomed)


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this address (case-insensitive); an active one if several share it."""
    statement = (
        select(User)
        .where(func.lower(User.email) == email.strip().lower())
        .order_by(User.is_active.desc(), User.uuid)
    )
    return session.scalars(statement).first()


def counts(session: Session) -> dict[str, int]:
    return {
        section: int(session.scalar(select(func.count()).select_from(model)) or 0)
        for section, model in MODELS.items()
    }


def _named(model: Any, name: str | None, only: Collection[str] | None) -> Any:
    statement = select(model)
    if name:
        statement = statement.where(model.name.icontains(name, autoescape=True))
    if only is not None:  # a scoped sender's picker: what their scopes cover (SPEC 9)
        statement = statement.where(model.uuid.in_(sorted(only)))
    return statement


def count_named(
    session: Session, section: str, name: str | None, only: Collection[str] | None = None
) -> int:
    model = MODELS[section]
    inner = _named(model, name, only).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def search_named(
    session: Session,
    section: str,
    name: str | None,
    offset: int,
    limit: int,
    only: Collection[str] | None = None,
) -> Sequence[Any]:
    """Customers or offerings whose name contains `name` (any case), by name."""
    model: Any = MODELS[section]  # customers or offerings: both have uuid and name
    statement = (
        _named(model, name, only).order_by(model.name, model.uuid).offset(offset).limit(limit)
    )
    return session.scalars(statement).all()


# --- Waldur's own tokens (SPEC 8): what Waldur said of each, by hash ----------


def waldur_token_user(session: Session, key_hash: str) -> tuple[User, datetime] | None:
    """The user Waldur last said this token belongs to, and when it said so."""
    row = session.execute(
        select(User, WaldurToken.checked)
        .join(WaldurToken, WaldurToken.user_uuid == User.uuid)
        .where(WaldurToken.key_hash == key_hash)
    ).first()
    if row is None:
        return None
    user, checked = row
    session.expunge(user)
    return user, checked


def remember_waldur_token(
    session: Session, key_hash: str, user: dict[str, Any], now: datetime
) -> None:
    """The user as Waldur describes them (added to the directory if missing), and
    that this token is theirs, as of now."""
    upsert(session, "users", [user])
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(WaldurToken).values(key_hash=key_hash, user_uuid=user["uuid"], checked=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["key_hash"], set_={"user_uuid": user["uuid"], "checked": now}
        )
    )


def forget_waldur_token(session: Session, key_hash: str) -> None:
    session.execute(delete(WaldurToken).where(WaldurToken.key_hash == key_hash))
