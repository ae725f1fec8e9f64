"""Waldur's own tokens at Herald's API (SPEC 8).

With HERALD_WALDUR_AUTH on, a token Herald does not know is asked of Waldur
(`GET /api/users/me/` with that token). Waldur's answer decides who it is
(staff, support, active); the user is written to the directory (added if
missing) and the answer is kept under a SHA-256 of the token, never the
token, for HERALD_WALDUR_AUTH_CACHE seconds: a Waldur token costs one call to
Waldur per cache period, not per request, and any server process reuses it.

Waldur's 401 (or 403) is Herald's 401. Waldur out of reach (refused, slow,
5xx, not JSON) is a 503, "a token is not invalid because Waldur is down",
unless Waldur vouched for the token within the last STALE_FOR, which then
still counts (and is logged).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from herald.api.params import parse_uuid
from herald.auth.tokens import Holder, hash_key
from herald.core.clock import utc_now
from herald.core.config import Settings
from herald.core.db import Database
from herald.core.errors import Unavailable
from herald.core.languages import read_tag
from herald.core.models import User
from herald.directory import repository
from herald.directory.schemas import read_user_email
from herald.directory.waldur import api_root

logger = logging.getLogger("herald.auth")
TIMEOUT = httpx.Timeout(3.0, connect=2.0)  # a request waits at most this for Waldur
STALE_FOR = timedelta(minutes=15)  # how long an old answer serves while Waldur is down


class WaldurTokens:
    """The token fallback: who Waldur says holds a key (None: nobody)."""

    def __init__(self, settings: Settings, database: Database) -> None:
        # Waldur's address read one way, as the directory sync reads it (with or
        # without `/api/`, SPEC 5.1).
        self.root = api_root(settings.waldur_url or "")
        self.cache_for = timedelta(seconds=settings.waldur_auth_cache)
        self.database = database
        self.client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)

    def __call__(self, session: Session, key: str) -> Holder | None:
        key_hash = hash_key(key)
        now = utc_now()
        cached = repository.waldur_token_user(session, key_hash)
        if cached is not None and now - cached[1] <= self.cache_for:
            return Holder(cached[0], None, None)
        try:
            answer = self.client.get(
                f"{self.root}users/me/", headers={"Authorization": f"Token {key}"}
            )
        except httpx.HTTPError as exc:
            return self._stale(cached, f"{type(exc).__name__}: {exc}")
        if answer.status_code in (401, 403):
            if cached is not None:
                with self.database.transaction() as writing:
                    repository.forget_waldur_token(writing, key_hash)
            return None
        user = _user(answer)
        if user is None:
            return self._stale(cached, f"it answered {answer.status_code} without a user")
        with self.database.transaction() as writing:
            repository.remember_waldur_token(writing, key_hash, user, now)
        return Holder(User(**user), None, None)

    def _stale(self, cached: tuple[User, Any] | None, reason: str) -> Holder:
        if cached is not None and utc_now() - cached[1] <= STALE_FOR:
            logger.warning("Waldur cannot check a token (%s); using its answer from %s",
                           reason, cached[1].isoformat(timespec="seconds"))  # fmt: skip
            return Holder(cached[0], None, None)
        logger.error("Waldur at %s cannot check a token: %s", self.root, reason)
        raise Unavailable(
            f"Waldur, which checks this token, cannot be reached ({reason}); try again shortly."
        )

    def close(self) -> None:
        self.client.close()


def _user(answer: httpx.Response) -> dict[str, Any] | None:
    """The directory row of the user Waldur's users/me describes, or None."""
    if answer.status_code != 200:
        return None
    try:
        me = answer.json()
    except ValueError:
        return None
    uuid = parse_uuid(me.get("uuid")) if isinstance(me, dict) else None
    if uuid is None:
        return None
    email, problem = read_user_email(me.get("email"))
    if problem is not None:
        # Still the person Waldur vouches for, so they sign in; but Herald mails
        # only addresses it accepts (the import's rule), so they are kept without one.
        logger.warning(
            "Waldur's address for user %s is refused (%s): kept without an address, "
            "so no message reaches them until Waldur has a valid one",
            uuid,
            problem,
        )
        email = ""
    return {
        "uuid": uuid,
        "username": str(me.get("username") or "")[:150],
        "email": email,
        "full_name": str(me.get("full_name") or "")[:300],
        "is_active": me.get("is_active") is True,
        "is_staff": me.get("is_staff") is True,
        "is_support": me.get("is_support") is True,
        # Read as the sync reads it (SPEC 2.3): one Herald cannot read is none.
        "preferred_language": read_tag(me.get("preferred_language"))[0] or "",
        "local": False,
    }
