"""Console sessions (SPEC 8): a signed-in browser, held in a cookie.

The cookie carries 256 random bits; the database keeps only their SHA-256
(like API tokens), with the session's CSRF token, when it was last used and
when it ends for good. A request authenticated by the cookie that changes
anything must come from Herald's own pages (`Sec-Fetch-Site: same-origin`,
or an `Origin` equal to Herald's) and carry the session's CSRF token in
`X-CSRF-Token`; `Authorization: Token …` needs neither. How a session was
opened (`method`: a token, a Waldur token, the OpenID provider) matters after
it is opened only to how it ends: with its token (revoked, expired), or with
the provider's session (back-channel logout, SPEC 8.1).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from herald.auth.tokens import Holder
from herald.core.db import rowcount
from herald.core.models import ConsoleSession, User

COOKIE = "herald_session"
# How a session was opened (`method`, and the audit trail's sign-in entries).
TOKEN, WALDUR_TOKEN, OIDC = "token", "waldur-token", "oidc"
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


@dataclass(frozen=True)
class ProviderSession:
    """What an OpenID sign-in keeps with the session (SPEC 8.1)."""

    sid: str | None  # the provider's session, which its back-channel logout names
    sub: str
    logout_url: str | None  # where signing out sends the browser


def open_session(
    session: Session,
    holder: Holder,
    now: datetime,
    max_days: float,
    method: str = "token",
    provider: ProviderSession | None = None,
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
            oidc_sid=provider.sid if provider else None,
            oidc_sub=provider.sub if provider else None,
            logout_url=provider.logout_url if provider else None,
        )
    )  # fmt: skip
    return Opened(cookie, csrf, expires)


@dataclass(frozen=True)
class Found:
    holder: Holder
    csrf: str
    method: str = "token"
    logout_url: str | None = None


_USER_COLUMNS = (
    User.uuid, User.username, User.email, User.full_name, User.is_active, User.is_staff,
    User.is_support,
)  # fmt: skip


def find(session: Session, cookie: str, now: datetime, idle: timedelta) -> Found | None:
    """The live session this cookie names (not idle too long, not past its end)."""
    row = session.execute(
        select(
            *_USER_COLUMNS,
            ConsoleSession.csrf_token,
            ConsoleSession.last_seen,
            ConsoleSession.method,
            ConsoleSession.logout_url,
        )
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
    method, logout_url = values.pop("method"), values.pop("logout_url")
    holder = Holder(User(**values), None, last_seen, session_cookie=cookie)
    return Found(holder, csrf, method, logout_url)


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


def end_provider_sessions(session: Session, sid: str | None, sub: str | None) -> int:
    """End every session opened through the provider's session `sid` or for its
    subject `sub` (back-channel logout); how many ended."""
    conditions = []
    if sid is not None:
        conditions.append(ConsoleSession.oidc_sid == sid)
    if sub is not None:
        conditions.append(ConsoleSession.oidc_sub == sub)
    if not conditions:
        return 0
    statement = delete(ConsoleSession).where(ConsoleSession.method == OIDC, or_(*conditions))
    return rowcount(session.execute(statement))


def forget_expired(session: Session, now: datetime) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires <= now))
