"""Recording who did what (SPEC 8), and reading it back.

`record` is called inside the transaction of the change it records, so a
change without its entry, or an entry without its change, cannot be
committed. A person is named by their directory entry at the time (uuid,
name, address, copied); the command line records the operator, or the
user a command names.
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.orm import Session

from herald.audit import repository
from herald.audit.repository import EntryRecord, Filters
from herald.core.clock import utc_now, wire_time
from herald.core.errors import Invalid


@dataclass(frozen=True)
class Actor:
    """Who made a change, and from where."""

    user_uuid: str | None
    full_name: str
    email: str
    client: str

    @classmethod
    def operator(cls) -> Actor:
        """Whoever runs a command on the server (no user of the directory)."""
        return cls(None, "the operator", "", "command line")

    @classmethod
    def system(cls, what: str) -> Actor:
        """Herald itself, on a schedule (a periodic sync): no person, named."""
        return cls(None, what, "", "herald")

    @classmethod
    def person(cls, user: Any, client: str) -> Actor:
        return cls(user.uuid, user.full_name or user.username or "", user.email, client[:64])


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_uuid: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    repository.add(
        session,
        {
            "uuid": uuid_module.uuid4().hex,
            "created": utc_now(),
            "user_uuid": actor.user_uuid,
            "user_full_name": actor.full_name[:300],
            "user_email": actor.email[:320],
            "action": action,
            "object_type": object_type,
            "object_uuid": object_uuid,
            "client": actor.client,
            "detail": orjson.dumps(detail or {}).decode(),
        },
    )


def prune(session: Session, days: int) -> int:
    """Forget entries older than `days` (HERALD_AUDIT_DAYS)."""
    return repository.prune(session, utc_now() - timedelta(days=days))


def filters_from(
    object_uuid: str | None,
    user: str | None,
    action: str | None,
    created_from: str | None,
    created_to: str | None,
) -> Filters:
    """The list's filters; days are whole UTC days, `created_to` included."""
    errors: dict[str, Any] = {}

    def day(name: str, value: str | None) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            errors[name] = ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]
            return None

    start, end = day("created_from", created_from), day("created_to", created_to)
    if errors:
        raise Invalid(errors)
    return Filters(
        object_uuid=(object_uuid or "").strip().replace("-", "").lower() or None,
        user_uuid=(user or "").strip().replace("-", "").lower() or None,
        action=(action or "").strip() or None,
        created_from=datetime(start.year, start.month, start.day) if start else None,
        created_before=(
            datetime(end.year, end.month, end.day) + timedelta(days=1) if end else None
        ),
    )


def entry_json(entry: EntryRecord) -> dict[str, Any]:
    return {
        "uuid": entry.uuid,
        "created": wire_time(entry.created),
        "user": {
            "uuid": entry.user_uuid,
            "full_name": entry.user_full_name,
            "email": entry.user_email,
        },
        "action": entry.action,
        "object_type": entry.object_type,
        "object_uuid": entry.object_uuid,
        "client": entry.client,
        "detail": orjson.Fragment(entry.detail),
    }


def actor_of(request: Any, user: Any) -> Actor:
    """The person a request is made by, and the address it came from (as the server
    saw it: behind a trusted proxy, the forwarded client)."""
    client = request.client.host if request.client is not None else ""
    return Actor.person(user, client)
