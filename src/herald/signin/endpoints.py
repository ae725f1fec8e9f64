"""/api/session/ (SPEC 8): sign the console in once per browser, and out.

`POST` with `{"token": key}` (a Herald token, or a Waldur token when those are
on) opens a session: 204 and the cookie (`HttpOnly; SameSite=Strict; Path=/`,
`Secure` over HTTPS). `GET` says who is signed in, with the CSRF token the
console sends on every change. `DELETE` ends the session on the server.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.responses import Response

from herald.api.errors import CrossSiteRefused, NotAuthenticated
from herald.api.openapi import json_request_body
from herald.api.params import read_body
from herald.api.responses import JSONResponse
from herald.audit.service import actor_of, record
from herald.auth import sessions
from herald.auth.callers import caller_of
from herald.auth.dependencies import authenticate, same_origin, session_idle
from herald.core.clock import utc_now
from herald.core.db import Database
from herald.core.errors import Invalid

router = APIRouter(prefix="/api/session", tags=["session"])


class SignIn(BaseModel):
    token: str


def _foreign(request: Request) -> None:
    if not same_origin(request):
        raise CrossSiteRefused("Refused: sign in and out from Herald's own pages.")


@router.post(
    "/",
    status_code=204,
    operation_id="session_open",
    # Open to anyone: the token in the body is the credential.
    openapi_extra={**json_request_body(SignIn), "security": []},
)
async def sign_in(request: Request) -> Response:
    _foreign(request)
    settings = request.app.state.settings
    body = await read_body(request, 4096)
    data = body.json_object()
    token = data.get("token")
    if not isinstance(token, str) or not token.strip():
        raise Invalid.field("token", "Give a staff or support API token.")
    database: Database = request.app.state.database
    fallback = getattr(request.app.state, "token_fallback", None)

    def open_it() -> sessions.Opened:
        with database.transaction(write=False) as session:
            holder = authenticate(session, token.strip(), fallback, session_idle(request))
            # Staff, support, or a scoped sender holding a scope now (SPEC 9).
            caller_of(session, holder.user, settings.scoped_kinds, utc_now())
        now = utc_now()
        # A Herald token has a row; a Waldur token is one Waldur vouched for.
        method = sessions.TOKEN if holder.token_id is not None else sessions.WALDUR_TOKEN
        with database.transaction() as session:
            sessions.forget_expired(session, now)
            opened = sessions.open_session(
                session, holder, now, settings.session_max_days, method=method
            )
            record(session, actor_of(request, holder.user), "session.sign-in", "session",
                   holder.user.uuid, {"method": method})  # fmt: skip
            return opened

    opened = await run_in_threadpool(open_it)
    response = Response(status_code=204)
    response.set_cookie(
        sessions.COOKIE,
        opened.cookie,
        # The browser forgets it when the server does (sooner with a token that expires).
        max_age=max(1, int((opened.expires - utc_now()).total_seconds())),
        path="/",
        httponly=True,
        samesite="strict",
        # Over HTTPS, directly or as a proxy uvicorn trusts forwarded it.
        secure=request.url.scheme == "https",
    )
    return response


@router.get(
    "/", operation_id="session_retrieve", openapi_extra={"security": [{"SessionCookie": []}]}
)
def who(request: Request) -> JSONResponse:
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        raise NotAuthenticated()
    database: Database = request.app.state.database
    kinds = request.app.state.settings.scoped_kinds
    with database.transaction(write=False) as session:
        found = sessions.find(session, cookie, utc_now(), session_idle(request))
        if found is None or not found.holder.user.is_active:
            raise NotAuthenticated("Your session has ended; sign in again.")
        caller = caller_of(session, found.holder.user, kinds, utc_now())
    user = found.holder.user
    body: dict[str, Any] = {
        "user": {
            "uuid": user.uuid,
            "email": user.email,
            "full_name": user.full_name,
            "is_staff": user.is_staff,
            "is_support": user.is_support,
            "is_active": user.is_active,
        },
        # What a scoped sender may send to (SPEC 9); null for staff and support.
        "scopes": (
            [{"type": s.type.value, "uuid": s.uuid, "name": s.name} for s in caller.scopes.scopes]
            if caller.scopes is not None
            else None
        ),
        "csrf_token": found.csrf,
        "method": found.method,
        # Signed in through the provider: signing out goes there too (SPEC 8.1).
        "logout_url": found.logout_url,
    }
    return JSONResponse(body)


@router.delete("/", status_code=204, operation_id="session_close", openapi_extra={"security": []})
def sign_out(request: Request) -> Response:
    _foreign(request)
    cookie = request.cookies.get(sessions.COOKIE)
    if cookie:
        database: Database = request.app.state.database
        with database.transaction() as session:
            found = sessions.find(session, cookie, utc_now(), session_idle(request))
            sessions.close_session(session, cookie)
            if found is not None:
                record(session, actor_of(request, found.holder.user), "session.sign-out",
                       "session", found.holder.user.uuid, {"method": found.method})  # fmt: skip
    response = Response(status_code=204)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
    return response
