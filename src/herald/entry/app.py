"""The ASGI application: Waldur's wire conventions around the domain routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from anyio import to_thread
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from sqlalchemy.orm import Session
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald import __version__
from herald.api.errors import install_error_handlers
from herald.api.openapi import finish
from herald.audit import endpoints as audit
from herald.bounces import endpoints as bounces
from herald.bounces.repository import totals_by_kind as bounce_totals
from herald.broadcasts import endpoints as broadcasts
from herald.broadcasts.repository import count_by_state, reviews_waiting
from herald.core.clock import utc_now
from herald.core.config import Settings
from herald.core.db import Database
from herald.delivery.outbox import queue_stats
from herald.directory import endpoints as directory
from herald.directory.repository import counts as directory_counts
from herald.directory.waldur_auth import WaldurTokens
from herald.operations import jobs, metrics
from herald.operations.endpoints import operations_router, status_router
from herald.operations.middleware import RequestMetrics
from herald.recipients import endpoints as recipients
from herald.signin import endpoints as session_endpoints
from herald.signin import oidc_endpoints
from herald.signin.oidc import OidcClient
from herald.suppressions.repository import count as suppression_count
from herald.templates import endpoints as templates

REQUEST_THREADS = 4
GZIP_ABOVE = 4096  # bytes
GC_THRESHOLD = 10_000
CONSOLE = Path(__file__).parent.parent / "web" / "static"
# Only this server's own scripts; previews (srcdoc frames inherit this) load nothing remote.
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Swagger UI starts itself with an inline script; nothing else inline, nothing remote.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"
SCHEMA_URL = "/api/schema/"
DOCS_URL = "/api/docs/"


class SecurityHeaders:
    """On every answer: no MIME sniffing; on API answers: never cached (they carry
    recipients' addresses, and a shared cache must not keep them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/") and not scope["path"].startswith(DOCS_URL)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                if api:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class TrailingSlash:
    """Serve `/api/x` exactly as `/api/x/`: Waldur's paths end in a slash, and a
    redirect would lose the method and body of a POST for some clients."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/api/") and not path.endswith("/"):
                scope = {**scope, "path": path + "/"}
                if scope.get("raw_path"):
                    scope["raw_path"] = scope["raw_path"] + b"/"
        await self.app(scope, receive, send)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title="Herald",
        version=__version__,
        description=(
            "Waldur's Broadcast Messages API. Authenticate with "
            "`Authorization: Token <key>`; staff and support users only."
        ),
        routes=app.routes,
    )
    finish(schema)
    components = schema["components"]
    components["securitySchemes"] = {
        "TokenAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token <key>",
        },
        "SessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "herald_session",
            "description": "the console's session (POST /api/session/); changes also need "
            "X-CSRF-Token and Herald's own origin",
        },
    }
    schema["security"] = [{"TokenAuth": []}, {"SessionCookie": []}]
    app.openapi_schema = schema
    return schema


def metrics_snapshot(session: Session) -> metrics.Snapshot:
    """What /metrics reads from the database: each table asked through its owner."""
    now = utc_now()
    deliveries, oldest_due = queue_stats(session, now)
    runs = jobs.runs(session)
    ages = {
        name: (now - run.last_success).total_seconds()
        for name, run in runs.items()
        if run.last_success is not None
    }
    waiting, oldest_request = reviews_waiting(session)
    return metrics.Snapshot(
        reviews_waiting=waiting,
        oldest_review_age=(now - oldest_request).total_seconds() if oldest_request else 0.0,
        deliveries=deliveries,
        oldest_due_age=(now - oldest_due).total_seconds() if oldest_due else 0.0,
        messages=count_by_state(session),
        job_ages=ages,
        job_durations={name: run.duration for name, run in runs.items()},
        job_failing={name: run.last_success != run.last_run for name, run in runs.items()},
        directory=directory_counts(session),
        bounces={kind.value: n for kind, n in bounce_totals(session).items()},
        suppressed=suppression_count(session),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    database = Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Request handlers are mostly Python under the GIL: past a few threads
        # per process they only contend (measured in bench/api_bench.py);
        # run more server processes for more throughput.
        to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        # Everything loaded at start-up lives as long as the process: freezing
        # it keeps the collector from re-scanning it, and a higher first
        # threshold lets a 100,000-row audience be built without dozens of
        # collections. Together they halved an all-users preview (bench/).
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, 10, 10)
        yield
        if oidc is not None:
            oidc.close()
        database.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="Herald",
        version=__version__,
        openapi_url=SCHEMA_URL,
        docs_url=None,
        redoc_url=None,
    )
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.database = database
    if settings.waldur_auth and settings.waldur_url:
        # Waldur's own tokens work here too (SPEC 8); Herald's are looked up first.
        app.state.token_fallback = WaldurTokens(settings, database)
    # The console's sign-in through the portal's OpenID provider (SPEC 8.1). The provider
    # is first asked when someone signs in: one that is down does not stop Herald.
    oidc = OidcClient(settings) if settings.oidc_issuer and settings.oidc_client_id else None
    app.state.oidc = oidc
    install_error_handlers(app)
    # Before the messages' router: its `/{uuid}/` would take `recipients` for a UUID.
    app.include_router(recipients.router)
    app.include_router(broadcasts.router)
    app.include_router(directory.router)
    app.include_router(templates.router)
    app.include_router(bounces.bounces_router)
    app.include_router(bounces.suppressions_router)
    app.include_router(operations_router(metrics_snapshot))
    app.include_router(status_router)
    app.include_router(audit.router)
    app.include_router(session_endpoints.router)
    app.include_router(oidc_endpoints.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    # Swagger UI 5 (it reads OpenAPI 3.1) from an installed package: nothing is
    # fetched from outside. (swagger-ui-bundle's 4.15 could not read the document.)
    app.mount("/static/swagger-ui", StaticFiles(directory=str(SWAGGER_UI)), name="swagger")

    # The staff console: static files over the public API, nothing from outside.
    app.mount("/static/console", StaticFiles(directory=str(CONSOLE)), name="console")

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(
            CONSOLE / "index.html", headers={"Content-Security-Policy": CONSOLE_CSP, **PAGE_HEADERS}
        )

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=SCHEMA_URL,
            title="Herald API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon.png",
        )
        page.headers.update({"Content-Security-Policy": DOCS_CSP, **PAGE_HEADERS})
        return page

    # Large answers (a million-address `emails` is 28 MB) go compressed to clients
    # that accept gzip (level 1: addresses compress 10:1 even so, at a third of
    # level 5's CPU); small ones are not worth the CPU.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_ABOVE, compresslevel=1)
    app.add_middleware(TrailingSlash)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, access_log=settings.access_log)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory herald.entry.app:app_factory` (settings from the environment)."""
    return create_app()
