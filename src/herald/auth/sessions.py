"""Console sessions (SPEC 8): a signed-in browser, held in a cookie.

The cookie carries 256 random bits; the database keeps only their SHA-256
(like API tokens), with the session's CSRF token, when it was last used and
when it ends for good. A request authenticated by the cookie that changes
anything must come from Herald's own pages (`Sec-Fetch-Site: same-origin`,
or an `Origin` equal to Herald's) and carry the session's CSRF token in
`X-CSRF-Token`; `Authorization: Token …` needs neither. How a session was
opened (`method`: a token today, OpenID Connect later, docs/sessions.md)
matters to nothing after it is opened.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from herald.auth.tokens import Holder
from herald.core.models import ConsoleSession, User

COOKIE = "herald_session"
TOUCH_EVERY = timedelta(minutes=1)
# An authenticated credential from the cookie, as the request dependency hands it on:
# `session:<cookie value>:<X-CSRF-Token or "">:<1 if the request changes anything>`.
PREFIX = "session:"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionKey:
    cookie: str
    csrf: str
    changes: bool

    def encode(self) -> str:
        return f"{PREFIX}{self.cookie}:{self.csrf}:{int(self.changes)}"

    @classmethod
    def decode(cls, key: str) -> SessionKey | None:
        if not key.startswith(PREFIX):
            return None
        cookie, _, rest = key[len(PREFIX) :].partition(":")
        csrf, _, changes = rest.rpartition(":")
        return cls(cookie, csrf, changes == "1")


@dataclass(frozen=True)
class Opened:
    cookie: str
    csrf: str
    expires: datetime


def open_session(
    session: Session, holder: Holder, now: datetime, max_days: float, method: str = "token"
) -> Opened:
    """A session for whoever holds the credential just checked. Opened with a Herald
    token, it is bound to it: it ends when the token is revoked (the foreign key
    deletes it) and no later than the token expires; so a revoked or expired key
    leaves no signed-in browser behind."""
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + timedelta(days=max_days)
    if holder.token_expires is not None:
        expires = min(expires, holder.token_expires)
    session.execute(
        insert(ConsoleSession).values(
            id_hash=_hash(cookie), user_uuid=holder.user.uuid, csrf_token=csrf, created=now,
            last_seen=now, expires=expires, method=method, token_id=holder.token_id,
        )
    )  # fmt: skip
    return Opened(cookie, csrf, expires)


@dataclass(frozen=True)
class Found:
    holder: Holder
    csrf: str


_USER_COLUMNS = (
    User.uuid, User.username, User.email, User.full_name, User.is_active, User.is_staff,
    User.is_support,
)  # fmt: skip


def find(session: Session, cookie: str, now: datetime, idle: timedelta) -> Found | None:
    """The live session this cookie names (not idle too long, not past its end)."""
    row = session.execute(
        select(*_USER_COLUMNS, ConsoleSession.csrf_token, ConsoleSession.last_seen)
        .join(ConsoleSession, ConsoleSession.user_uuid == User.uuid)
        .where(
            ConsoleSession.id_hash == _hash(cookie),
            ConsoleSession.expires > now,
            ConsoleSession.last_seen > now - idle,
        )
    ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    csrf, last_seen = values.pop("csrf_token"), values.pop("last_seen")
    holder = Holder(User(**values), None, last_seen, session_cookie=cookie)
    return Found(holder, csrf)


def csrf_holds(found: Found, given: str) -> bool:
    return bool(given) and hmac.compare_digest(found.csrf.encode(), given.encode())


def touch_due(last_seen: datetime | None, now: datetime) -> bool:
    return last_seen is None or now - last_seen >= TOUCH_EVERY


def touch(session: Session, cookie: str, now: datetime) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id_hash == _hash(cookie))
        .values(last_seen=now)
        .execution_options(synchronize_session=False)
    )


def close_session(session: Session, cookie: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == _hash(cookie)))


def forget_expired(session: Session, now: datetime) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires <= now))
