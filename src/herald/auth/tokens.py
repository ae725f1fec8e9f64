"""API tokens: made once, shown once, stored only as a SHA-256 hash.

A token may expire; an expired one is refused exactly like an unknown one.
Its last use is recorded at most once a minute (a conditional UPDATE), never
a write per request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from herald.core.clock import utc_now
from herald.core.db import rowcount
from herald.core.models import ApiToken, User

LAST_USED_EVERY = timedelta(minutes=1)


def hash_key(key: str) -> str:
    # Keys are 160 random bits, so a plain (unsalted) SHA-256 cannot be
    # brute-forced and still allows a lookup by hash on every request.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_refusal(user: User) -> str | None:
    """Why this user's tokens would be refused by the API, or None if they work."""
    if not user.is_active:
        return "the user is inactive, so the API answers 401 to their tokens"
    if not (user.is_staff or user.is_support):
        return "the user is neither staff nor support, so the API answers 403 to their tokens"
    return None


def create_token(session: Session, user: User, expires_in_days: float | None = None) -> str:
    """A new key for `user`; the caller shows it once, only its hash is kept."""
    key = secrets.token_hex(20)
    now = utc_now()
    session.add(
        ApiToken(
            user_uuid=user.uuid,
            key_hash=hash_key(key),
            created=now,
            expires=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
    )
    session.flush()
    return key


_USER_COLUMNS = (
    User.uuid,
    User.username,
    User.email,
    User.full_name,
    User.is_active,
    User.is_staff,
    User.is_support,
)


@dataclass(frozen=True)
class Holder:
    """Who holds a key, and which token it is."""

    user: User
    token_id: int | None  # None: a Waldur token or a console session
    last_used: datetime | None
    # A console session's cookie, when it is one (its use is noted once a minute too).
    session_cookie: str | None = None
    token_expires: datetime | None = None  # when the Herald token stops working, if ever

    def use_is_due(self, now: datetime) -> bool:
        if self.token_id is None:
            return False
        return self.last_used is None or now - self.last_used >= LAST_USED_EVERY


# Who else may vouch for a key Herald does not know (Waldur, SPEC 8): set by the
# application when HERALD_WALDUR_AUTH is on; raises Unavailable (a 503) when it
# cannot answer.
TokenFallback = Callable[[Session, str], "Holder | None"]


def holder_of(session: Session, key: str) -> Holder | None:
    """The key's user, as a detached object, unless the key is unknown or expired:
    every request asks this, so it is one indexed Core query."""
    statement = (
        select(*_USER_COLUMNS, ApiToken.id, ApiToken.last_used, ApiToken.expires)
        .join(ApiToken, ApiToken.user_uuid == User.uuid)
        .where(
            ApiToken.key_hash == hash_key(key),
            or_(ApiToken.expires.is_(None), ApiToken.expires > utc_now()),
        )
        .limit(1)
    )
    row = session.connection().execute(statement).first()
    if row is None:
        return None
    values = dict(row._mapping)
    token_id, last_used, expires = values.pop("id"), values.pop("last_used"), values.pop("expires")
    return Holder(User(**values), token_id, last_used, token_expires=expires)


def record_use(session: Session, token_id: int, now: datetime) -> None:
    """Note that the token was used now, unless that was noted less than a minute ago."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used.is_(None), ApiToken.last_used <= now - LAST_USED_EVERY),
        )
        .values(last_used=now)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class TokenInfo:
    id: int
    email: str
    full_name: str
    refusal: str | None  # why the API would refuse it, if it would
    created: datetime
    last_used: datetime | None
    expires: datetime | None


def list_tokens(session: Session) -> list[TokenInfo]:
    statement = (
        select(ApiToken, User).join(User, User.uuid == ApiToken.user_uuid).order_by(ApiToken.id)
    )
    now = utc_now()
    result = []
    for token, user in session.execute(statement).tuples():
        refusal = api_refusal(user)
        if token.expires is not None and token.expires <= now:
            refusal = "expired"
        result.append(
            TokenInfo(
                token.id,
                user.email,
                user.full_name,
                refusal,
                token.created,
                token.last_used,
                token.expires,
            )
        )
    return result


def revoke_token(session: Session, token_id: int) -> int:
    return rowcount(session.execute(delete(ApiToken).where(ApiToken.id == token_id)))


def revoke_tokens_of(session: Session, user_uuid: str) -> int:
    statement = delete(ApiToken).where(ApiToken.user_uuid == user_uuid)
    return rowcount(session.execute(statement))
