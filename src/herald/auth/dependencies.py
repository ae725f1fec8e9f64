"""Who is calling: `Authorization: Token <key>` (or `Bearer <key>`), staff or support only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from herald.api.errors import NotAuthenticated, PermissionDenied
from herald.auth.tokens import user_for_key
from herald.db import Database
from herald.models import User

_SCHEMES = {"token", "bearer"}
_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    database: Database = request.app.state.database
    with database.transaction(write=request.method not in _READ_METHODS) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]


def _key_from_header(header: str | None) -> str:
    if header is None or not header.strip():
        raise NotAuthenticated()
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in _SCHEMES:
        raise NotAuthenticated("Invalid token.")
    return parts[1]


def require_staff(request: Request, session: DbSession) -> User:
    key = _key_from_header(request.headers.get("authorization"))
    user = user_for_key(session, key)
    if user is None:
        raise NotAuthenticated("Invalid token.")
    if not user.is_active:
        raise NotAuthenticated("User inactive or deleted.")
    if not (user.is_staff or user.is_support):
        raise PermissionDenied()
    return user


StaffUser = Annotated[User, Depends(require_staff, scope="function")]
