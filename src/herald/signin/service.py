"""Signing in through the portal's OpenID provider (SPEC 8.1), from the console's
button to a console session; every way it can fail, named for the person it fails.

A sign-in in flight is a row (`oidc_sign_ins`) keyed by a hash of its `state`
and bound to the browser that started it (a random value in a short-lived
cookie, its hash in the row): a callback with an unknown, used, expired or
foreign state changes nothing. The row is marked used before the code is
exchanged, in its own transaction, so a replayed callback is refused even if
the provider were to accept the code twice.

The identity is mapped to a directory user as Waldur maps it: the claim
HERALD_OIDC_USER_CLAIM names the user by HERALD_OIDC_USER_FIELD.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from herald.api.params import parse_uuid
from herald.core.clock import utc_now
from herald.core.db import Database, rowcount
from herald.core.models import OidcSignIn, ScopeType, User
from herald.roles.scopes import held_scopes
from herald.signin.oidc import (
    Identity,
    OidcClient,
    ProviderRefused,
    ProviderUnreachable,
    TokenInvalid,
)

LIFETIME = timedelta(minutes=10)  # from the button to the provider's answer
EXPIRED_OR_FOREIGN = "This sign-in expired or was started in another browser; sign in again."
UNREACHABLE = "The sign-in service cannot be reached; try again shortly."


class SignInFailed(Exception):
    """What the person is shown: a status, a heading and what to do."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def safe_next(value: str | None) -> str:
    """A console address to land on: a path starting with one `/`; anything else
    (another site, `//host`, a scheme) is ignored, so no open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 for c in value) or len(value) > 2000:
        return "/"
    return value


@dataclass(frozen=True)
class Started:
    url: str  # where the browser goes: the provider's authorization endpoint
    browser: str  # the cookie's value


def start(
    database: Database, client: OidcClient, redirect_uri: str, next_url: str | None, now: datetime
) -> Started:
    try:
        begun = client.start(redirect_uri)
    except ProviderUnreachable as exc:
        raise SignInFailed(503, "The sign-in service cannot be reached", UNREACHABLE) from exc
    browser = secrets.token_urlsafe(32)
    with database.transaction() as session:
        session.execute(delete(OidcSignIn).where(OidcSignIn.created < now - LIFETIME))
        session.execute(
            insert(OidcSignIn).values(
                state_hash=_hash(begun.state), browser_hash=_hash(browser), nonce=begun.nonce,
                code_verifier=begun.code_verifier, next=safe_next(next_url), created=now,
                used=False,
            )
        )  # fmt: skip
    return Started(begun.url, browser)


@dataclass(frozen=True)
class Pending:
    nonce: str
    code_verifier: str
    next: str


def _claim(session: Session, state: str | None, browser: str | None, now: datetime) -> Pending:
    """The sign-in this callback finishes, marked used; SignInFailed (400) when the
    state is unknown, used, expired or was started in another browser."""
    if not state or not browser:
        raise SignInFailed(400, "This sign-in cannot be finished", EXPIRED_OR_FOREIGN)
    this = (
        OidcSignIn.state_hash == _hash(state),
        # Another browser's callback neither finishes nor uses up this sign-in.
        OidcSignIn.browser_hash == _hash(browser),
        OidcSignIn.created >= now - LIFETIME,
    )
    used = rowcount(
        session.execute(
            update(OidcSignIn)
            .where(*this, OidcSignIn.used.is_(False))
            .values(used=True)
            .execution_options(synchronize_session=False)
        )
    )
    row = session.execute(
        select(OidcSignIn.nonce, OidcSignIn.code_verifier, OidcSignIn.next).where(*this)
    ).first()
    if row is None or used != 1:
        raise SignInFailed(400, "This sign-in cannot be finished", EXPIRED_OR_FOREIGN)
    return Pending(row.nonce, row.code_verifier, row.next)


def abandon(database: Database, state: str | None, browser: str | None, now: datetime) -> str:
    """The provider answered with an error: the sign-in is used up. Its `next`, or /."""
    try:
        with database.transaction() as session:
            return _claim(session, state, browser, now).next
    except SignInFailed:
        return "/"


@dataclass(frozen=True)
class Finished:
    user: User
    identity: Identity
    next: str


def finish(
    database: Database,
    client: OidcClient,
    *,
    code: str | None,
    state: str | None,
    browser: str | None,
    redirect_uri: str,
    user_field: str,
    now: datetime,
    kinds: frozenset[ScopeType] = frozenset(),
) -> Finished:
    with database.transaction() as session:
        pending = _claim(session, state, browser, now)
    if not code:
        raise SignInFailed(400, "This sign-in cannot be finished", EXPIRED_OR_FOREIGN)
    try:
        identity = client.finish(code, redirect_uri, pending.code_verifier, pending.nonce)
    except ProviderUnreachable as exc:
        raise SignInFailed(503, "The sign-in service cannot be reached", UNREACHABLE) from exc
    except ProviderRefused as exc:
        raise SignInFailed(
            400,
            "The sign-in service refused this sign-in",
            f"It said: {exc}. Sign in again; if it happens again, tell support.",
        ) from exc
    except TokenInvalid as exc:
        raise SignInFailed(
            400,
            "The sign-in could not be verified",
            f"Herald could not trust the answer of the sign-in service: {exc}. Sign in again; "
            "if it happens again, tell support.",
        ) from exc
    with database.transaction(write=False) as session:
        user = user_for(session, identity.claims, client.user_claim, user_field, kinds, now)
    return Finished(user, identity, pending.next)


def user_for(
    session: Session,
    claims: dict[str, Any] | Any,
    claim: str,
    field: str,
    kinds: frozenset[ScopeType] = frozenset(),
    now: datetime | None = None,
) -> User:
    """The active staff or support user the claim names (403 naming the claim and its
    value when nobody, so the person can tell support who they are)."""
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise SignInFailed(
            403,
            "Herald does not know who you are",
            f"The sign-in service did not say your {claim}, by which Herald finds its users. "
            "Tell support.",
        )
    value = value.strip()
    column: Any = {"username": User.username, "uuid": User.uuid, "email": func.lower(User.email)}[
        field
    ]
    wanted: str | None = value
    if field == "uuid":
        wanted = parse_uuid(value)
    elif field == "email":
        wanted = value.lower()
    found = (
        session.execute(
            select(User).where(column == wanted).order_by(User.is_active.desc(), User.uuid)
        )
        .scalars()
        .first()
        if wanted
        else None
    )
    if found is None:
        raise SignInFailed(
            403,
            "No Herald user matches you",
            f"You signed in as {claim} “{value}”, and no user of Herald has that {field}. "
            "Tell support this value so they can add you.",
        )
    session.expunge(found)
    if not found.is_active:
        raise SignInFailed(
            403,
            "Your account is inactive",
            f"The user {claim} “{value}” is inactive in Herald's directory, so it cannot sign in.",
        )
    scoped = bool(kinds) and bool(held_scopes(session, found.uuid, now or utc_now(), kinds))
    if not (found.is_staff or found.is_support or scoped):
        raise SignInFailed(
            403,
            "Your account may not use Herald",
            f"You signed in as {claim} “{value}”, who is neither staff nor support. Ask support "
            "for access if you should have it.",
        )
    return found
