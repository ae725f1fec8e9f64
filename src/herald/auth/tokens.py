"""API tokens: made once, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.clock import utc_now
from herald.models import ApiToken, User


def hash_key(key: str) -> str:
    # Keys are 160 random bits, so a plain (unsalted) SHA-256 cannot be
    # brute-forced and still allows a lookup by hash on every request.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User) -> str:
    """A new key for `user`; the caller shows it once, only its hash is kept."""
    key = secrets.token_hex(20)
    session.add(
        ApiToken(
            user_uuid=user.uuid,
            key_hash=hash_key(key),
            created=utc_now(),
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


def user_for_key(session: Session, key: str) -> User | None:
    """The key's user, as a detached object: every request asks this, so it is
    one indexed Core query without the ORM's identity-map bookkeeping."""
    statement = (
        select(*_USER_COLUMNS)
        .join(ApiToken, ApiToken.user_uuid == User.uuid)
        .where(ApiToken.key_hash == hash_key(key))
        .limit(1)
    )
    row = session.connection().execute(statement).first()
    return User(**row._mapping) if row else None
