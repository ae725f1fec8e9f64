"""Who is calling: `Authorization: Token <key>` (or `Bearer <key>`), or the console's
session; and what they may do, declared once per kind of caller: `staff_session`
(staff and support) and `sender_session` (those, and scoped senders, SPEC 9).

Each request does all its database work, the token check included, in one
worker thread and one transaction (`staff_session`). FastAPI runs every sync
dependency in a thread of its own; with the check and the session as
separate dependencies a request crossed threads three times, and measured
(bench/api_bench.py) that cost a third of the list endpoint's throughput.
The header itself is read without touching the database, so a missing or
malformed header is refused before any thread is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from herald.api.errors import CrossSiteRefused, NotAuthenticated, PermissionDenied
from herald.api.params import RequestBody, read_body
from herald.auth import sessions
from herald.auth.callers import Caller, caller_of
from herald.auth.tokens import Holder, TokenFallback, holder_of, record_use
from herald.core.clock import utc_now
from herald.core.db import Database
from herald.core.models import ScopeType, User

_SCHEMES = {"token", "bearer"}
DEFAULT_IDLE = timedelta(hours=8)
_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def same_origin(request: Request) -> bool:
    """Whether a request comes from Herald's own pages: the browser's Sec-Fetch-Site,
    else its Origin; neither (not a browser of this decade) counts as foreign."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site:
        return fetch_site == "same-origin"
    origin = request.headers.get("origin")
    return origin is not None and origin == f"{request.url.scheme}://{request.url.netloc}"


async def api_key(request: Request) -> str:
    """`Authorization: Token <key>`, or a console session's cookie (SPEC 8)."""
    header = request.headers.get("authorization")
    if header is None or not header.strip():
        cookie = request.cookies.get(sessions.COOKIE)
        if not cookie:
            raise NotAuthenticated()
        changes = request.method not in _READ_METHODS
        if changes and not same_origin(request):
            raise CrossSiteRefused(
                "Refused: a change signed in by the console's cookie must come from Herald's "
                "own pages."
            )
        csrf = request.headers.get("x-csrf-token", "")
        return sessions.SessionKey(cookie, csrf, changes).encode()
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in _SCHEMES:
        raise NotAuthenticated("Invalid token.")
    return parts[1]


ApiKey = Annotated[str, Depends(api_key)]


def _fallback(request: Request) -> TokenFallback | None:
    return getattr(request.app.state, "token_fallback", None)


def session_idle(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.settings.session_idle_hours)


def _holder_alone(request: Request, key: str) -> Holder:
    """Who holds `key`, refused (403) when they could use nothing here: neither staff
    nor support, and no scoped senders allowed."""
    database: Database = request.app.state.database
    with database.transaction(write=False) as session:
        holder = authenticate(session, key, _fallback(request), session_idle(request))
    user = holder.user
    if not (user.is_staff or user.is_support or request.app.state.settings.scoped_kinds):
        raise PermissionDenied()
    return holder


async def authenticated_body(request: Request, key: ApiKey) -> RequestBody:
    """The request body, read only once the token is known to be a staff member's
    (an unknown caller is refused before a byte is read), and at most
    HERALD_MAX_BODY_BYTES of it (413 as soon as it is exceeded)."""
    request.state.holder = await run_in_threadpool(_holder_alone, request, key)
    return await read_body(request, request.app.state.settings.max_body_bytes)


# A body endpoint's raw body: read after the token is checked, parsed inside the endpoint.
AuthenticatedBody = Annotated[RequestBody, Depends(authenticated_body)]


def authenticate(
    session: Session,
    key: str,
    fallback: TokenFallback | None = None,
    idle: timedelta = DEFAULT_IDLE,
) -> Holder:
    """A console session (with its CSRF token for a change), else Herald's own token
    (one indexed lookup), else, with Waldur tokens on, what Waldur says of it
    (cached); refused unless an active user. What they may do is the caller's."""
    cookie = sessions.SessionKey.decode(key)
    if cookie is not None:
        found = sessions.find(session, cookie.cookie, utc_now(), idle)
        if found is None:
            raise NotAuthenticated("Your session has ended; sign in again.")
        if cookie.changes and not sessions.csrf_holds(found, cookie.csrf):
            raise CrossSiteRefused("CSRF token missing or incorrect (X-CSRF-Token).")
        holder: Holder | None = found.holder
    else:
        holder = holder_of(session, key)
        if holder is None and fallback is not None:
            holder = fallback(session, key)
    if holder is None:
        raise NotAuthenticated("Invalid token.")
    if not holder.user.is_active:
        raise NotAuthenticated("User inactive or deleted.")
    return holder


def authenticate_staff(
    session: Session,
    key: str,
    fallback: TokenFallback | None = None,
    idle: timedelta = DEFAULT_IDLE,
    staff_only: bool = False,
) -> Holder:
    """`authenticate`, refused (403) unless staff or support (`staff_only`: staff)."""
    holder = authenticate(session, key, fallback, idle)
    allowed = holder.user.is_staff or (holder.user.is_support and not staff_only)
    if not allowed:
        raise PermissionDenied()
    return holder


@contextmanager
def _request_session(
    request: Request, key: str, kinds: frozenset[ScopeType]
) -> Iterator[tuple[Session, Caller]]:
    database: Database = request.app.state.database
    write = request.method not in _READ_METHODS
    fallback = _fallback(request)
    # A body endpoint checked the token before reading the body.
    holder: Holder | None = getattr(request.state, "holder", None)
    if holder is None and write and fallback is not None:
        # Asking Waldur must never happen inside a write transaction (on SQLite
        # it holds the write lock): check first, in a read transaction of its own.
        holder = _holder_alone(request, key)
    with database.transaction(write=write) as session:
        holder = holder or authenticate(session, key, fallback, session_idle(request))
        review = request.app.state.settings.scoped_review
        yield session, caller_of(session, holder.user, kinds, utc_now(), review)
    now = utc_now()
    if holder.use_is_due(now) and holder.token_id is not None:
        # Its own short transaction: a read request's transaction cannot write
        # on SQLite, and this happens at most once a minute per token.
        with database.transaction() as session:
            record_use(session, holder.token_id, now)
    elif (
        holder.session_cookie
        and holder.last_used
        and now - holder.last_used >= sessions.TOUCH_EVERY
    ):
        with database.transaction() as session:
            sessions.touch(session, holder.session_cookie, now)


@contextmanager
def staff_session(request: Request, key: str) -> Iterator[tuple[Session, User]]:
    """The request's one transaction, opened as the staff or support user holding
    `key` (anyone else: 403).

    Committed when the block ends normally, rolled back on any error; reads
    (GET, HEAD) take SQLite's shared lock, writes its write lock up front.
    """
    with _request_session(request, key, frozenset()) as (session, caller):
        yield session, caller.user


@contextmanager
def staff_only_session(request: Request, key: str) -> Iterator[tuple[Session, User]]:
    """As `staff_session`, for what support may not do (the audit trail)."""
    with staff_session(request, key) as (session, user):
        if not user.is_staff:
            raise PermissionDenied()
        yield session, user


@contextmanager
def sender_session(request: Request, key: str) -> Iterator[tuple[Session, Caller]]:
    """As `staff_session`, for what scoped senders may also do (SPEC 9): the caller
    carries the scopes they hold now (with HERALD_SCOPED_SENDERS unset, none: 403)."""
    kinds = request.app.state.settings.scoped_kinds
    with _request_session(request, key, kinds) as (session, caller):
        yield session, caller
