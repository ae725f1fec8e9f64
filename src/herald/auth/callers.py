"""Who is calling and what they may do (SPEC 8, 9), as the services receive it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from herald.core.errors import Forbidden
from herald.core.models import ScopeType, User
from herald.roles.scopes import HeldScopes, held_scopes


@dataclass(frozen=True)
class Caller:
    """Who is calling and what they may do (SPEC 8, 9): staff and support anything
    (`scopes` None); a scoped sender only within the scopes they hold now."""

    user: User
    scopes: HeldScopes | None = None
    # Whether this caller's sends and schedules wait for staff (HERALD_SCOPED_REVIEW).
    review: bool = False

    @property
    def is_staff(self) -> bool:
        return self.scopes is None


def caller_of(
    session: Session,
    user: User,
    kinds: frozenset[ScopeType],
    now: datetime,
    review: bool = True,
) -> Caller:
    """Staff or support; else the scopes the user holds now (one query), refused
    (403) when none: losing a role loses the access at the next request."""
    if user.is_staff or user.is_support:
        return Caller(user)
    held = held_scopes(session, user.uuid, now, kinds) if kinds else None
    if not held:
        raise Forbidden()
    return Caller(user, held, review)
