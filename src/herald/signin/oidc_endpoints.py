"""/api/session/oidc/ (SPEC 8.1): the console signs in through the portal's OpenID
provider, and leaves with it.

`GET /api/session/oidc/` sends the browser to the provider; the provider sends it
back to `.../callback/`, which opens the console session of SPEC 8 and lands on
`next`. Every failure is a page of the console's look that says what happened and
what to do ("Try again"), with its status (400, 403, 503) and no session: never
a 500, never a JSON body a person would have to read. The provider's back-channel
logout posts to `.../backchannel-logout/`.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from herald.api.params import read_body
from herald.api.responses import JSONResponse
from herald.audit.service import actor_of, record
from herald.auth import sessions
from herald.auth.tokens import Holder
from herald.core.clock import utc_now
from herald.core.db import Database
from herald.core.errors import NotFound
from herald.signin import service as sign_in
from herald.signin.oidc import OidcClient, ProviderUnreachable, TokenInvalid

logger = logging.getLogger("herald.auth")
router = APIRouter(prefix="/api/session", tags=["session"])

BROWSER_COOKIE = "herald_oidc"
BROWSER_COOKIE_PATH = "/api/session/oidc/"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# Provider errors a person caused (they said no): 403; anything else it reports: 400.
REFUSALS = {"access_denied", "consent_required", "login_required", "interaction_required"}


def _client(request: Request) -> OidcClient | None:
    return getattr(request.app.state, "oidc", None)


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


def page(status: int, title: str, message: str, retry: str | None) -> HTMLResponse:
    """A page of the console's look: what happened, what to do, and a way on."""
    links = []
    if retry:
        links.append(f'<a class="button" href="{html.escape(retry)}">Try again</a>')
    links.append('<a href="/">Back to the sign-in page</a>')
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} — Herald</title>
<link rel="stylesheet" href="/static/console/app.css">
<link rel="icon" href="/static/console/favicon.svg" type="image/svg+xml"></head>
<body><header class="bar"><a class="brand" href="/">Herald</a></header>
<main id="main"><h1>Sign in to Herald</h1><div class="card narrow" role="alert">
<h2>{html.escape(title)}</h2><p id="sign-in-problem">{html.escape(message)}</p>
<div class="actions">{" ".join(links)}</div></div></main></body></html>"""
    return HTMLResponse(
        body,
        status_code=status,
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"},
    )


def _retry(next_url: str) -> str:
    return f"/api/session/oidc/?{urlencode({'next': next_url})}"


@router.get(
    "/sign-in-options/", operation_id="session_sign_in_options", openapi_extra={"security": []}
)
def sign_in_options(request: Request) -> JSONResponse:
    """How the console may sign in: the provider's button (when configured) and tokens."""
    client = _client(request)
    oidc = {"label": client.label, "url": "/api/session/oidc/"} if client else None
    return JSONResponse({"oidc": oidc, "token": True})


@router.get(
    "/oidc/",
    operation_id="session_oidc_start",
    status_code=302,
    openapi_extra={"security": []},
    responses={
        302: {"description": "to the provider"},
        404: {"description": "no provider is configured"},
        503: {"description": "a page: the provider cannot be reached"},
    },
)
async def oidc_start(request: Request, next: str | None = None) -> Response:  # noqa: A002
    client = _client(request)
    if client is None:
        raise NotFound("Sign-in through an identity provider is not configured.")
    database: Database = request.app.state.database
    wanted = sign_in.safe_next(next)
    try:
        started = await run_in_threadpool(
            sign_in.start, database, client, _callback_url(request), wanted, utc_now()
        )
    except sign_in.SignInFailed as failed:
        logger.warning("OIDC sign-in could not start: %s", failed.__cause__ or failed)
        return page(failed.status, failed.title, failed.message, _retry(wanted))
    response = RedirectResponse(started.url, status_code=302)
    response.set_cookie(
        BROWSER_COOKIE,
        started.browser,
        max_age=int(sign_in.LIFETIME.total_seconds()),
        path=BROWSER_COOKIE_PATH,
        httponly=True,
        # Lax: the provider's redirect back is a top-level GET from another site.
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get(
    "/oidc/callback/",
    name="oidc_callback",
    operation_id="session_oidc_callback",
    openapi_extra={"security": []},
    responses={
        302: {"description": "signed in, to `next`"},
        400: {"description": "a page: the sign-in expired, was replayed or not verified"},
        403: {"description": "a page: no such user, or not allowed"},
        404: {"description": "no provider is configured"},
        503: {"description": "a page: the provider cannot be reached"},
    },
)
async def oidc_callback(request: Request) -> Response:
    client = _client(request)
    if client is None:
        raise NotFound("Sign-in through an identity provider is not configured.")
    database: Database = request.app.state.database
    settings = request.app.state.settings
    params = request.query_params
    browser = request.cookies.get(BROWSER_COOKIE)
    now = utc_now()
    if error := params.get("error"):
        next_url = await run_in_threadpool(
            sign_in.abandon, database, params.get("state"), browser, now
        )
        said = params.get("error_description") or ""
        status = 403 if error in REFUSALS else 400
        message = (
            "You did not allow Herald to sign you in at the sign-in service."
            if error == "access_denied"
            else "The sign-in service did not sign you in."
        )
        return _forget_browser(
            page(status, "You are not signed in", f"{message} It said: {error}"
                 + (f" ({said})" if said else "") + ".", _retry(next_url))
        )  # fmt: skip
    try:
        finished = await run_in_threadpool(
            sign_in.finish,
            database,
            client,
            code=params.get("code"),
            state=params.get("state"),
            browser=browser,
            redirect_uri=_callback_url(request),
            user_field=settings.oidc_user_field,
            now=now,
            kinds=settings.scoped_kinds,
        )
    except sign_in.SignInFailed as failed:
        logger.warning("OIDC sign-in refused (%d): %s", failed.status, failed.message)
        return _forget_browser(page(failed.status, failed.title, failed.message, _retry("/")))

    def open_it() -> sessions.Opened:
        try:
            logout_url = client.logout_url(finished.identity.id_token, str(request.base_url))
        except ProviderUnreachable:
            logout_url = None  # signing out then ends Herald's session alone
        opened_at = utc_now()
        with database.transaction() as session:
            sessions.forget_expired(session, opened_at)
            opened = sessions.open_session(
                session,
                Holder(finished.user, None, None),
                opened_at,
                settings.session_max_days,
                method=sessions.OIDC,
                provider=sessions.ProviderSession(
                    finished.identity.sid, finished.identity.sub, logout_url
                ),
            )
            record(session, actor_of(request, finished.user), "session.sign-in", "session",
                   finished.user.uuid, {"method": sessions.OIDC})  # fmt: skip
            return opened

    opened = await run_in_threadpool(open_it)
    response = RedirectResponse(finished.next, status_code=302)
    response.set_cookie(
        sessions.COOKIE,
        opened.cookie,
        max_age=max(1, int((opened.expires - utc_now()).total_seconds())),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return _forget_browser(response)


def _forget_browser(response: Response) -> Response:
    response.delete_cookie(BROWSER_COOKIE, path=BROWSER_COOKIE_PATH, httponly=True, samesite="lax")
    return response


@router.post(
    "/oidc/backchannel-logout/",
    operation_id="session_oidc_backchannel_logout",
    openapi_extra={"security": []},
    responses={
        200: {"description": "the sessions ended"},
        400: {"description": "not verified"},
        404: {"description": "no provider is configured"},
        503: {"description": "the provider's keys cannot be read; the provider retries"},
    },
)
async def backchannel_logout(request: Request) -> Response:
    """OpenID Connect Back-Channel Logout 1.0: the provider says a session ended."""
    client = _client(request)
    if client is None:
        raise NotFound("Sign-in through an identity provider is not configured.")
    body = await read_body(request, 16 * 1024)
    tokens = parse_qs(body.raw.decode("utf-8", "replace")).get("logout_token", [])
    if len(tokens) != 1:
        return _logout_refused("a form field logout_token is required")
    try:
        sid, sub = await run_in_threadpool(client.logout_subject, tokens[0])
    except TokenInvalid as exc:
        logger.warning("back-channel logout refused: %s", exc)
        return _logout_refused(str(exc))
    except ProviderUnreachable as exc:
        # Its keys cannot be read: the provider retries a logout it could not deliver.
        logger.error("back-channel logout not checked, the provider's keys: %s", exc)
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
    database: Database = request.app.state.database

    def end() -> int:
        with database.transaction() as session:
            return sessions.end_provider_sessions(session, sid, sub)

    ended = await run_in_threadpool(end)
    logger.info("back-channel logout (sid %s, sub %s): %d session(s) ended", sid, sub, ended)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})


def _logout_refused(reason: str) -> JSONResponse:
    # Back-Channel Logout 1.0, 2.8: 400 with an OAuth-style error body.
    return JSONResponse(
        {"error": "invalid_request", "error_description": reason},
        status_code=400,
        headers={"Cache-Control": "no-store"},
    )
